"""The beam frame (formats.md §5) built from pymap3d alone, for the Python
test peers: the boresight is aer2enu(az, el), the azimuth axis aer2enu(az +
90, 0) and the elevation axis aer2enu(az, el + 90); nothing comes from tews."""

import math

import numpy as np
import pymap3d


def direction(az: float, el: float, theta_az: float, theta_el: float):
    """(azimuth_deg, elevation_deg) of the direction at beam-frame offsets
    (theta_az, theta_el), degrees, from a beam at (az, el)."""
    b = np.array(pymap3d.aer2enu(az, el, 1.0))
    e_az = np.array(pymap3d.aer2enu(az + 90.0, 0.0, 1.0))
    e_el = np.array(pymap3d.aer2enu(az, el + 90.0, 1.0))
    u, v = math.sin(math.radians(theta_az)), math.sin(math.radians(theta_el))
    t = b * math.sqrt(1.0 - u * u - v * v) + e_az * u + e_el * v
    # In metres: enu2aer zeroes components under 1 mm.
    a, e, _ = pymap3d.enu2aer(*(t * 1e6))
    return float(a), float(e)


def offsets(beam_az: float, beam_el: float, az: float, el: float):
    """Beam-frame offsets (theta_az, theta_el), degrees, of direction (az, el)."""
    t = np.array(pymap3d.aer2enu(az, el, 1.0))
    e_az = np.array(pymap3d.aer2enu(beam_az + 90.0, 0.0, 1.0))
    e_el = np.array(pymap3d.aer2enu(beam_az, beam_el + 90.0, 1.0))
    return (float(np.degrees(np.arcsin(np.dot(t, e_az)))),
            float(np.degrees(np.arcsin(np.dot(t, e_el)))))

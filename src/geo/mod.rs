//! The Earth model every stage shares: WGS-84 geodetic and ECEF coordinates,
//! the local east-north-up (ENU) frame at a site, azimuth/elevation, and the
//! beam frame in which monopulse angles are measured. Pure math, no I/O.
//!
//! Conventions (the same in the simulator, the plot extractor, the tracker):
//! - WGS-84: `a = 6378137 m`, `1/f = 298.257223563`; latitude is geodetic,
//!   height is above the ellipsoid; ECEF metres, +z through the north pole,
//!   +x through (0 N, 0 E).
//! - ENU at a site: up is the ellipsoid normal. Azimuth is clockwise from
//!   north, elevation above the local horizontal plane. Propagation is a
//!   straight line (no refraction): range is the straight-line distance.
//! - Beam frame of a beam pointing at (az, el): boresight
//!   `b = (cos el sin az, cos el cos az, sin el)`, and the two axes
//!   `e_az = (cos az, -sin az, 0)` (horizontal, to the right of the beam) and
//!   `e_el = (-sin el sin az, -sin el cos az, cos el)` (up the beam). A
//!   direction `t` is off the boresight by `theta_az = asin(t . e_az)` and
//!   `theta_el = asin(t . e_el)`. These are what a monopulse receiver
//!   measures; they are not azimuth and elevation differences (at 35 deg
//!   elevation an azimuth offset of 1 deg is 0.82 deg of `theta_az`).
//!
//! Why hand-written rather than a crate: the forward conversions are three
//! lines each, and the one non-trivial step (ECEF to geodetic) is a short
//! fixed-point iteration whose accuracy is tested against `pymap3d` to well
//! under a millimetre (tests/geodesy.rs); the crates looked at either pull in
//! a projection library for this or do not document their accuracy.
//!
//! [`gravity`] and [`propagate`] hold the ballistic dynamics of formats.md
//! §5 (J2, rotating frame) and their numerical propagation.

pub mod gravity;
pub mod propagate;

use nalgebra::{Matrix3, Vector3};

/// WGS-84 semi-major axis, metres.
pub const WGS84_A_M: f64 = 6_378_137.0;
/// WGS-84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS-84 first eccentricity squared, `f (2 - f)`.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// A WGS-84 geodetic position.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Geodetic {
    /// Geodetic latitude, degrees, north positive, in [-90, 90].
    pub latitude_deg: f64,
    /// Longitude, degrees, east positive.
    pub longitude_deg: f64,
    /// Height above the ellipsoid, metres.
    pub height_m: f64,
}

/// A site position outside what a ground (or ship or airborne) radar can be at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {why}")]
pub struct SitePositionError {
    /// The key concerned (`latitude_deg`, `longitude_deg`, `height_m`).
    pub key: &'static str,
    /// The value given.
    pub value: f64,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Lowest accepted site height, metres (the Dead Sea shore is at -430 m
/// above mean sea level; the geoid lies within about 110 m of the ellipsoid).
pub const SITE_MIN_HEIGHT_M: f64 = -1_000.0;
/// Highest accepted site height, metres (an airborne radar's ceiling).
pub const SITE_MAX_HEIGHT_M: f64 = 25_000.0;

impl Geodetic {
    /// A radar site position, checked: latitude in [-90, 90] deg, longitude
    /// in [-180, 360] deg, height in [[`SITE_MIN_HEIGHT_M`], [`SITE_MAX_HEIGHT_M`]].
    pub fn site(
        latitude_deg: f64,
        longitude_deg: f64,
        height_m: f64,
    ) -> Result<Self, SitePositionError> {
        let err = |key, value, why| Err(SitePositionError { key, value, why });
        if !(-90.0..=90.0).contains(&latitude_deg) {
            return err(
                "latitude_deg",
                latitude_deg,
                "must be within [-90, 90] degrees",
            );
        }
        if !(-180.0..=360.0).contains(&longitude_deg) {
            return err(
                "longitude_deg",
                longitude_deg,
                "must be within [-180, 360] degrees",
            );
        }
        if !(SITE_MIN_HEIGHT_M..=SITE_MAX_HEIGHT_M).contains(&height_m) {
            return err(
                "height_m",
                height_m,
                "must be within [-1000, 25000] m of the WGS-84 ellipsoid",
            );
        }
        Ok(Geodetic {
            latitude_deg,
            longitude_deg,
            height_m,
        })
    }

    /// ECEF position, metres.
    pub fn to_ecef(&self) -> Vector3<f64> {
        let (lat, lon) = (
            self.latitude_deg.to_radians(),
            self.longitude_deg.to_radians(),
        );
        let (sl, cl) = lat.sin_cos();
        let n = WGS84_A_M / (1.0 - WGS84_E2 * sl * sl).sqrt();
        let r = (n + self.height_m) * cl;
        Vector3::new(
            r * lon.cos(),
            r * lon.sin(),
            (n * (1.0 - WGS84_E2) + self.height_m) * sl,
        )
    }

    /// The geodetic position of an ECEF point (longitude in (-180, 180]).
    ///
    /// Fixed-point iteration on the latitude, `tan(lat) = z / (p (1 - e^2
    /// N / (N + h)))`, from Bowring's starting value; the height from the
    /// form `p cos(lat) + z sin(lat) - a sqrt(1 - e^2 sin^2(lat))`, which
    /// has no singularity at the poles. Each step shrinks the latitude error
    /// by about e^2 (1/150), so eight steps reach rounding for any point
    /// above the Earth's centre region (|r| > 100 km); accuracy against
    /// pymap3d is tested.
    pub fn from_ecef(r: &Vector3<f64>) -> Self {
        let (x, y, z) = (r.x, r.y, r.z);
        let p = x.hypot(y);
        let lon = y.atan2(x);
        let b = WGS84_A_M * (1.0 - WGS84_F);
        let ep2 = WGS84_E2 / (1.0 - WGS84_E2);
        // Bowring's parametric start.
        let beta = (WGS84_A_M * z).atan2(b * p);
        let (sb, cb) = beta.sin_cos();
        let mut lat = (z + ep2 * b * sb.powi(3)).atan2(p - WGS84_E2 * WGS84_A_M * cb.powi(3));
        let height = |lat: f64| {
            let (s, c) = lat.sin_cos();
            p * c + z * s - WGS84_A_M * (1.0 - WGS84_E2 * s * s).sqrt()
        };
        for _ in 0..8 {
            let s = lat.sin();
            let n = WGS84_A_M / (1.0 - WGS84_E2 * s * s).sqrt();
            let h = height(lat);
            lat = z.atan2(p * (1.0 - WGS84_E2 * n / (n + h)));
        }
        Geodetic {
            latitude_deg: lat.to_degrees(),
            longitude_deg: lon.to_degrees(),
            height_m: height(lat),
        }
    }
}

/// The local east-north-up frame at a site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    /// The site.
    pub origin: Geodetic,
    /// The site in ECEF, metres.
    pub origin_ecef: Vector3<f64>,
    /// Rows: the east, north and up unit vectors in ECEF. `ecef_to_enu`
    /// multiplies by this, `enu_to_ecef` by its transpose.
    rotation: Matrix3<f64>,
}

impl LocalFrame {
    /// The ENU frame at `origin`.
    pub fn new(origin: Geodetic) -> Self {
        let (sl, cl) = origin.latitude_deg.to_radians().sin_cos();
        let (so, co) = origin.longitude_deg.to_radians().sin_cos();
        #[rustfmt::skip]
        let rotation = Matrix3::new(
            -so,       co,       0.0,
            -sl * co, -sl * so,  cl,
             cl * co,  cl * so,  sl,
        );
        LocalFrame {
            origin,
            origin_ecef: origin.to_ecef(),
            rotation,
        }
    }

    /// ENU coordinates (metres from the site) of an ECEF point.
    pub fn ecef_to_enu(&self, r: &Vector3<f64>) -> Vector3<f64> {
        self.rotation * (r - self.origin_ecef)
    }

    /// ECEF point of ENU coordinates.
    pub fn enu_to_ecef(&self, enu: &Vector3<f64>) -> Vector3<f64> {
        self.origin_ecef + self.rotation.transpose() * enu
    }

    /// An ECEF vector (velocity, direction) expressed in ENU axes.
    pub fn rotate_to_enu(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.rotation * v
    }

    /// An ENU vector expressed in ECEF axes.
    pub fn rotate_to_ecef(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.rotation.transpose() * v
    }

    /// The rotation ECEF -> ENU (rows east, north, up).
    pub fn rotation(&self) -> &Matrix3<f64> {
        &self.rotation
    }

    /// The ECEF point at `range_m` along the direction (`azimuth_deg`,
    /// `elevation_deg`) from the site.
    pub fn point_at(&self, azimuth_deg: f64, elevation_deg: f64, range_m: f64) -> Vector3<f64> {
        self.enu_to_ecef(&(enu_direction(azimuth_deg, elevation_deg) * range_m))
    }
}

/// Unit ENU vector of the direction (`azimuth_deg`, `elevation_deg`).
pub fn enu_direction(azimuth_deg: f64, elevation_deg: f64) -> Vector3<f64> {
    let (sa, ca) = azimuth_deg.to_radians().sin_cos();
    let (se, ce) = elevation_deg.to_radians().sin_cos();
    Vector3::new(ce * sa, ce * ca, se)
}

/// Azimuth (degrees in [0, 360)), elevation (degrees) and range (metres) of
/// an ENU vector. Straight up has azimuth 0.
pub fn azimuth_elevation_range(enu: &Vector3<f64>) -> (f64, f64, f64) {
    let range = enu.norm();
    let horizontal = enu.x.hypot(enu.y);
    let az = enu.x.atan2(enu.y).to_degrees().rem_euclid(360.0);
    let el = enu.z.atan2(horizontal).to_degrees();
    // rem_euclid can return 360.0 for a tiny negative angle.
    (if az >= 360.0 { 0.0 } else { az }, el, range)
}

/// The beam frame of a beam pointing at (az, el): see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamFrame {
    /// Unit boresight, ENU.
    pub boresight: Vector3<f64>,
    /// Unit azimuth axis, ENU (horizontal, clockwise side).
    pub e_az: Vector3<f64>,
    /// Unit elevation axis, ENU.
    pub e_el: Vector3<f64>,
}

impl BeamFrame {
    /// The frame of a beam at `azimuth_deg`, `elevation_deg`.
    pub fn new(azimuth_deg: f64, elevation_deg: f64) -> Self {
        let (sa, ca) = azimuth_deg.to_radians().sin_cos();
        let (se, ce) = elevation_deg.to_radians().sin_cos();
        BeamFrame {
            boresight: Vector3::new(ce * sa, ce * ca, se),
            e_az: Vector3::new(ca, -sa, 0.0),
            e_el: Vector3::new(-se * sa, -se * ca, ce),
        }
    }

    /// Beam-frame offsets (`theta_az_deg`, `theta_el_deg`) of an ENU direction
    /// (need not be unit length; must not be zero).
    pub fn offsets_deg(&self, direction_enu: &Vector3<f64>) -> (f64, f64) {
        let t = direction_enu.normalize();
        (
            t.dot(&self.e_az).clamp(-1.0, 1.0).asin().to_degrees(),
            t.dot(&self.e_el).clamp(-1.0, 1.0).asin().to_degrees(),
        )
    }

    /// The unit ENU direction in front of the beam at beam-frame offsets
    /// (`theta_az_deg`, `theta_el_deg`); `None` when no such direction exists
    /// (`sin^2 theta_az + sin^2 theta_el > 1`).
    pub fn direction(&self, theta_az_deg: f64, theta_el_deg: f64) -> Option<Vector3<f64>> {
        let (u, v) = (
            theta_az_deg.to_radians().sin(),
            theta_el_deg.to_radians().sin(),
        );
        let w2 = 1.0 - u * u - v * v;
        if w2.is_nan() || w2 < 0.0 {
            return None;
        }
        Some(self.boresight * w2.sqrt() + self.e_az * u + self.e_el * v)
    }

    /// Azimuth (degrees in [0, 360)) and elevation of the direction at
    /// beam-frame offsets; `None` as for [`BeamFrame::direction`].
    pub fn azimuth_elevation_deg(
        &self,
        theta_az_deg: f64,
        theta_el_deg: f64,
    ) -> Option<(f64, f64)> {
        self.direction(theta_az_deg, theta_el_deg).map(|t| {
            let (az, el, _) = azimuth_elevation_range(&t);
            (az, el)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equator_and_pole_by_hand() {
        let r = Geodetic::site(0.0, 90.0, 100.0).unwrap().to_ecef();
        assert!((r - Vector3::new(0.0, WGS84_A_M + 100.0, 0.0)).norm() < 1e-6);
        let b = WGS84_A_M * (1.0 - WGS84_F);
        let pole = Geodetic::site(90.0, 0.0, 0.0).unwrap().to_ecef();
        assert!((pole - Vector3::new(0.0, 0.0, b)).norm() < 1e-6);
        let back = Geodetic::from_ecef(&Vector3::new(0.0, 0.0, b + 5000.0));
        assert!((back.latitude_deg - 90.0).abs() < 1e-12 && (back.height_m - 5000.0).abs() < 1e-6);
    }

    #[test]
    fn geodetic_round_trip_to_micrometres_up_to_geostationary_heights() {
        for &lat in &[-89.999, -60.0, -12.3, 0.0, 0.001, 33.3, 55.0, 89.9999] {
            for &h in &[-500.0, 0.0, 30.0, 1e5, 1.2e6, 3.6e7] {
                let g = Geodetic {
                    latitude_deg: lat,
                    longitude_deg: 123.4,
                    height_m: h,
                };
                let back = Geodetic::from_ecef(&g.to_ecef());
                let err = (back.to_ecef() - g.to_ecef()).norm();
                assert!(err < 1e-6, "lat {lat} h {h}: {err} m");
                assert!((back.height_m - h).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn enu_axes_and_beam_frame_are_orthonormal_and_right_handed() {
        let f = LocalFrame::new(Geodetic::site(40.0, -75.0, 10.0).unwrap());
        let m = f.rotation();
        assert!((m * m.transpose() - Matrix3::identity()).norm() < 1e-12);
        assert!((m.determinant() - 1.0).abs() < 1e-12);
        let up = f.rotate_to_ecef(&Vector3::new(0.0, 0.0, 1.0));
        // Up is the ellipsoid normal: a point 1 km up is 1 km higher.
        let g = Geodetic::from_ecef(&(f.origin_ecef + up * 1000.0));
        assert!((g.height_m - 1010.0).abs() < 1e-6);
        for &(az, el) in &[(0.0, 0.0), (123.0, 35.0), (359.0, 80.0)] {
            let b = BeamFrame::new(az, el);
            // (e_az, boresight, e_el) is (east, north, up) for a beam at (0, 0).
            let m = Matrix3::from_columns(&[b.e_az, b.boresight, b.e_el]);
            assert!((m.transpose() * m - Matrix3::identity()).norm() < 1e-12);
            assert!((m.determinant() - 1.0).abs() < 1e-12);
            let (a2, e2, _) = azimuth_elevation_range(&b.boresight);
            assert!((a2 - az).abs() < 1e-9 && (e2 - el).abs() < 1e-9);
        }
    }

    #[test]
    fn beam_offsets_invert_and_differ_from_angle_differences_off_the_horizon() {
        let b = BeamFrame::new(40.0, 35.0);
        let (az, el) = b.azimuth_elevation_deg(0.7, -0.4).unwrap();
        let (u, v) = b.offsets_deg(&enu_direction(az, el));
        assert!((u - 0.7).abs() < 1e-12 && (v + 0.4).abs() < 1e-12);
        // One degree of azimuth at 35 deg elevation is cos(35 deg) of theta_az.
        let (u, _) = b.offsets_deg(&enu_direction(41.0, 35.0));
        assert!(
            (u - (1f64.to_radians().sin() * 35f64.to_radians().cos())
                .asin()
                .to_degrees())
            .abs()
                < 1e-9
        );
        assert!((u - 0.819).abs() < 1e-3);
        assert!(b.direction(80.0, 80.0).is_none());
    }

    #[test]
    fn site_bounds_name_the_key() {
        assert_eq!(
            Geodetic::site(91.0, 0.0, 0.0).unwrap_err().key,
            "latitude_deg"
        );
        assert_eq!(
            Geodetic::site(0.0, f64::NAN, 0.0).unwrap_err().key,
            "longitude_deg"
        );
        assert_eq!(Geodetic::site(0.0, 0.0, 1e9).unwrap_err().key, "height_m");
    }
}

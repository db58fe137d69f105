//! TEMPORARY: WGS-84 geodetic <-> ECEF and the local ENU frame, only until
//! the shared `crate::geo` Earth model lands on main; then every use becomes
//! `crate::geo::{Geodetic, LocalFrame}` (same names and meanings) and this
//! file is deleted. Kept private to the crate so nothing outside depends on it.

use nalgebra::{Matrix3, Vector3};

use crate::geo::gravity::{EQUATORIAL_RADIUS_M, INVERSE_FLATTENING};

const F: f64 = 1.0 / INVERSE_FLATTENING;
const E2: f64 = F * (2.0 - F);

/// WGS-84 geodetic position (degrees, metres above the ellipsoid).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geodetic {
    /// Geodetic latitude, degrees.
    pub latitude_deg: f64,
    /// Longitude, degrees east.
    pub longitude_deg: f64,
    /// Height above the ellipsoid, metres.
    pub height_m: f64,
}

impl Geodetic {
    /// ECEF position, metres.
    pub fn to_ecef(self) -> Vector3<f64> {
        let (sl, cl) = self.latitude_deg.to_radians().sin_cos();
        let (so, co) = self.longitude_deg.to_radians().sin_cos();
        let n = EQUATORIAL_RADIUS_M / (1.0 - E2 * sl * sl).sqrt();
        Vector3::new(
            (n + self.height_m) * cl * co,
            (n + self.height_m) * cl * so,
            (n * (1.0 - E2) + self.height_m) * sl,
        )
    }

    /// Geodetic position of an ECEF point: fixed-point iteration on the
    /// latitude (each pass shrinks the error by about e^2), height from the
    /// pole-safe form `p cos(lat) + z sin(lat) - a sqrt(1 - e^2 sin^2 lat)`.
    pub fn from_ecef(r: &Vector3<f64>) -> Self {
        let p = r.x.hypot(r.y);
        let height = |lat: f64| {
            let (s, c) = lat.sin_cos();
            p * c + r.z * s - EQUATORIAL_RADIUS_M * (1.0 - E2 * s * s).sqrt()
        };
        let mut lat = r.z.atan2(p * (1.0 - E2));
        for _ in 0..10 {
            let s = lat.sin();
            let n = EQUATORIAL_RADIUS_M / (1.0 - E2 * s * s).sqrt();
            let h = height(lat);
            lat = r.z.atan2(p * (1.0 - E2 * n / (n + h)));
        }
        Geodetic {
            latitude_deg: lat.to_degrees(),
            longitude_deg: r.y.atan2(r.x).to_degrees(),
            height_m: height(lat),
        }
    }
}

/// Local east-north-up frame at an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    /// The origin.
    pub origin: Geodetic,
    /// The origin in ECEF, metres.
    pub origin_ecef: Vector3<f64>,
    rotation: Matrix3<f64>,
}

impl LocalFrame {
    /// The ENU frame at `origin`.
    pub fn new(origin: Geodetic) -> Self {
        let (sl, cl) = origin.latitude_deg.to_radians().sin_cos();
        let (so, co) = origin.longitude_deg.to_radians().sin_cos();
        #[rustfmt::skip]
        let rotation = Matrix3::new(
            -so, co, 0.0,
            -sl * co, -sl * so, cl,
            cl * co, cl * so, sl,
        );
        LocalFrame {
            origin,
            origin_ecef: origin.to_ecef(),
            rotation,
        }
    }
    /// ENU coordinates of an ECEF point.
    pub fn ecef_to_enu(&self, r: &Vector3<f64>) -> Vector3<f64> {
        self.rotation * (r - self.origin_ecef)
    }
    /// ECEF point of ENU coordinates.
    pub fn enu_to_ecef(&self, enu: &Vector3<f64>) -> Vector3<f64> {
        self.origin_ecef + self.rotation.transpose() * enu
    }
    /// An ECEF vector in ENU axes.
    pub fn rotate_to_enu(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.rotation * v
    }
    /// An ENU vector in ECEF axes.
    pub fn rotate_to_ecef(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.rotation.transpose() * v
    }
    /// Rotation ECEF -> ENU (rows east, north, up).
    pub fn rotation(&self) -> &Matrix3<f64> {
        &self.rotation
    }
}

/// Unit up vector (ellipsoid normal) in ECEF at an ECEF point.
pub fn up_ecef(r: &Vector3<f64>) -> Vector3<f64> {
    let g = Geodetic::from_ecef(r);
    let (sl, cl) = g.latitude_deg.to_radians().sin_cos();
    let (so, co) = g.longitude_deg.to_radians().sin_cos();
    Vector3::new(cl * co, cl * so, sl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_points() {
        // (0, 0, 0) is (a, 0, 0); the pole is at b = a (1 - f).
        let e = Geodetic {
            latitude_deg: 0.0,
            longitude_deg: 0.0,
            height_m: 0.0,
        }
        .to_ecef();
        assert!((e - Vector3::new(EQUATORIAL_RADIUS_M, 0.0, 0.0)).norm() < 1e-6);
        let pole = Geodetic {
            latitude_deg: 90.0,
            longitude_deg: 0.0,
            height_m: 0.0,
        }
        .to_ecef();
        assert!((pole.z - 6_356_752.314_245).abs() < 1e-3);
        for &(lat, lon, h) in &[
            (45.0, 10.0, 0.0),
            (-33.0, 151.0, 500e3),
            (70.0, -120.0, 1.2e6),
        ] {
            let g = Geodetic {
                latitude_deg: lat,
                longitude_deg: lon,
                height_m: h,
            };
            let back = Geodetic::from_ecef(&g.to_ecef());
            assert!((back.latitude_deg - lat).abs() < 1e-10);
            assert!((back.longitude_deg - lon).abs() < 1e-10);
            assert!((back.height_m - h).abs() < 1e-5);
        }
    }
}

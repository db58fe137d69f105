//! Ballistic dynamics in the Earth-fixed frame (formats.md §5): WGS-84 point
//! mass plus the J2 zonal term, seen from the rotating ECEF frame, so the
//! Coriolis and centrifugal accelerations appear explicitly:
//!
//! `r'' = g_J2(r) - 2 w x r' - w x (w x r)`, `w = (0, 0, EARTH_ROTATION_RAD_S)`.
//!
//! No atmosphere, no thrust: this is the model the tracker's ballistic
//! predictor and the assessor propagate with, and the simulator flies after
//! burnout. Pure math, no I/O.

use nalgebra::Vector3;

/// Earth's gravitational parameter (WGS-84, with atmosphere), m^3/s^2.
pub const GM_M3_S2: f64 = 3.986_004_418e14;
/// Second zonal harmonic (unnormalised) J2.
pub const J2: f64 = 1.082_626_68e-3;
/// Earth's rotation rate about +z, rad/s.
pub const EARTH_ROTATION_RAD_S: f64 = 7.292_115e-5;
/// WGS-84 semi-major axis (the J2 reference radius), metres.
pub const EQUATORIAL_RADIUS_M: f64 = 6_378_137.0;
/// WGS-84 inverse flattening.
pub const INVERSE_FLATTENING: f64 = 298.257_223_563;

/// Gravitational acceleration (point mass + J2, Vallado's form), m/s^2, at
/// ECEF position `r_m`. Returns `None` inside 1 km of the centre, where the
/// model means nothing and the division would blow up.
///
/// With `rho = |r|`, `k = 1.5 J2 (a / rho)^2` and `s = 5 z^2 / rho^2`:
/// `g = -GM / rho^3 * (x (1 - k (s - 1)), y (1 - k (s - 1)), z (1 - k (s - 3)))`.
pub fn gravity_j2(r_m: &Vector3<f64>) -> Option<Vector3<f64>> {
    let rho2 = r_m.norm_squared();
    if !rho2.is_finite() || rho2 <= 1.0e6 {
        return None;
    }
    let rho = rho2.sqrt();
    let mu_over_r3 = GM_M3_S2 / (rho2 * rho);
    let k = 1.5 * J2 * EQUATORIAL_RADIUS_M * EQUATORIAL_RADIUS_M / rho2;
    let s = 5.0 * r_m.z * r_m.z / rho2;
    let horizontal = 1.0 - k * (s - 1.0);
    let axial = 1.0 - k * (s - 3.0);
    Some(Vector3::new(
        -mu_over_r3 * r_m.x * horizontal,
        -mu_over_r3 * r_m.y * horizontal,
        -mu_over_r3 * r_m.z * axial,
    ))
}

/// Point-mass gravity only (no J2), m/s^2; `None` as [`gravity_j2`].
pub fn gravity_point_mass(r_m: &Vector3<f64>) -> Option<Vector3<f64>> {
    let rho2 = r_m.norm_squared();
    if !rho2.is_finite() || rho2 <= 1.0e6 {
        return None;
    }
    Some(-GM_M3_S2 / (rho2 * rho2.sqrt()) * r_m)
}

/// Which gravity field the dynamics use. The tracker and simulator use
/// [`GravityModel::J2`]; point mass exists so a test can check conservation
/// of the Jacobi integral in its simplest form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GravityModel {
    /// Point mass plus J2 (formats.md §5).
    #[default]
    J2,
    /// Point mass only.
    PointMass,
}

/// Acceleration relative to the rotating ECEF frame, m/s^2, of an unpowered
/// object at ECEF position `r_m` with ECEF velocity `v_mps`: gravity, Coriolis
/// `-2 w x v` and centrifugal `-w x (w x r)`. `None` where gravity is undefined.
pub fn acceleration_ecef(
    model: GravityModel,
    r_m: &Vector3<f64>,
    v_mps: &Vector3<f64>,
) -> Option<Vector3<f64>> {
    let g = match model {
        GravityModel::J2 => gravity_j2(r_m)?,
        GravityModel::PointMass => gravity_point_mass(r_m)?,
    };
    let w = EARTH_ROTATION_RAD_S;
    // w x v = (-w v_y, w v_x, 0); w x (w x r) = (-w^2 x, -w^2 y, 0).
    let coriolis = Vector3::new(2.0 * w * v_mps.y, -2.0 * w * v_mps.x, 0.0);
    let centrifugal = Vector3::new(w * w * r_m.x, w * w * r_m.y, 0.0);
    Some(g + coriolis + centrifugal)
}

/// Jacobi integral per unit mass in the rotating frame for point-mass gravity:
/// `0.5 |v|^2 - GM / |r| - 0.5 w^2 (x^2 + y^2)`, J/kg. Conserved by
/// unpowered point-mass motion (Coriolis does no work), so it checks the
/// integrator and the frame terms together.
pub fn jacobi_integral_point_mass(r_m: &Vector3<f64>, v_mps: &Vector3<f64>) -> f64 {
    let w = EARTH_ROTATION_RAD_S;
    0.5 * v_mps.norm_squared()
        - GM_M3_S2 / r_m.norm()
        - 0.5 * w * w * (r_m.x * r_m.x + r_m.y * r_m.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand values (computed with a calculator from the constants):
    // GM / a^2 = 3.986004418e14 / 6378137^2 = 9.7982855 m/s^2.
    const G_EQUATOR_POINT_MASS: f64 = 9.798_285_48;

    #[test]
    fn j2_at_the_pole_and_equator_matches_hand_values() {
        let a = EQUATORIAL_RADIUS_M;
        // Pole on the reference sphere: s = 5, so axial factor 1 - 1.5 J2 * 2 = 1 - 3 J2.
        let g = gravity_j2(&Vector3::new(0.0, 0.0, a)).unwrap();
        let expected = -G_EQUATOR_POINT_MASS * (1.0 - 3.0 * 1.082_626_68e-3);
        assert!((g.z - expected).abs() < 1e-6, "{} vs {expected}", g.z);
        assert!(g.x.abs() < 1e-12 && g.y.abs() < 1e-12);
        // J2 part alone at the pole: +3 J2 GM/a^2 = 0.0318237 m/s^2 (outward).
        let j2_part = g.z - gravity_point_mass(&Vector3::new(0.0, 0.0, a)).unwrap().z;
        assert!((j2_part - 0.031_823_66).abs() < 1e-6, "{j2_part}");
        // Equator: s = 0, horizontal factor 1 + 1.5 J2; J2 part -0.0159118 m/s^2.
        let g = gravity_j2(&Vector3::new(a, 0.0, 0.0)).unwrap();
        let j2_part = g.x + G_EQUATOR_POINT_MASS;
        assert!((j2_part + 0.015_911_83).abs() < 1e-6, "{j2_part}");
    }

    #[test]
    fn frame_terms_match_hand_values() {
        let w = EARTH_ROTATION_RAD_S;
        let r = Vector3::new(6.4e6, 0.0, 0.0);
        let v = Vector3::new(0.0, 1000.0, 0.0);
        let a = acceleration_ecef(GravityModel::PointMass, &r, &v).unwrap();
        let g = gravity_point_mass(&r).unwrap();
        // Coriolis -2 w x v: w x v = (-w*1000, 0, 0), so +2 w 1000 in x;
        // centrifugal + w^2 x in x.
        let expected_x = g.x + 2.0 * w * 1000.0 + w * w * 6.4e6;
        assert!((a.x - expected_x).abs() < 1e-12);
        assert!(a.y.abs() < 1e-12 && a.z.abs() < 1e-12);
    }

    #[test]
    fn no_gravity_at_the_centre_or_for_nan() {
        assert!(gravity_j2(&Vector3::zeros()).is_none());
        assert!(gravity_j2(&Vector3::new(f64::NAN, 0.0, 0.0)).is_none());
    }
}

//! `#[repr(C)]` Rust twins of the structs in `shaders/common.wgsl`. Keep in
//! sync: a test parses the WGSL with naga and checks every member's offset
//! and each struct's size against these.

use bytemuck::{Pod, Zeroable};

/// `ChainParams`: the CPI shape and the CFAR recipe, one uniform per chain.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct ChainParams {
    /// P.
    pub pulses: u32,
    /// N.
    pub samples: u32,
    /// M (fast-convolution FFT length).
    pub fft_len: u32,
    /// ci16 full-scale factor.
    pub sample_scale: f32,
    /// CFAR training cells each side in range.
    pub train_range: u32,
    /// CFAR guard cells each side in range.
    pub guard_range: u32,
    /// CFAR training cells each side in Doppler.
    pub train_doppler: u32,
    /// CFAR guard cells each side in Doppler.
    pub guard_doppler: u32,
    /// `CFAR_CA` 0, `CFAR_GO` 1, `CFAR_SO` 2, `CFAR_OS` 3.
    pub cfar_kind: u32,
    /// OS order k (1-based).
    pub os_k: u32,
    /// Reference cells.
    pub reference_cells: u32,
    /// Records the detection list holds.
    pub capacity: u32,
    /// CFAR threshold multiplier.
    pub alpha: f32,
    /// noise = statistic / noise_scale.
    pub noise_scale: f32,
    /// Uniform padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// `DetectionRecord`: one crossing as the CFAR kernel stores it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct DetectionRecord {
    /// Range bin.
    pub range_bin: u32,
    /// Doppler bin (FFT-shifted).
    pub doppler_bin: u32,
    /// Power of the cell under test.
    pub power: f32,
    /// CFAR noise estimate.
    pub noise: f32,
    /// `[range - 1, range + 1, doppler - 1, doppler + 1]`.
    pub neighbours: [f32; 4],
}

/// The header of `DetectionList` (its `records` follow at
/// [`DETECTION_RECORDS_OFFSET`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct DetectionListHeader {
    /// Crossings found (may exceed the capacity).
    pub count: u32,
    /// Non-finite input samples seen by the conversion.
    pub non_finite: u32,
    /// Padding (the records are 16-byte aligned).
    pub _pad: [u32; 2],
}

/// Byte offset of `DetectionList::records`.
pub const DETECTION_RECORDS_OFFSET: usize = std::mem::size_of::<DetectionListHeader>();

/// Value of `cfar_kind` for each CFAR variant (the WGSL `CFAR_*` constants).
pub fn cfar_kind_code(kind: crate::dsp::cfar::CfarKind) -> u32 {
    use crate::dsp::cfar::CfarKind;
    match kind {
        CfarKind::Ca => 0,
        CfarKind::Go => 1,
        CfarKind::So => 2,
        CfarKind::Os => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};
    use wgpu::naga;

    /// `(member name, offset)` of struct `name` in common.wgsl, and its size.
    fn wgsl_layout(name: &str) -> (Vec<(String, u32)>, u32) {
        let module = naga::front::wgsl::parse_str(super::super::shaders::COMMON).unwrap();
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in common.wgsl"));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{name} is not a struct");
        };
        (
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
            *span,
        )
    }

    #[test]
    fn chain_params_match_the_wgsl_struct() {
        let (members, size) = wgsl_layout("ChainParams");
        assert_eq!(size as usize, size_of::<ChainParams>());
        let rust = [
            ("pulses", offset_of!(ChainParams, pulses)),
            ("samples", offset_of!(ChainParams, samples)),
            ("fft_len", offset_of!(ChainParams, fft_len)),
            ("sample_scale", offset_of!(ChainParams, sample_scale)),
            ("train_range", offset_of!(ChainParams, train_range)),
            ("guard_range", offset_of!(ChainParams, guard_range)),
            ("train_doppler", offset_of!(ChainParams, train_doppler)),
            ("guard_doppler", offset_of!(ChainParams, guard_doppler)),
            ("cfar_kind", offset_of!(ChainParams, cfar_kind)),
            ("os_k", offset_of!(ChainParams, os_k)),
            ("reference_cells", offset_of!(ChainParams, reference_cells)),
            ("capacity", offset_of!(ChainParams, capacity)),
            ("alpha", offset_of!(ChainParams, alpha)),
            ("noise_scale", offset_of!(ChainParams, noise_scale)),
            ("_pad0", offset_of!(ChainParams, _pad)),
            ("_pad1", offset_of!(ChainParams, _pad) + 4),
        ];
        assert_eq!(members.len(), rust.len());
        for ((wn, wo), (rn, ro)) in members.iter().zip(rust) {
            assert_eq!((wn.as_str(), *wo as usize), (rn, ro));
        }
    }

    #[test]
    fn detection_record_and_list_match_the_wgsl_structs() {
        let (members, size) = wgsl_layout("DetectionRecord");
        assert_eq!(size as usize, size_of::<DetectionRecord>());
        let rust = [
            ("range_bin", offset_of!(DetectionRecord, range_bin)),
            ("doppler_bin", offset_of!(DetectionRecord, doppler_bin)),
            ("power", offset_of!(DetectionRecord, power)),
            ("noise", offset_of!(DetectionRecord, noise)),
            ("neighbours", offset_of!(DetectionRecord, neighbours)),
        ];
        for ((wn, wo), (rn, ro)) in members.iter().zip(rust) {
            assert_eq!((wn.as_str(), *wo as usize), (rn, ro));
        }
        let (members, _) = wgsl_layout("DetectionList");
        let find = |n: &str| members.iter().find(|m| m.0 == n).unwrap().1 as usize;
        assert_eq!(find("count"), offset_of!(DetectionListHeader, count));
        assert_eq!(
            find("non_finite"),
            offset_of!(DetectionListHeader, non_finite)
        );
        assert_eq!(find("records"), DETECTION_RECORDS_OFFSET);
    }
}

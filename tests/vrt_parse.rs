//! VITA 49.2 packet parsing against hand-built packets: every word below is
//! written from formats.md §3 and hw/README.md §1, not from the parser.

use tews::ingest::vrt::{
    Ci16, ContextPacket, DataPacket, Packet, SampleFrame, VrtError, check, packets, parse,
};

const SID: u32 = 0x7E5A_0001;
const T0: u32 = 1_700_000_000;

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Data header: type 1, T, Nd0, TSI 1, TSF 2.
fn data_header(count: u32, size: u32) -> u32 {
    0x1660_0000 | (count << 16) | size
}

/// Trailer: valid data, sample loss, sample frame, CPI start (profile enables).
fn trailer(loss: u32, frame: u32, cpi: u32) -> u32 {
    0x41D4_0000 | (loss << 12) | (frame << 10) | (cpi << 8)
}

fn data_words(count: u32, ps: u64, samples: &[u32], tr: u32) -> Vec<u32> {
    let mut w = vec![
        data_header(count, samples.len() as u32 + 6),
        SID,
        T0,
        (ps >> 32) as u32,
        ps as u32,
    ];
    w.extend_from_slice(samples);
    w.push(tr);
    w
}

fn context_words(count: u32, cif0: u32, rf: u64, sr: u64, pointing: u32) -> Vec<u32> {
    vec![
        0x4260_0000 | (count << 16) | 12,
        SID,
        T0,
        0,
        123_456,
        cif0,
        0x2000_0000,
        (rf >> 32) as u32,
        rf as u32,
        (sr >> 32) as u32,
        sr as u32,
        pointing,
    ]
}

fn data(words: &[u32]) -> DataPacket {
    match parse(&bytes(words)) {
        Ok(Packet::Data(d)) => d,
        other => panic!("expected a data packet, got {other:?}"),
    }
}

fn context(words: &[u32]) -> ContextPacket {
    match parse(&bytes(words)) {
        Ok(Packet::Context(c)) => c,
        other => panic!("expected a context packet, got {other:?}"),
    }
}

fn err(words: &[u32]) -> VrtError {
    let e = parse(&bytes(words)).expect_err("malformed packet parsed");
    let msg = e.to_string();
    assert!(!msg.contains('\n') && !msg.is_empty(), "message: {msg:?}");
    e
}

const RF_FX20: u64 = 0x0023_0E13_4808_0000; // 9 410 000 000.5 Hz
const SR_FX20: u64 = 10_000_000 << 20;
const CIF0: u32 = 0x0820_0002;

#[test]
fn data_packet_fields() {
    let samples = [
        0x0001_FFFE, // I 1, Q -2
        0x7FFF_8000, // I max, Q min
        0x8000_7FFF, // I min, Q max
        0xFFFF_0000, // I -1, Q 0
    ];
    let d = data(&data_words(
        0xB,
        999_999_999_999,
        &samples,
        trailer(0, 0, 0),
    ));
    assert_eq!(d.stream_id, SID);
    assert_eq!(d.count, 0xB);
    assert_eq!(d.seconds, T0);
    assert_eq!(d.picoseconds, 999_999_999_999);
    let iq: Vec<(i16, i16)> = d.samples.iter().map(|s| (s.i, s.q)).collect();
    assert_eq!(iq, [(1, -2), (32767, -32768), (-32768, 32767), (-1, 0)]);
    assert!(d.samples.iter().zip(samples).all(|(s, w)| s.to_word() == w));
    let z = Ci16 {
        i: -32768,
        q: 16384,
    }
    .to_complex32();
    assert_eq!((z.re, z.im), (-1.0, 0.5));
}

#[test]
fn any_number_of_samples_is_accepted() {
    for n in [0usize, 1, 5, 16, 362, 1000] {
        let samples: Vec<u32> = (0..n as u32).collect();
        let d = data(&data_words(0, 0, &samples, trailer(0, 0, 0)));
        assert_eq!(d.samples.len(), n);
    }
}

#[test]
fn trailer_indicators() {
    let frames = [
        SampleFrame::Whole,
        SampleFrame::First,
        SampleFrame::Middle,
        SampleFrame::Final,
    ];
    for loss in 0..2 {
        for (f, &frame) in frames.iter().enumerate() {
            for cpi in 0..2 {
                let d = data(&data_words(0, 0, &[1], trailer(loss, f as u32, cpi)));
                let t = d.trailer;
                assert!(t.valid_data);
                assert_eq!(t.sample_loss, loss == 1);
                assert_eq!(t.sample_frame, frame);
                assert_eq!(t.cpi_start, cpi == 1);
                assert_eq!(t.calibrated_time, None);
                assert_eq!(t.reference_lock, None);
                assert_eq!(t.over_range, None);
                assert_eq!(t.associated_context_count, None);
                assert_eq!(t.raw, trailer(loss, f as u32, cpi));
            }
        }
    }
    // Valid-data indicator clear (enable still set).
    let t = data(&data_words(0, 0, &[1], trailer(0, 0, 0) & !(1 << 18))).trailer;
    assert!(!t.valid_data);
    // Optional indicators with their enables: calibrated time 31/19,
    // reference lock 29/17, over-range 25/13, E and associated count.
    let t = data(&data_words(
        0,
        0,
        &[1],
        trailer(0, 0, 0) | (1 << 31) | (1 << 19) | (1 << 29) | (1 << 25) | (1 << 13) | 0x80 | 5,
    ))
    .trailer;
    assert_eq!(t.calibrated_time, Some(true));
    assert_eq!(t.reference_lock, Some(false));
    assert_eq!(t.over_range, Some(true));
    assert_eq!(t.associated_context_count, Some(5));
}

#[test]
fn context_fixed_point_and_pointing() {
    // hw/README.md examples: el 1.5, az 45.25 and el -2.0078125, az 359.9921875.
    let c = context(&context_words(
        3,
        CIF0 | (1 << 31),
        RF_FX20,
        SR_FX20,
        0x00C0_16A0,
    ));
    assert_eq!(c.stream_id, SID);
    assert_eq!(c.count, 3);
    assert_eq!((c.seconds, c.picoseconds), (T0, 123_456));
    assert!(c.change_indicator);
    assert_eq!(c.rf_frequency_hz, 9_410_000_000.5);
    assert_eq!(c.rf_frequency_fx20, RF_FX20);
    assert_eq!(c.sample_rate_hz, 10e6);
    assert_eq!(c.sample_rate_fx20, SR_FX20);
    assert_eq!((c.elevation_deg, c.azimuth_deg), (1.5, 45.25));
    assert_eq!(c.pointing_word, 0x00C0_16A0);

    let c = context(&context_words(0, CIF0, RF_FX20, SR_FX20, 0xFEFF_B3FF));
    assert!(!c.change_indicator);
    assert_eq!((c.elevation_deg, c.azimuth_deg), (-2.0078125, 359.9921875));

    // Extremes: el -90 (0xD300), +90 (0x2D00), az 0; smallest frequency step.
    let c = context(&context_words(0, CIF0, 1, (1 << 20) + 1, 0xD300_0000));
    assert_eq!((c.elevation_deg, c.azimuth_deg), (-90.0, 0.0));
    assert_eq!(c.rf_frequency_hz, 1.0 / 1_048_576.0);
    assert_eq!(c.sample_rate_hz, 1.0 + 1.0 / 1_048_576.0);
    let c = context(&context_words(0, CIF0, 0, 0, 0x2D00_0080));
    assert_eq!((c.elevation_deg, c.azimuth_deg), (90.0, 1.0));

    // Bit 25 (Nd0) clear in a context header is accepted too (hw note a).
    let mut w = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
    w[0] &= !(1 << 25);
    context(&w);
}

#[test]
fn framing_errors() {
    for n in 0..4 {
        assert_eq!(parse(&vec![0x16; n]), Err(VrtError::TooShort { bytes: n }));
        assert_eq!(
            check(&vec![0x16; n]),
            Err(VrtError::Incomplete {
                needed: 4,
                available: n
            })
        );
    }
    let good = data_words(0, 0, &[1, 2, 3], trailer(0, 0, 0));
    let mut w = good.clone();
    w[0] &= !0xFFFF;
    assert_eq!(err(&w), VrtError::ZeroSize);
    assert_eq!(check(&bytes(&w)), Err(VrtError::ZeroSize));
    // Size field larger and smaller than the datagram.
    for size in [8u32, 10] {
        let mut w = good.clone();
        w[0] = data_header(0, size);
        assert_eq!(
            err(&w),
            VrtError::LengthMismatch {
                size_words: size as u16,
                bytes: 36
            }
        );
    }
    // A datagram with a partial trailing word.
    let mut b = bytes(&good);
    b.push(0);
    assert!(matches!(parse(&b), Err(VrtError::LengthMismatch { .. })));
    b.truncate(b.len() - 2);
    assert!(matches!(parse(&b), Err(VrtError::LengthMismatch { .. })));
    assert!(matches!(check(&b), Err(VrtError::Incomplete { .. })));
}

#[test]
fn header_errors() {
    let good = data_words(0, 0, &[1, 2, 3], trailer(0, 0, 0));
    let with = |f: &dyn Fn(u32) -> u32| {
        let mut w = good.clone();
        w[0] = f(w[0]);
        err(&w)
    };
    for t in [0u32, 2, 3, 5, 6, 7, 15] {
        assert_eq!(
            with(&|h| (h & 0x0FFF_FFFF) | (t << 28)),
            VrtError::UnknownType {
                packet_type: t as u8
            }
        );
    }
    assert_eq!(with(&|h| h | (1 << 27)), VrtError::ClassId);
    assert_eq!(with(&|h| h & !(1 << 26)), VrtError::MissingTrailer);
    assert_eq!(with(&|h| h & !(1 << 25)), VrtError::NotV49_2);
    assert_eq!(with(&|h| h | (1 << 24)), VrtError::Spectrum);
    for tsi in 0..4u32 {
        for tsf in 0..4u32 {
            if (tsi, tsf) == (1, 2) {
                continue;
            }
            let e = with(&|h| (h & !(0xF << 20)) | (tsi << 22) | (tsf << 20));
            assert_eq!(
                e,
                VrtError::TimestampMode {
                    tsi: tsi as u8,
                    tsf: tsf as u8
                }
            );
        }
    }
    // Context packets use the same timestamp modes.
    let mut c = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
    c[0] = (c[0] & !(0xF << 20)) | (2 << 22) | (2 << 20);
    assert_eq!(err(&c), VrtError::TimestampMode { tsi: 2, tsf: 2 });
    let mut c = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
    c[0] |= 1 << 27;
    assert_eq!(err(&c), VrtError::ClassId);
}

#[test]
fn timestamp_and_size_errors() {
    let e = err(&data_words(0, 1_000_000_000_000, &[1], trailer(0, 0, 0)));
    assert_eq!(
        e,
        VrtError::Picoseconds {
            picoseconds: 1_000_000_000_000
        }
    );
    let mut c = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
    c[3] = 0xFFFF_FFFF;
    assert!(matches!(err(&c), VrtError::Picoseconds { .. }));

    // Data packets shorter than header + stream ID + 3 timestamp words + trailer.
    for size in 1..6u32 {
        let mut w = data_words(0, 0, &[], trailer(0, 0, 0));
        w.truncate(size as usize);
        w[0] = data_header(0, size);
        assert_eq!(
            err(&w),
            VrtError::DataTooShort {
                size_words: size as u16
            }
        );
    }
    // Context packets of any size but 12.
    for size in [1u32, 5, 11, 13, 20] {
        let mut w = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
        w.resize(size as usize, 0);
        w[0] = 0x4260_0000 | size;
        assert_eq!(
            err(&w),
            VrtError::ContextSize {
                size_words: size as u16
            }
        );
    }
}

#[test]
fn trailer_errors() {
    for enable in [30u32, 24, 23, 22, 20] {
        let tr = trailer(0, 0, 0) & !(1 << enable);
        assert_eq!(
            err(&data_words(0, 0, &[1], tr)),
            VrtError::TrailerEnables { trailer: tr }
        );
    }
    // An all-zero last word: a packet sent without its trailer.
    assert!(matches!(
        err(&data_words(0, 0, &[1, 2], 0)),
        VrtError::TrailerEnables { trailer: 0 }
    ));
}

#[test]
fn context_field_errors() {
    // Missing or extra CIF0 bits (bit 31 alone is allowed).
    for cif0 in [
        0,
        CIF0 & !(1 << 27),
        CIF0 & !(1 << 21),
        CIF0 & !(1 << 1),
        CIF0 | (1 << 29),
        CIF0 | 1,
        0x8000_0000,
    ] {
        assert_eq!(
            err(&context_words(0, cif0, RF_FX20, SR_FX20, 0)),
            VrtError::Cif0 { cif0 }
        );
    }
    for cif1 in [0u32, 0x2000_0001, 0x1000_0000, 0x6000_0000] {
        let mut w = context_words(0, CIF0, RF_FX20, SR_FX20, 0);
        w[6] = cif1;
        assert_eq!(err(&w), VrtError::Cif1 { cif1 });
    }
    assert!(matches!(
        err(&context_words(0, CIF0, 1 << 63, SR_FX20, 0)),
        VrtError::NegativeFrequency {
            field: "RF reference frequency",
            ..
        }
    ));
    assert!(matches!(
        err(&context_words(0, CIF0, RF_FX20, u64::MAX, 0)),
        VrtError::NegativeFrequency {
            field: "sample rate",
            ..
        }
    ));
    // Elevation 90.0078125 (0x2D01), -90.0078125 (0xD2FF); azimuth 360 (0xB400).
    for word in [0x2D01_0000u32, 0xD2FF_0000, 0x0000_B400, 0x0000_FFFF] {
        assert!(
            matches!(err(&context_words(0, CIF0, RF_FX20, SR_FX20, word)), VrtError::Pointing { word: w, .. } if w == word),
            "pointing 0x{word:08X}"
        );
    }
}

#[test]
fn error_messages_name_the_problem() {
    let cases: Vec<(VrtError, &str)> = vec![
        (VrtError::TooShort { bytes: 3 }, "shorter than the 4-byte"),
        (
            VrtError::LengthMismatch {
                size_words: 9,
                bytes: 32,
            },
            "size field says 9 words (36 bytes) but the datagram is 32 bytes",
        ),
        (VrtError::UnknownType { packet_type: 5 }, "packet type 5"),
        (VrtError::MissingTrailer, "without a trailer"),
        (
            VrtError::TimestampMode { tsi: 2, tsf: 1 },
            "TSI = 2, TSF = 1",
        ),
        (VrtError::Cif0 { cif0: 0x0820_0000 }, "CIF0 = 0x08200000"),
    ];
    for (e, want) in cases {
        assert!(e.to_string().contains(want), "{e} lacks {want:?}");
    }
}

#[test]
fn byte_stream_splitting() {
    let a = bytes(&data_words(0, 0, &[1, 2, 3], trailer(0, 0, 1)));
    let b = bytes(&context_words(0, CIF0, RF_FX20, SR_FX20, 0));
    let mut stream = [a.clone(), b.clone(), a.clone()].concat();
    let got: Vec<_> = packets(&stream).collect();
    assert_eq!(got, vec![Ok(&a[..]), Ok(&b[..]), Ok(&a[..])]);
    assert_eq!(check(&stream), Ok(a.len()));
    // A stream that ends inside a packet: the whole packets, then one error.
    stream.truncate(stream.len() - 5);
    let got: Vec<_> = packets(&stream).collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[2],
        Err(VrtError::Incomplete {
            needed: a.len(),
            available: a.len() - 5
        })
    );
    // A zero size field stops the iteration (the next boundary is unknown).
    let stream = [a.clone(), vec![0x16, 0x60, 0, 0], a.clone()].concat();
    let got: Vec<_> = packets(&stream).collect();
    assert_eq!(got, vec![Ok(&a[..]), Err(VrtError::ZeroSize)]);
}

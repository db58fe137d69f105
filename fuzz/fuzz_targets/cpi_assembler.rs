//! A sequence of datagrams through the CPI assembler. The input is split
//! into datagrams by a 2-byte big-endian length before each; the first
//! byte picks the assembler's P and N (small, so whole CPIs happen).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tews::ingest::vrt::{AssemblerConfig, CpiAssembler};

fuzz_target!(|data: &[u8]| {
    let Some((&shape, mut rest)) = data.split_first() else {
        return;
    };
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: 1 + (shape & 0x07) as usize,
        samples_per_pulse: 1 + (shape >> 3) as usize,
        stream_id: None,
    });
    while rest.len() >= 2 {
        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let datagram = &rest[..n.min(rest.len())];
        rest = &rest[datagram.len()..];
        if let Some(cpi) = asm.push_datagram(datagram) {
            // Looking at the samples must not panic either.
            let _ = cpi.samples().len();
        }
    }
    asm.finish();
});

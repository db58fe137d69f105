//! One datagram through the VRT packet parser: any bytes give a packet or
//! an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tews::ingest::vrt::parse(data);
});

#![no_main]

include!("../checks/media_probe.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

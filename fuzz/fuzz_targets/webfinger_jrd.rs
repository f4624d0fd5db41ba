#![no_main]

include!("../checks/webfinger_jrd.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#![no_main]

include!("../checks/nodeinfo_parse.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

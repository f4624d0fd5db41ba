//! Fuzzes WebFinger as served: the query and the JRD read back as sent.
#![no_main]

include!("../checks/webfinger_roundtrip.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

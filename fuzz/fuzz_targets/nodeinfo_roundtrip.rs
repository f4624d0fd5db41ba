//! Fuzzes NodeInfo documents as served: they parse back to what was served.
#![no_main]

include!("../checks/nodeinfo_roundtrip.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

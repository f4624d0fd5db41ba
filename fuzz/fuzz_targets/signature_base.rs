//! Fuzzes signature-base derivation from arbitrary requests, and signing then verifying them.
#![no_main]

include!("../checks/signature_base.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

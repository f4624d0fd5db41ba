//! Fuzzes JSON-LD expansion and canonicalization with the bundled contexts.
#![no_main]

include!("../checks/jsonld_expand.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

//! Fuzzes Linked Data signatures: verification, canonicalization, sign-then-verify.
#![no_main]

include!("../checks/ld_signatures.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

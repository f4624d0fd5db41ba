//! Fuzzes `activitypub_core` document parsing: no panic, lossless round trip.
#![no_main]

include!("../checks/parse_document.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

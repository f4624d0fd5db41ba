//! Fuzzes the federation inbox end to end: no panic, the origin rules on what is accepted.
#![no_main]

include!("../checks/inbox.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

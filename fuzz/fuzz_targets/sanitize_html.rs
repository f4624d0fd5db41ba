//! Fuzzes the HTML sanitizer: nothing active survives, and sanitizing is idempotent.
#![no_main]

include!("../checks/sanitize_html.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

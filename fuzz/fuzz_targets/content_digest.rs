#![no_main]

include!("../checks/content_digest.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
});

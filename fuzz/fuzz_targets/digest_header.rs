#![no_main]

include!("../checks/digest_header.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
});

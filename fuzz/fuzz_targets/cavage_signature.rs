#![no_main]

include!("../checks/cavage_signature.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
});

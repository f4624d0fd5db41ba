#![no_main]

include!("../checks/signature_input.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
});

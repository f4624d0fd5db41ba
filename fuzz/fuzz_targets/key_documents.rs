//! Fuzzes key reading: PEM, DER, Multikey, an actor's `publicKey` and `assertionMethod`.
#![no_main]

include!("../checks/key_documents.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

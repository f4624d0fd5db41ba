//! Verifying a typical Mastodon `Create(Note)` (the relayed fixture, RSA-2048), next to its
//! parts: canonicalizing the document, and the bare RSA verification of the signed hashes.
//!
//! ```sh
//! cargo bench -p ld-signatures --bench verify
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http_signatures::Algorithm;
use ld_signatures::{Limits, VerifyingKey, canonicalize, verify};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

fn read(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let document = read("mastodon/create-note-ld-signed-for-relay.json");
    let actor = read("mastodon/person-ld-signer.json");
    let key = VerifyingKey::from_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();
    verify(&document, &key).unwrap();

    let mut unsigned = document.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    let limits = Limits::default();
    let message = "0".repeat(128);
    let signature = vec![0u8; 256];

    let mut group = c.benchmark_group("mastodon_create_note");
    group.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&document), &key).unwrap());
    });
    group.bench_function("canonicalize_document", |b| {
        b.iter(|| canonicalize(black_box(&unsigned), &limits).unwrap());
    });
    group.bench_function("rsa_verify_floor", |b| {
        b.iter(|| {
            key.verify_bytes(
                Algorithm::RsaV1_5Sha256,
                black_box(message.as_bytes()),
                &signature,
            )
            .unwrap_err()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

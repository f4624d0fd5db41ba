//! Sign and verify a typical inbox POST (a Mastodon `Create` of a `Note`), RSA-2048 and
//! Ed25519, both standards, next to the bare backend operation on the same bytes (the floor).
//!
//! ```sh
//! cargo bench -p http-signatures --bench sign_verify                       # ring
//! cargo bench -p http-signatures --bench sign_verify --features aws-lc-rs  # aws-lc-rs
//! ```

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier, VerifyingKey};

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as provider;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use ring as provider;

const NOW: u64 = 1_700_000_000;

fn fixture(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()))
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn inbox_post() -> http::Request<Vec<u8>> {
    http::Request::post("https://bob.example/users/bob/inbox")
        .header("content-type", "application/activity+json")
        .header("user-agent", "bench/1.0")
        .body(fixture("mastodon/create-note.json").into_bytes())
        .unwrap()
}

/// The request as the server receives it: origin-form URI.
fn received(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut received = request.clone();
    *received.uri_mut() = request
        .uri()
        .path_and_query()
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    received
}

struct Keys {
    name: &'static str,
    signing: SigningKey,
    verifying: VerifyingKey,
    pkcs8: Vec<u8>,
}

fn keys() -> Vec<Keys> {
    let json: serde_json::Value =
        serde_json::from_str(&fixture("signatures/peertube-test-keypair.json")).unwrap();
    let rsa = SigningKey::from_pem(json["privateKey"].as_str().unwrap()).unwrap();
    let ed = SigningKey::generate_ed25519().unwrap();
    [("rsa2048", rsa), ("ed25519", ed)]
        .into_iter()
        .map(|(name, signing)| Keys {
            name,
            verifying: signing.verifying_key(),
            pkcs8: signing.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            signing,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let backend = http_signatures::BACKEND;
    let mut group = c.benchmark_group(format!("inbox-post/{backend}"));
    group.throughput(Throughput::Elements(1));
    for keys in keys() {
        for standard in [Standard::Cavage, Standard::Rfc9421] {
            let signer = Signer::new(keys.signing.clone(), "https://alice.example/actor#main-key")
                .with_standard(standard);
            group.bench_function(format!("sign/{}/{standard}", keys.name), |b| {
                b.iter_batched_ref(
                    inbox_post,
                    |request| signer.sign(request, now()).unwrap(),
                    BatchSize::SmallInput,
                );
            });
            let mut request = inbox_post();
            let signed = signer.sign(&mut request, now()).unwrap();
            let request = received(&request);
            let verifier = Verifier::new(Policy::fediverse());
            verifier
                .verify_request(&request, &keys.verifying, now())
                .unwrap();
            group.bench_function(format!("verify/{}/{standard}", keys.name), |b| {
                b.iter(|| {
                    verifier
                        .verify_request(&request, &keys.verifying, now())
                        .unwrap()
                });
            });
            if standard == Standard::Cavage {
                bare(&mut group, &keys, signed.signing_string.as_bytes());
            }
        }
    }
    group.finish();
}

/// The backend alone, on the signing string of the cavage signature: key parsed once, as the
/// crate does.
fn bare(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    keys: &Keys,
    message: &[u8],
) {
    use provider::signature::{self, KeyPair as _};

    let rng = provider::rand::SystemRandom::new();
    if keys.name == "rsa2048" {
        let pair = signature::RsaKeyPair::from_pkcs8(&keys.pkcs8).unwrap();
        let mut sig = vec![0; 256];
        group.bench_function(format!("bare-sign/{}", keys.name), |b| {
            b.iter(|| {
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .unwrap()
            });
        });
        let public = pair.public_key().as_ref().to_vec();
        #[cfg(feature = "aws-lc-rs")]
        let key = signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
            .unwrap();
        #[cfg(not(feature = "aws-lc-rs"))]
        let key =
            signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public);
        group.bench_function(format!("bare-verify/{}", keys.name), |b| {
            b.iter(|| verify(&key, message, &sig));
        });
    } else {
        let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&keys.pkcs8).unwrap();
        group.bench_function(format!("bare-sign/{}", keys.name), |b| {
            b.iter(|| pair.sign(message));
        });
        let sig = pair.sign(message);
        let public = pair.public_key().as_ref().to_vec();
        let key = signature::UnparsedPublicKey::new(&signature::ED25519, &public);
        group.bench_function(format!("bare-verify/{}", keys.name), |b| {
            b.iter(|| key.verify(message, sig.as_ref()).unwrap());
        });
    }
}

#[cfg(feature = "aws-lc-rs")]
fn verify(key: &provider::signature::ParsedPublicKey, message: &[u8], sig: &[u8]) {
    key.verify_sig(message, sig).unwrap();
}

#[cfg(not(feature = "aws-lc-rs"))]
fn verify(key: &provider::signature::UnparsedPublicKey<&Vec<u8>>, message: &[u8], sig: &[u8]) {
    key.verify(message, sig).unwrap();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);

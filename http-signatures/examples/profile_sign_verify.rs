//! Runs one case of the `sign_verify` benchmark a fixed number of times, for instruction-count
//! profiling, which the load of a shared machine does not disturb:
//!
//! ```sh
//! cargo build --release -p http-signatures --example profile_sign_verify
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     target/release/examples/profile_sign_verify verify/rsa2048/cavage 1000
//! callgrind_annotate /tmp/cg.out | head -40
//! ```
//!
//! Run a case with 0 and with N iterations: the difference of the totals, divided by N, is the
//! cost of one operation in instructions (`docs/http-signatures.md` has the loop). The same
//! difference under `valgrind --tool=dhat` ("Total: ... in N blocks") counts allocations.
//! `list` prints the cases. Without valgrind, it prints the wall-clock time per iteration.
//!
//! Valgrind does not emulate the SHA extensions, so hashing costs more instructions there than
//! on a CPU that has them (about 86 000 for the 2.5 KB body, against ~2 µs of real time).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier};

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
use aws_lc_rs as provider;
#[cfg(feature = "ring")]
use ring as provider;

const NOW: u64 = 1_700_000_000;
/// Requests prepared for the signing cases, whatever the iteration count up to this.
const PREPARED: usize = 2000;

const CASES: [&str; 16] = [
    "bare-sign/rsa2048",
    "bare-verify/rsa2048",
    // The floor of verifying a signed POST: the bare verification and the body's SHA-256.
    "floor-verify/rsa2048",
    "sign/rsa2048/cavage",
    "sign/rsa2048/rfc9421",
    "verify/rsa2048/cavage",
    "verify/rsa2048/rfc9421",
    // Both phases by hand, as a server that looks the key up in between does.
    "parse-verify/rsa2048/cavage",
    "parse-verify/rsa2048/rfc9421",
    "bare-sign/ed25519",
    "bare-verify/ed25519",
    "floor-verify/ed25519",
    "sign/ed25519/cavage",
    "sign/ed25519/rfc9421",
    "verify/ed25519/cavage",
    "verify/ed25519/rfc9421",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "list".to_owned());
    if case == "list" || !CASES.contains(&case.as_str()) {
        for case in CASES {
            println!("{case}");
        }
        return;
    }
    let iterations: u64 = args.next().map_or(1000, |n| n.parse().unwrap());
    let mut parts = case.split('/');
    let operation = parts.next().unwrap();
    let key_name = parts.next().unwrap();
    let standard = match parts.next() {
        Some("rfc9421") => Standard::Rfc9421,
        _ => Standard::Cavage,
    };

    let key = if key_name == "rsa2048" {
        let json: serde_json::Value =
            serde_json::from_str(&fixture("signatures/peertube-test-keypair.json")).unwrap();
        SigningKey::from_pem(json["privateKey"].as_str().unwrap()).unwrap()
    } else {
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-ed25519.priv.pem")).unwrap()
    };
    let verifying = key.verifying_key();
    let signer =
        Signer::new(key.clone(), "https://alice.example/actor#main-key").with_standard(standard);
    let mut signed_request = inbox_post();
    let signed = signer.sign(&mut signed_request, now()).unwrap();
    let received = received(&signed_request);
    let message = signed.signing_string.into_bytes();

    let start = Instant::now();
    match operation {
        "sign" => {
            // Requests are prepared up front, and as many for any count up to `PREPARED`, so
            // that the difference between two runs counts signing only.
            let count = usize::try_from(iterations).unwrap();
            let mut requests: Vec<_> = (0..count.max(PREPARED)).map(|_| inbox_post()).collect();
            for request in requests.iter_mut().take(count) {
                black_box(signer.sign(request, now()).unwrap());
            }
        }
        "verify" => {
            let verifier = Verifier::new(Policy::fediverse());
            for _ in 0..iterations {
                black_box(
                    verifier
                        .verify_request(black_box(&received), &verifying, now())
                        .unwrap(),
                );
            }
        }
        "parse-verify" => {
            let verifier = Verifier::new(Policy::fediverse());
            for _ in 0..iterations {
                let unverified = verifier.parse_request(black_box(&received), now()).unwrap();
                black_box(unverified.verify(&verifying).unwrap());
            }
        }
        "bare-sign" | "bare-verify" | "floor-verify" => {
            let body = inbox_post().into_body();
            bare(operation, key_name, &key, &message, &body, iterations);
        }
        _ => unreachable!("checked against CASES"),
    }
    // The loop's wall-clock time, for a quick look; instruction counts are the steady figure.
    let elapsed = start.elapsed();
    if iterations > 0 {
        eprintln!(
            "{case}: {iterations} iterations, {:.0} ns each",
            elapsed.as_nanos() as f64 / iterations as f64
        );
    }
}

/// The backend alone on the cavage signing string, key parsed once; for `floor-verify`, with
/// the body's SHA-256 (the backend's digest) before each verification.
fn bare(
    operation: &str,
    key_name: &str,
    key: &SigningKey,
    message: &[u8],
    body: &[u8],
    iterations: u64,
) {
    use provider::digest::{SHA256, digest};
    use provider::signature::{self, KeyPair as _};

    let hash_body = operation == "floor-verify";

    let pkcs8 = key.to_pkcs8_der().unwrap();
    let rng = provider::rand::SystemRandom::new();
    if key_name == "rsa2048" {
        let pair = signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).unwrap();
        let mut sig = vec![0; 256];
        pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
            .unwrap();
        let public = pair.public_key().as_ref().to_vec();
        // aws-lc-rs can parse the key once, as the crate does; ring parses it on each call.
        #[cfg(not(feature = "ring"))]
        let key = signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public)
            .unwrap();
        #[cfg(feature = "ring")]
        let key = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public);
        for _ in 0..iterations {
            if operation == "bare-sign" {
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .unwrap();
            } else {
                if hash_body {
                    black_box(digest(&SHA256, black_box(body)));
                }
                verify_rsa(&key, black_box(message), &sig);
            }
        }
    } else {
        let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.as_bytes()).unwrap();
        let sig = pair.sign(message);
        let key = signature::UnparsedPublicKey::new(&signature::ED25519, pair.public_key());
        for _ in 0..iterations {
            if operation == "bare-sign" {
                black_box(pair.sign(black_box(message)));
            } else {
                if hash_body {
                    black_box(digest(&SHA256, black_box(body)));
                }
                key.verify(black_box(message), sig.as_ref()).unwrap();
            }
        }
    }
}

#[cfg(not(feature = "ring"))]
fn verify_rsa(key: &provider::signature::ParsedPublicKey, message: &[u8], sig: &[u8]) {
    key.verify_sig(message, sig).unwrap();
}

#[cfg(feature = "ring")]
fn verify_rsa(key: &provider::signature::UnparsedPublicKey<Vec<u8>>, message: &[u8], sig: &[u8]) {
    key.verify(message, sig).unwrap();
}

fn fixture(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
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

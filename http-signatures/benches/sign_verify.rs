//! Sign and verify a typical inbox POST (a Mastodon `Create` of a `Note`), RSA-2048 and
//! Ed25519, both standards, next to their floors, then print a summary: ops/s of every case and
//! its ratio to its floor. The floor of signing is the bare backend signature of the cavage
//! signing string; the floor of verifying a signed POST is the bare verification of that string
//! plus the SHA-256 of the body (which the verifier must compare with the digest header).
//!
//! ```sh
//! cargo bench -p http-signatures --bench sign_verify                       # ring
//! cargo bench -p http-signatures --bench sign_verify --features aws-lc-rs  # aws-lc-rs
//! ```
//!
//! The crate signs and verifies with one backend (aws-lc-rs when both features are on); the
//! bare operations run for every backend compiled in, and the ratios are to the floor of the
//! backend in use. Criterion measures each case in its own two seconds, so on a shared
//! machine a change of load between two cases moves their ratio. The summary's ratios are
//! therefore measured again, each case against its floor in alternating slices of 2 ms (the
//! median of the per-round ratios), and the issue's targets are checked on those.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput};
use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier, VerifyingKey};

const NOW: u64 = 1_700_000_000;
/// Criterion's samples per benchmark; the summary reads the last this many of each.
const SAMPLE_SIZE: usize = 20;
/// Requests prepared at a time for the signing cases, outside the timed loop.
const BATCH: u64 = 256;
/// The paired measurement: rounds of one slice of the floor and one of the case, in
/// alternating order.
const PAIRED_ROUNDS: usize = 150;
const PAIRED_SLICE: Duration = Duration::from_millis(2);
/// The targets for RSA-2048, full operation time over its floor: signing over the bare
/// signature; verifying a signed POST, with either standard, over the bare verification plus the
/// body's SHA-256.
const SIGN_TARGET: f64 = 0.05;
const VERIFY_TARGET: f64 = 0.10;

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(SAMPLE_SIZE)
        .configure_from_args();
    let mut cases = cases();
    let samples = Samples::default();
    let mut group = criterion.benchmark_group(format!("inbox-post/{}", http_signatures::BACKEND));
    group.throughput(Throughput::Elements(1));
    for case in &mut cases {
        let (id, run) = (&case.id, &mut case.run);
        group.bench_function(id.as_str(), |b| {
            b.iter_custom(|iterations| {
                let elapsed = run(iterations);
                samples.record(id, iterations, elapsed);
                elapsed
            });
        });
    }
    group.finish();
    criterion.final_summary();
    summary(&mut cases, &samples);
}

/// One benchmark: `run(n)` does the operation `n` times and returns the time that took
/// (fresh inputs, where needed, are prepared outside that time).
struct Case {
    id: String,
    key: &'static str,
    operation: &'static str,
    /// The standard, or `None` for a bare operation.
    standard: Option<Standard>,
    /// A bare operation that also hashes the body with SHA-256 (the verify floor).
    with_body_digest: bool,
    /// The backend doing the cryptography.
    backend: &'static str,
    run: Box<dyn FnMut(u64) -> Duration>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for keys in keys() {
        let mut cavage_string = Vec::new();
        for standard in [Standard::Cavage, Standard::Rfc9421] {
            let signer = Signer::new(keys.signing.clone(), "https://alice.example/actor#main-key")
                .with_standard(standard);
            let mut request = inbox_post();
            let signed = signer.sign(&mut request, now()).unwrap();
            if standard == Standard::Cavage {
                cavage_string = signed.signing_string.into_bytes();
            }
            cases.push(Case {
                id: format!("sign/{}/{standard}", keys.name),
                key: keys.name,
                operation: "sign",
                standard: Some(standard),
                with_body_digest: false,
                backend: http_signatures::BACKEND,
                run: Box::new(move |n| {
                    timed_fresh(n, inbox_post, |request| {
                        black_box(signer.sign(request, now()).unwrap());
                    })
                }),
            });
            let request = received(&request);
            let verifier = Verifier::new(Policy::fediverse());
            let key = keys.verifying.clone();
            verifier.verify_request(&request, &key, now()).unwrap();
            cases.push(Case {
                id: format!("verify/{}/{standard}", keys.name),
                key: keys.name,
                operation: "verify",
                standard: Some(standard),
                with_body_digest: false,
                backend: http_signatures::BACKEND,
                run: Box::new(move |n| {
                    timed(n, || {
                        black_box(
                            verifier
                                .verify_request(black_box(&request), &key, now())
                                .unwrap(),
                        );
                    })
                }),
            });
        }
        let body = inbox_post().into_body();
        #[cfg(feature = "ring")]
        cases.extend(bare_ring::cases(&keys, &cavage_string, &body));
        #[cfg(feature = "aws-lc-rs")]
        cases.extend(bare_aws_lc::cases(&keys, &cavage_string, &body));
    }
    cases
}

/// The bare backend operations on the cavage signing string, with the key parsed once and the
/// backend's fastest API for repeated use (as the crate does); and the verify floor: the bare
/// verification and the SHA-256 of the body, with the backend's digest.
macro_rules! bare {
    ($module:ident, $provider:ident, $backend:literal, $rsa:ident) => {
        mod $module {
            use std::hint::black_box;

            use $provider::digest::{SHA256, digest};
            use $provider::signature::{self, KeyPair as _};

            use super::$rsa::{rsa_public_key, rsa_verify};
            use super::{Case, Keys, timed};

            pub(super) fn cases(keys: &Keys, message: &[u8], body: &[u8]) -> Vec<Case> {
                let case = |operation: &'static str, run: Box<dyn FnMut(u64) -> _>| Case {
                    id: format!("bare-{operation}/{}/{}", keys.name, $backend),
                    key: keys.name,
                    operation,
                    standard: None,
                    with_body_digest: false,
                    backend: $backend,
                    run,
                };
                let floor = |run: Box<dyn FnMut(u64) -> _>| Case {
                    id: format!("bare-verify+sha256/{}/{}", keys.name, $backend),
                    with_body_digest: true,
                    ..case("verify", run)
                };
                let message = message.to_vec();
                let body = body.to_vec();
                if keys.name == "rsa2048" {
                    let pair = signature::RsaKeyPair::from_pkcs8(&keys.pkcs8).unwrap();
                    let mut sig = vec![0; 256];
                    let rng = $provider::rand::SystemRandom::new();
                    pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                        .unwrap();
                    let key = rsa_public_key(pair.public_key().as_ref());
                    let floor_key = rsa_public_key(pair.public_key().as_ref());
                    let verify_message = message.clone();
                    let verify_sig = sig.clone();
                    let (floor_message, floor_sig) = (message.clone(), sig.clone());
                    vec![
                        case(
                            "sign",
                            Box::new(move |n| {
                                timed(n, || {
                                    pair.sign(
                                        &signature::RSA_PKCS1_SHA256,
                                        &rng,
                                        black_box(&message),
                                        &mut sig,
                                    )
                                    .unwrap();
                                })
                            }),
                        ),
                        case(
                            "verify",
                            Box::new(move |n| {
                                timed(n, || {
                                    rsa_verify(&key, black_box(&verify_message), &verify_sig)
                                })
                            }),
                        ),
                        floor(Box::new(move |n| {
                            timed(n, || {
                                black_box(digest(&SHA256, black_box(&body)));
                                rsa_verify(&floor_key, black_box(&floor_message), &floor_sig)
                            })
                        })),
                    ]
                } else {
                    let pair =
                        signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&keys.pkcs8).unwrap();
                    let sig = pair.sign(&message).as_ref().to_vec();
                    let public = pair.public_key().as_ref().to_vec();
                    let floor_public = public.clone();
                    let verify_message = message.clone();
                    let (floor_message, floor_sig) = (message.clone(), sig.clone());
                    vec![
                        case(
                            "sign",
                            Box::new(move |n| {
                                timed(n, || {
                                    black_box(pair.sign(black_box(&message)));
                                })
                            }),
                        ),
                        case(
                            "verify",
                            Box::new(move |n| {
                                let key =
                                    signature::UnparsedPublicKey::new(&signature::ED25519, &public);
                                timed(n, || {
                                    key.verify(black_box(&verify_message), &sig).unwrap();
                                })
                            }),
                        ),
                        floor(Box::new(move |n| {
                            let key = signature::UnparsedPublicKey::new(
                                &signature::ED25519,
                                &floor_public,
                            );
                            timed(n, || {
                                black_box(digest(&SHA256, black_box(&body)));
                                key.verify(black_box(&floor_message), &floor_sig).unwrap();
                            })
                        })),
                    ]
                }
            }
        }
    };
}

#[cfg(feature = "ring")]
bare!(bare_ring, ring, "ring", ring_rsa);
#[cfg(feature = "aws-lc-rs")]
bare!(bare_aws_lc, aws_lc_rs, "aws-lc-rs", aws_lc_rsa);

/// ring parses an RSA public key on each verification: it has no API to keep it parsed.
#[cfg(feature = "ring")]
mod ring_rsa {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    pub(super) fn rsa_public_key(public: &[u8]) -> UnparsedPublicKey<Vec<u8>> {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public.to_vec())
    }

    pub(super) fn rsa_verify(key: &UnparsedPublicKey<Vec<u8>>, message: &[u8], sig: &[u8]) {
        key.verify(message, sig).unwrap();
    }
}

/// aws-lc-rs keeps an RSA public key parsed, as the crate does with that backend.
#[cfg(feature = "aws-lc-rs")]
mod aws_lc_rsa {
    use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    pub(super) fn rsa_public_key(public: &[u8]) -> ParsedPublicKey {
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public).unwrap()
    }

    pub(super) fn rsa_verify(key: &ParsedPublicKey, message: &[u8], sig: &[u8]) {
        key.verify_sig(message, sig).unwrap();
    }
}

/// Runs `operation` `n` times, as criterion's `iter` does.
fn timed(n: u64, mut operation: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        operation();
    }
    start.elapsed()
}

/// Runs `operation` on `n` fresh inputs made by `setup` outside the timed part, as
/// criterion's `iter_batched_ref`.
fn timed_fresh<I>(
    n: u64,
    mut setup: impl FnMut() -> I,
    mut operation: impl FnMut(&mut I),
) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = n;
    while left > 0 {
        let count = left.min(BATCH);
        let mut inputs: Vec<I> = (0..count).map(|_| setup()).collect();
        let start = Instant::now();
        for input in &mut inputs {
            operation(input);
        }
        elapsed += start.elapsed();
        left -= count;
    }
    elapsed
}

/// Every timed batch of every benchmark, warm-up included.
#[derive(Default)]
struct Samples(RefCell<Vec<Series>>);

/// The timed batches of one benchmark, in order.
struct Series {
    id: String,
    batches: Vec<Batch>,
}

struct Batch {
    iterations: u64,
    elapsed: Duration,
}

impl Samples {
    fn record(&self, id: &str, iterations: u64, elapsed: Duration) {
        let mut all = self.0.borrow_mut();
        let batch = Batch {
            iterations,
            elapsed,
        };
        match all.iter_mut().find(|series| series.id == id) {
            Some(series) => series.batches.push(batch),
            None => all.push(Series {
                id: id.to_owned(),
                batches: vec![batch],
            }),
        }
    }

    /// Nanoseconds per operation: the median over criterion's measured samples (the last
    /// [`SAMPLE_SIZE`] batches; warm-up comes first), or `None` if the benchmark did not run
    /// (filtered out, or `--test`).
    fn nanos(&self, id: &str) -> Option<f64> {
        let all = self.0.borrow();
        let series = all.iter().find(|series| series.id == id)?;
        let batches = &series.batches;
        let measured = batches.get(batches.len().checked_sub(SAMPLE_SIZE)?..)?;
        Some(median(
            measured
                .iter()
                .map(|batch| batch.elapsed.as_nanos() as f64 / batch.iterations as f64)
                .collect(),
        ))
    }
}

/// Measures `cases[case]` against `cases[floor]` in rounds of one short slice of each, in
/// alternating order (the estimates size the slices), and returns the median over the rounds
/// of the ratio of their times per operation: the two slices of a round run under nearly the
/// same load, and the median ignores the rounds that a burst of load hit on one side.
fn paired(cases: &mut [Case], case: usize, floor: usize, estimates: (f64, f64)) -> f64 {
    let iterations = |nanos: f64| ((PAIRED_SLICE.as_nanos() as f64 / nanos).ceil() as u64).max(1);
    let (case_n, floor_n) = (iterations(estimates.0), iterations(estimates.1));
    let [case, floor] = cases.get_disjoint_mut([case, floor]).unwrap();
    let mut ratios = Vec::with_capacity(PAIRED_ROUNDS);
    for round in 0..PAIRED_ROUNDS {
        let (case_time, floor_time) = if round % 2 == 0 {
            let floor_time = per_operation(&mut floor.run, floor_n);
            (per_operation(&mut case.run, case_n), floor_time)
        } else {
            let case_time = per_operation(&mut case.run, case_n);
            (case_time, per_operation(&mut floor.run, floor_n))
        };
        ratios.push(case_time / floor_time);
    }
    median(ratios)
}

fn per_operation(run: &mut dyn FnMut(u64) -> Duration, n: u64) -> f64 {
    run(n).as_nanos() as f64 / n as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// Prints ops/s for every case and its ratio to its floor (of the backend in use), measured
/// paired: for signing the bare signature, for verifying the bare verification plus the body's
/// SHA-256. The bare verification alone is measured against that floor too, which shows what
/// the body digest costs.
fn summary(cases: &mut [Case], samples: &Samples) {
    let backend = http_signatures::BACKEND;
    println!();
    if cases.iter().all(|case| samples.nanos(&case.id).is_none()) {
        println!("Summary: no case was measured (filtered out, or run with --test).");
        return;
    }
    println!("Summary, {backend} in use");
    println!(
        "  ops/s: median of criterion's {SAMPLE_SIZE} samples. vs floor (ops/s ratio), over floor \
         (time), extra µs: median over {PAIRED_ROUNDS} rounds of {} ms of the case and {} ms of \
         its floor, in alternating order. Floors ({backend}, on the cavage signing string): the \
         bare signature for signing; the bare verification plus the SHA-256 of the body for \
         verifying.",
        PAIRED_SLICE.as_millis(),
        PAIRED_SLICE.as_millis()
    );
    println!(
        "{:<34} {:>9} {:>8} {:>10} {:>9}  target",
        "operation", "ops/s", "vs floor", "over floor", "extra µs"
    );
    for (key, title) in [("rsa2048", "RSA-2048"), ("ed25519", "Ed25519")] {
        println!("{title}");
        for (operation, target) in [("sign", SIGN_TARGET), ("verify", VERIFY_TARGET)] {
            let is_floor = |c: &Case| {
                c.key == key
                    && c.operation == operation
                    && c.standard.is_none()
                    && c.backend == backend
                    && c.with_body_digest == (operation == "verify")
            };
            let floor = cases.iter().position(is_floor);
            let floor_nanos = floor.and_then(|f| samples.nanos(&cases[f].id));
            // The bare operations first (the floor last of them), then the cases.
            let mut order: Vec<usize> = (0..cases.len())
                .filter(|&i| cases[i].key == key && cases[i].operation == operation)
                .collect();
            order.sort_by_key(|&i| {
                let case = &cases[i];
                (
                    case.standard.is_some(),
                    Some(i) == floor,
                    case.with_body_digest,
                )
            });
            for index in order {
                let case = &cases[index];
                let Some(nanos) = samples.nanos(&case.id) else {
                    continue;
                };
                let name = match (case.standard, case.with_body_digest) {
                    (Some(standard), _) => format!("{operation}, {standard}"),
                    (None, true) => format!("bare {operation} + body SHA-256 ({})", case.backend),
                    (None, false) => format!("bare {operation} ({})", case.backend),
                };
                let measured_against_floor = Some(index) != floor && case.backend == backend;
                let (Some(floor), Some(floor_nanos), true) =
                    (floor, floor_nanos, measured_against_floor)
                else {
                    let note = if Some(index) == floor {
                        "the floor"
                    } else {
                        "other backend, for reference"
                    };
                    println!("  {name:<32} {:>9.0} {:>30}  {note}", 1e9 / nanos, "");
                    continue;
                };
                let is_bare = case.standard.is_none();
                let ratio = paired(cases, index, floor, (nanos, floor_nanos));
                let over = ratio - 1.0;
                let verdict = if is_bare {
                    "for reference".to_owned()
                } else if key != "rsa2048" {
                    "none set".to_owned()
                } else if over <= target {
                    format!("≤ +{:.0} %: met", target * 100.0)
                } else {
                    format!(
                        "≤ +{:.0} %: missed by {:.1} points",
                        target * 100.0,
                        (over - target) * 100.0
                    )
                };
                println!(
                    "  {name:<32} {:>9.0} {:>8.3} {:>10} {:>9.2}  {verdict}",
                    1e9 / nanos,
                    1.0 / ratio,
                    format!("{:+.1} %", over * 100.0),
                    over * floor_nanos / 1e3,
                );
            }
        }
    }
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
    let ed =
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-ed25519.priv.pem")).unwrap();
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
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    let body = BODY.get_or_init(|| fixture("mastodon/create-note.json").into_bytes());
    http::Request::post("https://bob.example/users/bob/inbox")
        .header("content-type", "application/activity+json")
        .header("user-agent", "bench/1.0")
        .body(body.clone())
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

//! Parse and serialize throughput of the typed, lossless model, side by side with
//! `serde_json::Value` on the same bytes.
//!
//! Run with `cargo bench -p activitypub-core --bench parse`. After criterion's report, a summary
//! prints documents per second for each fixture and the typed/Value time ratio (the target is a
//! typed parse within 1.5x of a `Value` parse).

// Benchmark code: a failed parse of a fixture is a broken benchmark.
#![allow(clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use activitypub_core::AnyObject;
use criterion::{Criterion, Throughput};
use serde_json::Value;

const FIXTURES: [&str; 3] = [
    "mastodon/create-note.json",
    "peertube/create-video.json",
    "mobilizon/create-event.json",
];

fn load(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn benches(c: &mut Criterion) {
    for name in FIXTURES {
        let bytes = load(name);
        let typed = AnyObject::from_slice(&bytes).expect("typed parse");
        let value: Value = serde_json::from_slice(&bytes).expect("Value parse");
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("parse/Value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("parse"))
        });
        group.bench_function("parse/typed", |b| {
            b.iter(|| AnyObject::from_slice(black_box(&bytes)).expect("parse"))
        });
        group.bench_function("serialize/Value", |b| {
            b.iter(|| serde_json::to_vec(black_box(&value)).expect("serialize"))
        });
        group.bench_function("serialize/typed", |b| b.iter(|| black_box(&typed).to_vec()));
        group.finish();
    }
}

/// Runs `f` repeatedly for about `budget` and returns calls per second (best of three rounds).
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..64 {
                f();
            }
            n += 64;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn summary() {
    println!(
        "\nsummary (documents per second, best of 3 rounds of 1 s; ratio = typed time / Value time)"
    );
    println!(
        "{:<30} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7}",
        "fixture", "parse Value", "parse typed", "ratio", "ser. Value", "ser. typed", "ratio"
    );
    for name in FIXTURES {
        let bytes = load(name);
        let typed = AnyObject::from_slice(&bytes).expect("typed parse");
        let value: Value = serde_json::from_slice(&bytes).expect("Value parse");
        let budget = Duration::from_secs(1);
        let pv = rate(budget, || {
            black_box(serde_json::from_slice::<Value>(black_box(&bytes)).expect("parse"));
        });
        let pt = rate(budget, || {
            black_box(AnyObject::from_slice(black_box(&bytes)).expect("parse"));
        });
        let sv = rate(budget, || {
            black_box(serde_json::to_vec(black_box(&value)).expect("serialize"));
        });
        let st = rate(budget, || {
            black_box(black_box(&typed).to_vec());
        });
        println!(
            "{name:<30} {pv:>12.0} {pt:>12.0} {:>7.2} {sv:>12.0} {st:>12.0} {:>7.2}",
            pv / pt,
            sv / st
        );
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    benches(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs this binary in test mode; the summary is for `cargo bench`.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}

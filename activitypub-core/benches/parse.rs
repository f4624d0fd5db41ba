//! Parse and serialize throughput of the typed, lossless model, side by side with
//! `serde_json::Value` on the same bytes.
//!
//! Run with `cargo bench -p activitypub-core --bench parse`. After criterion's report, a summary
//! prints documents per second for each fixture and the typed/Value time ratio, timed in
//! alternating slices (the target is a typed parse within 1.5x of a `Value` parse).

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
        .join("../fixtures")
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

/// Calls per second of `f` over one slice of about `budget`.
fn rate(budget: Duration, f: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Times `a` and `b` in 40 alternating slices of 50 ms, so that a change in the machine's speed
/// (other processes, frequency) hits both alike. Returns the median rate of each and the median
/// of the per-slice time ratios `a / b`.
fn paired(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64, f64) {
    let slice = Duration::from_millis(50);
    let (mut ra, mut rb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..40 {
        let x = rate(slice, &mut a);
        let y = rate(slice, &mut b);
        ra.push(x);
        rb.push(y);
        ratio.push(y / x);
    }
    (median(ra), median(rb), median(ratio))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn summary() {
    println!(
        "\nsummary (documents per second, medians of 40 alternating 50 ms slices; ratio = typed time / Value time)"
    );
    println!(
        "{:<30} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7}",
        "fixture", "parse Value", "parse typed", "ratio", "ser. Value", "ser. typed", "ratio"
    );
    for name in FIXTURES {
        let bytes = load(name);
        let typed = AnyObject::from_slice(&bytes).expect("typed parse");
        let value: Value = serde_json::from_slice(&bytes).expect("Value parse");
        let (pt, pv, parse_ratio) = paired(
            || {
                black_box(AnyObject::from_slice(black_box(&bytes)).expect("parse"));
            },
            || {
                black_box(serde_json::from_slice::<Value>(black_box(&bytes)).expect("parse"));
            },
        );
        let (st, sv, ser_ratio) = paired(
            || {
                black_box(black_box(&typed).to_vec());
            },
            || {
                black_box(serde_json::to_vec(black_box(&value)).expect("serialize"));
            },
        );
        println!(
            "{name:<30} {pv:>12.0} {pt:>12.0} {parse_ratio:>7.2} {sv:>12.0} {st:>12.0} {ser_ratio:>7.2}"
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

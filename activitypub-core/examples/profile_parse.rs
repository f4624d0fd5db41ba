//! Parses one fixture in a loop, for profilers, and prints the typed/Value time ratio measured
//! in alternating rounds (so that load from other processes hits both alike).
//!
//! `cargo run --release -p activitypub-core --example profile_parse -- FILE [N]`

// A measuring tool: a file that does not parse ends it.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: profile_parse FILE [N]");
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let bytes = std::fs::read(&path).expect("read the file");
    let (mut typed, mut value) = (0.0, 0.0);
    for _ in 0..10 {
        let start = Instant::now();
        for _ in 0..n {
            black_box(activitypub_core::AnyObject::from_slice(black_box(&bytes)).expect("parse"));
        }
        typed += start.elapsed().as_secs_f64();
        let start = Instant::now();
        for _ in 0..n {
            black_box(
                serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("parse"),
            );
        }
        value += start.elapsed().as_secs_f64();
    }
    let total = (10 * n) as f64;
    println!(
        "typed {:.0}/s, Value {:.0}/s, ratio {:.2}",
        total / typed,
        total / value,
        typed / value
    );
}

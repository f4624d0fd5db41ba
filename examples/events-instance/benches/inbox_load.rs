//! The events instance's inbox end to end over HTTP, under load, next to the floor.
//!
//! Starts a loopback events instance (SQLite in a temporary directory, as `demo` runs it) and a
//! test peer publishing `--actors` Mastodon-like actors (RSA-2048, draft-cavage). Each actor
//! first delivers one activity (so that the instance has fetched its key), then the load
//! generator POSTs `--requests` signed `Create`s of public `Note`s, each with a new activity id,
//! to the instance's shared inbox, `--concurrency` at a time over kept-alive connections, and
//! records each request's latency. The instance checks the signature and digest, parses,
//! checks origins, records the id durably, and dispatches (the instance drops the `Note`, which
//! is about nothing of its own, after its handler has looked at it).
//!
//! The floor, measured in the same run on the same requests, one after another on one thread:
//! verifying the parsed signature with the actor's key, plus the SHA-256 of the body. Rounds
//! alternate (`--rounds`: load, then floor, the order flipping each round), and the line gives
//! requests/s, p50/p99 latency and the ratio to the floor per round and their medians.
//!
//! ```sh
//! cargo bench -p events-instance --bench inbox_load
//! cargo bench -p events-instance --bench inbox_load -- --requests 400 --rounds 5 --concurrency 16
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use events_instance::demo::loopback_instance;
use futures::StreamExt as _;
use http_signatures::digest::DigestAlgorithm;
use http_signatures::{Policy, Verifier, VerifyingKey};
use serde_json::json;
use test_peer::Peer;

/// The benchmark's arguments (after `--`).
#[derive(clap::Parser)]
struct Options {
    /// Remote actors sending.
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    actors: usize,
    /// Requests per round.
    #[arg(long, default_value_t = 400, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    requests: usize,
    /// Rounds.
    #[arg(long, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    rounds: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn options() -> Options {
    <Options as clap::Parser>::parse()
}

/// A request prepared in advance, and what the floor needs of it.
struct Prepared {
    headers: http::HeaderMap,
    body: bytes::Bytes,
    actor: usize,
}

fn main() -> Result<()> {
    let options = options();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let running = loopback_instance(dir.path(), "events").await?;
    let inbox = running.base_url.join("/inbox")?.to_string();
    let peer = Peer::start().await?;
    let mut actors = Vec::with_capacity(options.actors);
    let mut keys = Vec::with_capacity(options.actors);
    for i in 0..options.actors {
        let actor = peer.actor(&format!("load{i}")).await?;
        let document = peer.document(&actor).context("the actor's document")?;
        let pem = document["publicKey"]["publicKeyPem"]
            .as_str()
            .context("publicKeyPem")?;
        keys.push(VerifyingKey::from_pem(pem)?);
        actors.push(actor);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()?;
    let serial = std::sync::atomic::AtomicU64::new(0);
    let note = |actor: &str| {
        let n = serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/statuses/{n}/activity"),
            "type": "Create",
            "actor": actor,
            "published": "2026-12-06T22:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [format!("{actor}/followers")],
            "object": {
                "id": format!("{actor}/statuses/{n}"),
                "type": "Note",
                "attributedTo": actor,
                "published": "2026-12-06T22:00:00Z",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "cc": [format!("{actor}/followers")],
                "content": "<p>A note of a few hundred bytes, as most of what an inbox receives \
                            is: a reply, a thought, a link to something read today. Nothing \
                            in it concerns this instance, which drops it after its checks.</p>",
                "sensitive": false,
                "tag": [],
            },
        })
    };
    // Each actor's first delivery makes the instance fetch its key.
    for actor in &actors {
        let status = peer.deliver(actor, &inbox, &note(actor)).await?;
        eprintln!("{actor}: {status}");
    }
    let prepare = |count: usize| -> Result<Vec<Prepared>> {
        (0..count)
            .map(|i| {
                let actor = i % actors.len();
                let (headers, body) = peer.signed(&actors[actor], &inbox, &note(&actors[actor]))?;
                Ok(Prepared {
                    headers,
                    body: body.into(),
                    actor,
                })
            })
            .collect()
    };
    let verifier = Verifier::new(Policy::fediverse());
    let path = running.base_url.join("/inbox")?;
    let host = running.base_url.authority().to_owned();
    let floor = |batch: &[Prepared]| -> Result<f64> {
        // Parsing is left out: the floor is the verification and the body's hash.
        let parsed: Vec<_> = batch
            .iter()
            .map(|p| {
                let mut request = http::Request::post(path.path()).body(p.body.clone())?;
                *request.headers_mut() = p.headers.clone();
                request
                    .headers_mut()
                    .insert(http::header::HOST, host.parse()?);
                Ok(verifier.parse_request(&request, SystemTime::now())?)
            })
            .collect::<Result<_>>()?;
        let start = Instant::now();
        for (p, unverified) in batch.iter().zip(&parsed) {
            black_box(DigestAlgorithm::Sha256.digest(black_box(&p.body)));
            unverified.verify(&keys[p.actor])?;
        }
        Ok(batch.len() as f64 / start.elapsed().as_secs_f64())
    };

    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    let mut floors = Vec::new();
    let mut latencies: Vec<Duration> = Vec::new();
    for round in 0..options.rounds {
        // Signed just before they are sent, so their dates are fresh.
        let batch = prepare(options.requests)?;
        let floor_first = round % 2 == 1;
        let mut floor_rate = if floor_first {
            Some(floor(&batch)?)
        } else {
            None
        };
        let start = Instant::now();
        let results: Vec<Result<Duration>> = futures::stream::iter(&batch)
            .map(|p| {
                let http = &http;
                let inbox = &inbox;
                async move {
                    let at = Instant::now();
                    let response = http
                        .post(inbox.as_str())
                        .headers(p.headers.clone())
                        .body(p.body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    if !status.is_success() {
                        bail!("{status}: {text}");
                    }
                    Ok(at.elapsed())
                }
            })
            .buffer_unordered(options.concurrency)
            .collect()
            .await;
        let rate = batch.len() as f64 / start.elapsed().as_secs_f64();
        for result in results {
            latencies.push(result?);
        }
        let floor_rate = match floor_rate.take() {
            Some(rate) => rate,
            None => floor(&batch)?,
        };
        let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
        println!(
            "{}",
            json!({
                "round": round,
                "requests_per_sec": rate.round(),
                "floor_per_sec": floor_rate.round(),
                "over_floor": round3(rate / floor_rate),
            })
        );
        ratios.push(rate / floor_rate);
        rates.push(rate);
        floors.push(floor_rate);
    }
    latencies.sort_unstable();
    let quantile = |q: f64| {
        let i = ((latencies.len() - 1) as f64 * q).round() as usize;
        (latencies[i].as_secs_f64() * 1e6).round() / 1e3
    };
    let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        "{}",
        json!({
            "backend": http_signatures::BACKEND,
            "actors": options.actors,
            "requests_per_round": options.requests,
            "rounds": options.rounds,
            "concurrency": options.concurrency,
            "median_requests_per_sec": median(&mut rates).round(),
            "median_floor_per_sec": median(&mut floors).round(),
            "p50_ms": quantile(0.5),
            "p99_ms": quantile(0.99),
            "median_over_floor": round3(median(&mut ratios)),
        })
    );
    drop(peer);
    running.stop().await?;
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

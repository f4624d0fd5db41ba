//! Ingest benchmark: the rate at which incoming `Create(Video)` activities are indexed, through
//! the real path: a loopback peer the index follows POSTs signed PeerTube activities to the
//! index's inbox over HTTP (signature, digest and origin checks, idempotency record, the
//! handler's checks, the database row, the search index), and the videos are then searched.
//!
//! Prints the rate at which the inbox accepts them, the latency of each delivery, and the
//! rate at which they become searchable (the commit cadence included).
//!
//! `cargo bench -p video-index --bench ingest` (env `ACTIVITIES=2000`, `CONCURRENCY=8`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

#[allow(dead_code)]
#[path = "../tests/it/peer.rs"]
mod peer;
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use peer::actor_at;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let activities = env_number("ACTIVITIES", 2000);
    let concurrency = env_number("CONCURRENCY", 8).max(1);
    let dir = tempfile::tempdir().unwrap();
    // The default commit cadence (half a second), as a served index runs.
    let (index, peer, inbox) = peer::followed_peer(dir.path(), |options| {
        options.app.commit_interval = video_index::IndexOptions::default().commit_interval;
    })
    .await;
    let root = actor_at(&peer, "/accounts/root", "Person", "root").await;
    actor_at(
        &peer,
        "/video-channels/root_channel",
        "Group",
        "Main root channel",
    )
    .await;
    let update = peer
        .fixture_from("peertube/update-video.json", "http://peertube.test")
        .unwrap();
    let template = update["object"].clone();
    let words = [
        "garden", "mountain", "kernel", "bread", "guitar", "river", "physics", "chess", "sunrise",
        "harbour", "linux", "concert",
    ];

    // Signed beforehand, so that signing (the peer's cost) is not measured.
    let signing = Instant::now();
    let mut requests = Vec::with_capacity(activities);
    for n in 0..activities {
        let mut video = template.clone();
        let uuid = format!("00000000-0000-4000-8000-{n:012}");
        let id = format!("{}/videos/watch/{uuid}", peer.origin());
        video["id"] = json!(id);
        video["uuid"] = json!(uuid);
        video["name"] = json!(format!(
            "{} {} number {n}",
            words[n % words.len()],
            words[(n / words.len()) % words.len()]
        ));
        let create: Value = json!({
            "@context": update["@context"],
            "id": format!("{id}/activity"),
            "type": "Create",
            "actor": root,
            "object": video,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [format!("{root}/followers")],
        });
        requests.push(peer.signed(&root, &inbox, &create).unwrap());
    }
    println!(
        "signed {activities} Create(Video) activities in {:.1} s",
        signing.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let queue = Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let http = http.clone();
        let inbox = inbox.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some((headers, body)) = queue.lock().unwrap().pop() else {
                    return latencies;
                };
                let sent = Instant::now();
                let response = http
                    .post(&inbox)
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                assert!(status.is_success(), "the inbox answered {status}: {text}");
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let accepted = started.elapsed();
    let search = index.base_url.join("api/v1/search/videos?count=1").unwrap();
    loop {
        let answer: Value = http
            .get(search.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["total"].as_u64() == Some(activities as u64) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not all searchable: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let searchable = started.elapsed();
    latencies.sort();
    println!(
        "inbox: {activities} activities accepted in {:.2} s with {concurrency} connections: {:.0} activities/s",
        accepted.as_secs_f64(),
        activities as f64 / accepted.as_secs_f64()
    );
    println!(
        "delivery latency: median {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "searchable: all {activities} after {:.2} s: {:.0} activities/s end to end",
        searchable.as_secs_f64(),
        activities as f64 / searchable.as_secs_f64()
    );
    assert_eq!(
        index.instance.stored_video_count().await.unwrap(),
        activities as u64
    );
    index.stop().await.unwrap();
}

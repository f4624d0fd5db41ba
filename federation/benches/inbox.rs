//! The inbox pipeline in process, next to its floor, in the same run.
//!
//! Each request is a Mastodon `Create` of a `Note` (the 2.3 KB `fixtures/mastodon/create-note.json`,
//! its ids made unique), signed with draft-cavage by one of several remote actors (RSA-2048, as
//! Mastodon signs), and goes through [`Inbox::receive_at`]: body size and digest, the typed
//! parse, the signature (keys already in the [`KeyCache`], as for a sender heard from before),
//! the origin and domain checks, the durable idempotency record on SQLite (WAL,
//! `synchronous=NORMAL`: an `INSERT ... ON CONFLICT DO NOTHING` into a table keyed by the id, as
//! instance-state records them) and the dispatch to a handler. Every request carries a new
//! activity id, so every one is recorded and dispatched.
//!
//! The floor is what no verifying inbox can skip: the bare RSA verification of the request's
//! signing string with the parsed key, plus the SHA-256 of the body.
//!
//! Rounds alternate (the order flips each round): `--batch` requests through the pipeline, one
//! after another (`sequential`), then the floor over the same requests. A second series runs
//! the pipeline with `--concurrency` requests in flight on the same one-thread runtime, a
//! third the sequential pipeline with the record kept in memory (`MemoryInboxStore`: what the
//! durable record costs, by difference), and a fourth the concurrent one with the record in
//! memory (what the record costs when its commits are shared); each round then times `--batch` records alone, one
//! after another, on the same record (the median of their latencies: `record_alone_us_p50`). Each
//! round's rate is divided by its floor's rate; the medians are the figures to read (this
//! machine's speed drifts from minute to minute). The pipeline's latency percentiles come from
//! the sequential rounds.
//!
//! ```sh
//! cargo bench -p federation --bench inbox                       # aws-lc-rs (the default)
//! cargo bench -p federation --bench inbox --features http-signatures/ring
//! cargo bench -p federation --bench inbox -- --rounds 30 --batch 100 --concurrency 16
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

/// The pipeline and the floor run on mimalloc, the allocator a server would pick (as the
/// queue's soak harness does); build with `RUSTFLAGS="--cfg soak_system_allocator"` (the
/// workspace's switch for its harnesses) to measure on the system allocator instead.
#[cfg(not(soak_system_allocator))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use activitypub_core::{ActivityType, AnyObject};
use bytes::Bytes;
use federation::fetch::{FetchConfig, Fetcher};
use federation::inbox::{
    Dispatcher, HandlerError, Inbox, InboxConfig, InboxStore, Incoming, MemoryInboxStore,
    StoreError,
};
use federation::keys::{KeyCache, KeyCacheConfig};
use federation::record::{SqlRecord, SqlRecordOptions};
use futures::StreamExt as _;
use http_signatures::digest::DigestAlgorithm;
use http_signatures::{Algorithm, Signer, SigningKey, Standard, VerifyingKey};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};
use url::Url;

/// The remote actors sending.
const ACTORS: usize = 8;

/// The benchmark's arguments (after `--`).
#[derive(clap::Parser)]
struct Options {
    /// Rounds of each series (their order flips each round).
    #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    rounds: usize,
    /// Requests per round.
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    batch: usize,
    /// Requests in flight in the concurrent series.
    #[arg(long, default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// The SQLite record's `synchronous`: `normal` (instance-state's default: no fsync at
    /// commit; loses no commit when the process dies, may lose the last ones in a power cut)
    /// or `full` (an fsync of the WAL per transaction).
    #[arg(long, default_value = "normal", value_parser = ["normal", "full"])]
    synchronous: String,
    /// The record's table with a rowid, as instance-state made it before its migration 7
    /// (two B-trees written per record instead of one): for comparing the two in one build.
    #[arg(long)]
    rowid_table: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn options() -> Options {
    <Options as clap::Parser>::parse()
}

/// The idempotency record on SQLite, as instance-state keeps it: `federation::record`, with
/// group commit (instance-state's `InboxStore::record` is this record, in its `st_processed`).
#[derive(Clone)]
struct SqliteInboxStore {
    record: SqlRecord,
    path: std::path::PathBuf,
}

impl SqliteInboxStore {
    async fn open(path: &std::path::Path, synchronous_full: bool, rowid_table: bool) -> Self {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        // instance-state's `st_processed` (migrations/0001_state.sql, rebuilt on SQLite without
        // a rowid by 0007_processed_sqlite.sql).
        sqlx::query(if rowid_table {
            "CREATE TABLE processed (id TEXT PRIMARY KEY, at BIGINT NOT NULL)"
        } else {
            "CREATE TABLE processed (id TEXT PRIMARY KEY, at BIGINT NOT NULL) WITHOUT ROWID"
        })
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let record = SqlRecord::open(
            path.to_str().unwrap(),
            "processed",
            SqlRecordOptions::new().with_synchronous_full(synchronous_full),
        )
        .await
        .unwrap();
        Self {
            record,
            path: path.to_owned(),
        }
    }

    async fn count(&self) -> i64 {
        let mut conn = SqliteConnectOptions::new()
            .filename(&self.path)
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar("SELECT count(*) FROM processed")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

impl InboxStore for SqliteInboxStore {
    async fn record(&self, activity_id: &str) -> Result<bool, StoreError> {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.record
            .record(activity_id, at)
            .await
            .map_err(|e| StoreError::new("recording", e))
    }

    async fn forget(&self, activity_id: &str) -> Result<(), StoreError> {
        self.record
            .forget(activity_id)
            .await
            .map_err(|e| StoreError::new("forgetting", e))
    }

    async fn knows_actor(&self, _actor: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// One remote actor: its key and the verifying key the floor uses.
struct Sender {
    base: String,
    signer: Signer,
    verifying: VerifyingKey,
    key: SigningKey,
}

/// A signed request and what the floor needs of it.
struct Prepared {
    request: http::Request<Bytes>,
    signing_string: Vec<u8>,
    signature: Vec<u8>,
    sender: usize,
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/mastodon/create-note.json"
    ))
    .unwrap();
    let local = Url::parse("https://local.example/").unwrap();
    let keys = KeyCache::new(fetcher(), KeyCacheConfig::default());
    let senders: Vec<Sender> = (0..ACTORS)
        .map(|i| {
            let base = format!("https://r{i}.example");
            let key = SigningKey::generate_rsa(2048).unwrap();
            let actor = format!("{base}/users/felix");
            let document = json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": actor,
                "type": "Person",
                "preferredUsername": "felix",
                "inbox": format!("{actor}/inbox"),
                "publicKey": {
                    "id": format!("{actor}#main-key"),
                    "owner": actor,
                    "publicKeyPem": key.verifying_key().to_spki_pem().unwrap(),
                },
            });
            let AnyObject::Actor(typed) = AnyObject::from_value(document).unwrap() else {
                panic!("not an actor");
            };
            keys.insert_actor(*typed).unwrap();
            Sender {
                signer: Signer::new(key.clone(), format!("{actor}#main-key"))
                    .with_standard(Standard::Cavage),
                verifying: key.verifying_key(),
                key,
                base,
            }
        })
        .collect();
    let now = SystemTime::now();
    let per_series = options.rounds * options.batch;
    let serial = AtomicU64::new(0);
    let prepare = |count: usize| -> Vec<Prepared> {
        (0..count)
            .map(|i| {
                let sender_index = i % ACTORS;
                let sender = &senders[sender_index];
                let n = 200_000_000_000_000_000_u64 + serial.fetch_add(1, Ordering::Relaxed);
                let body = fixture
                    .replace("https://mastodon.madrid", &sender.base)
                    .replace("107224289116410645", &n.to_string());
                let mut request = http::Request::post(local.join("/inbox").unwrap().as_str())
                    .header(http::header::CONTENT_TYPE, "application/activity+json")
                    .body(body.into_bytes())
                    .unwrap();
                let signed = sender.signer.sign(&mut request, now).unwrap();
                let signing_string = signed.signing_string.into_bytes();
                let signature = sender
                    .key
                    .sign_bytes(Algorithm::RsaV1_5Sha256, &signing_string)
                    .unwrap();
                Prepared {
                    request: origin_form(request.map(Bytes::from)),
                    signing_string,
                    signature,
                    sender: sender_index,
                }
            })
            .collect()
    };
    eprintln!(
        "signing {} requests ({} actors, RSA-2048, {})...",
        4 * per_series,
        ACTORS,
        http_signatures::BACKEND
    );
    let sequential_requests = prepare(per_series);
    let concurrent_requests = prepare(per_series);
    let memory_requests = prepare(per_series);
    let concurrent_memory_requests = prepare(per_series);

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteInboxStore::open(
        &dir.path().join("inbox.db"),
        options.synchronous == "full",
        options.rowid_table,
    )
    .await;
    let handled = Arc::new(AtomicU64::new(0));
    let dispatcher = Dispatcher::new().on(ActivityType::Create, handle);
    let inbox = Inbox::new(
        InboxConfig::new(&local),
        keys.clone(),
        fetcher(),
        store.clone(),
        Dispatcher::new().on(ActivityType::Create, handle),
        Arc::clone(&handled),
    );
    // The same pipeline with the record in memory: what the durable record costs.
    let memory_inbox = Inbox::new(
        InboxConfig::new(&local),
        keys,
        fetcher(),
        MemoryInboxStore::new(),
        dispatcher,
        Arc::clone(&handled),
    );

    let floor = |batch: &[Prepared]| {
        for p in batch {
            black_box(DigestAlgorithm::Sha256.digest(black_box(p.request.body())));
            senders[p.sender]
                .verifying
                .verify_bytes(
                    Algorithm::RsaV1_5Sha256,
                    black_box(&p.signing_string),
                    &p.signature,
                )
                .unwrap();
        }
    };

    eprintln!(
        "timing {} rounds of {} requests per series...",
        options.rounds, options.batch
    );
    // Warm-up: the floor once over a batch (the pipeline's warm-up is its first round).
    floor(&sequential_requests[..options.batch.min(per_series)]);

    let mut latencies = Vec::with_capacity(per_series);
    // Transactions of the record in the concurrent series (group commit: fewer than requests).
    let mut concurrent_transactions = 0;
    let mut sequential_ratios = Vec::new();
    let mut concurrent_ratios = Vec::new();
    let mut memory_ratios = Vec::new();
    let mut concurrent_memory_ratios = Vec::new();
    let mut concurrent_memory_rates = Vec::new();
    let mut rates = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut record_micros = Vec::new();
    for (round, (((sequential, concurrent), memory), concurrent_memory)) in sequential_requests
        .chunks(options.batch)
        .zip(concurrent_requests.chunks(options.batch))
        .zip(memory_requests.chunks(options.batch))
        .zip(concurrent_memory_requests.chunks(options.batch))
        .enumerate()
    {
        let time_floor = |batch: &[Prepared]| {
            let start = Instant::now();
            floor(batch);
            batch.len() as f64 / start.elapsed().as_secs_f64()
        };
        let floor_first = round % 2 == 1;
        let mut floor_rate = if floor_first {
            Some(time_floor(sequential))
        } else {
            None
        };
        let start = Instant::now();
        for p in sequential {
            let at = Instant::now();
            inbox.receive_at(&p.request, None, now).await.unwrap();
            latencies.push(at.elapsed());
        }
        let sequential_rate = sequential.len() as f64 / start.elapsed().as_secs_f64();
        let transactions = store.record.transactions();
        let start = Instant::now();
        futures::stream::iter(concurrent)
            .for_each_concurrent(options.concurrency, |p| {
                let inbox = &inbox;
                async move {
                    inbox.receive_at(&p.request, None, now).await.unwrap();
                }
            })
            .await;
        let concurrent_rate = concurrent.len() as f64 / start.elapsed().as_secs_f64();
        concurrent_transactions += store.record.transactions() - transactions;
        let start = Instant::now();
        for p in memory {
            memory_inbox
                .receive_at(&p.request, None, now)
                .await
                .unwrap();
        }
        let memory_rate = memory.len() as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        futures::stream::iter(concurrent_memory)
            .for_each_concurrent(options.concurrency, |p| {
                let inbox = &memory_inbox;
                async move {
                    inbox.receive_at(&p.request, None, now).await.unwrap();
                }
            })
            .await;
        let concurrent_memory_rate = concurrent_memory.len() as f64 / start.elapsed().as_secs_f64();
        // The durable record alone, one after another: what it adds to a request.
        for i in 0..options.batch {
            let id = format!("https://record.example/{round}/{i}");
            let start = Instant::now();
            assert!(store.record.record(&id, 1).await.unwrap());
            record_micros.push(start.elapsed().as_secs_f64() * 1e6);
        }
        let floor_rate = *floor_rate.get_or_insert_with(|| time_floor(sequential));
        sequential_ratios.push(sequential_rate / floor_rate);
        concurrent_ratios.push(concurrent_rate / floor_rate);
        rates.0.push(sequential_rate);
        rates.1.push(concurrent_rate);
        rates.2.push(floor_rate);
        memory_ratios.push(memory_rate / floor_rate);
        rates.3.push(memory_rate);
        concurrent_memory_ratios.push(concurrent_memory_rate / floor_rate);
        concurrent_memory_rates.push(concurrent_memory_rate);
    }
    let processed = handled.load(Ordering::Relaxed);
    assert_eq!(processed, 4 * per_series as u64, "every request dispatched");
    assert_eq!(
        store.count().await,
        3 * per_series as i64,
        "every id recorded"
    );

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
            "actors": ACTORS,
            "rounds": options.rounds,
            "batch": options.batch,
            "concurrency": options.concurrency,
            "synchronous": options.synchronous,
            "table": if options.rowid_table { "rowid" } else { "without rowid" },
            "floor_per_sec": median(&mut rates.2).round(),
            "sequential_per_sec": median(&mut rates.0).round(),
            "concurrent_per_sec": median(&mut rates.1).round(),
            "memory_record_per_sec": median(&mut rates.3).round(),
            "concurrent_memory_record_per_sec": median(&mut concurrent_memory_rates).round(),
            "concurrent_records_per_transaction":
                round3(per_series as f64 / concurrent_transactions.max(1) as f64),
            "record_alone_us_p50": (median(&mut record_micros) * 10.0).round() / 10.0,
            "sequential_ms_p50": quantile(0.5),
            "sequential_ms_p99": quantile(0.99),
            "sequential_over_floor": sequential_ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
            "concurrent_over_floor": concurrent_ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
            "median_sequential_over_floor": round3(median(&mut sequential_ratios)),
            "median_concurrent_over_floor": round3(median(&mut concurrent_ratios)),
            "median_memory_record_over_floor": round3(median(&mut memory_ratios)),
            "median_concurrent_memory_record_over_floor":
                round3(median(&mut concurrent_memory_ratios)),
            "target": 0.5,
        })
    );
}

async fn handle(handled: Arc<AtomicU64>, incoming: Incoming) -> Result<(), HandlerError> {
    black_box(&incoming.activity);
    handled.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A fetcher that is never used: every key is in the cache.
fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig::default()).unwrap()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `request` with its target in origin form (`/inbox`) and its authority in `Host`, as a
/// server receives it.
fn origin_form(request: http::Request<Bytes>) -> http::Request<Bytes> {
    let (mut parts, body) = request.into_parts();
    if let Some(authority) = parts.uri.authority().cloned() {
        parts
            .headers
            .entry(http::header::HOST)
            .or_insert_with(|| authority.as_str().parse().unwrap());
    }
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap();
    http::Request::from_parts(parts, body)
}

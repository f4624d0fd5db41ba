//! Soak harness: enqueue N deliveries over H fake hosts, deliver them through a worker child
//! process (optionally SIGKILLed after T ms and restarted) to a loopback sink, and print one
//! JSON line.
//!
//! ```sh
//! cargo run --release -p federation-queue --example soak -- \
//!     --store sqlite|postgres|null --deliveries N --hosts H [--sink URL] [--kill-after-ms T] \
//!     [--key rsa|ed25519] [--sqlite-sync-full] [--repeat R] [--paired S] \
//!     [--in-flight N] [--per-host N] [--signing-threads N] [--runtime-threads N] \
//!     [--compare-null | --compare-enqueue [--callers N]]
//! ```
//!
//! PostgreSQL is read from `FEDERATION_QUEUE_PG_URL` (see `scripts/with-postgres`). Without
//! `--sink`, a sink is started here and counts unique deliveries by `X-Delivery-Id`; with
//! `--sink URL`, delivered counts come from the store.
//!
//! `--store null` (`null_store.rs`) measures delivering without a store's work: the worker
//! enqueues the deliveries into a store that only hands them out in order, before it starts
//! (with neither `--kill-after-ms` nor `--sink`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub,
    dead_code
)]

mod cpu;
mod null_store;
mod sink;
mod timed_store;

/// The worker and the bare signing measurement run on mimalloc, the allocator a server would
/// pick for many threads freeing each other's memory (glibc's malloc serialises those frees on
/// arena locks). Build with `RUSTFLAGS="--cfg soak_system_allocator"` to measure with the
/// system allocator instead.
#[cfg(not(soak_system_allocator))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use federation_queue::{
    Enqueue, PostgresOptions, PostgresStore, Queue, QueueConfig, Recipient, ReqwestTransport,
    SqliteOptions, SqliteStore, StaticKeys, Store, Transport, TransportConfig, TransportError,
    TransportResponse,
};
use http_signatures::{Signer, SigningKey};

#[derive(Clone, Debug)]
struct Args {
    store: String,
    deliveries: usize,
    hosts: usize,
    sink: Option<String>,
    kill_after_ms: Option<u64>,
    repeat: usize,
    paired_window: Option<Duration>,
    key: String,
    worker: bool,
    sqlite_full: bool,
    key_file: Option<String>,
    db: Option<String>,
    schema: Option<String>,
    in_flight: usize,
    per_host: usize,
    signing_threads: Option<usize>,
    runtime_threads: Option<usize>,
    /// `--compare-enqueue`: enqueue while the worker runs, in each of the `live` modes.
    compare_enqueue: bool,
    /// `--compare-null`: alternate runs on `--store` and on the null store, with their ratios.
    compare_null: bool,
    /// In a worker: enqueue the run's activities itself while it runs, this way (`batch`,
    /// `single`, `concurrent`).
    live: Option<String>,
    /// Concurrent enqueuers in the `concurrent` mode.
    callers: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        store: "sqlite".into(),
        deliveries: 10_000,
        hosts: 100,
        sink: None,
        kill_after_ms: None,
        repeat: 1,
        paired_window: None,
        key: "rsa".into(),
        worker: false,
        sqlite_full: false,
        key_file: None,
        db: None,
        schema: None,
        in_flight: 256,
        per_host: 16,
        signing_threads: None,
        runtime_threads: None,
        compare_enqueue: false,
        compare_null: false,
        live: None,
        callers: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--store" => args.store = value()?,
            "--deliveries" => args.deliveries = value()?.parse()?,
            "--hosts" => args.hosts = value()?.parse::<usize>()?.max(1),
            "--sink" => args.sink = Some(value()?),
            "--kill-after-ms" => args.kill_after_ms = Some(value()?.parse()?),
            "--repeat" => args.repeat = value()?.parse::<usize>()?.max(1),
            // Pauses the worker every S seconds to measure the bare rate for one second.
            "--paired" => {
                args.paired_window = Some(Duration::from_secs(value()?.parse::<u64>()?.max(1)));
            }
            "--key" => args.key = value()?,
            "--worker" => args.worker = true,
            // SQLite's `synchronous=FULL`: each commit synced, surviving a power cut.
            "--sqlite-sync-full" => args.sqlite_full = true,
            "--key-file" => args.key_file = Some(value()?),
            "--db" => args.db = Some(value()?),
            "--schema" => args.schema = Some(value()?),
            // The worker's caps: attempts in flight in all and per host.
            "--in-flight" => args.in_flight = value()?.parse::<usize>()?.max(1),
            "--per-host" => args.per_host = value()?.parse::<usize>()?.max(1),
            // RSA signing threads (0: sign on the runtime's workers); default one per core.
            "--signing-threads" => args.signing_threads = Some(value()?.parse()?),
            // The worker's async runtime threads; default: see `runtime_threads`.
            "--runtime-threads" => {
                args.runtime_threads = Some(value()?.parse::<usize>()?.max(1));
            }
            // Enqueue while the worker runs: one batch, one by one, and by concurrent callers,
            // alternated, with their ratios (see `compare_enqueue`).
            "--compare-enqueue" => args.compare_enqueue = true,
            // Alternate runs on `--store` and on the null store (the floor), with their ratios.
            "--compare-null" => args.compare_null = true,
            "--live" => args.live = Some(value()?),
            "--callers" => args.callers = value()?.parse::<usize>()?.max(1),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// Sends every fake host to the sink; the signed Host header names the fake host.
struct SinkTransport {
    inner: ReqwestTransport,
    sink: String,
}

impl Transport for SinkTransport {
    fn max_request_time(&self) -> Option<Duration> {
        self.inner.max_request_time()
    }

    async fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        let path = request.uri().path().to_owned();
        *request.uri_mut() = format!("{}{path}", self.sink.trim_end_matches('/'))
            .parse()
            .map_err(|e| TransportError::Protocol {
                source: Box::new(e),
            })?;
        self.inner.send(request).await
    }
}

fn signing_key(kind: &str) -> Result<SigningKey> {
    Ok(match kind {
        "ed25519" => SigningKey::generate_ed25519()?,
        "rsa" => SigningKey::generate_rsa(2048)?,
        other => bail!("unknown key kind {other}"),
    })
}

fn peak_rss_mb(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
    Null(null_store::NullStore),
}

async fn open_store(args: &Args) -> Result<AnyStore> {
    Ok(match args.store.as_str() {
        "sqlite" => {
            let options = SqliteOptions::new(args.db.as_deref().context("--db")?)
                .with_synchronous_full(args.sqlite_full);
            AnyStore::Sqlite(SqliteStore::open_with(options).await?)
        }
        "postgres" => {
            let url = std::env::var("FEDERATION_QUEUE_PG_URL")
                .context("FEDERATION_QUEUE_PG_URL (try scripts/with-postgres)")?;
            let options = PostgresOptions::new(url)
                .with_schema(args.schema.clone().context("--schema")?)
                .with_max_connections(8);
            AnyStore::Postgres(PostgresStore::connect_with(options).await?)
        }
        "null" => AnyStore::Null(null_store::NullStore::default()),
        other => bail!("unknown store {other}"),
    })
}

/// Deliveries `range` of a run, spread over `hosts` fake hosts.
fn soak_items(range: std::ops::Range<usize>, hosts: usize) -> Vec<Enqueue> {
    range
        .map(|i| {
            let inbox = format!("https://h{}.test/users/{i}/inbox", i % hosts);
            Enqueue::new(format!("{{\"type\":\"Create\",\"n\":{i}}}"), "soak")
                .with_recipient(Recipient::new(inbox.parse().unwrap()))
        })
        .collect()
}

/// Enqueues a run's deliveries through `queue`, 5,000 at a time.
async fn fill<S: Store, T: Transport>(queue: &Queue<S, T, StaticKeys>, args: &Args) -> Result<()> {
    let mut start = 0;
    while start < args.deliveries {
        let end = (start + 5_000).min(args.deliveries);
        queue
            .enqueue_batch(&soak_items(start..end, args.hosts))
            .await?;
        start = end;
    }
    Ok(())
}

async fn worker(args: Args) -> Result<()> {
    // The harness made the key (RSA generation takes a while, and is not delivery work).
    let pem = std::fs::read_to_string(args.key_file.as_deref().context("--key-file")?)?;
    let key = SigningKey::from_pem(&pem)?;
    let keys =
        StaticKeys::new().with_signer("soak", Signer::new(key, "https://origin.test/actor#key"));
    // Every fake host is sent to the one sink, so the client's per-host connection pool
    // would hold the connections of all of them: size it for the worker's in-flight cap (as
    // 100 real hosts would have 100 pools), or most requests would open a new connection.
    // A request ends within 20 s, well inside the 30 s lease.
    let mut transport_config = TransportConfig::new()
        .with_timeouts(
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(20),
        )
        .with_danger_allow_http(true)
        .with_danger_allow_private_addresses(true);
    transport_config.pool_max_idle_per_host = args.in_flight;
    let transport = SinkTransport {
        inner: ReqwestTransport::new(transport_config)?,
        sink: args.sink.clone().context("--sink")?,
    };
    let config = QueueConfig::new()
        .with_in_flight(args.in_flight, args.per_host)
        .with_claim_batch(args.in_flight)
        .with_poll_interval(Duration::from_millis(50))
        .with_lease(Duration::from_secs(30))
        .with_delivery_id_header(http::HeaderName::from_static("x-delivery-id"));
    let config = match args.signing_threads {
        Some(threads) => config.with_signing_threads(threads),
        None => config,
    };
    macro_rules! run {
        ($store:expr) => {{
            if let Some(mode) = args.live.clone() {
                let timings = Arc::new(timed_store::Timings::default());
                let store = timed_store::TimedStore::new($store, Arc::clone(&timings));
                let queue = Queue::with_config(store, transport, keys, config);
                return live(queue, args.clone(), mode, timings).await;
            }
            let queue = Queue::with_config($store, transport, keys, config);
            if args.store == "null" {
                fill(&queue, &args).await?;
            }
            if std::env::var_os("SOAK_TRACE_WORKER").is_some() {
                let queue = queue.clone();
                tokio::spawn(async move { trace_worker(move || queue.metrics().in_flight).await });
            }
            queue.run(std::future::pending()).await?
        }};
    }
    match open_store(&args).await? {
        AnyStore::Sqlite(store) => run!(store),
        AnyStore::Postgres(store) => run!(store),
        AnyStore::Null(store) => run!(store),
    }
    Ok(())
}

/// `SOAK_TRACE_WORKER=1`: each second, on stderr, how late a task of the worker's runtime
/// that sleeps 5 ms at a time wakes (what any other task of an application embedding the
/// queue would wait for the runtime), and how many attempts were in flight at those wake-ups:
/// a worker starved of claimed work shows as low figures in a slow second.
async fn trace_worker(in_flight: impl Fn() -> u64) {
    let started = Instant::now();
    loop {
        let second = Instant::now();
        let mut lags = Vec::new();
        let (mut low, mut sum) = (u64::MAX, 0);
        while second.elapsed() < Duration::from_secs(1) {
            let due = tokio::time::Instant::now() + Duration::from_millis(5);
            tokio::time::sleep_until(due).await;
            lags.push(due.elapsed());
            let now = in_flight();
            low = low.min(now);
            sum += now;
        }
        lags.sort_unstable();
        let n = lags.len().max(1);
        let at = |q: f64| {
            lags.get(((n - 1) as f64 * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        eprintln!(
            "worker {:.1} s: runtime late by {:.1} ms median, {:.1} ms p99, {:.1} ms max; \
             in flight min {low} mean {:.0}",
            started.elapsed().as_secs_f64(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3,
            sum as f64 / n as f64,
        );
    }
}

fn spawn_worker(args: &Args, sink: &str, db: &str, schema: &str, key_file: &str) -> Result<Child> {
    Ok(worker_command(args, sink, db, schema, key_file)?.spawn()?)
}

fn worker_command(
    args: &Args,
    sink: &str,
    db: &str,
    schema: &str,
    key_file: &str,
) -> Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args([
            "--worker",
            "--store",
            &args.store,
            "--sink",
            sink,
            "--db",
            db,
            "--schema",
            schema,
            "--key",
            &args.key,
            "--key-file",
            key_file,
            "--in-flight",
            &args.in_flight.to_string(),
            "--per-host",
            &args.per_host.to_string(),
            "--deliveries",
            &args.deliveries.to_string(),
            "--hosts",
            &args.hosts.to_string(),
        ])
        .args(
            args.signing_threads
                .iter()
                .flat_map(|n| ["--signing-threads".to_owned(), n.to_string()]),
        )
        .args(
            args.runtime_threads
                .iter()
                .flat_map(|n| ["--runtime-threads".to_owned(), n.to_string()]),
        )
        .args(args.sqlite_full.then_some("--sqlite-sync-full"))
        .stdin(Stdio::null());
    Ok(command)
}

async fn enqueue_all(args: &Args, db: &str, schema: &str) -> Result<()> {
    let mut args = args.clone();
    args.db = Some(db.to_owned());
    args.schema = Some(schema.to_owned());
    let transport = ReqwestTransport::new(TransportConfig::new())?;
    match open_store(&args).await? {
        AnyStore::Sqlite(store) => {
            fill(&Queue::new(store, transport, StaticKeys::new()), &args).await
        }
        AnyStore::Postgres(store) => {
            fill(&Queue::new(store, transport, StaticKeys::new()), &args).await
        }
        // The worker fills its own.
        AnyStore::Null(_) => Ok(()),
    }
}

async fn remaining(args: &Args, db: &str, schema: &str) -> Result<u64> {
    if args.store == "null" {
        // Only the worker sees its queue; the sink's count alone says when it is done.
        return Ok(0);
    }
    if args.store == "sqlite" {
        // Opening a `SqliteStore` would take the database over (and make the running
        // worker's claims due again): count with a read-only connection instead.
        use sqlx::ConnectOptions;
        let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect()
            .await?;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fq_deliveries WHERE state < 2")
            .fetch_one(&mut connection)
            .await?;
        return Ok(u64::try_from(left)?);
    }
    let mut args = args.clone();
    args.db = Some(db.to_owned());
    args.schema = Some(schema.to_owned());
    let AnyStore::Postgres(store) = open_store(&args).await? else {
        bail!("not a PostgreSQL store");
    };
    let counts = store.counts(std::time::SystemTime::now()).await?;
    store.close().await;
    Ok(counts.pending + counts.in_flight)
}

/// Signatures per second with every core signing for 3 s, for comparison.
fn bare_signing_rate(kind: &str) -> Result<f64> {
    bare_signing_rate_for(kind, Duration::from_secs(3))
}

/// Signatures per second with every core signing for `duration`.
fn bare_signing_rate_for(kind: &str, duration: Duration) -> Result<f64> {
    let signer = Arc::new(Signer::new(
        signing_key(kind)?,
        "https://origin.test/actor#key",
    ));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let signer = Arc::clone(&signer);
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0_u64;
                while start.elapsed() < duration {
                    let mut request = http::Request::post("https://h1.test/inbox")
                        .header("content-type", "application/activity+json")
                        .body(Bytes::from_static(br#"{"type":"Create","n":1}"#))
                        .unwrap();
                    signer
                        .sign(&mut request, std::time::SystemTime::now())
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    Ok(total as f64 / duration.as_secs_f64())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if args.worker {
        // The queue's loop runs as a task on the runtime's workers, as in a server, rather
        // than on a thread of its own that every finished delivery would have to wake.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(runtime_threads(&args))
            .enable_all()
            .build()?;
        return runtime.block_on(async { tokio::spawn(worker(args)).await? });
    }
    // The harness (the sink, when it is ours) stays on one thread: it stands in for remote
    // servers, and should take as little of this machine as it can.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(harness(args))
}

/// The worker's runtime threads: `--runtime-threads`, or the cores the RSA signing threads
/// leave, and at least one.
///
/// A worker that signs with RSA keeps its signing threads busy on every core (by default one
/// per core). Its runtime only sends requests and talks to the store, a fraction of one core.
/// A second runtime thread then has no core of its own: the runtime wakes it to share out
/// tasks, and each wake-up takes a core from a signature. Ed25519 signatures are made on the
/// runtime, which then gets every core.
fn runtime_threads(args: &Args) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    args.runtime_threads.unwrap_or_else(|| {
        let signing = match args.key.as_str() {
            "rsa" => args.signing_threads.unwrap_or(cores),
            _ => 0,
        };
        cores.saturating_sub(signing).max(1)
    })
}

async fn harness(args: Args) -> Result<()> {
    if args.compare_enqueue {
        return compare_enqueue(&args).await;
    }
    if args.compare_null {
        return compare_null(&args).await;
    }
    // This VM's speed drifts from minute to minute: with `--repeat`, the runs (each with the
    // bare rate on both sides) are summed up by their medians.
    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    let mut paired = Vec::new();
    for run in 0..args.repeat {
        let line = run_once(&args, run).await?;
        println!("{line}");
        rates.extend(line["deliveries_per_sec"].as_f64());
        ratios.extend(line["percent_of_bare"].as_f64());
        paired.extend(line["paired_percent_of_bare"].as_f64());
    }
    if args.repeat > 1 {
        let mut summary = serde_json::json!({
            "runs": args.repeat,
            "median_deliveries_per_sec": median(&mut rates),
        });
        if !ratios.is_empty() {
            summary["median_percent_of_bare"] = serde_json::json!(median(&mut ratios));
        }
        if !paired.is_empty() {
            summary["median_paired_percent_of_bare"] = serde_json::json!(median(&mut paired));
        }
        println!("{summary}");
    }
    Ok(())
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => values.get(mid).copied(),
        _ => Some(f64::midpoint(*values.get(mid - 1)?, *values.get(mid)?)),
    }
}

/// One run: enqueue, deliver (killing the worker once if asked), count; returns the JSON line.
async fn run_once(args: &Args, run: usize) -> Result<serde_json::Value> {
    let bare = std::env::var_os("SOAK_BARE_SIGNING").is_some();
    if args.store == "null" && (args.sink.is_some() || args.kill_after_ms.is_some()) {
        bail!(
            "--store null needs the harness's own sink and no kill: its queue dies with the worker"
        );
    }
    let paired_window = match args.paired_window {
        Some(_) if !bare || args.sink.is_some() || args.kill_after_ms.is_some() => {
            bail!("--paired needs SOAK_BARE_SIGNING=1, the harness's own sink and no kill")
        }
        window => window,
    };
    let bare_before = if bare {
        let rate = bare_signing_rate(&args.key)?;
        eprintln!("bare signing ({}) before the run: {rate:.0}/s", args.key);
        Some(rate)
    } else {
        None
    };
    let own_sink = match &args.sink {
        Some(_) => None,
        None => Some(sink::Sink::start_with(false).await),
    };
    let sink_url = match (&args.sink, &own_sink) {
        (Some(url), _) => url.clone(),
        (None, Some(sink)) => format!("http://{}", sink.addr),
        (None, None) => unreachable!(),
    };
    let dir = std::env::temp_dir().join(format!(
        "federation-queue-soak-{}-{run}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let db: PathBuf = dir.join("queue.db");
    let db = db.to_string_lossy().into_owned();
    let schema = format!("soak_{}_{run}", std::process::id());
    let key_file = dir.join("key.pem");
    std::fs::write(&key_file, signing_key(&args.key)?.to_pkcs8_pem()?)?;
    let key_file = key_file.to_string_lossy().into_owned();
    enqueue_all(args, &db, &schema).await?;
    let start = Instant::now();
    let busy_before = cpu::machine_busy_seconds();
    let harness_before = cpu::process_seconds(std::process::id());
    let mut child = spawn_worker(args, &sink_url, &db, &schema, &key_file)?;
    let mut peak = 0.0_f64;
    if let Some(ms) = args.kill_after_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        peak = peak.max(peak_rss_mb(Some(child.id())));
        child.kill()?; // SIGKILL
        child.wait()?;
        if let Some(sink) = &own_sink {
            let (total, unique) = sink.counts();
            eprintln!("killed the worker after {ms} ms: {unique} delivered ({total} requests)");
        }
        child = spawn_worker(args, &sink_url, &db, &schema, &key_file)?;
    }
    let n = args.deliveries as u64;
    let deadline = Instant::now() + Duration::from_secs(3600);
    // When the sink first saw a delivery: the steady rate leaves out the worker's start-up
    // (RSA key generation, connecting, migrations).
    let mut first: Option<(Instant, u64)> = None;
    let mut pairs = Paired::default();
    // `SOAK_PROGRESS=1`: each second, the deliveries of that second and how busy the machine
    // was, on stderr (a stall shows as a slow second with idle cores).
    let progress = std::env::var_os("SOAK_PROGRESS").is_some();
    let process_cpu = |child: &Child| {
        (
            cpu::process_seconds(child.id()).unwrap_or(0.0),
            cpu::process_seconds(std::process::id()).unwrap_or(0.0),
        )
    };
    let mut last_second = (
        Instant::now(),
        0_u64,
        cpu::machine_busy_seconds(),
        process_cpu(&child),
    );
    loop {
        peak = peak.max(peak_rss_mb(Some(child.id())));
        let finished = match &own_sink {
            Some(sink) => {
                let unique = sink.counts().1;
                if progress && last_second.0.elapsed() >= Duration::from_secs(1) {
                    let (at, seen, busy, (worker_cpu, harness_cpu)) = last_second;
                    let now_busy = cpu::machine_busy_seconds();
                    let (now_worker, now_harness) = process_cpu(&child);
                    let delivered = unique.saturating_sub(seen).max(1) as f64;
                    let span = at.elapsed().as_secs_f64();
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    let busy_percent = match (busy, now_busy) {
                        (Some(before), Some(after)) => {
                            format!("{:.0}", (after - before) / span / cores as f64 * 100.0)
                        }
                        _ => "?".to_owned(),
                    };
                    // CPU per delivery of the worker and of this process (the sink).
                    eprintln!(
                        "{:.1} s: {:.0} deliveries/s, machine {busy_percent} % busy, \
                         worker {:.0} µs and harness {:.0} µs per delivery",
                        start.elapsed().as_secs_f64(),
                        unique.saturating_sub(seen) as f64 / span,
                        (now_worker - worker_cpu) / delivered * 1e6,
                        (now_harness - harness_cpu) / delivered * 1e6,
                    );
                    last_second = (Instant::now(), unique, now_busy, (now_worker, now_harness));
                }
                if first.is_none() && unique > 0 {
                    first = Some((Instant::now(), unique));
                }
                if let Some(window) = paired_window
                    && unique > 0
                    && unique < n
                {
                    pairs.step(window, &child, sink, &args.key).await?;
                }
                // Done when the sink has seen everything and the queue is empty: after a kill,
                // requests the dead worker sent may have arrived without being recorded, and
                // are sent again once their claims come back (duplicates, counted).
                unique >= n && remaining(args, &db, &schema).await? == 0
            }
            None => remaining(args, &db, &schema).await? == 0,
        };
        if finished || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time and CPU spent measuring the bare rate mid-run, with the worker stopped, are left out.
    let seconds = (start.elapsed() - pairs.paused).as_secs_f64();
    let steady = first.map(|(at, seen)| {
        let span = (at.elapsed() - pairs.paused).as_secs_f64();
        (
            ((n.saturating_sub(seen)) as f64 / span).round(),
            at.duration_since(start),
        )
    });
    peak = peak.max(peak_rss_mb(Some(child.id())));
    // CPU seconds during the run: the worker, this process (the sink, when it is ours) and
    // everything else on the machine (the database server, other load).
    let cpu_split = (|| {
        let worker = cpu::process_seconds(child.id())?;
        let harness =
            cpu::process_seconds(std::process::id())? - harness_before? - pairs.harness_cpu;
        let busy = cpu::machine_busy_seconds()? - busy_before? - pairs.busy_cpu;
        let signing = cpu::threads_seconds(child.id(), "fq-sign-")?;
        Some((worker, harness, (busy - worker - harness).max(0.0), signing))
    })();
    child.kill()?;
    child.wait()?;
    let (delivered_unique, total) = match &own_sink {
        Some(sink) => {
            let (total, unique) = sink.counts();
            (unique, total)
        }
        None => {
            let left = remaining(args, &db, &schema).await?;
            (n - left, n - left)
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    let line = serde_json::json!({
        "enqueued": n,
        "delivered_unique": delivered_unique,
        "duplicates": total.saturating_sub(delivered_unique),
        "lost": n.saturating_sub(delivered_unique),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "deliveries_per_sec": (delivered_unique as f64 / seconds).round(),
        "peak_rss_mb": (peak * 10.0).round() / 10.0,
        "worker_runtime_threads": runtime_threads(args),
    });
    let mut line = line;
    if let (Some((rate, startup)), None) = (steady, args.kill_after_ms) {
        line["steady_deliveries_per_sec"] = serde_json::json!(rate);
        line["first_delivery_after_s"] =
            serde_json::json!((startup.as_secs_f64() * 1000.0).round() / 1000.0);
    }
    if let (Some((worker, harness, other, signing)), None) = (cpu_split, args.kill_after_ms) {
        let round = |s: f64| (s * 100.0).round() / 100.0;
        line["cpu_seconds"] = serde_json::json!({
            "worker": round(worker),
            "harness": round(harness),
            "other": round(other),
            // Of the worker's: its signing threads, in user and in kernel mode.
            "signing_threads_user": round(signing.0),
            "signing_threads_system": round(signing.1),
        });
    }
    if let Some(before) = bare_before {
        // The VM's speed drifts: the bare rate is taken on both sides of the run.
        let after = bare_signing_rate(&args.key)?;
        eprintln!("bare signing ({}) after the run: {after:.0}/s", args.key);
        let bare = f64::midpoint(before, after);
        line["bare_signing_per_sec"] = serde_json::json!(bare.round());
        let ratio = |rate: f64| (rate / bare * 1000.0).round() / 10.0;
        line["percent_of_bare"] = serde_json::json!(ratio(delivered_unique as f64 / seconds));
        if let Some((rate, _)) = steady {
            line["steady_percent_of_bare"] = serde_json::json!(ratio(rate));
        }
    }
    if paired_window.is_some() {
        let percent = |r: f64| (r * 1000.0).round() / 10.0;
        let windows: Vec<f64> = pairs.ratios.iter().map(|r| percent(*r)).collect();
        line["paired_windows_percent"] = serde_json::json!(windows);
        if let Some(middle) = median(&mut pairs.ratios) {
            line["paired_percent_of_bare"] = serde_json::json!(percent(middle));
        }
    }
    Ok(line)
}

/// Paired measurement: every window, the worker is stopped (SIGSTOP) while all cores sign bare
/// for a second, then continued (SIGCONT). Each window's delivery rate is compared with the
/// mean of the bare rates measured just before and just after it, so that the VM's drift,
/// which moves the bare rate by up to a fifth within minutes, cancels out.
#[derive(Default)]
struct Paired {
    /// The current window: when it started and what the sink had seen then.
    window: Option<(Instant, u64)>,
    /// The bare rate measured just before the current window.
    before: Option<f64>,
    /// Each finished window's delivery rate over its bare rate.
    ratios: Vec<f64>,
    /// Time spent with the worker stopped.
    paused: Duration,
    /// CPU seconds of this process, and of the machine, during the bare measurements.
    harness_cpu: f64,
    busy_cpu: f64,
}

impl Paired {
    async fn step(
        &mut self,
        window: Duration,
        child: &Child,
        sink: &sink::Sink,
        key: &str,
    ) -> Result<()> {
        let rate = match self.window {
            Some((at, _)) if at.elapsed() < window => return Ok(()),
            Some((at, seen)) => {
                Some(sink.counts().1.saturating_sub(seen) as f64 / at.elapsed().as_secs_f64())
            }
            None => None,
        };
        let bare = self.bare_slice(child, key).await?;
        if let (Some(rate), Some(before)) = (rate, self.before) {
            self.ratios.push(rate / f64::midpoint(before, bare));
        }
        self.before = Some(bare);
        self.window = Some((Instant::now(), sink.counts().1));
        Ok(())
    }

    async fn bare_slice(&mut self, child: &Child, key: &str) -> Result<f64> {
        let started = Instant::now();
        let harness = cpu::process_seconds(std::process::id());
        let busy = cpu::machine_busy_seconds();
        signal(child, "STOP")?;
        // Let the sink answer what the worker sent last.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let key = key.to_owned();
        let rate = tokio::task::spawn_blocking(move || {
            bare_signing_rate_for(&key, Duration::from_secs(1))
        })
        .await??;
        signal(child, "CONT")?;
        self.paused += started.elapsed();
        if let (Some(before), Some(after)) = (harness, cpu::process_seconds(std::process::id())) {
            self.harness_cpu += after - before;
        }
        if let (Some(before), Some(after)) = (busy, cpu::machine_busy_seconds()) {
            self.busy_cpu += after - before;
        }
        Ok(rate)
    }
}

/// Sends `SIGSTOP` or `SIGCONT` to the worker.
fn signal(child: &Child, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{signal} {} failed", child.id());
    }
    Ok(())
}

/// `--compare-null`: each round makes one run on `--store` and one on the null store (the same
/// worker with a store that does no work: the floor on a machine whose cores the sink shares),
/// the order alternating from round to round, and divides the durable run's rate by the null
/// one's. The last line gives the medians next to the target (0.9).
async fn compare_null(args: &Args) -> Result<()> {
    if args.store == "null" || args.sink.is_some() || args.kill_after_ms.is_some() {
        bail!("--compare-null needs a durable --store, the harness's own sink and no kill");
    }
    let durable = args.clone();
    let null = Args {
        store: "null".into(),
        ..args.clone()
    };
    let mut ratios = Vec::new();
    let mut steady_ratios = Vec::new();
    let mut durable_rates = Vec::new();
    let mut null_rates = Vec::new();
    for round in 0..args.repeat {
        let order = if round % 2 == 0 {
            [&null, &durable]
        } else {
            [&durable, &null]
        };
        let mut lines = Vec::new();
        for (i, run_args) in order.into_iter().enumerate() {
            let mut line = run_once(run_args, round * 2 + i).await?;
            line["store"] = serde_json::json!(run_args.store);
            line["round"] = serde_json::json!(round);
            line["backend"] = serde_json::json!(http_signatures::BACKEND);
            println!("{line}");
            if line["lost"].as_u64() != Some(0) {
                bail!("the {} run lost deliveries", run_args.store);
            }
            lines.push((run_args.store.clone(), line));
        }
        let pick = |store: &str, field: &str| {
            lines
                .iter()
                .find(|(s, _)| s == store)
                .and_then(|(_, line)| line[field].as_f64())
        };
        let (Some(d), Some(n)) = (
            pick(&args.store, "deliveries_per_sec"),
            pick("null", "deliveries_per_sec"),
        ) else {
            bail!("a run printed no rate");
        };
        durable_rates.push(d);
        null_rates.push(n);
        ratios.push(d / n);
        if let (Some(d), Some(n)) = (
            pick(&args.store, "steady_deliveries_per_sec"),
            pick("null", "steady_deliveries_per_sec"),
        ) {
            steady_ratios.push(d / n);
        }
    }
    let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "store": args.store,
            "key": args.key,
            "backend": http_signatures::BACKEND,
            "deliveries": args.deliveries,
            "hosts": args.hosts,
            "rounds": args.repeat,
            "durable_over_null": ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
            "steady_durable_over_null": steady_ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
            "median_durable_over_null": median(&mut ratios).map(round3),
            "median_steady_durable_over_null": median(&mut steady_ratios).map(round3),
            "median_durable_deliveries_per_sec": median(&mut durable_rates),
            "median_null_deliveries_per_sec": median(&mut null_rates),
            "target": 0.9,
        })
    );
    Ok(())
}

/// The enqueue modes `--compare-enqueue` alternates: the run's activities as one batch, one
/// `enqueue` after another from one caller, and from `--callers` concurrent callers.
const LIVE_MODES: [&str; 3] = ["batch", "single", "concurrent"];

/// `--compare-enqueue`: each round runs a fresh worker per mode (the order rotating from round
/// to round), which starts its loop and then enqueues the run's activities, one per recipient,
/// in that mode; the worker runs all along, and the rate counts from the first enqueue to the
/// last delivery. Each round's `single` and `concurrent` rates are divided by its `batch` rate
/// (the same minutes, so the machine's drift mostly cancels), and the last line gives the
/// medians.
async fn compare_enqueue(args: &Args) -> Result<()> {
    if args.store == "null" || args.sink.is_some() || args.kill_after_ms.is_some() {
        bail!("--compare-enqueue needs a durable store, the harness's own sink and no kill");
    }
    let sink = sink::Sink::start_with(false).await;
    let sink_url = format!("http://{}", sink.addr);
    let mut rates: Vec<(String, Vec<f64>)> = LIVE_MODES
        .iter()
        .map(|mode| ((*mode).to_owned(), Vec::new()))
        .collect();
    let mut single_ratios = Vec::new();
    let mut concurrent_ratios = Vec::new();
    for round in 0..args.repeat {
        let mut this_round = std::collections::HashMap::new();
        for i in 0..LIVE_MODES.len() {
            let mode = LIVE_MODES[(i + round) % LIVE_MODES.len()];
            let dir = std::env::temp_dir().join(format!(
                "federation-queue-soak-{}-{round}-{mode}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)?;
            let db = dir.join("queue.db").to_string_lossy().into_owned();
            let schema = format!("soak_{}_{round}_{mode}", std::process::id());
            let key_file = dir.join("key.pem");
            std::fs::write(&key_file, signing_key(&args.key)?.to_pkcs8_pem()?)?;
            let key_file = key_file.to_string_lossy().into_owned();
            // Every run numbers its deliveries from 1: count requests, not unique ids.
            let before = sink.counts().0;
            let mut command = worker_command(args, &sink_url, &db, &schema, &key_file)?;
            command
                .args(["--live", mode, "--callers", &args.callers.to_string()])
                .stdout(Stdio::piped());
            // The child runs on its own; this runtime keeps serving the sink meanwhile.
            let child = command.spawn()?;
            let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
            let _ = std::fs::remove_dir_all(&dir);
            if !output.status.success() {
                bail!("the {mode} worker failed: {}", output.status);
            }
            let mut line: serde_json::Value =
                serde_json::from_slice(&output.stdout).with_context(|| {
                    format!(
                        "the {mode} worker printed {:?}",
                        String::from_utf8_lossy(&output.stdout)
                    )
                })?;
            let arrived = sink.counts().0 - before;
            line["sink_requests"] = serde_json::json!(arrived);
            line["round"] = serde_json::json!(round);
            println!("{line}");
            if arrived < args.deliveries as u64 {
                bail!("the sink saw {arrived} of {} deliveries", args.deliveries);
            }
            let rate = line["deliveries_per_sec"].as_f64().context("no rate")?;
            this_round.insert(mode, rate);
            if let Some((_, list)) = rates.iter_mut().find(|(m, _)| m == mode) {
                list.push(rate);
            }
        }
        if let (Some(batch), Some(single), Some(concurrent)) = (
            this_round.get("batch"),
            this_round.get("single"),
            this_round.get("concurrent"),
        ) {
            single_ratios.push(single / batch);
            concurrent_ratios.push(concurrent / batch);
        }
    }
    let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut summary = serde_json::json!({
        "store": args.store,
        "key": args.key,
        "backend": http_signatures::BACKEND,
        "deliveries": args.deliveries,
        "hosts": args.hosts,
        "callers": args.callers,
        "rounds": args.repeat,
        "single_over_batch": single_ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
        "concurrent_over_batch": concurrent_ratios.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
        "median_single_over_batch": median(&mut single_ratios).map(round3),
        "median_concurrent_over_batch": median(&mut concurrent_ratios).map(round3),
        "target": 0.9,
    });
    for (mode, list) in &mut rates {
        summary[format!("median_{mode}_deliveries_per_sec")] = serde_json::json!(median(list));
    }
    println!("{summary}");
    Ok(())
}

/// A worker in `--live MODE`: starts its loop, then enqueues the run's activities (one
/// recipient each) in that mode, and prints one JSON line when all are delivered, with what
/// its store calls took (`store_calls`, from `timings`).
async fn live<S: Store, T: Transport>(
    queue: Queue<S, T, StaticKeys>,
    args: Args,
    mode: String,
    timings: Arc<timed_store::Timings>,
) -> Result<()> {
    let n = args.deliveries;
    let items = soak_items(0..n, args.hosts);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // `SOAK_ENQUEUE_FIRST=1`: the worker starts only once everything is enqueued, to see what
    // an enqueue costs on its own.
    let enqueue_first = std::env::var_os("SOAK_ENQUEUE_FIRST").is_some();
    let (go, started) = tokio::sync::oneshot::channel::<()>();
    let mut go = Some(go);
    if !enqueue_first && let Some(go) = go.take() {
        let _ = go.send(());
    }
    let runner = tokio::spawn({
        let queue = queue.clone();
        async move {
            let _ = started.await;
            queue
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // How long each `enqueue` of the single caller took.
    let mut latencies: Vec<Duration> = Vec::with_capacity(n);
    let start = Instant::now();
    match mode.as_str() {
        "batch" => {
            queue.enqueue_batch(&items).await?;
        }
        "single" => {
            for item in items {
                let at = Instant::now();
                queue.enqueue(item).await?;
                latencies.push(at.elapsed());
            }
        }
        "concurrent" => {
            let callers = args.callers;
            let mut shares: Vec<Vec<Enqueue>> = (0..callers).map(|_| Vec::new()).collect();
            for (i, item) in items.into_iter().enumerate() {
                shares[i % callers].push(item);
            }
            let tasks: Vec<_> = shares
                .into_iter()
                .map(|share| {
                    let queue = queue.clone();
                    tokio::spawn(async move {
                        for item in share {
                            queue.enqueue(item).await?;
                        }
                        anyhow::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await??;
            }
        }
        other => bail!("unknown enqueue mode {other}"),
    }
    let enqueued = start.elapsed();
    if let Some(go) = go.take() {
        let _ = go.send(());
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while queue.metrics().delivered < n as u64 {
        if Instant::now() > deadline {
            bail!("not delivered within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    runner.await??;
    latencies.sort_unstable();
    let quantile = |q: f64| {
        let i = ((latencies.len().saturating_sub(1)) as f64 * q) as usize;
        latencies
            .get(i)
            .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
    };
    println!(
        "{}",
        serde_json::json!({
            "enqueue_ms_p50": quantile(0.5),
            "enqueue_ms_p90": quantile(0.9),
            "enqueue_ms_p99": quantile(0.99),
            "mode": mode,
            "callers": if mode == "concurrent" { args.callers } else { 1 },
            "deliveries": n,
            "enqueue_seconds": (enqueued.as_secs_f64() * 1000.0).round() / 1000.0,
            "enqueues_per_sec": (n as f64 / enqueued.as_secs_f64()).round(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "deliveries_per_sec": (n as f64 / seconds).round(),
            "store_calls": timings.summary(),
            // CPU seconds of this worker's threads, per kind of thread, for the whole run.
            "threads_cpu": cpu::seconds_by_thread_name(std::process::id()),
        })
    );
    Ok(())
}

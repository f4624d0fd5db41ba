//! The media store against nginx: serving one 500 MB file over loopback with random aligned
//! ranges (1 and 32 keep-alive connections, 64 KiB and 1 MiB ranges), and the resident memory
//! of a server taking a 2 GB upload. `scripts/bench-media` prepares the file, starts nginx and
//! runs this; see docs/media-store.md.
//!
//! Modes (arguments after `cargo bench -p media-store --bench serve --`):
//! - `prepare STORE SOURCE KEY`: stores SOURCE under KEY (skipped when already there);
//!   prints the stored file's path.
//! - `free-port`: prints a free loopback port.
//! - `server STORE copy|sendfile|lean`: our server (a child of `run`): prints its port, serves
//!   `/media/KEY` (file bytes copied through user space, or by `sendfile` through
//!   `SendfileStream`; `lean`: sendfile without axum's router) and `PUT /upload/KEY` until its
//!   standard input closes.
//! - `run STORE KEY NGINX_URL`: the serving table, then the upload figure.
//! - `load URL READERS RANGE FILE_LEN SECONDS`: one case against one server.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use media_store::{Key, Limits, MediaStore, SendfileStream, ServeOptions};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

const UPLOAD_BYTES: u64 = 2 << 30;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["prepare", store, source, key] => {
            runtime(2)?.block_on(prepare(store.as_ref(), source.as_ref(), key))
        }
        ["free-port"] => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            Ok(())
        }
        ["server", store, mode] => {
            // MEDIA_BENCH_SERVER_WORKERS: our server's tokio workers (default: one per core).
            let workers = std::env::var("MEDIA_BENCH_SERVER_WORKERS")
                .ok()
                .and_then(|w| w.parse().ok());
            runtime(workers.unwrap_or_else(cores))?.block_on(server(store.as_ref(), mode))
        }
        ["run", store, key, nginx] => run(store.as_ref(), key, nginx),
        ["load", url, readers, range, len, secs] => {
            let case = Case {
                readers: readers.parse()?,
                range: range.parse()?,
            };
            let target = Target::from_url(url)?;
            let figures = runtime(cores())?.block_on(load(
                &target,
                case,
                len.parse()?,
                Duration::from_secs(secs.parse()?),
            ))?;
            println!(
                "{:.0} MB/s, {:.0} requests/s",
                figures.bytes_per_sec / 1e6,
                figures.requests_per_sec
            );
            Ok(())
        }
        _ => bail!(
            "usage: serve prepare STORE SOURCE KEY | free-port | server STORE | run STORE KEY NGINX_URL"
        ),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?)
}

async fn prepare(root: &Path, source: &Path, key: &str) -> anyhow::Result<()> {
    let store = MediaStore::open(root).await?;
    let key = Key::new(key)?;
    let size = std::fs::metadata(source)?.len();
    match store.metadata(&key).await? {
        Some(metadata) if metadata.size == size => {}
        _ => {
            let metadata = store
                .store_file(&key, source, &Limits::new(u64::MAX))
                .await?;
            eprintln!("stored {} bytes, sha256 {}", metadata.size, metadata.sha256);
        }
    }
    println!("{}", store.path_of(&key).display());
    Ok(())
}

/// Our server, configured as an instance would serve media: hyper's HTTP/1 with keep-alive,
/// `TCP_NODELAY`, the store's service under `/media`, uploads staged and committed; with
/// `sendfile`, each connection a `SendfileStream` whose handle goes into its requests.
async fn server(root: &Path, mode: &str) -> anyhow::Result<()> {
    let (sendfile, lean) = (mode == "sendfile", mode == "lean");
    let store = MediaStore::open(root).await?;
    let lean_options = ServeOptions::new(HeaderValue::from_static("application/octet-stream"))
        .with_cache_control(HeaderValue::from_static(
            "public, max-age=31536000, immutable",
        ));
    let options = ServeOptions::new(HeaderValue::from_static("application/octet-stream"))
        .with_cache_control(HeaderValue::from_static(
            "public, max-age=31536000, immutable",
        ));
    let app = Router::new()
        .route("/upload/{*key}", put(upload))
        .with_state(store.clone())
        .nest_service("/media", store.service(move |_| Some(options.clone())));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    // Stop when the parent closes our standard input (or dies).
    tokio::task::spawn_blocking(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        if lean {
            // No router: the path is the key, answered by `serve_request` directly.
            let (stream, handle) = SendfileStream::new(stream);
            let (store, options) = (store.clone(), lean_options.clone());
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(handle.clone());
                    let (store, options) = (store.clone(), options.clone());
                    async move {
                        let key = request
                            .uri()
                            .path()
                            .strip_prefix("/media/")
                            .and_then(|k| Key::new(k).ok());
                        let response = match key {
                            Some(key) => store.serve_request(&key, &request, &options).await,
                            None => {
                                return Ok::<_, Infallible>(Response::new(
                                    media_store::FileBody::empty(),
                                ));
                            }
                        };
                        Ok(response
                            .unwrap_or_else(|_| Response::new(media_store::FileBody::empty())))
                    }
                });
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        } else if sendfile {
            let (stream, handle) = SendfileStream::new(stream);
            let app = app.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(handle.clone());
                    app.clone().oneshot(request)
                });
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        } else {
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    }
}

async fn upload(
    State(store): State<MediaStore>,
    UrlPath(key): UrlPath<String>,
    request: Request,
) -> Response {
    let Ok(key) = Key::new(key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let limits = Limits::new(4 << 30).with_stall_time(Duration::from_secs(30));
    match store.stage_request(request, &limits).await {
        Ok(staged) => match staged.commit(&key).await {
            Ok(metadata) => (StatusCode::CREATED, metadata.sha256.to_hex()).into_response(),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        },
        Err(error) => (error.status(), error.to_string()).into_response(),
    }
}

/// Our server as a child process.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(root: &Path, mode: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["server", &root.display().to_string(), mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .parse()
            .with_context(|| format!("server said {line:?}"))?;
        Ok(Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    fn status(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .context("no such field")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse::<u64>()?
            * 1024)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(100));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

struct Target {
    addr: SocketAddr,
    path: String,
    /// The server's processes, whose CPU time is counted.
    pids: Vec<u32>,
}

impl Target {
    fn from_url(url: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = url.parse()?;
        let addr = format!(
            "{}:{}",
            uri.host().context("no host")?,
            uri.port_u16().unwrap_or(80)
        )
        .parse()?;
        Ok(Self {
            addr,
            path: uri.path().to_owned(),
            pids: Vec::new(),
        })
    }
}

/// The CPU time (user and system) the processes have used, in seconds, from `/proc/PID/stat`
/// (clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            // After the command: state is field 3, utime 14 and stime 15 (1-based).
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) as f64 / 100.0)
        })
        .sum()
}

#[derive(Clone, Copy)]
struct Case {
    readers: usize,
    range: u64,
}

/// Rounds per case and server.
const ROUNDS: u32 = 3;

struct Figures {
    bytes: u64,
    requests: u64,
    seconds: f64,
    bytes_per_sec: f64,
    requests_per_sec: f64,
}

#[derive(Default)]
struct Totals {
    bytes: u64,
    requests: u64,
    seconds: f64,
    /// The server's CPU seconds over the rounds.
    cpu: f64,
}

impl Totals {
    fn add(&mut self, figures: &Figures) {
        self.bytes += figures.bytes;
        self.requests += figures.requests;
        self.seconds += figures.seconds;
    }

    fn figures(&self) -> Figures {
        Figures {
            bytes: self.bytes,
            requests: self.requests,
            seconds: self.seconds,
            bytes_per_sec: self.bytes as f64 / self.seconds,
            requests_per_sec: self.requests as f64 / self.seconds,
        }
    }
}

fn run(root: &Path, key: &str, nginx: &str) -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("MEDIA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let duration = Duration::from_secs(seconds);
    let file_len = std::fs::metadata(root.join("data").join(key))?.len();
    let copy = ServerProcess::start(root, "copy")?;
    let sendfile = ServerProcess::start(root, "sendfile")?;
    let path = format!("/media/{key}");
    let mut nginx = Target::from_url(nginx)?;
    // NGINX_PIDS: nginx's processes (the script passes its master and workers).
    nginx.pids = std::env::var("NGINX_PIDS")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let targets = [
        ("nginx", nginx),
        (
            "copy",
            Target {
                addr: copy.addr,
                path: path.clone(),
                pids: vec![copy.child.id()],
            },
        ),
        (
            "sendfile",
            Target {
                addr: sendfile.addr,
                path,
                pids: vec![sendfile.child.id()],
            },
        ),
    ];
    let rt = runtime(cores())?;
    println!(
        "serving a {} MB file over loopback, {seconds} s per case and server in {ROUNDS} alternating rounds, {} cores, load generator: hyper client, keep-alive",
        file_len / 1_000_000,
        cores()
    );
    for (_, target) in &targets {
        // Warm the page cache and check both answer ranges alike.
        rt.block_on(load(
            target,
            Case {
                readers: 4,
                range: 1 << 20,
            },
            file_len,
            Duration::from_secs(1),
        ))?;
    }
    println!("ours (copy): file bytes read into buffers; ours (sendfile): through SendfileStream");
    println!(
        "{:<28} {:>6} {:>6} {:>8} {:>7} {:>7} {:>8} {:>6} {:>8}  target 0.9x (copy, sendfile)",
        "case", "nginx", "copy", "sendfile", "nginx", "copy", "sendfile", "ratio", "ratio"
    );
    println!(
        "{:<28} {:>6} {:>6} {:>8} {:>7} {:>7} {:>8} {:>6} {:>8}",
        "", "MB/s", "MB/s", "MB/s", "req/s", "req/s", "req/s", "copy", "sendfile"
    );
    let cases = [
        Case {
            readers: 1,
            range: 64 << 10,
        },
        Case {
            readers: 32,
            range: 64 << 10,
        },
        Case {
            readers: 1,
            range: 1 << 20,
        },
        Case {
            readers: 32,
            range: 1 << 20,
        },
    ];
    let mut cpu_table = Vec::new();
    for case in cases {
        // Rounds alternating the servers, so a burst of other work on the machine weighs on
        // both alike.
        let mut totals = [Totals::default(), Totals::default(), Totals::default()];
        for _ in 0..ROUNDS {
            for ((_, target), total) in targets.iter().zip(&mut totals) {
                let cpu = cpu_seconds(&target.pids);
                total.add(&rt.block_on(load(target, case, file_len, duration / ROUNDS))?);
                total.cpu += cpu_seconds(&target.pids) - cpu;
            }
        }
        let cpu: Vec<f64> = totals
            .iter()
            .map(|t| t.cpu * 1e6 / t.requests.max(1) as f64)
            .collect();
        cpu_table.push((case, cpu));
        let figures = totals.map(|t| t.figures());
        let [nginx, copy, sendfile] = figures.as_slice() else {
            bail!("three targets")
        };
        let ratio = |f: &Figures| f.bytes_per_sec / nginx.bytes_per_sec;
        let met = |f: &Figures| if ratio(f) >= 0.9 { "met" } else { "NOT met" };
        println!(
            "{:<28} {:>6.0} {:>6.0} {:>8.0} {:>7.0} {:>7.0} {:>8.0} {:>6.2} {:>8.2}  {}, {}",
            format!(
                "{} reader(s), {} KiB ranges",
                case.readers,
                case.range >> 10
            ),
            nginx.bytes_per_sec / 1e6,
            copy.bytes_per_sec / 1e6,
            sendfile.bytes_per_sec / 1e6,
            nginx.requests_per_sec,
            copy.requests_per_sec,
            sendfile.requests_per_sec,
            ratio(copy),
            ratio(sendfile),
            met(copy),
            met(sendfile),
        );
    }
    println!(
        "\nserver CPU time per request (user + system, from /proc; lower is better: it is what \
         decides when the cores are busy)"
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9}",
        "case", "nginx µs", "copy µs", "sendfile µs"
    );
    for (case, cpu) in &cpu_table {
        let [nginx, copy, sendfile] = cpu.as_slice() else {
            bail!("three targets")
        };
        println!(
            "{:<28} {nginx:>9.1} {copy:>9.1} {sendfile:>11.1}",
            format!(
                "{} reader(s), {} KiB ranges",
                case.readers,
                case.range >> 10
            ),
        );
    }
    drop(copy);
    drop(sendfile);
    upload_figure(root, &rt)
}

/// `case.readers` connections asking for random aligned ranges for `duration`.
async fn load(
    target: &Target,
    case: Case,
    file_len: u64,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let bytes = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for reader in 0..case.readers {
        let (addr, path) = (target.addr, target.path.clone());
        let (bytes, requests) = (bytes.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut rng = fastrand::Rng::with_seed(reader as u64);
            let slots = file_len / case.range;
            while Instant::now() < deadline {
                let start = rng.u64(..slots) * case.range;
                let request = http::Request::get(path.as_str())
                    .header("host", "127.0.0.1")
                    .header("range", format!("bytes={start}-{}", start + case.range - 1))
                    .body(http_body_util::Empty::<Bytes>::new())?;
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                if response.status() != 206 {
                    bail!("{addr}: status {}", response.status());
                }
                let mut body = response.into_body();
                let mut got = 0;
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame?.into_data() {
                        got += data.len() as u64;
                    }
                }
                if got != case.range {
                    bail!("{addr}: {got} bytes for a range of {}", case.range);
                }
                bytes.fetch_add(got, Ordering::Relaxed);
                requests.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let totals = Totals {
        bytes: bytes.load(Ordering::Relaxed),
        requests: requests.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
        cpu: 0.0,
    };
    Ok(totals.figures())
}

/// A 2 GB upload through HTTP into our server (a child process); its resident memory from
/// `/proc` before and after.
fn upload_figure(root: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let upload_root: PathBuf = root.with_file_name("upload-store");
    let _ = std::fs::remove_dir_all(&upload_root);
    let server = ServerProcess::start(&upload_root, "copy")?;
    let rss_before = server.status("VmRSS:")?;
    let hwm_before = server.status("VmHWM:")?;
    let start = Instant::now();
    let (status, answer) = rt.block_on(async {
        let stream = TcpStream::connect(server.addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        // 1 MiB of random bytes sent over and over: the client holds no more than that.
        let block = Bytes::from((0..1 << 20).map(|_| fastrand::u8(..)).collect::<Vec<u8>>());
        let chunks = UPLOAD_BYTES / block.len() as u64;
        let stream = futures::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(Frame::data(block.clone()))),
        );
        let request = http::Request::put("/upload/bench/upload.bin")
            .header("host", "127.0.0.1")
            .header("content-length", UPLOAD_BYTES)
            .body(StreamBody::new(stream))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, answer))
    })?;
    let elapsed = start.elapsed().as_secs_f64();
    let rss_after = server.status("VmRSS:")?;
    let hwm_after = server.status("VmHWM:")?;
    if status != 201 {
        bail!(
            "upload answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "upload of {} bytes through HTTP: {:.0} MB/s (with fsync at commit); server VmRSS {:.1} MiB before, \
         {:.1} MiB after; VmHWM {:.1} -> {:.1} MiB: grew by {:.1} MiB (target < 50 MiB: {})",
        UPLOAD_BYTES,
        UPLOAD_BYTES as f64 / elapsed / 1e6,
        mib(rss_before),
        mib(rss_after),
        mib(hwm_before),
        mib(hwm_after),
        mib(hwm_after.saturating_sub(rss_before)),
        if hwm_after.saturating_sub(rss_before) < 50 << 20 {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&upload_root);
    Ok(())
}

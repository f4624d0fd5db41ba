//! The media store against nginx: serving one 500 MB file over loopback with random aligned
//! ranges (1 and 32 keep-alive connections, 64 KiB and 1 MiB ranges), and the resident memory
//! of a server taking a 2 GB upload. `scripts/bench-media` prepares the file, starts nginx and
//! runs this; see docs/media-store.md.
//!
//! Modes (arguments after `cargo bench -p media-store --bench serve --`):
//! - `prepare STORE SOURCE KEY`: stores SOURCE under KEY (skipped when already there);
//!   prints the stored file's path.
//! - `free-port`: prints a free loopback port.
//! - `server STORE copy|sendfile|lean|percore`: our server (a child of `run`): prints its port, serves
//!   `/media/KEY` (file bytes copied through user space, or by `sendfile` through
//!   `SendfileStream`; `lean`: sendfile without axum's router; `percore`: sendfile on a
//!   single-threaded runtime per core, no upload route) and `PUT /upload/KEY` until its
//!   standard input closes.
//! - `run STORE KEY NGINX_URL`: the serving table, then the upload figure.
//! - `load URL READERS RANGE FILE_LEN SECONDS`: one case against one server.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
use media_store::bench::{self, Case, Target};
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
        ["server", store, "percore"] => percore(store.as_ref()),
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
            let target = Target::from_url("server", url)?;
            let figures = runtime(cores())?.block_on(bench::load(
                &target,
                case,
                len.parse()?,
                Duration::from_secs(secs.parse()?),
            ))?;
            println!(
                "{:.0} MB/s, {:.0} requests/s",
                figures.bytes_per_sec() / 1e6,
                figures.requests_per_sec()
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

/// Sendfile on one single-threaded runtime per core, each accepting on its own socket bound to
/// the same port (`SO_REUSEPORT`, the kernel spreading connections), as nginx's workers do.
fn percore(root: &Path) -> anyhow::Result<()> {
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _context = setup.enter();
    let store = setup.block_on(MediaStore::open(root))?;
    let options = ServeOptions::new(HeaderValue::from_static("application/octet-stream"))
        .with_cache_control(HeaderValue::from_static(
            "public, max-age=31536000, immutable",
        ));
    let bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        // Converted to std to cross into its thread's runtime.
        let listener = socket.listen(1024)?.into_std()?;
        Ok(listener)
    };
    let first = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cores() {
        listeners.push(bind(addr)?);
    }
    println!("{}", addr.port());
    std::io::stdout().flush()?;
    let mut threads = Vec::new();
    for listener in listeners {
        let (store, options) = (store.clone(), options.clone());
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.keep_alive(true);
                loop {
                    let (stream, _) = listener.accept().await?;
                    stream.set_nodelay(true)?;
                    let (stream, handle) = SendfileStream::new(stream);
                    let (store, options) = (store.clone(), options.clone());
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
                                    Some(key) => {
                                        store.serve_request(&key, &request, &options).await
                                    }
                                    None => {
                                        return Ok::<_, Infallible>(Response::new(
                                            media_store::FileBody::empty(),
                                        ));
                                    }
                                };
                                Ok(response.unwrap_or_else(|_| {
                                    Response::new(media_store::FileBody::empty())
                                }))
                            }
                        });
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
            })
        }));
    }
    // Stop when the parent closes our standard input (or dies).
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    std::process::exit(0);
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

/// Rounds per case and server.
const ROUNDS: u32 = 3;

/// Our server's modes measured beside nginx.
const MODES: [&str; 3] = ["copy", "sendfile", "percore"];

fn run(root: &Path, key: &str, nginx: &str) -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("MEDIA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let duration = Duration::from_secs(seconds);
    let file_len = std::fs::metadata(root.join("data").join(key))?.len();
    let path = format!("/media/{key}");
    // NGINX_PIDS: nginx's processes (the script passes its master and workers).
    let nginx_pids = std::env::var("NGINX_PIDS")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut targets = vec![Target::from_url("nginx", nginx)?.with_pids(nginx_pids)];
    let mut servers = Vec::new();
    for mode in MODES {
        let server = ServerProcess::start(root, mode)?;
        targets.push(Target {
            name: mode.to_owned(),
            addr: server.addr,
            path: path.clone(),
            pids: vec![server.child.id()],
        });
        servers.push(server);
    }
    let rt = runtime(cores())?;
    println!(
        "serving a {} MB file over loopback, {seconds} s per case and server in {ROUNDS} alternating rounds, {} cores, load generator: hyper client, keep-alive",
        file_len / 1_000_000,
        cores()
    );
    println!(
        "ours: copy = file bytes read into buffers; sendfile = through SendfileStream; \
         percore = sendfile on one single-threaded runtime per core (SO_REUSEPORT)"
    );
    bench::compare(&rt, &targets, file_len, duration, ROUNDS, 0.9)?;
    drop(servers);
    upload_figure(root, &rt)
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

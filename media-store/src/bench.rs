//! The load generator of the serving benchmarks (feature `bench`), shared by media-store's
//! benchmark and the video instance's, so that every server is measured the same way.
//!
//! [`load`] drives one server: keep-alive HTTP/1.1 connections (hyper's client, `TCP_NODELAY`),
//! each asking for random range-aligned `bytes=a-b` ranges of one file for a fixed time and
//! checking each answer's status (`206`) and length. [`compare`] runs the four cases (1 and 32
//! connections, 64 KiB and 1 MiB ranges) against several servers in alternating rounds (so a
//! burst of other work on the machine falls on all alike) and prints MB/s, requests per second,
//! the ratios to the first server (the peer, nginx) and each server's CPU time per request from
//! `/proc/PID/stat`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What can go wrong while measuring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A socket failed.
    #[error("{addr}: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("{addr}: {source}")]
    Http {
        /// The server.
        addr: SocketAddr,
        /// What failed.
        source: hyper::Error,
    },
    /// A request could not be built (a path that is not one).
    #[error("a request to {addr}: {source}")]
    Request {
        /// The server.
        addr: SocketAddr,
        /// What failed.
        source: http::Error,
    },
    /// The server answered something else than `206`.
    #[error("{addr}: status {status} for a range")]
    Status {
        /// The server.
        addr: SocketAddr,
        /// Its answer.
        status: http::StatusCode,
    },
    /// The server answered a range with the wrong number of bytes.
    #[error("{addr}: {got} bytes for a range of {expected}")]
    Length {
        /// The server.
        addr: SocketAddr,
        /// The bytes received.
        got: u64,
        /// The range's length.
        expected: u64,
    },
    /// A reader's task panicked.
    #[error("a reader's task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A URL that is not `http://IP:PORT/PATH`.
    #[error("not a URL of a server on an IP address: {0}")]
    Url(String),
}

/// A server under load.
#[derive(Clone, Debug)]
pub struct Target {
    /// Its name in the tables.
    pub name: String,
    /// Its address.
    pub addr: SocketAddr,
    /// The path of the file it serves.
    pub path: String,
    /// Its processes, whose CPU time is counted.
    pub pids: Vec<u32>,
}

impl Target {
    /// The server of `url` (`http://127.0.0.1:PORT/PATH`), named `name`, no process counted.
    pub fn from_url(name: impl Into<String>, url: &str) -> Result<Self, BenchError> {
        let bad = || BenchError::Url(url.to_owned());
        let uri: http::Uri = url.parse().map_err(|_| bad())?;
        let host = uri.host().ok_or_else(bad)?;
        let addr = format!("{host}:{}", uri.port_u16().unwrap_or(80))
            .parse()
            .map_err(|_| bad())?;
        Ok(Self {
            name: name.into(),
            addr,
            path: uri.path().to_owned(),
            pids: Vec::new(),
        })
    }

    /// The same, with its processes' ids for the CPU time.
    pub fn with_pids(mut self, pids: Vec<u32>) -> Self {
        self.pids = pids;
        self
    }
}

/// One load: how many connections, and the length of the ranges each asks for.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Connections at once, each asking for one range after another.
    pub readers: usize,
    /// The length of every range, in bytes (the ranges are aligned to it).
    pub range: u64,
}

/// The four cases of the benchmarks: 1 and 32 readers of 64 KiB and 1 MiB ranges.
pub const CASES: [Case; 4] = [
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

/// What one server did under one load.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// Body bytes received.
    pub bytes: u64,
    /// Ranges answered.
    pub requests: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// The server's CPU seconds (user and system) meanwhile, when its processes are known.
    pub cpu: f64,
}

impl Figures {
    /// Bytes per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    /// Requests per second.
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    /// CPU microseconds per request.
    pub fn cpu_micros_per_request(&self) -> f64 {
        self.cpu * 1e6 / self.requests.max(1) as f64
    }

    fn add(&mut self, other: &Figures) {
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.seconds += other.seconds;
        self.cpu += other.cpu;
    }
}

/// The result of one case of [`compare`]: the figures of each server, in the targets' order.
#[derive(Clone, Debug)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// Each server's figures over the rounds.
    pub figures: Vec<Figures>,
}

/// `case.readers` connections to `target` asking for random aligned ranges of a file of
/// `file_len` bytes for `duration`; every answer is checked (`206`, the range's length).
pub async fn load(
    target: &Target,
    case: Case,
    file_len: u64,
    duration: Duration,
) -> Result<Figures, BenchError> {
    let bytes = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for reader in 0..case.readers {
        let (addr, path) = (target.addr, target.path.clone());
        let (bytes, requests) = (bytes.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let io = |source| BenchError::Io { addr, source };
            let http = |source| BenchError::Http { addr, source };
            let stream = TcpStream::connect(addr).await.map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(http)?;
            tokio::spawn(connection);
            let mut rng = fastrand::Rng::with_seed(reader as u64);
            let slots = (file_len / case.range).max(1);
            while Instant::now() < deadline {
                let start = rng.u64(..slots) * case.range;
                let request = http::Request::get(path.as_str())
                    .header("host", "127.0.0.1")
                    .header("range", format!("bytes={start}-{}", start + case.range - 1))
                    .body(http_body_util::Empty::<Bytes>::new())
                    .map_err(|source| BenchError::Request { addr, source })?;
                sender.ready().await.map_err(http)?;
                let response = sender.send_request(request).await.map_err(http)?;
                if response.status() != http::StatusCode::PARTIAL_CONTENT {
                    return Err(BenchError::Status {
                        addr,
                        status: response.status(),
                    });
                }
                let mut body = response.into_body();
                let mut got = 0;
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame.map_err(http)?.into_data() {
                        got += data.len() as u64;
                    }
                }
                if got != case.range {
                    return Err(BenchError::Length {
                        addr,
                        got,
                        expected: case.range,
                    });
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
    Ok(Figures {
        bytes: bytes.load(Ordering::Relaxed),
        requests: requests.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
        cpu: 0.0,
    })
}

/// The CPU time (user and system) the processes have used, in seconds, from `/proc/PID/stat`
/// (clock ticks of 1/100 s, Linux's `USER_HZ`); processes gone count nothing.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
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

/// Runs [`CASES`] against `targets` (the first is the peer the others are compared with), each
/// case in `rounds` rounds of `duration / rounds` per server taking turns, after a warm-up of a
/// second per server (which also reads the file into the page cache and checks that each
/// answers ranges); prints the tables (MB/s and ratios to the peer with the `floor` met or
/// not, requests per second, CPU µs per request) and returns the rows.
pub fn compare(
    runtime: &tokio::runtime::Runtime,
    targets: &[Target],
    file_len: u64,
    duration: Duration,
    rounds: u32,
    floor: f64,
) -> Result<Vec<Row>, BenchError> {
    let rounds = rounds.max(1);
    for target in targets {
        let warm = Case {
            readers: 4,
            range: 1 << 20,
        };
        runtime.block_on(load(target, warm, file_len, Duration::from_secs(1)))?;
    }
    let peer = targets.first().map_or("peer", |t| t.name.as_str());
    let header = |unit: &str| -> String {
        targets
            .iter()
            .map(|t| format!(" {:>10}", format!("{}{unit}", t.name)))
            .collect()
    };
    println!("\nMB/s of each server, then its ratio to {peer}");
    println!(
        "{:<30}{}{}  target {floor}x",
        "case",
        header(""),
        header(" x")
    );
    let mut rows = Vec::new();
    for case in CASES {
        let mut totals = vec![Figures::default(); targets.len()];
        for _ in 0..rounds {
            for (target, total) in targets.iter().zip(&mut totals) {
                let cpu = cpu_seconds(&target.pids);
                let mut figures =
                    runtime.block_on(load(target, case, file_len, duration / rounds))?;
                figures.cpu = cpu_seconds(&target.pids) - cpu;
                total.add(&figures);
            }
        }
        let peer_rate = totals.first().map_or(1.0, Figures::bytes_per_sec);
        let rates: String = totals
            .iter()
            .map(|f| format!(" {:>10.0}", f.bytes_per_sec() / 1e6))
            .collect();
        let ratios: String = totals
            .iter()
            .map(|f| format!(" {:>10.2}", f.bytes_per_sec() / peer_rate))
            .collect();
        let met: Vec<String> = targets
            .iter()
            .zip(&totals)
            .skip(1)
            .map(|(t, f)| {
                let met = f.bytes_per_sec() / peer_rate >= floor;
                format!("{} {}", t.name, if met { "met" } else { "NOT met" })
            })
            .collect();
        println!("{:<30}{rates}{ratios}  {}", label(case), met.join(", "));
        rows.push(Row {
            case,
            figures: totals,
        });
    }
    println!("\nrequests per second");
    println!("{:<30}{}", "case", header(""));
    for row in &rows {
        let line: String = row
            .figures
            .iter()
            .map(|f| format!(" {:>10.0}", f.requests_per_sec()))
            .collect();
        println!("{:<30}{line}", label(row.case));
    }
    println!("\nserver CPU time per request, µs (user + system, from /proc)");
    println!("{:<30}{}", "case", header(""));
    for row in &rows {
        let line: String = row
            .figures
            .iter()
            .map(|f| format!(" {:>10.1}", f.cpu_micros_per_request()))
            .collect();
        println!("{:<30}{line}", label(row.case));
    }
    Ok(rows)
}

/// `1 reader(s), 64 KiB ranges`.
pub fn label(case: Case) -> String {
    format!(
        "{} reader(s), {} KiB ranges",
        case.readers,
        case.range >> 10
    )
}

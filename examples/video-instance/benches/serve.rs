//! The video instance serving a video file against nginx serving the same file (the same
//! inode), with the same load generator (media-store's, feature `bench`), in the same run:
//! a 500,000,000-byte MP4 uploaded through the instance's API, then random aligned ranges of
//! it asked of `/static/KEY` by 1 and 32 keep-alive connections, 64 KiB and 1 MiB at a time.
//! The floor: 0.9x nginx's throughput in every case. `scripts/bench-video-serve`
//! starts nginx and runs this; see docs/video-instance.md, "Performance".
//!
//! Modes (arguments after `cargo bench -p video-instance --bench serve --`):
//! - `prepare DIR`: a video instance on the SQLite database `DIR/videos.sqlite` (its files in
//!   `DIR/videos.sqlite.media`) gets the video `DIR/source-500M.mp4` (written once) through
//!   its upload API; prints the stored file's key (once stored, it is found again).
//! - `free-port`: prints a free loopback port.
//! - `run DIR KEY NGINX_URL`: two instances on copies of `DIR/videos.sqlite` sharing its
//!   media directory, one serving on its main multi-threaded runtime (`--workers 0`), one on a
//!   single-threaded runtime per core (`--workers N`, the default), beside nginx
//!   (`NGINX_PIDS`: nginx's processes, for the CPU time); the tables. `VIDEO_BENCH_SECS`:
//!   seconds per case and server (default 6, in 3 alternating rounds);
//!   `VIDEO_BENCH_INSTANCE_ARGS`: more arguments for the instances' `serve`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/padded_mp4.rs"]
mod padded_mp4;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use media_store::bench::{self, Target};

/// The file's size, as media-store's benchmark's.
const FILE_BYTES: u64 = 500_000_000;

/// Rounds per case and server.
const ROUNDS: u32 = 3;

const BINARY: &str = env!("CARGO_BIN_EXE_video-instance");

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["prepare", dir] => println!("{}", runtime().block_on(prepare(Path::new(dir)))),
        ["free-port"] => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            println!("{}", listener.local_addr().unwrap().port());
        }
        ["run", dir, key, nginx] => run(Path::new(dir), key, nginx),
        _ => panic!("usage: serve prepare DIR | free-port | run DIR KEY NGINX_URL"),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .unwrap()
}

fn database(dir: &Path) -> String {
    dir.join("videos.sqlite").to_string_lossy().into_owned()
}

/// Where the instance keeps the file of `key`.
fn stored_path(dir: &Path, key: &str) -> PathBuf {
    dir.join("videos.sqlite.media").join("data").join(key)
}

/// The instance as a child process, on a port of the OS's choosing.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Instance {
    fn start(dir: &Path, extra: &[&str]) -> Instance {
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--danger-allow-private-addresses",
                "--no-transcoding",
                "--listen",
                "127.0.0.1:0",
                "--max-upload-mib",
                "1024",
                "--database",
                &database(dir),
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // `{"event": "listening", "base_url": ..., "addr": ...}`
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let said: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("the instance said {line:?}"));
        let addr = said["addr"].as_str().unwrap().parse().unwrap();
        Instance { child, addr }
    }
}

impl Instance {
    /// Stops it as a service manager would (SIGTERM), and waits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Uploads `DIR/source-500M.mp4` (written first if missing) to an instance on
/// `DIR/videos.sqlite`; the key of the stored file.
async fn prepare(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let known = dir.join("key");
    if let Ok(key) = std::fs::read_to_string(&known)
        && std::fs::metadata(stored_path(dir, key.trim())).is_ok_and(|m| m.len() == FILE_BYTES)
    {
        return key.trim().to_owned();
    }
    let source = dir.join("source-500M.mp4");
    if std::fs::metadata(&source).map_or(true, |m| m.len() != FILE_BYTES) {
        // A valid MP4 whose media data is padded with random bytes (1 MiB repeated).
        let fill = Bytes::from((0..1 << 20).map(|_| fastrand::u8(..)).collect::<Vec<u8>>());
        let (len, mut pieces) = padded_mp4::padded_sample(FILE_BYTES, fill);
        assert_eq!(len, FILE_BYTES);
        let part = source.with_extension("part");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&part).unwrap());
        while let Some(piece) = pieces.next().await {
            file.write_all(&piece.unwrap()).unwrap();
        }
        file.into_inner().unwrap().sync_all().unwrap();
        std::fs::rename(&part, &source).unwrap();
    }
    let instance = Instance::start(dir, &[]);
    let account = Command::new(BINARY)
        .args(["admin", "--database", &database(dir), "create-account"])
        .arg(format!("bench{}", fastrand::u32(..)))
        .output()
        .unwrap();
    assert!(account.status.success(), "{account:?}");
    let account: serde_json::Value = serde_json::from_slice(&account.stdout).unwrap();
    let token = account["token"].as_str().unwrap();
    let channel = account["channel"].as_str().unwrap();
    let channel = channel.rsplit('/').next().unwrap().to_owned();
    let file = tokio::fs::File::open(&source).await.unwrap();
    let form = reqwest::multipart::Form::new()
        .text("channel", channel)
        .text("name", "The serving benchmark's video")
        .part(
            "videofile",
            reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), FILE_BYTES)
                .file_name("bench.mp4")
                .mime_str("video/mp4")
                .unwrap(),
        );
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/v1/videos/upload", instance.addr))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {answer}");
    let uuid = answer["video"]["uuid"].as_str().unwrap();
    // The original is kept as `videos/UUID/original.EXT`.
    let folder = dir.join("videos.sqlite.media/data/videos").join(uuid);
    let name = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("original"))
        .expect("the original is stored");
    let key = format!("videos/{uuid}/{name}");
    assert_eq!(
        std::fs::metadata(stored_path(dir, &key)).unwrap().len(),
        FILE_BYTES
    );
    std::fs::write(&known, &key).unwrap();
    instance.stop();
    key
}

fn run(dir: &Path, key: &str, nginx: &str) {
    let seconds: u64 = std::env::var("VIDEO_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let file_len = std::fs::metadata(stored_path(dir, key)).unwrap().len();
    let nginx_pids = std::env::var("NGINX_PIDS")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    // The instance twice: served on the main multi-threaded runtime (`--workers 0`), and by
    // one single-threaded runtime per core (`--workers N`, the default). Each has its own copy
    // of the database (and so its own search index) and the same media directory (through a
    // link): all serve the same file.
    let extra: Vec<String> = std::env::var("VIDEO_BENCH_INSTANCE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let modes = [("main-rt", 0), ("percore", cores())];
    let mut instances = Vec::new();
    let mut targets = vec![
        Target::from_url("nginx", nginx)
            .unwrap()
            .with_pids(nginx_pids),
    ];
    for (name, workers) in modes {
        let copy = dir.join(name);
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", database(dir)));
            if from.exists() {
                std::fs::copy(&from, copy.join(format!("videos.sqlite{suffix}"))).unwrap();
            }
        }
        let media = copy.join("media");
        std::os::unix::fs::symlink(dir.join("videos.sqlite.media"), &media).unwrap();
        let mut args = vec![
            "--workers".to_owned(),
            workers.to_string(),
            "--media-dir".to_owned(),
            media.to_string_lossy().into_owned(),
        ];
        args.extend(extra.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let instance = Instance::start(&copy, &args);
        targets.push(
            Target::from_url(name, &format!("http://{}/static/{key}", instance.addr))
                .unwrap()
                .with_pids(vec![instance.child.id()]),
        );
        instances.push(instance);
    }
    println!(
        "serving a {} MB video file over loopback: nginx, and the video instance's /static/ route \
         (main-rt: on the main multi-threaded runtime, --workers 0; percore: one single-threaded \
         runtime per core, --workers {}); {seconds} s per case and server in {ROUNDS} alternating \
         rounds, {} cores, load generator: media-store's (hyper client, keep-alive, random aligned ranges)",
        file_len / 1_000_000,
        cores(),
        cores()
    );
    let started = Instant::now();
    bench::compare(
        &runtime(),
        &targets,
        file_len,
        Duration::from_secs(seconds),
        ROUNDS,
        0.9,
    )
    .unwrap();
    println!("\n(measured in {:.0} s)", started.elapsed().as_secs_f64());
    drop(instances);
}

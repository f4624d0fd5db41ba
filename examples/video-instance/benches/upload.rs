//! The upload of a large video through the instance, measured from outside: the
//! `video-instance` binary serves on loopback as a child process; a 2 GiB MP4 is streamed to
//! PeerTube's upload API; the server's resident memory (`VmRSS`, and its peak `VmHWM`, from
//! `/proc/PID/status`) is read before and after. The target: the server grows by less
//! than 50 MB. Run with `cargo bench -p video-instance --bench upload`
//! (`UPLOAD_BENCH_MIB=2048` sets the size).
//!
//! The video is media-probe's two-second sample `h264-aac-moov-end.mp4` with its `mdat` box
//! padded to the size asked for (the padding goes after the sample's media data, so the
//! chunk offsets in `moov`, which comes last, stay right): a valid MP4 the instance probes and
//! stores like any other, generated on the fly, never held in memory or written on the
//! client's side.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;

#[path = "support/padded_mp4.rs"]
mod padded_mp4;

/// `VmRSS` and `VmHWM` of process `pid`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run(dir: &Path, mib: u64) {
    let binary = env!("CARGO_BIN_EXE_video-instance");
    let database = dir.join("bench.sqlite").to_string_lossy().into_owned();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let mut server = tokio::process::Command::new(binary)
        .args([
            "serve",
            "--danger-allow-private-addresses",
            "--no-transcoding",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database", &database])
        .args(["--max-upload-mib", &(mib + 16).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = server.id().unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(&base).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let account = tokio::process::Command::new(binary)
        .args(["admin", "--database", &database, "create-account", "bench"])
        .output()
        .await
        .unwrap();
    assert!(account.status.success(), "{account:?}");
    let account: serde_json::Value = serde_json::from_slice(&account.stdout).unwrap();
    let token = account["token"].as_str().unwrap().to_owned();

    let (rss_before, hwm_before) = memory(pid);
    let (len, body) = padded_mp4::padded_sample(mib << 20, Bytes::from(vec![0u8; 1 << 20]));
    let form = reqwest::multipart::Form::new()
        .text("channel", "bench_channel")
        .text("name", "A large upload")
        .part(
            "videofile",
            reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
                .file_name("large.mp4"),
        );
    let started = Instant::now();
    let response = http
        .post(format!("{base}api/v1/videos/upload"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let status = response.status();
    let answer = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {answer}");
    let (rss_after, hwm_after) = memory(pid);
    let growth_mib = hwm_after.saturating_sub(hwm_before) as f64 / 1024.0;
    println!(
        "upload of {len} bytes through the instance's API: {:.0} MB/s (probe and fsync included)",
        len as f64 / 1e6 / elapsed.as_secs_f64()
    );
    println!(
        "server VmRSS {:.1} MiB before, {:.1} MiB after; VmHWM {:.1} -> {:.1} MiB: grew by {growth_mib:.1} MiB \
         (target < 50 MB: {})",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        hwm_before as f64 / 1024.0,
        hwm_after as f64 / 1024.0,
        if growth_mib * 1.048_576 < 50.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    server.kill().await.ok();
}

fn main() {
    let mib = std::env::var("UPLOAD_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let dir = tempfile::tempdir().unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(dir.path(), mib));
}

//! Export and import of a large account: a person with `ARCHIVE_POSTS` posts (10,000 by
//! default) on pod A is exported, and the archive imported into a person on pod B. Prints
//! each phase's time, the resident memory after it (`VmRSS`) and the process's peak so far
//! (`VmHWM`; reset before each phase through `/proc/self/clear_refs` where the kernel allows
//! it, else the peak since the start), so that the memory can be seen not to grow with the
//! number of posts: run it with 1,000 and with 10,000.
//!
//! `cargo bench -p pod --bench archive` (or `ARCHIVE_POSTS=1000 cargo bench ...`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use pod::archive::ImportLimits;
use pod::{Options, PostAudience, Running, start};

async fn pod(dir: &std::path::Path, name: &str) -> Running {
    let options = Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join(format!("{name}.sqlite")).display().to_string(),
    )
    .with_name(name)
    .with_danger_allow_private_addresses(true);
    start(options).await.unwrap()
}

/// `field` of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB (Linux).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The peak resident memory (since the last reset, where there is one), in KiB.
fn peak_kib() -> Option<u64> {
    status_kib("VmHWM")
}

/// The resident memory now, in KiB.
fn rss_kib() -> Option<u64> {
    status_kib("VmRSS")
}

/// Resets the peak resident memory to the current one (Linux 4.0 and later).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main]
async fn main() {
    let posts: usize = std::env::var("ARCHIVE_POSTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    instance_server::admin::create_person(a.instance.state(), "alice")
        .await
        .unwrap();
    instance_server::admin::create_person(b.instance.state(), "alice2")
        .await
        .unwrap();

    let started = Instant::now();
    for n in 0..posts {
        let text = format!(
            "Post number {n}, with some **Markdown** and a [link](https://example.com/{n})."
        );
        a.instance
            .write_post("alice", &text, &PostAudience::Public)
            .await
            .unwrap();
    }
    println!(
        "made {posts} posts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let file = dir.path().join("alice.tar.gz");
    reset_peak();
    let before = rss_kib();
    let started = Instant::now();
    let exported = a.instance.export_archive("alice", &file).await.unwrap();
    let export_time = started.elapsed();
    let export_peak = peak_kib();
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "export: {} posts in {:.2} s, {:.1} MiB archive; resident before {} KiB, after {} KiB, peak {} KiB",
        exported.posts,
        export_time.as_secs_f64(),
        size as f64 / f64::from(1 << 20),
        before.unwrap_or_default(),
        rss_kib().unwrap_or_default(),
        export_peak.unwrap_or_default(),
    );

    reset_peak();
    let before = rss_kib();
    let started = Instant::now();
    let imported = b
        .instance
        .import_archive("alice2", &file, &ImportLimits::default())
        .await
        .unwrap();
    let import_time = started.elapsed();
    println!(
        "import: {} posts in {:.2} s; resident before {} KiB, after {} KiB, peak {} KiB",
        imported.posts,
        import_time.as_secs_f64(),
        before.unwrap_or_default(),
        rss_kib().unwrap_or_default(),
        peak_kib().unwrap_or_default(),
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

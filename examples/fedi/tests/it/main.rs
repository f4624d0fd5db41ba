//! Tests of the `fedi` binary, run as a child process as a user would run it.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bovine;
mod check;
mod commands;
mod discovery;
mod fedify;
mod parse;
mod peer;
mod pod;
mod signatures;
mod video;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs `fedi` with `args`.
pub(crate) fn fedi(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fedi"))
        .args(args)
        .output()
        .expect("run fedi")
}

/// Runs `fedi` with `args` off the async runtime's threads.
pub(crate) async fn fedi_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fedi(&args)
    })
    .await
    .expect("fedi ran")
}

/// The stdout of `output` as one JSON value (with stderr in the message when it is not).
pub(crate) fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}
stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Each stdout line of `output`, as JSON.
pub(crate) fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The first answer to a follow (an event `follow-…`) among `lines`, the events of
/// `fedi inbox --follow`.
pub(crate) fn follow_answer(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines
        .iter()
        .find(|e| {
            e["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("follow-"))
        })
        .unwrap_or_else(|| panic!("no answer to the follow: {lines:#?}"))
}

/// A path under the repository's `fixtures/` folder.
pub(crate) fn fixture(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(relative);
    assert!(path.exists(), "missing fixture {}", path.display());
    path
}

/// A path under this crate.
pub(crate) fn local(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

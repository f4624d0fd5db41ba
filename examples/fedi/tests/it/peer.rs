//! Test peers of other implementations, child processes in `scripts/` that print JSON lines:
//! installed by their `install` script (quick when up to date; a failure fails the test with
//! its output), then started and read until their `ready` line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(60);
const INSTALL_WAIT: Duration = Duration::from_secs(600);

/// A running peer: the process (killed when dropped) and its `ready` line.
pub(crate) struct Peer {
    _child: Child,
    /// The `ready` line.
    pub(crate) ready: Value,
}

/// `scripts/NAME`.
pub(crate) fn script_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

/// Installs `scripts/NAME`, then runs `program args` in that directory.
pub(crate) async fn start(name: &str, program: &str, args: &[&str]) -> Peer {
    let dir = script_dir(name);
    let install = dir.join("install");
    let output = tokio::time::timeout(
        INSTALL_WAIT,
        Command::new(&install)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} took too long", install.display()))
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", install.display()));
    assert!(
        output.status.success(),
        "installing the {name} peer failed, so its tests cannot run:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut child = Command::new(dir.join(program))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {name} peer: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["event"] == "ready"
            {
                return event;
            }
        }
        panic!("the {name} peer stopped before it was ready");
    })
    .await
    .unwrap_or_else(|_| panic!("the {name} peer was not ready in time"));
    // Keep reading its events, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Peer {
        _child: child,
        ready,
    }
}

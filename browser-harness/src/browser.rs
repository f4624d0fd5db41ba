//! A running chromedriver, and the headless Chromium sessions it opens.

use std::{
    env,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use fantoccini::wd::Capabilities;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};

use crate::{Error, Session, Viewport};

/// Where Debian's `chromium` package puts the browser (a wrapper script that reads
/// `/etc/chromium.d`).
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package puts chromedriver.
pub const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to start listening and answer `/status` as ready.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
/// How often a readiness poll asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Chromium's switches for every session. Headless, no sandbox (tests may run as root, where
/// Chromium's sandbox refuses to start), and nothing that reaches out on its own: without the
/// background-networking, component-update and sync switches Chromium calls Google's servers at
/// start, which a closed network refuses (and which no test wants). Even with them, Chromium 156
/// still asks for accounts.google.com, update.googleapis.com, clients2.google.com (time) and
/// preconnects to its default search engine, so the resolver rule makes every name but
/// `localhost` and `127.0.0.1` unresolvable (IP addresses go through the rules too): pages under
/// test are on loopback, at `127.0.0.1` or `localhost`.
/// Fixed language and scale, no scroll bars: screenshots look the same on every machine.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--password-store=basic",
    "--lang=en-US",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
];

/// A chromedriver process listening on 127.0.0.1, from which tests open [`Session`]s (each its
/// own headless Chromium with its own profile, so two sessions are two people: they share no
/// cookies).
///
/// chromedriver runs in a process group of its own; when the `Browser` and every session opened
/// from it are dropped, the whole group (chromedriver and the Chromiums it started) is killed.
#[derive(Debug, Clone)]
pub struct Browser {
    inner: Arc<Driver>,
}

impl Browser {
    /// Starts chromedriver on a port the OS assigns, and waits (bounded) until it is ready.
    ///
    /// The programs are `$CHROMIUM` and `$CHROMEDRIVER` when set (`scripts/with-chromium` sets
    /// them), else [`DEFAULT_CHROMIUM`] and [`DEFAULT_CHROMEDRIVER`]. When either is missing this
    /// is an [`Error::Missing`] that says how to install them: browser tests never skip.
    pub async fn start() -> Result<Browser, Error> {
        let chromium =
            env::var_os("CHROMIUM").map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
        let chromedriver = env::var_os("CHROMEDRIVER")
            .map_or_else(|| PathBuf::from(DEFAULT_CHROMEDRIVER), PathBuf::from);
        Browser::start_with(chromium, chromedriver).await
    }

    /// Starts chromedriver from the given programs (see [`Browser::start`]).
    pub async fn start_with(chromium: PathBuf, chromedriver: PathBuf) -> Result<Browser, Error> {
        require(&chromium, "chromium", "CHROMIUM")?;
        require(&chromedriver, "chromedriver", "CHROMEDRIVER")?;

        let spawn_error = |source| Error::Spawn {
            path: chromedriver.clone(),
            source,
        };
        let log_file = tempfile::NamedTempFile::new().map_err(spawn_error)?;
        let stderr = log_file.reopen().map_err(spawn_error)?;
        // `--port=0`: chromedriver binds a port the OS assigns and prints it on standard output
        // ("ChromeDriver was started successfully on port N."), so no port is guessed and none
        // can be taken by another process between a probe and the bind.
        let mut child = Command::new(&chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let mut driver = Driver {
            child: None,
            port: 0,
            chromium,
            log: log_file,
        };
        let stdout = child.stdout.take();
        driver.child = Some(child);

        let started = Instant::now();
        let Some(stdout) = stdout else {
            return Err(driver.not_ready(started, "chromedriver has no standard output"));
        };
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = match tokio::time::timeout_at(
                (started + STARTUP_DEADLINE).into(),
                lines.next_line(),
            )
            .await
            {
                Err(_) => return Err(driver.not_ready(started, "it never printed its port")),
                Ok(Err(_) | Ok(None)) => {
                    return Err(driver.not_ready(started, "it exited before printing its port"));
                }
                Ok(Ok(Some(line))) => line,
            };
            if let Some(port) = announced_port(&line) {
                break port;
            }
        };
        driver.port = port;
        // Keep reading standard output, so chromedriver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        loop {
            if status_ready(port).await {
                break;
            }
            if started.elapsed() >= STARTUP_DEADLINE {
                return Err(driver.not_ready(started, "`/status` never answered ready"));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok(Browser {
            inner: Arc::new(driver),
        })
    }

    /// The WebDriver endpoint, `http://127.0.0.1:PORT/`.
    pub fn webdriver_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.inner.port)
    }

    /// Opens a session: a new headless Chromium with a fresh temporary profile, its viewport
    /// set to `viewport`. Sessions are independent (cookies, storage, cache) and may run at the
    /// same time.
    pub async fn session(&self, viewport: Viewport) -> Result<Session, Error> {
        let profile = tempfile::Builder::new()
            .prefix("browser-harness-profile.")
            .tempdir()
            .map_err(Error::Profile)?;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!(
            "--window-size={},{}",
            viewport.width, viewport.height
        ));
        let mut capabilities = Capabilities::new();
        let mut options = serde_json::Map::new();
        options.insert("binary".to_owned(), serde_json::json!(self.inner.chromium));
        options.insert("args".to_owned(), serde_json::json!(args));
        if viewport.mobile {
            // chromedriver's own mobile emulation: a phone's layout viewport and touch events.
            let metrics = serde_json::json!({
                "deviceMetrics": {
                    "width": viewport.width,
                    "height": viewport.height,
                    "pixelRatio": 1.0,
                    "mobile": true,
                    "touch": true,
                },
            });
            options.insert("mobileEmulation".to_owned(), metrics);
        }
        capabilities.insert("goog:chromeOptions".to_owned(), options.into());
        // Plain HTTP: chromedriver listens on loopback only.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.webdriver_url())
            .await
            .map_err(|source| Error::NewSession {
                source,
                log: self.inner.log(),
            })?;
        let session = Session::new(client, profile, self.clone(), viewport);
        session.fit_window().await?;
        Ok(session)
    }
}

/// The chromedriver process; killed with its process group when the last handle goes.
#[derive(Debug)]
struct Driver {
    child: Option<Child>,
    port: u16,
    chromium: PathBuf,
    log: tempfile::NamedTempFile,
}

impl Driver {
    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn not_ready(&self, started: Instant, reason: &str) -> Error {
        Error::NotReady {
            waited: started.elapsed(),
            reason: reason.to_owned(),
            log: self.log(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver does not stop the Chromiums it started when it is killed, and they
        // would outlive the test: kill the process group they share with it. (`kill_on_drop`
        // then has only chromedriver itself to reap.)
        let pid = self.child.as_ref().and_then(Child::id);
        if let Some(group) = pid
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// Fails with [`Error::Missing`] when `path` is not a file.
fn require(path: &Path, program: &'static str, variable: &'static str) -> Result<(), Error> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Missing {
            program,
            variable,
            path: path.to_owned(),
        })
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port N." line.
fn announced_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

/// Whether chromedriver's `/status` answers `"ready": true`.
async fn status_ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    // chromedriver keeps the connection open whatever the request says: read until the answer
    // holds a whole JSON object rather than to the end of the stream.
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return false,
            Ok(Ok(read)) => answer.extend_from_slice(chunk.get(..read).unwrap_or_default()),
        }
        if let Some(ready) = status_answer(&answer) {
            return ready;
        }
    }
}

/// Whether a `/status` answer read so far says ready; `None` while its JSON is incomplete.
fn status_answer(answer: &[u8]) -> Option<bool> {
    let answer = String::from_utf8_lossy(answer);
    let (start, end) = (answer.find('{')?, answer.rfind('}')?);
    let status: serde_json::Value = serde_json::from_str(answer.get(start..=end)?).ok()?;
    Some(
        status
            .pointer("/value/ready")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    )
}

#[cfg(test)]
mod tests {
    use super::announced_port;

    #[test]
    fn reads_the_announced_port() {
        assert_eq!(
            announced_port("ChromeDriver was started successfully on port 36035."),
            Some(36035)
        );
        assert_eq!(announced_port("Only local connections are allowed."), None);
    }
}

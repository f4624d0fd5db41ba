//! What every instance binary shares: the `serve` command's arguments, the logging set-up and
//! the signal handling.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use http_signatures::Standard;
use instance_web::SignupMode;
use url::Url;

use crate::{Options, Running};

/// The first signature standard tried with a peer.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Knock {
    /// RFC 9421 HTTP Message Signatures.
    Rfc9421,
    /// draft-cavage-http-signatures-12.
    Cavage,
}

/// Who may make an account in the browser.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Signup {
    /// Anyone.
    Open,
    /// Anyone a moderator approves.
    Approval,
    /// Nobody: the host makes the accounts.
    Closed,
}

/// The arguments of an instance's `serve` command (flatten them into the command with
/// `#[command(flatten)]`). The database's default is the binary's to give: `--database` is
/// required unless the binary sets a default with [`ServeArgs::options`]'s `default_database`.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// The public base URL (`https://videos.example`). Required, but with
    /// `--danger-allow-private-addresses`, where it defaults to `http://` and the address
    /// listened on (so that `--listen 127.0.0.1:0` works in tests).
    #[arg(long, required_unless_present = "danger_allow_private_addresses")]
    pub base_url: Option<Url>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A SQLite file path (created if missing), or a `postgres://` URL.
    #[arg(long)]
    pub database: Option<String>,
    /// The instance's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The signature standard tried first with an unknown peer.
    #[arg(long, value_enum, default_value = "rfc9421")]
    pub first_knock: Knock,
    /// Sign deliveries with Ed25519 keys instead of RSA (peers must support Ed25519).
    #[arg(long)]
    pub ed25519: bool,
    /// Require signed GETs for ActivityPub documents.
    #[arg(long)]
    pub authorized_fetch: bool,
    /// A domain to refuse (repeatable).
    #[arg(long = "block")]
    pub blocked: Vec<String>,
    /// The address of a reverse proxy in front of the instance whose `X-Forwarded-For` is
    /// believed for sign-in limits (repeatable); none by default, when every request counts
    /// as coming from the address it came from.
    #[arg(long = "trusted-proxy")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Who may make an account in the browser: anyone, anyone a moderator approves, or
    /// nobody (the host makes accounts with `admin`).
    #[arg(long, value_enum, default_value = "approval")]
    pub signup: Signup,
    /// Seconds a delivery claimed by this process stays its own (the lease): when the
    /// process dies mid-delivery, the other processes on the same database take its
    /// claims over after this. Delivery requests time out after half of it (60 s at most).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(2..))]
    pub delivery_lease: u64,
    /// How many single-threaded runtimes serve requests, each with its own socket on the
    /// listening port (SO_REUSEPORT); 0: serve on the main runtime's threads. Default: the
    /// number of cores.
    #[arg(long, default_value_t = default_workers())]
    pub workers: usize,
    /// DANGEROUS: allow plain http and private, loopback and link-local addresses (loopback
    /// tests only).
    #[arg(long)]
    pub danger_allow_private_addresses: bool,
}

/// One serving runtime per core.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl ServeArgs {
    /// The options these arguments give, with the instance's own `app` options, its default
    /// database file and its default name.
    pub fn options<X>(&self, app: X, default_database: &str, default_name: &str) -> Options<X> {
        let mut options = Options::with_app(
            self.listen,
            self.database.as_deref().unwrap_or(default_database),
            app,
        )
        .with_name(self.name.as_deref().unwrap_or(default_name))
        .with_signup(match self.signup {
            Signup::Open => SignupMode::Open,
            Signup::Approval => SignupMode::Approval,
            Signup::Closed => SignupMode::Closed,
        })
        .with_trusted_proxies(self.trusted_proxies.clone())
        .with_delivery_lease(Duration::from_secs(self.delivery_lease))
        .with_first_knock(match self.first_knock {
            Knock::Rfc9421 => Standard::Rfc9421,
            Knock::Cavage => Standard::Cavage,
        })
        .with_ed25519_signatures(self.ed25519)
        .with_authorized_fetch(self.authorized_fetch)
        .with_blocked_domains(self.blocked.clone())
        .with_workers(self.workers)
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses);
        if let Some(base_url) = &self.base_url {
            options = options.with_base_url(base_url.clone());
        }
        options
    }
}

/// The arguments every instance's `admin` command shares (flatten them into the command, next
/// to the instance's own, such as where its files are).
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct AdminArgs {
    /// A SQLite file path, or a `postgres://` URL (default: the instance's usual file).
    #[arg(long)]
    pub database: Option<String>,
    /// The base URL, if the instance never served from this database.
    #[arg(long)]
    pub base_url: Option<Url>,
    /// DANGEROUS: allow plain http and private addresses (loopback tests only).
    #[arg(long)]
    pub danger_allow_private_addresses: bool,
}

impl AdminArgs {
    /// The administration commands these arguments name, with the instance's `app` options
    /// and its default database file.
    pub fn admin<X: Default + Clone + std::fmt::Debug + Send + Sync + 'static>(
        &self,
        app: X,
        default_database: &str,
    ) -> crate::admin::Admin<X> {
        crate::admin::Admin::new(self.database.as_deref().unwrap_or(default_database))
            .with_base_url(self.base_url.clone())
            .with_danger_allow_private_addresses(self.danger_allow_private_addresses)
            .with_app(app)
    }
}

/// The arguments of an instance's `demo` command.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct DemoArgs {
    /// Stop the instances once the demo has run.
    #[arg(long)]
    pub once: bool,
    /// Where their databases and files go (default: a new temporary directory, removed at
    /// the end).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

/// Where a demo keeps its files: the directory given, or a temporary one (removed when this
/// is dropped).
#[derive(Debug)]
pub struct DemoDir {
    path: std::path::PathBuf,
    _temporary: Option<tempfile::TempDir>,
}

impl DemoDir {
    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl DemoArgs {
    /// The demo's directory: `--dir` (made if missing), or a new temporary one named with
    /// `prefix`.
    pub fn dir(&self, prefix: &str) -> Result<DemoDir> {
        match &self.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Ok(DemoDir {
                    path: dir.clone(),
                    _temporary: None,
                })
            }
            None => {
                let temporary = tempfile::Builder::new().prefix(prefix).tempdir()?;
                Ok(DemoDir {
                    path: temporary.path().to_owned(),
                    _temporary: Some(temporary),
                })
            }
        }
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Prints one line saying where the instance serves (`{"event": "listening", "base_url": ...,
/// "addr": ...}`, for people and for scripts), then serves until SIGINT (Ctrl-C) or SIGTERM
/// (what service managers send): requests under way are answered and deliveries in flight
/// finish.
pub async fn serve_until_signal<I>(running: Running<I>) -> Result<()> {
    println!(
        "{}",
        serde_json::json!({
            "event": "listening",
            "base_url": running.base_url.as_str(),
            "addr": running.addr.to_string(),
        })
    );
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        let _ = stop.send(true);
        Ok::<(), std::io::Error>(())
    });
    running.wait().await
}

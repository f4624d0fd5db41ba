//! `events-instance`: serve an events instance, administer it, or run the two-instance demo.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use events_instance::admin::Admin;
use events_instance::{Options, SignupMode, demo, start};
use http_signatures::Standard;
use url::Url;

/// A minimal Mobilizon-like events server that federates over ActivityPub.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The first signature standard tried with a peer.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Knock {
    /// RFC 9421 HTTP Message Signatures.
    Rfc9421,
    /// draft-cavage-http-signatures-12.
    Cavage,
}

/// Who may make an account in the browser.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Signup {
    /// Anyone.
    Open,
    /// Anyone a moderator approves.
    Approval,
    /// Nobody: the host makes the accounts.
    Closed,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the instance.
    Serve {
        /// The public base URL (`https://events.example`). Required, but with
        /// `--danger-allow-private-addresses`, where it defaults to `http://` and the address
        /// listened on (so that `--listen 127.0.0.1:0` works in tests).
        #[arg(long, required_unless_present = "danger_allow_private_addresses")]
        base_url: Option<Url>,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// A SQLite file path (created if missing), or a `postgres://` URL.
        #[arg(long, default_value = "events.sqlite")]
        database: String,
        /// The instance's name.
        #[arg(long, default_value = "Events")]
        name: String,
        /// The signature standard tried first with an unknown peer.
        #[arg(long, value_enum, default_value = "rfc9421")]
        first_knock: Knock,
        /// Sign deliveries with Ed25519 keys instead of RSA (peers must support Ed25519).
        #[arg(long)]
        ed25519: bool,
        /// Require signed GETs for ActivityPub documents.
        #[arg(long)]
        authorized_fetch: bool,
        /// A domain to refuse (repeatable).
        #[arg(long = "block")]
        blocked: Vec<String>,
        /// The address of a reverse proxy in front of the instance whose `X-Forwarded-For` is
        /// believed for sign-in limits (repeatable); none by default, when every request counts
        /// as coming from the address it came from.
        #[arg(long = "trusted-proxy")]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Who may make an account in the browser: anyone, anyone a moderator approves, or
        /// nobody (the host makes accounts with `admin`).
        #[arg(long, value_enum, default_value = "approval")]
        signup: Signup,
        /// The time zone the event form starts in (an IANA name, such as `Europe/Paris`).
        #[arg(long = "time-zone", default_value = "UTC")]
        time_zone: String,
        /// Seconds a delivery claimed by this process stays its own (the lease): when the
        /// process dies mid-delivery, the other processes on the same database take its
        /// claims over after this. Delivery requests time out after half of it (60 s at most).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(2..))]
        delivery_lease: u64,
        /// DANGEROUS: allow plain http and private, loopback and link-local addresses (loopback
        /// tests only).
        #[arg(long)]
        danger_allow_private_addresses: bool,
    },
    /// Administers the instance's database.
    Admin {
        /// A SQLite file path, or a `postgres://` URL.
        #[arg(long, default_value = "events.sqlite")]
        database: String,
        /// The base URL, if the instance never served from this database.
        #[arg(long)]
        base_url: Option<Url>,
        /// DANGEROUS: allow plain http and private addresses (loopback tests only).
        #[arg(long)]
        danger_allow_private_addresses: bool,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Starts two instances on loopback and walks through following, publishing, joining and
    /// commenting, printing each step.
    Demo {
        /// Stop both instances at the end instead of leaving them running.
        #[arg(long)]
        once: bool,
        /// Where the databases go (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Creates an identity; prints `{"actor": URL, "token": TOKEN}`. A new account, unless
    /// `--account-token` names an existing one, which then has one identity more.
    CreateIdentity {
        /// Its name.
        name: String,
        /// The token of an existing account to add the identity to.
        #[arg(long)]
        account_token: Option<String>,
    },
    /// Creates a group; prints `{"actor": URL}`.
    CreateGroup {
        /// Its name.
        name: String,
        /// The identity that administers it.
        #[arg(long)]
        admin: String,
        /// How people join: `open`, `moderated` (requests accepted by its administrators and
        /// moderators) or `invite_only`.
        #[arg(long, default_value = "moderated")]
        openness: String,
    },
    /// Adds an identity (a name, or a remote actor URL) to a group with a role.
    AddMember {
        /// The group.
        group: String,
        /// The identity.
        member: String,
        /// `administrator`, `moderator` or `member`.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Sets an account's role: `user`, `moderator` (reports, sign-up approval, blocks in the
    /// browser) or `admin`.
    SetRole {
        /// The account's name (its first identity's, for accounts made by `create-identity`).
        account: String,
        /// `user`, `moderator` or `admin`.
        role: String,
    },
    /// Sets an account's password (read from the first line of standard input), so that it
    /// signs in in a browser.
    SetPassword {
        /// The account's name.
        account: String,
    },
    /// Makes the instance actor follow another instance (its base URL or instance actor).
    FollowInstance {
        /// The other instance.
        url: Url,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            base_url,
            listen,
            database,
            name,
            first_knock,
            ed25519,
            authorized_fetch,
            blocked,
            signup,
            time_zone,
            trusted_proxies,
            delivery_lease,
            danger_allow_private_addresses,
        } => {
            let mut options = Options::new(listen, database)
                .with_name(name)
                .with_signup(match signup {
                    Signup::Open => SignupMode::Open,
                    Signup::Approval => SignupMode::Approval,
                    Signup::Closed => SignupMode::Closed,
                })
                .with_default_time_zone(time_zone)
                .with_trusted_proxies(trusted_proxies)
                .with_delivery_lease(std::time::Duration::from_secs(delivery_lease));
            if let Some(base_url) = base_url {
                options = options.with_base_url(base_url);
            }
            let options = options
                .with_first_knock(match first_knock {
                    Knock::Rfc9421 => Standard::Rfc9421,
                    Knock::Cavage => Standard::Cavage,
                })
                .with_ed25519_signatures(ed25519)
                .with_authorized_fetch(authorized_fetch)
                .with_blocked_domains(blocked)
                .with_danger_allow_private_addresses(danger_allow_private_addresses);
            let running = start(options).await?;
            // One line saying where it serves, for people and for scripts.
            println!(
                "{}",
                serde_json::json!({
                    "event": "listening",
                    "base_url": running.base_url.as_str(),
                    "addr": running.addr.to_string(),
                })
            );
            let stop = running.shutdown_handle();
            // SIGINT (Ctrl-C) or SIGTERM (what service managers send) stops it gracefully:
            // requests under way are answered and deliveries in flight finish.
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
        Command::Admin {
            database,
            base_url,
            danger_allow_private_addresses,
            action,
        } => {
            let admin = Admin::new(database)
                .with_base_url(base_url)
                .with_danger_allow_private_addresses(danger_allow_private_addresses);
            let output = match action {
                AdminAction::CreateIdentity {
                    name,
                    account_token: None,
                } => admin.create_identity(&name).await?,
                AdminAction::CreateIdentity {
                    name,
                    account_token: Some(token),
                } => admin.add_identity(&name, &token).await?,
                AdminAction::CreateGroup {
                    name,
                    admin: owner,
                    openness,
                } => {
                    let group = admin.create_group(&name, &owner).await?;
                    admin.set_group_openness(&name, &openness).await?;
                    group
                }
                AdminAction::AddMember {
                    group,
                    member,
                    role,
                } => admin.add_member(&group, &member, &role).await?,
                AdminAction::SetRole { account, role } => admin.set_role(&account, &role).await?,
                AdminAction::SetPassword { account } => {
                    let mut password = String::new();
                    std::io::stdin().read_line(&mut password)?;
                    let password = password.trim_end_matches(['\r', '\n']);
                    admin.set_password(&account, password).await?
                }
                AdminAction::FollowInstance { url } => admin.follow_instance(&url).await?,
            };
            println!("{output}");
            Ok(())
        }
        Command::Demo { once, dir } => {
            let (dir, _temp) = match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    (dir, None)
                }
                None => {
                    let temp = tempfile::tempdir()?;
                    (temp.path().to_path_buf(), Some(temp))
                }
            };
            demo::run(&dir, once).await
        }
    }
}

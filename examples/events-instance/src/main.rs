//! `events-instance`: serve an events instance, administer it, or run the two-instance demo.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use events_instance::admin::Admin;
use events_instance::{EventsOptions, demo, start};
use instance_server::cli::{ServeArgs, init_logging, serve_until_signal};
use url::Url;

/// A minimal Mobilizon-like events server that federates over ActivityPub.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the instance.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// The time zone the event form starts in (an IANA name, such as `Europe/Paris`).
        #[arg(long = "time-zone", default_value = "UTC")]
        time_zone: String,
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
    init_logging();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { args, time_zone } => {
            let options = args.options(
                EventsOptions::default().with_default_time_zone(time_zone),
                "events.sqlite",
                "Events",
            );
            serve_until_signal(start(options).await?).await
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

//! `video-index`: serve a global video search index, or administer it.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use instance_server::cli::{ServeArgs, init_logging, serve_until_signal};
use url::Url;
use video_index::admin::Admin;
use video_index::{Eligibility, IndexOptions, start};

/// A global video search index that video instances push to over ActivityPub, answering
/// PeerTube's search API.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the index.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// Where the search index is kept (default: beside a SQLite database, in
        /// `DATABASE.search`; required with PostgreSQL).
        #[arg(long)]
        index_dir: Option<PathBuf>,
        /// An instance to follow: its base URL or its instance actor (repeatable).
        #[arg(long = "follow")]
        follow: Vec<Url>,
        /// Follow back the instances that follow the index (that ask to be indexed).
        #[arg(long)]
        follow_back: bool,
        /// List only videos from this host (repeatable; none: any host).
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// Never list videos from this host, nor follow it (repeatable).
        #[arg(long = "deny-host")]
        deny_hosts: Vec<String>,
        /// Leave out videos marked sensitive.
        #[arg(long)]
        exclude_sensitive: bool,
        /// List only videos in this language (a code such as `en`; repeatable; none: any).
        #[arg(long = "language")]
        languages: Vec<String>,
        /// List only videos at least this many seconds long.
        #[arg(long, default_value_t = 0)]
        min_duration: u64,
    },
    /// Administers the index's database.
    Admin {
        /// A SQLite file path, or a `postgres://` URL.
        #[arg(long, default_value = "index.sqlite")]
        database: String,
        /// The base URL, if the index never served from this database.
        #[arg(long)]
        base_url: Option<Url>,
        /// DANGEROUS: allow plain http and private addresses (loopback tests only).
        #[arg(long)]
        danger_allow_private_addresses: bool,
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Makes the index follow an instance (its base URL or instance actor).
    FollowInstance {
        /// The instance.
        url: Url,
    },
    /// Prints what the index holds: `{"stored_videos", "following", "followers"}`.
    Stats,
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
        Command::Serve {
            args,
            index_dir,
            follow,
            follow_back,
            allow_hosts,
            deny_hosts,
            exclude_sensitive,
            languages,
            min_duration,
        } => {
            let mut rules = Eligibility::default();
            rules.allowed_hosts = allow_hosts;
            rules.denied_hosts = deny_hosts;
            rules.exclude_sensitive = exclude_sensitive;
            rules.languages = languages;
            rules.min_duration_secs = min_duration;
            let mut app = IndexOptions::default()
                .with_follow_back(follow_back)
                .with_rules(rules);
            app.follow = follow;
            if let Some(dir) = index_dir {
                app = app.with_index_dir(dir);
            }
            // Nobody makes an account on an index.
            let options = args
                .options(app, "index.sqlite", "Video index")
                .with_signup(instance_web::SignupMode::Closed);
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
                AdminAction::FollowInstance { url } => admin.follow_instance(&url).await?,
                AdminAction::Stats => admin.stats().await?,
            };
            println!("{output}");
            Ok(())
        }
    }
}

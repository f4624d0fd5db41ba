//! `tag-relay`: serve a tag relay, or administer it.

use anyhow::Result;
use clap::{Parser, Subcommand};
use instance_server::cli::{AdminArgs, ServeArgs, init_logging, serve_until_signal};
use tag_relay::{RelayOptions, admin, start};

/// A tag relay: one ActivityPub actor per hashtag (`@tag-NAME@host`) that anyone can follow,
/// announcing the public posts the subscribed servers send with that hashtag.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the relay.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// The most tag actors made.
        #[arg(long, default_value_t = 10_000)]
        max_tags: u64,
        /// How many hashtags of a post are relayed (the first ones).
        #[arg(long, default_value_t = 10)]
        max_tags_per_post: usize,
        /// How many posts a minute one server may have relayed.
        #[arg(long, default_value_t = 60)]
        posts_per_minute: u32,
    },
    /// Administers the relay's database.
    Admin {
        #[command(flatten)]
        args: AdminArgs,
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Prints what the relay holds: `{"subscribers", "tags", "announced"}`.
    Stats,
    /// Blocks a domain: its posts are not relayed, its subscriptions and follows refused.
    BlockDomain {
        /// The domain.
        domain: String,
        /// Why (kept in the moderation log).
        #[arg(long, default_value = "")]
        reason: String,
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
        Command::Serve {
            args,
            max_tags,
            max_tags_per_post,
            posts_per_minute,
        } => {
            let app = RelayOptions::default()
                .with_max_tags(max_tags)
                .with_max_tags_per_post(max_tags_per_post)
                .with_posts_per_minute(posts_per_minute);
            // Nobody makes an account on a relay.
            let options = args
                .options(app, "tag-relay.sqlite", "Tag relay")
                .with_signup(instance_web::SignupMode::Closed);
            serve_until_signal(start(options).await?).await
        }
        Command::Admin { args, action } => {
            let admin = args.admin(RelayOptions::default(), "tag-relay.sqlite");
            let output = match action {
                AdminAction::Stats => admin::stats(&admin).await?,
                AdminAction::BlockDomain { domain, reason } => {
                    admin::block_domain(&admin, &domain, &reason).await?
                }
            };
            println!("{output}");
            Ok(())
        }
    }
}

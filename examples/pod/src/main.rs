//! `pod`: serve a pod, administer it, or run the two-pod demo.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use instance_server::cli::{AdminArgs, DemoArgs, ServeArgs, init_logging, serve_until_signal};
use pod::admin;
use pod::{Pod, PodOptions, demo, start};
use url::Url;

/// A diaspora*-like pod that federates over ActivityPub.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the pod.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// Where uploaded images are kept (default: beside a SQLite database, in
        /// `DATABASE.media`; required with PostgreSQL).
        #[arg(long)]
        media_dir: Option<PathBuf>,
        /// The largest profile image accepted, in KiB.
        #[arg(long, default_value_t = 4096)]
        max_image_kib: u64,
    },
    /// Administers the pod's database (default: pod.sqlite).
    Admin {
        #[command(flatten)]
        args: AdminArgs,
        /// Where images are kept (as `serve --media-dir`).
        #[arg(long)]
        media_dir: Option<PathBuf>,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Runs the demo: two pods on loopback; a post to an aspect reaches only its member on the
    /// other pod, who is notified of its mention and whose comment is threaded under it. Both
    /// keep running until Ctrl-C.
    Demo {
        #[command(flatten)]
        args: DemoArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Creates an account with its person; prints `{"actor": URL, "token": TOKEN}`.
    CreateAccount {
        /// Its name.
        name: String,
    },
    /// Sets an account's role: `user`, `moderator` or `admin`.
    SetRole {
        /// The account's name.
        account: String,
        /// `user`, `moderator` or `admin`.
        role: String,
    },
    /// Sets an account's password (read from the first line of standard input).
    SetPassword {
        /// The account's name.
        account: String,
    },
    /// Lists another account (`@name@host` or its address) among a person's other accounts
    /// (`alsoKnownAs`), so that it may move here.
    AddAlias {
        /// The person's name.
        name: String,
        /// The other account.
        account: String,
    },
    /// Takes an account off a person's other accounts.
    RemoveAlias {
        /// The person's name.
        name: String,
        /// The other account.
        account: String,
    },
    /// Moves a person to another account (`@name@host` or its address), which must list it.
    Move {
        /// The person's name.
        name: String,
        /// The account to move to.
        account: String,
    },
    /// Writes a person's archive (a `.tar.gz`: profile, images, aspects, follows, posts).
    Export {
        /// The person's name.
        name: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// The account the person moves to (`@name@host` or its address): the archive then
        /// carries a `Move` to it signed with this account's key, which the new account can
        /// send to the followers once this pod is gone.
        #[arg(long)]
        move_to: Option<String>,
    },
    /// Imports an archive (made by `export` on any pod) into an existing person.
    Import {
        /// The person's name.
        name: String,
        /// The archive.
        #[arg(long)]
        file: PathBuf,
        /// Sends the archive's `Move` (when it carries one naming this person) to the old
        /// account's followers.
        #[arg(long)]
        send_move: bool,
    },
    /// The followers an imported archive's `Move` is still to reach (their servers did not
    /// answer): how many, their attempts and last errors, and those given up.
    PendingMoves,
    /// Makes a person follow an actor (its address).
    Follow {
        /// The person's name.
        name: String,
        /// The actor's address.
        target: Url,
    },
    /// Subscribes the instance to a relay: a Mastodon-style relay's inbox, or (with
    /// `--litepub`) a LitePub relay's actor.
    RelayAdd {
        /// The relay's inbox (Mastodon-style) or actor (LitePub).
        address: Url,
        /// A LitePub relay (Pleroma's): follow its actor.
        #[arg(long)]
        litepub: bool,
    },
    /// Unsubscribes the instance from a relay.
    RelayRemove {
        /// The address given to `relay-add`.
        address: Url,
    },
    /// Lists the relays and the state of each subscription.
    Relays,
    /// Names the tag relay (its base URL): the pod subscribes to it, and follows there the
    /// actors of the tags people here follow.
    AddTagRelay {
        /// The tag relay's base URL.
        url: Url,
        /// Sends the relay only the public posts with one of these tags (comma-separated).
        #[arg(long, value_delimiter = ',')]
        tags: Option<Vec<String>>,
        /// Sends the relay all the public posts again (after `--tags`).
        #[arg(long)]
        all_tags: bool,
    },
    /// Shows the tag relay, the subscription to it and the state of the follow of each tag
    /// followed here (`add-tag-relay` again re-sends what is not accepted).
    TagRelays,
    /// Stops using the tag relay: unfollows its tag actors and unsubscribes (the posts it
    /// brought stay).
    RemoveTagRelay,
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
            media_dir,
            max_image_kib,
        } => {
            let mut app =
                PodOptions::default().with_max_image_bytes(max_image_kib.saturating_mul(1024));
            if let Some(dir) = media_dir {
                app = app.with_media_dir(dir);
            }
            let options = args.options(app, "pod.sqlite", "Pod");
            serve_until_signal(start(options).await?).await
        }
        Command::Admin {
            args,
            media_dir,
            action,
        } => {
            let mut app = PodOptions::default();
            if let Some(dir) = media_dir {
                app = app.with_media_dir(dir);
            }
            let admin = args.admin(app, "pod.sqlite");
            let output = match action {
                AdminAction::CreateAccount { name } => admin.create_account::<Pod>(&name).await?,
                AdminAction::SetRole { account, role } => {
                    admin.set_role::<Pod>(&account, &role).await?
                }
                AdminAction::SetPassword { account } => {
                    let mut password = String::new();
                    std::io::stdin().read_line(&mut password)?;
                    let password = password.trim_end_matches(['\r', '\n']);
                    admin.set_password::<Pod>(&account, password).await?
                }
                AdminAction::AddAlias { name, account } => {
                    pod::moving::admin_add_alias(&admin, &name, &account).await?
                }
                AdminAction::RemoveAlias { name, account } => {
                    pod::moving::admin_remove_alias(&admin, &name, &account).await?
                }
                AdminAction::Move { name, account } => {
                    pod::moving::admin_move(&admin, &name, &account).await?
                }
                AdminAction::Export { name, out, move_to } => {
                    pod::archive::admin_export(&admin, &name, &out, move_to.as_deref()).await?
                }
                AdminAction::Import {
                    name,
                    file,
                    send_move,
                } => pod::archive::admin_import(&admin, &name, &file, send_move).await?,
                AdminAction::PendingMoves => admin::pending_moves(&admin).await?,
                AdminAction::Follow { name, target } => {
                    admin::follow(&admin, &name, &target).await?
                }
                AdminAction::RelayAdd { address, litepub } => {
                    let kind = if litepub {
                        pod::RelayKind::Litepub
                    } else {
                        pod::RelayKind::Mastodon
                    };
                    admin::relay_add(&admin, &address, kind).await?
                }
                AdminAction::RelayRemove { address } => {
                    admin::relay_remove(&admin, &address).await?
                }
                AdminAction::Relays => admin::relays(&admin).await?,
                AdminAction::AddTagRelay {
                    url,
                    tags,
                    all_tags,
                } => admin::add_tag_relay(&admin, &url, tags.as_deref(), all_tags).await?,
                AdminAction::TagRelays => admin::tag_relays(&admin).await?,
                AdminAction::RemoveTagRelay => admin::remove_tag_relay(&admin).await?,
            };
            println!("{output}");
            Ok(())
        }
        Command::Demo { args } => {
            let dir = args.dir("pod-demo-")?;
            demo::run(dir.path(), args.once).await
        }
    }
}

//! `video-instance`: serve a video instance, administer it, or run the two-instance demo.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use instance_server::cli::{ServeArgs, init_logging, serve_until_signal};
use url::Url;
use video_instance::admin::Admin;
use video_instance::{InstanceFollows, Transcoding, VideoOptions, demo, start};

/// A minimal PeerTube-like video server that federates over ActivityPub.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How other instances' follows are answered.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Follows {
    /// Accepted at once.
    Automatic,
    /// Pending until an administrator accepts them.
    Approval,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the instance.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// Where uploaded and mirrored files are kept (default: beside a SQLite database, in
        /// `DATABASE.media`; required with PostgreSQL).
        #[arg(long)]
        media_dir: Option<PathBuf>,
        /// The largest upload accepted, in MiB.
        #[arg(long, default_value_t = 8192)]
        max_upload_mib: u64,
        /// How other instances' follows are answered.
        #[arg(long, value_enum, default_value = "automatic")]
        instance_follows: Follows,
        /// The ffmpeg that makes thumbnails and HLS renditions (default: `ffmpeg` on PATH, else
        /// /usr/bin/ffmpeg; without one, the original files are served as uploaded).
        #[arg(long, conflicts_with = "no_transcoding")]
        ffmpeg: Option<PathBuf>,
        /// Makes no thumbnails or HLS renditions: serves the original files only.
        #[arg(long)]
        no_transcoding: bool,
        /// The longest one video's processing may take, in minutes.
        #[arg(long, default_value_t = 60)]
        transcoding_time_limit_minutes: u64,
        /// How long a mirror's copy is announced for (its CacheFile's `expires`), in hours;
        /// renewed at half of it.
        #[arg(long, default_value_t = 48)]
        mirror_lifetime_hours: u64,
        /// The most one mirrored video may weigh (all its files), in MiB.
        #[arg(long, default_value_t = 8192)]
        max_mirror_mib: u64,
        /// The most all the mirrors together may take on disk, in MiB: a copy that would not
        /// fit is refused (and listed as failed by `admin mirrors`, with the figures).
        #[arg(long, default_value_t = 65536)]
        mirror_cache_mib: u64,
        /// How often, in seconds, mirrors are looked at: new videos of mirrored instances
        /// queued, mirrors asked for by `admin` started, copies renewed, lapsed ones dropped.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        mirror_check_seconds: u64,
        /// How long, in seconds, a process holds a processing job or a mirror without
        /// renewing its lease (renewed every third of it): after a process died, another takes
        /// its work once this lapsed. Give every process the same value.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
        job_lease_seconds: u64,
        /// Where this process keeps its search index: a directory no other process uses
        /// (default: beside a SQLite database's media directory, `MEDIA.search`; in memory with
        /// PostgreSQL, rebuilt from the database at each start).
        #[arg(long)]
        search_dir: Option<PathBuf>,
    },
    /// Administers the instance's database.
    Admin {
        /// A SQLite file path, or a `postgres://` URL.
        #[arg(long, default_value = "videos.sqlite")]
        database: String,
        /// The base URL, if the instance never served from this database.
        #[arg(long)]
        base_url: Option<Url>,
        /// Where files are kept (as `serve --media-dir`).
        #[arg(long)]
        media_dir: Option<PathBuf>,
        /// DANGEROUS: allow plain http and private addresses (loopback tests only).
        #[arg(long)]
        danger_allow_private_addresses: bool,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Runs the demo: two instances on loopback, one following the other; a video uploaded on
    /// the first is listed and found on the second, and a comment from the second is threaded
    /// on the first. Both keep running until Ctrl-C.
    Demo {
        /// Stop both instances once the demo has run.
        #[arg(long)]
        once: bool,
        /// Where their databases and files go (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Creates an account with its person and its default channel; prints
    /// `{"actor": URL, "channel": URL, "token": TOKEN}`.
    CreateAccount {
        /// Its name.
        name: String,
    },
    /// Creates a channel; prints `{"actor": URL}`.
    CreateChannel {
        /// Its name.
        name: String,
        /// The person who owns it.
        #[arg(long)]
        owner: String,
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
    /// Makes the instance actor follow another instance (its base URL or instance actor).
    FollowInstance {
        /// The other instance.
        url: Url,
    },
    /// Processes a local video again after its processing failed (a serving process takes
    /// it): its thumbnail and HLS stream are made as at its upload.
    Reprocess {
        /// The video (its id or uuid).
        video: String,
    },
    /// Mirrors every video of a followed instance (its base URL or instance actor), now and
    /// as they come; prints how many are queued.
    MirrorInstance {
        /// The followed instance.
        url: Url,
    },
    /// Mirrors one remote video (its id or uuid).
    MirrorVideo {
        /// The video.
        video: String,
    },
    /// Stops mirroring a video: its files go and its origin is told (`Undo`).
    StopMirror {
        /// The video (its id or uuid).
        video: String,
    },
    /// Stops mirroring an instance's videos (its base URL or instance actor).
    StopMirrorInstance {
        /// The instance.
        url: Url,
    },
    /// Lists the mirrors made here: each video, its state, why it failed, its CacheFile and
    /// when that lapses.
    Mirrors,
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
            max_upload_mib,
            instance_follows,
            ffmpeg,
            no_transcoding,
            transcoding_time_limit_minutes,
            mirror_lifetime_hours,
            max_mirror_mib,
            mirror_cache_mib,
            mirror_check_seconds,
            job_lease_seconds,
            search_dir,
        } => {
            let mut app = VideoOptions::default()
                .with_max_upload_bytes(max_upload_mib.saturating_mul(1 << 20))
                .with_instance_follows(match instance_follows {
                    Follows::Automatic => InstanceFollows::Automatic,
                    Follows::Approval => InstanceFollows::Approval,
                });
            let transcoding = match (no_transcoding, ffmpeg) {
                (true, _) => Transcoding::Off,
                (false, Some(path)) => Transcoding::Ffmpeg(path),
                (false, None) => Transcoding::Auto,
            };
            app = app
                .with_transcoding(transcoding)
                .with_transcoding_time_limit(std::time::Duration::from_secs(
                    transcoding_time_limit_minutes.saturating_mul(60),
                ))
                .with_mirror_lifetime(std::time::Duration::from_secs(
                    mirror_lifetime_hours.saturating_mul(3600),
                ))
                .with_max_mirror_bytes(max_mirror_mib.saturating_mul(1 << 20))
                .with_mirror_cache_bytes(mirror_cache_mib.saturating_mul(1 << 20))
                .with_mirror_check_interval(std::time::Duration::from_secs(mirror_check_seconds))
                .with_job_lease(std::time::Duration::from_secs(job_lease_seconds));
            if let Some(dir) = media_dir {
                app = app.with_media_dir(dir);
            }
            if let Some(dir) = search_dir {
                app = app.with_search_dir(dir);
            }
            let options = args.options(app, "videos.sqlite", "Videos");
            let running = start(options).await?;
            let instance = running.instance.clone();
            let served = serve_until_signal(running).await;
            // The job and the mirror being made go back to the database at once, for another
            // process (or the next start) to take without waiting for their lease.
            instance.stop_background_work().await;
            served
        }
        Command::Admin {
            database,
            base_url,
            media_dir,
            danger_allow_private_addresses,
            action,
        } => {
            let admin = Admin::new(database)
                .with_base_url(base_url)
                .with_media_dir(media_dir)
                .with_danger_allow_private_addresses(danger_allow_private_addresses);
            let output = match action {
                AdminAction::CreateAccount { name } => admin.create_account(&name).await?,
                AdminAction::CreateChannel { name, owner } => {
                    admin.create_channel(&name, &owner).await?
                }
                AdminAction::SetRole { account, role } => admin.set_role(&account, &role).await?,
                AdminAction::SetPassword { account } => {
                    let mut password = String::new();
                    std::io::stdin().read_line(&mut password)?;
                    let password = password.trim_end_matches(['\r', '\n']);
                    admin.set_password(&account, password).await?
                }
                AdminAction::FollowInstance { url } => admin.follow_instance(&url).await?,
                AdminAction::Reprocess { video } => admin.reprocess(&video).await?,
                AdminAction::MirrorInstance { url } => admin.mirror_instance(&url).await?,
                AdminAction::MirrorVideo { video } => admin.mirror_video(&video).await?,
                AdminAction::StopMirror { video } => admin.stop_mirror(&video).await?,
                AdminAction::StopMirrorInstance { url } => admin.stop_mirror_instance(&url).await?,
                AdminAction::Mirrors => admin.mirrors().await?,
            };
            println!("{output}");
            Ok(())
        }
        Command::Demo { once, dir } => {
            let temporary;
            let dir = match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)?;
                    dir
                }
                None => {
                    temporary = tempfile::Builder::new()
                        .prefix("video-instance-demo-")
                        .tempdir()?;
                    temporary.path().to_owned()
                }
            };
            demo::run(&dir, once).await
        }
    }
}

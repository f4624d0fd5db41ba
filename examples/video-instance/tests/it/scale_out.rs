//! One instance as several processes on one PostgreSQL database behind a round-robin load
//! balancer (a TCP proxy here), sharing one media directory. A processing job is held by one
//! process under a renewed lease and goes to another when that one stops or dies; an upload
//! through one process is seen (page, API, search) through the other; federation goes on when
//! one is killed mid-job, and the survivor finishes the job once its lease lapsed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use sqlx::Row as _;
use test_peer::balance::balance;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use video_instance::WithParts as _;
use video_instance::admin::Admin;
use video_instance::{Options, Running, Transcoding, VideoOptions, start};

use crate::postgres::{connect, fresh_database, postgres_url};
use crate::processing::ffmpeg;
use crate::support::{admin_of, eventually, init_logging, loopback_instance, sample};

const BIN: &str = env!("CARGO_BIN_EXE_video-instance");

/// The processes' job lease: how long a dead process's job stays its own.
const LEASE_SECONDS: u64 = 3;

/// An HTTP client that opens a new connection per request (so that the balancer alternates).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Writes an executable shell script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Uploads a sample as `name` through PeerTube's API at `base` (a process, or the balancer);
/// gives the video's uuid and id.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    channel: &str,
    name: &str,
) -> (String, String) {
    let form = reqwest::multipart::Form::new()
        .text("channel", channel.to_owned())
        .text("name", name.to_owned())
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(sample("h264-aac-faststart.mp4"))
                .file_name("video.mp4"),
        );
    let response = http
        .post(format!("{base}/api/v1/videos/upload"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    (
        answer["video"]["uuid"].as_str().unwrap().to_owned(),
        answer["video"]["url"].as_str().unwrap().to_owned(),
    )
}

/// The processing job of `video`: its state and its claim (lease token).
async fn job(database: &str, video: &str) -> (String, Option<String>) {
    let row = sqlx::query("SELECT state, lease FROM vi_jobs WHERE video = $1")
        .bind(video)
        .fetch_one(&mut connect(database).await)
        .await
        .unwrap();
    (row.get("state"), row.get("lease"))
}

/// The job's lease, in Unix milliseconds.
async fn lease_until(database: &str, video: &str) -> i64 {
    sqlx::query("SELECT lease_until FROM vi_jobs WHERE video = $1")
        .bind(video)
        .fetch_one(&mut connect(database).await)
        .await
        .unwrap()
        .get::<Option<i64>, _>("lease_until")
        .unwrap_or(0)
}

/// The total the search API of `base` gives for `text`.
async fn found(http: &reqwest::Client, base: &str, text: &str) -> Option<u64> {
    let mut url = url::Url::parse(&format!("{base}/api/v1/search/videos")).unwrap();
    url.query_pairs_mut().append_pair("search", text);
    let answer: Value = http.get(url).send().await.ok()?.json().await.ok()?;
    answer["total"].as_u64()
}

/// The watch page of `uuid` at `base`.
async fn watch_page(http: &reqwest::Client, base: &str, uuid: &str) -> String {
    http.get(format!("{base}/videos/watch/{uuid}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// An in-process instance on `database` at `base_url`, its files in `media`, processing with
/// `ffmpeg` under a two-second lease.
async fn in_process(database: &str, base_url: &str, media: &Path, ffmpeg: PathBuf) -> Running {
    init_logging();
    let mut options = Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.to_owned())
        .with_name("tube")
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true);
    options.base_url = Some(base_url.parse().unwrap());
    options.app = VideoOptions::default()
        .with_media_dir(media)
        .with_transcoding(Transcoding::Ffmpeg(ffmpeg))
        .with_job_lease(Duration::from_secs(2));
    start(options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stays_with_its_process_while_it_lives_and_goes_to_another_when_it_stops() {
    let Some(server) = postgres_url() else { return };
    let database = fresh_database(&server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", balancer.local_addr().unwrap());
    // Each process's "ffmpeg" says who runs it, then waits (a long job) until the gate opens,
    // and fails.
    let gate = dir.path().join("gate");
    let ran = |who: &str| {
        script(
            dir.path(),
            &format!("ffmpeg-{who}"),
            &format!(
                "echo {who} >> '{runs}'\n\
                 while [ ! -e '{gate}' ]; do sleep 0.05; done\n\
                 exit 1",
                runs = dir.path().join("runs").display(),
                gate = gate.display()
            ),
        )
    };
    let a = in_process(&database, &base, &media, ran("a")).await;
    let b = in_process(&database, &base, &media, ran("b")).await;
    balance(balancer, vec![a.addr, b.addr]);
    let made = Admin::new(database.clone())
        .with_media_dir(Some(media.clone()))
        .with_danger_allow_private_addresses(true)
        .create_account("ida")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = http();
    // Uploaded at A, whose runner is woken at once (B's looks every second): one of them
    // takes the job.
    let (_, video) = upload(
        &http,
        &format!("http://{}", a.addr),
        token,
        "ida_channel",
        "Held",
    )
    .await;
    let runs = || std::fs::read_to_string(dir.path().join("runs")).unwrap_or_default();
    eventually("a process runs the job", || async { !runs().is_empty() }).await;
    let first_runner = runs();
    let (holder, other, other_name) = match first_runner.as_str() {
        "a\n" => (a, b, "b"),
        "b\n" => (b, a, "a"),
        runs => panic!("one run at first: {runs:?}"),
    };
    let (state, claim) = job(&database, &video).await;
    assert_eq!(state, "running");
    let claim = claim.expect("a running job names its claim");
    // The holder renews its lease while it works: the lease reaches past the end of the
    // first one by a whole lease (so that the other, which looks for lapsed leases every
    // second, had its chances), and the job is still the holder's.
    let first = lease_until(&database, &video).await;
    eventually("the lease renewed past its first end", || async {
        lease_until(&database, &video).await > first + 2000
    })
    .await;
    assert_eq!(
        job(&database, &video).await,
        ("running".into(), Some(claim.clone()))
    );
    assert_eq!(runs(), first_runner, "the other process never took the job");

    // The holder stops cleanly: it hands the job back, and the other takes it.
    holder.stop().await.unwrap();
    let both = format!("{first_runner}{other_name}\n");
    eventually("the other process runs the job", || async {
        runs() == both
    })
    .await;
    let (state, taken) = job(&database, &video).await;
    assert_eq!(state, "running");
    assert_ne!(taken, Some(claim), "a new claim");
    // Its "ffmpeg" fails: it records the failure (the stopped one records nothing more).
    std::fs::write(&gate, b"").unwrap();
    eventually("the job failed", || async {
        job(&database, &video).await.0 == "failed"
    })
    .await;
    assert_eq!(runs(), both);
    other.stop().await.unwrap();
}

/// `video-instance serve` on `database` at the public `base_url`, its files in `media`,
/// processing with `ffmpeg`; the child and the address it listens on, from the line it
/// prints.
async fn serve(database: &str, base_url: &str, media: &Path, ffmpeg: &Path) -> (Child, SocketAddr) {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
            "--name",
            "tube",
            "--base-url",
            base_url,
            "--database",
            database,
            "--delivery-lease",
            "5",
            "--job-lease-seconds",
            &LEASE_SECONDS.to_string(),
            "--media-dir",
        ])
        .arg(media)
        .arg("--ffmpeg")
        .arg(ffmpeg);
    let serving = test_peer::serve::spawn(command, Duration::from_secs(60))
        .await
        .unwrap();
    (serving.child, serving.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_uploads_search_and_jobs_and_one_killed_loses_nothing() {
    let Some(server) = postgres_url() else { return };
    let Some(real) = ffmpeg() else { return };
    let database = fresh_database(&server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The media directory both processes share (as NFS would on several machines).
    let media = dir.path().join("media");
    // An ffmpeg that notes which process runs it (its parent) and its own id, then, for the
    // HLS rendition, waits at a gate before it runs the real one.
    let gate = dir.path().join("gate");
    let runs = dir.path().join("runs");
    let gated = script(
        dir.path(),
        "gated-ffmpeg",
        &format!(
            "case \"$*\" in *-hls_time*)\n\
               echo \"$PPID $$\" >> '{runs}'\n\
               printf 'frame=30\\nout_time_us=1000000\\nprogress=continue\\n'\n\
               while [ ! -e '{gate}' ]; do sleep 0.05; done;;\n\
             esac\n\
             exec '{real}' \"$@\"",
            runs = runs.display(),
            gate = gate.display(),
            real = real.display()
        ),
    );
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", balancer.local_addr().unwrap());
    // One process first (it makes the schema), then the second.
    let (first, first_addr) = serve(&database, &base, &media, &gated).await;
    let (second, second_addr) = serve(&database, &base, &media, &gated).await;
    let served = balance(balancer, vec![first_addr, second_addr]);
    let mut processes = [(first, first_addr), (second, second_addr)];
    let at = |addr: SocketAddr| format!("http://{addr}");

    let output = Command::new(BIN)
        .args(["admin", "--danger-allow-private-addresses", "--database"])
        .arg(&database)
        .arg("--media-dir")
        .arg(&media)
        .args(["create-account", "uma"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let made: Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = made["token"].as_str().unwrap();

    // Another instance follows this one's (through the balancer).
    let other = loopback_instance(dir.path(), "other").await.unwrap();
    let followed = admin_of(&other, dir.path(), "other")
        .follow_instance(&base.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(followed["target"], format!("{base}/actors/instance"));
    let http = http();
    let followers = format!("{base}/actors/instance/followers");
    let other_actor = other.instance.instance_actor().to_string();
    eventually("the follow accepted", || async {
        let Ok(response) = http
            .get(format!("{followers}?page=1"))
            .header("accept", "application/activity+json")
            .send()
            .await
        else {
            return false;
        };
        response
            .text()
            .await
            .is_ok_and(|page| page.contains(&other_actor))
    })
    .await;

    // An upload through the first process: its page, its document and search through the
    // second; the job runs at one of them.
    let (uuid, id) = upload(&http, &at(first_addr), token, "uma_channel", "Lighthouse").await;
    let page = watch_page(&http, &at(second_addr), &uuid).await;
    assert!(page.contains("Lighthouse"), "{page}");
    let document: Value = http
        .get(id.replacen(&base, &at(second_addr), 1))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["id"], id.as_str());
    for addr in [first_addr, second_addr] {
        eventually("each process's search finds the upload", || async {
            found(&http, &at(addr), "lighthouse").await == Some(1)
        })
        .await;
    }
    eventually("the other instance has the video", || async {
        other.instance.state().object(&id).await.unwrap().is_some()
    })
    .await;
    let read_runs = || std::fs::read_to_string(&runs).unwrap_or_default();
    eventually("ffmpeg runs the rendition", || async {
        !read_runs().is_empty()
    })
    .await;
    let (holder_pid, script_pid): (u32, String) = {
        let line = read_runs();
        let (parent, own) = line.trim().split_once(' ').unwrap();
        (parent.parse().unwrap(), own.to_owned())
    };
    let holder = processes
        .iter()
        .position(|(child, _)| child.id() == Some(holder_pid))
        .expect("one of the two processes runs the job");
    let survivor_addr = processes[1 - holder].1;
    let page = watch_page(&http, &at(survivor_addr), &uuid).await;
    assert!(page.contains("data-state=\"running\""), "{page}");

    // The process running the job is killed, and its ffmpeg with it.
    let (dead, _) = &mut processes[holder];
    dead.start_kill().unwrap();
    dead.wait().await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &script_pid])
        .status();
    let (state, claim) = job(&database, &id).await;
    assert_eq!(
        state, "running",
        "the dead process's job stays its own until its lease lapses"
    );
    std::fs::write(&gate, b"").unwrap();

    // Uploads go on through the balancer, which finds the survivor.
    let (later_uuid, later_id) = upload(&http, &base, token, "uma_channel", "Harbour").await;

    // The survivor takes the job once the lease lapsed, and finishes it: the thumbnail and
    // the HLS rendition stored once, the Update delivered.
    eventually("the survivor processed the video", || async {
        job(&database, &id).await.0 == "done"
    })
    .await;
    let (_, after) = job(&database, &id).await;
    assert_ne!(after, claim);
    let survivor_pid = processes[1 - holder].0.id().unwrap();
    let lines = read_runs();
    assert!(
        lines
            .lines()
            .skip(1)
            .all(|l| l.starts_with(&format!("{survivor_pid} "))),
        "{lines}"
    );
    let mut roles: Vec<String> = sqlx::query("SELECT role FROM vi_files WHERE video = $1")
        .bind(&id)
        .fetch_all(&mut connect(&database).await)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("role"))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        [
            "hls",
            "hls-file",
            "hls-playlist",
            "hls-sha256",
            "original",
            "thumbnail"
        ]
    );
    eventually("the later upload processed too", || async {
        job(&database, &later_id).await.0 == "done"
    })
    .await;
    eventually("the other instance has the HLS stream", || async {
        other
            .instance
            .state()
            .object(&id)
            .await
            .unwrap()
            .is_some_and(|stored| {
                stored
                    .document
                    .to_string()
                    .contains("application/x-mpegURL")
            })
    })
    .await;
    let master = http
        .get(format!("{base}/static/videos/{uuid}/hls/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(master.status(), 200);
    assert!(master.text().await.unwrap().starts_with("#EXTM3U"));
    assert!(
        !media.join(format!("processing/{uuid}")).exists(),
        "no work directory left behind"
    );
    // The survivor finds both; a process started anew rebuilds its index from the database
    // and finds them too.
    eventually("the survivor finds the later upload", || async {
        found(&http, &at(survivor_addr), "harbour").await == Some(1)
    })
    .await;
    let (third, third_addr) = serve(&database, &base, &media, &gated).await;
    for text in ["lighthouse", "harbour"] {
        eventually("the new process finds both", || async {
            found(&http, &at(third_addr), text).await == Some(1)
        })
        .await;
    }
    let page = watch_page(&http, &at(third_addr), &later_uuid).await;
    assert!(page.contains("data-state=\"done\""), "{page}");
    // Both processes took requests through the balancer.
    for backend in served.iter() {
        assert!(backend.load(Ordering::SeqCst) >= 1, "{served:?}");
    }
    // The other instance stored each video once.
    eventually("the other instance has the later video", || async {
        other
            .instance
            .state()
            .object(&later_id)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let videos: i64 = sqlx::query("SELECT COUNT(*) AS n FROM vi_videos")
        .fetch_one(&crate::processing::pool_of(dir.path(), "other").await)
        .await
        .unwrap()
        .get("n");
    assert_eq!(videos, 2);
    drop((processes, third));
    other.stop().await.unwrap();
}

/// A TCP proxy in front of an origin instance that holds back the body of every answer for
/// a fragmented MP4 (`-fragmented.mp4`, a mirror's segments) until the file `gate` exists:
/// the headers go through, then nothing until the gate opens (two minutes at most). Counts
/// the answers held.
fn gating_proxy(listener: TcpListener, upstream: SocketAddr, gate: PathBuf) -> Arc<AtomicUsize> {
    use std::sync::atomic::AtomicBool;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let held = Arc::new(AtomicUsize::new(0));
    let counter = held.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (gate, held) = (gate.clone(), held.clone());
            let segment = Arc::new(AtomicBool::new(false));
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let asked = segment.clone();
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 16 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    if chunk.windows(15).any(|w| w == b"-fragmented.mp4") {
                        asked.store(true, Ordering::SeqCst);
                    }
                    if server_write.write_all(chunk).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 16 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    let head_end = chunk.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end
                        && segment.swap(false, Ordering::SeqCst)
                        && !gate.exists()
                    {
                        let (head, body) = chunk.split_at(end + 4);
                        if client_write.write_all(head).await.is_err() {
                            break;
                        }
                        held.fetch_add(1, Ordering::SeqCst);
                        for _ in 0..2400 {
                            if gate.exists() {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        if client_write.write_all(body).await.is_err() {
                            break;
                        }
                    } else if client_write.write_all(chunk).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    counter
}

/// A balancer whose backends may be added while it runs: each connection goes to the next
/// backend in turn that accepts.
fn growing_balancer(listener: TcpListener) -> Arc<std::sync::Mutex<Vec<SocketAddr>>> {
    let backends: Arc<std::sync::Mutex<Vec<SocketAddr>>> = Arc::default();
    let shared = backends.clone();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let list = shared.lock().unwrap().clone();
            let first = next.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                for i in 0..list.len() {
                    let which = (first + i) % list.len();
                    if let Ok(mut upstream) = TcpStream::connect(list[which]).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        return;
                    }
                }
            });
        }
    });
    backends
}

/// `video-instance serve` mirroring (no transcoding) on `database` at `base_url`, its files
/// in `media`; the child and its address.
async fn serve_mirroring(database: &str, base_url: &str, media: &Path) -> (Child, SocketAddr) {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
            "--name",
            "mirrors",
            "--base-url",
            base_url,
            "--database",
            database,
            "--delivery-lease",
            "5",
            "--job-lease-seconds",
            &LEASE_SECONDS.to_string(),
            "--mirror-check-seconds",
            "1",
            "--no-transcoding",
            "--media-dir",
        ])
        .arg(media);
    let serving = test_peer::serve::spawn(command, Duration::from_secs(60))
        .await
        .unwrap();
    (serving.child, serving.addr)
}

/// The mirror of `video`: its state, its attempt (the claim) and its lease (Unix ms).
async fn mirror_row(database: &str, video: &str) -> (String, String, i64) {
    let row = sqlx::query("SELECT state, attempt, lease_until FROM vi_mirrors WHERE video = $1")
        .bind(video)
        .fetch_one(&mut connect(database).await)
        .await
        .unwrap();
    (
        row.get("state"),
        row.get("attempt"),
        row.get::<Option<i64>, _>("lease_until").unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_stays_with_its_process_while_it_lives_and_goes_to_another_once_it_is_killed() {
    let Some(server) = postgres_url() else { return };
    let Some(real) = ffmpeg() else { return };
    let database = fresh_database(&server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let gate = dir.path().join("gate");

    // The origin, behind a proxy that holds its segments back until the gate opens.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin_base = format!("http://{}/", proxy.local_addr().unwrap());
    let origin = crate::support::loopback_instance_with(dir.path(), "origin", |options| {
        options.base_url = Some(origin_base.parse().unwrap());
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Ffmpeg(real));
    })
    .await
    .unwrap();
    let held = gating_proxy(proxy, origin.addr, gate.clone());

    // The mirroring instance: one process first, behind its balancer.
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", balancer.local_addr().unwrap());
    let backends = growing_balancer(balancer);
    let (mut first, first_addr) = serve_mirroring(&database, &base, &media).await;
    backends.lock().unwrap().push(first_addr);
    let admin = Admin::new(database.clone())
        .with_base_url(Some(base.parse().unwrap()))
        .with_media_dir(Some(media.clone()))
        .with_danger_allow_private_addresses(true);
    admin.follow_instance(&origin.base_url).await.unwrap();
    let http = http();
    let origin_actor = origin.instance.instance_actor().to_string();
    eventually("the origin accepts the follow", || async {
        let Ok(response) = http
            .get(format!("{base}/actors/instance/following?page=1"))
            .header("accept", "application/activity+json")
            .send()
            .await
        else {
            return false;
        };
        response
            .text()
            .await
            .is_ok_and(|page| page.contains(&origin_actor))
    })
    .await;
    let token = crate::processing::account(&origin, dir.path(), "origin", "ann").await;
    let (uuid, id) = crate::processing::upload(
        &http,
        &origin,
        &token,
        "ann_channel",
        "h264-aac-moov-end.mp4",
    )
    .await;
    eventually(
        "the mirroring instance has the video's HLS stream",
        || async {
            sqlx::query("SELECT document FROM st_objects WHERE id = $1")
                .bind(&id)
                .fetch_optional(&mut connect(&database).await)
                .await
                .unwrap()
                .is_some_and(|r| r.get::<String, _>("document").contains("x-mpegURL"))
        },
    )
    .await;

    // The only process takes the mirror; its copy is held at the gate.
    admin.mirror_video(&uuid).await.unwrap();
    eventually("the first process copies the segments", || async {
        held.load(Ordering::SeqCst) >= 1
    })
    .await;
    let (state, claim, first_lease) = mirror_row(&database, &id).await;
    assert_eq!(state, "running");

    // A second process starts; for two whole leases the first keeps its mirror (renewing its
    // lease) and the second, looking every half lease, never takes it.
    let (second, second_addr) = serve_mirroring(&database, &base, &media).await;
    backends.lock().unwrap().push(second_addr);
    tokio::time::sleep(Duration::from_secs(2 * LEASE_SECONDS + 1)).await;
    let (state, still, renewed) = mirror_row(&database, &id).await;
    assert_eq!(
        (state.as_str(), still.as_str()),
        ("running", claim.as_str())
    );
    assert!(renewed > first_lease, "the lease was renewed");
    assert_eq!(
        held.load(Ordering::SeqCst),
        1,
        "only the first process copies"
    );

    // The first process is killed: its mirror stays its own until the lease lapses, then the
    // second takes it with a new claim and finishes the copy.
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let (state, after_kill, _) = mirror_row(&database, &id).await;
    assert_eq!(
        (state.as_str(), after_kill.as_str()),
        ("running", claim.as_str())
    );
    std::fs::write(&gate, b"").unwrap();
    eventually("the second process finishes the mirror", || async {
        mirror_row(&database, &id).await.0 == "done"
    })
    .await;
    let (_, attempt, _) = mirror_row(&database, &id).await;
    assert_ne!(attempt, claim);

    // Nothing half-stored: the files recorded are all under the new claim's directory, and
    // it is the only copy in the media store.
    let keys: Vec<String> = sqlx::query(
        "SELECT key FROM vi_files WHERE video = $1 AND role LIKE 'mirror-%' ORDER BY key",
    )
    .bind(&id)
    .fetch_all(&mut connect(&database).await)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("key"))
    .collect();
    assert!(keys.len() >= 4, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("redundancy/hls/{attempt}/"))),
        "{keys:?}"
    );
    let copies: Vec<String> = std::fs::read_dir(media.join("data/redundancy/hls"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(copies, std::slice::from_ref(&attempt));
    // The copy announced once: one Create(CacheFile), the new claim's, and the origin keeps
    // that one copy.
    let creates: Vec<String> = sqlx::query(
        "SELECT id FROM st_activities WHERE kind = 'Create' AND local = 1
         AND id LIKE '%/redundancy/streaming-playlists/hls/%'",
    )
    .fetch_all(&mut connect(&database).await)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("id"))
    .collect();
    assert_eq!(
        creates,
        [format!(
            "{base}/redundancy/streaming-playlists/hls/{attempt}/activity"
        )]
    );
    let origin_pool = crate::processing::pool_of(dir.path(), "origin").await;
    let known = || async {
        sqlx::query("SELECT id FROM vi_cache_files WHERE video = $1")
            .bind(id.clone())
            .fetch_all(&origin_pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("id"))
            .collect::<Vec<_>>()
    };
    eventually("the origin knows the copy", || async {
        !known().await.is_empty()
    })
    .await;
    assert_eq!(
        known().await,
        [format!(
            "{base}/redundancy/streaming-playlists/hls/{attempt}"
        )]
    );
    // The copy is served through the balancer.
    let master = http
        .get(format!(
            "{base}/static/redundancy/hls/{attempt}/master.m3u8"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(master.status(), 200);
    drop(second);
    origin.stop().await.unwrap();
}

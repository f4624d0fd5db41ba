//! The pod on several machines: two `pod serve` processes on one PostgreSQL database and one
//! media directory, behind a round-robin load balancer (a TCP proxy here) at one public base
//! URL, federating with another pod. A session made through one process works on the other; a
//! photo uploaded through one is served by both; follows, comments, mentions and notifications
//! go back and forth; then one process is killed with `SIGKILL` while its deliveries are in
//! flight, and the survivor delivers them once their lease lapsed: nothing acknowledged is
//! lost, and the other pod stores and notifies each activity once.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use sqlx::Connection as _;
use test_peer::balance::{Gate, balance};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::support::{
    PASSWORD, Session, create_database, csrf_of, eventually, person, pod_with, postgres_url,
    unique_database, until_following,
};

const BIN: &str = env!("CARGO_BIN_EXE_pod");
const WAIT: Duration = Duration::from_secs(30);
/// The serving processes' delivery lease: how long a dead process's claims stay its own.
const LEASE_SECONDS: u64 = 10;

/// `pod serve` on `database` with the media directory `media`, at the public `base_url`,
/// listening on a port the OS picks; the address it listens on, from the line it prints.
async fn serve(database: &str, media: &Path, base_url: &str) -> (Child, SocketAddr) {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
            "--base-url",
            base_url,
            "--database",
            database,
            "--delivery-lease",
            &LEASE_SECONDS.to_string(),
            "--signup",
            "closed",
            "--workers",
            "1",
            "--media-dir",
        ])
        .arg(media);
    let serving = test_peer::serve::spawn(command, WAIT).await.unwrap();
    assert_eq!(serving.base_url.as_str(), format!("{base_url}/"));
    (serving.child, serving.addr)
}

/// `pod admin` on `database` and `media` with `args`, `input` on its standard input.
async fn admin(database: &str, media: &Path, args: &[&str], input: &str) {
    let mut child = Command::new(BIN)
        .args(["admin", "--danger-allow-private-addresses", "--database"])
        .arg(database)
        .arg("--media-dir")
        .arg(media)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "admin {args:?}: {output:?}");
}

/// The queue's deliveries on `database`: (pending, in flight, dead).
async fn queue_counts(database: &str) -> (i64, i64, i64) {
    let mut connection = sqlx::PgConnection::connect(database).await.unwrap();
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 1), \
         count(*) FILTER (WHERE state = 2) FROM fq_deliveries",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    counts
}

/// An HTTP client that opens a new connection per request (so that the balancer alternates)
/// and follows no redirect.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// The cookies (`name=value`) a response sets.
fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// Signs `name` in through the sign-in form at `base` (the balancer: the form is read from
/// one process and posted to the other).
async fn sign_in(base: &url::Url, name: &str) -> Session {
    let http = http();
    let response = http
        .get(base.join("/login").unwrap())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let mut jar = cookies(&response);
    let page = response.text().await.unwrap();
    let csrf = csrf_of(&page);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("username", name),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .finish();
    let response = http
        .post(base.join("/login").unwrap())
        .header("cookie", jar.join("; "))
        .header("origin", base.origin().ascii_serialization())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "signing {name} in");
    // A cookie set again replaces the one of that name.
    for cookie in cookies(&response) {
        let name = cookie.split('=').next().unwrap_or_default().to_owned();
        jar.retain(|kept| kept.split('=').next() != Some(name.as_str()));
        jar.push(cookie);
    }
    let mut session = Session {
        cookie: jar.join("; "),
        csrf: String::new(),
        base: base.clone(),
        http,
    };
    let (status, page) = session.get("/compose").await;
    assert_eq!(status, 200, "{page}");
    session.csrf = csrf_of(&page);
    session
}

/// `session` asking the process at `addr` directly: the same cookie, the same public base URL
/// in its forms' `Origin`.
fn at(session: &Session, addr: SocketAddr) -> Session {
    Session {
        cookie: session.cookie.clone(),
        csrf: session.csrf.clone(),
        base: url::Url::parse(&format!("http://{addr}/")).unwrap(),
        http: session.http.clone(),
    }
}

/// A post of `text` to the public (through `session`'s base, with the public origin
/// `origin`): its id.
async fn write(session: &Session, origin: &url::Url, text: &str) -> String {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", session.csrf.as_str()),
            ("text", text),
            ("audience", "public"),
        ])
        .finish();
    let response = session
        .http
        .post(session.base.join("/posts").unwrap())
        .header("cookie", &session.cookie)
        .header("origin", origin.origin().ascii_serialization())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{text}");
    let location = response.headers()["location"].to_str().unwrap();
    origin.join(location).unwrap().to_string()
}

/// GETs `url` as ActivityPub from the process at `addr` (`url` is on the public base URL).
async fn document_at(addr: SocketAddr, url: &str) -> Value {
    let mut direct = url::Url::parse(url).unwrap();
    direct.set_port(Some(addr.port())).unwrap();
    let response = http()
        .get(direct)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{url}");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_sessions_media_and_deliveries_and_lose_nothing_when_one_dies() {
    let Some(server) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = unique_database(&server, "scaled");
    create_database(&server, &database).await;
    let media = dir.path().join("media");
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", balancer.local_addr().unwrap());
    let public = url::Url::parse(&base).unwrap();
    // One process first (it makes the schema), then the second.
    let (mut first, first_addr) = serve(&database, &media, &base).await;
    let (second, second_addr) = serve(&database, &media, &base).await;
    let served = balance(balancer, vec![first_addr, second_addr]);
    admin(&database, &media, &["create-account", "alice"], "").await;
    admin(
        &database,
        &media,
        &["set-password", "alice"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    let alice = public.join("/actors/alice").unwrap().to_string();

    // The other pod, behind a gate that can hold what the processes deliver to it.
    let gate_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate_url =
        url::Url::parse(&format!("http://{}", gate_listener.local_addr().unwrap())).unwrap();
    let other = pod_with(dir.path(), "other", |options| {
        *options = options.clone().with_base_url(gate_url.clone());
    })
    .await;
    let gate = Gate::new(gate_listener, other.addr);
    let bob = person(&other, "bob").await;
    assert!(bob.starts_with(gate_url.as_str()), "{bob}");
    let other_host = gate_url.authority().to_owned();
    let public_host = public.authority().to_owned();

    // Alice signs in: the form read from one process, posted to the other; the session works
    // on both.
    let alice_web = sign_in(&public, "alice").await;
    for addr in [first_addr, second_addr] {
        let (status, page) = at(&alice_web, addr).get("/compose").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("name=\"csrf\""), "{page}");
    }

    // Bob follows alice; alice follows bob from the follow form.
    other.instance.follow("bob", &alice).await.unwrap();
    until_following(&other, &bob, &alice).await;
    let (status, answer) = alice_web.post("/follow", &[("actor", &bob)]).await;
    assert_eq!(status, 303, "{answer}");
    until_following(&other, &alice, &bob).await;

    // A post with a photo, mentioning bob: its photo is served by both processes.
    let photo = {
        let mut bytes =
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8\x08\x06\0\0\0".to_vec();
        bytes.resize(900, 7);
        bytes
    };
    let form = alice_web
        .multipart()
        .text("text", format!("The garden today, @bob@{other_host}"))
        .text("audience", "public")
        .text("description", "Roses")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(photo.clone())
                .file_name("garden.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let response = alice_web
        .http
        .post(public.join("/posts").unwrap())
        .header("cookie", &alice_web.cookie)
        .header("origin", public.origin().ascii_serialization())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let garden = public
        .join(response.headers()["location"].to_str().unwrap())
        .unwrap()
        .to_string();
    let note = document_at(first_addr, &garden).await;
    assert_eq!(note, document_at(second_addr, &garden).await);
    let image = note["attachment"][0]["url"].as_str().unwrap().to_owned();
    for addr in [first_addr, second_addr] {
        let mut direct = url::Url::parse(&image).unwrap();
        direct.set_port(Some(addr.port())).unwrap();
        let response = http().get(direct).send().await.unwrap();
        assert_eq!(response.status(), 200, "{image} at {addr}");
        assert_eq!(response.bytes().await.unwrap(), photo);
    }

    // The other pod has it, and bob is notified of the mention; his comment, mentioning
    // alice, reaches her, and she is notified (seen through either process).
    let scope = other.instance.state().scope_of(&bob).await.unwrap();
    eventually("the post at the other pod", || async {
        other
            .instance
            .state()
            .object(&garden)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let comment = other
        .instance
        .write_comment("bob", &garden, &format!("Lovely, @alice@{public_host}!"))
        .await
        .unwrap();
    // (A comment that mentions her is one notification: the mention.)
    eventually("alice notified of bob's comment", || async {
        let (_, page) = alice_web.get("/notifications").await;
        page.contains("mentioned you in")
    })
    .await;
    let path = url::Url::parse(&garden).unwrap().path().to_owned();
    let (_, page) = at(&alice_web, second_addr).get(&path).await;
    assert!(page.contains("Lovely, "), "{page}");
    // Alice answers from the post's page.
    let (status, answer) = alice_web
        .post(
            "/posts/comment",
            &[("post", &garden), ("text", "Thank you!"), ("back", &path)],
        )
        .await;
    assert_eq!(status, 303, "{answer}");
    eventually("alice's answer at the other pod", || async {
        other
            .instance
            .state()
            .objects_by(&alice, &scope, 0, 50)
            .await
            .unwrap()
            .iter()
            .any(|o| o.document.to_string().contains("Thank you!"))
    })
    .await;
    eventually("an empty queue", || async {
        queue_counts(&database).await == (0, 0, 0)
    })
    .await;
    for backend in served.iter() {
        assert!(backend.load(Ordering::SeqCst) >= 4, "{served:?}");
    }

    // With the gate closed, three posts written through the first process: its worker claims
    // their deliveries and sends them, and they wait in the gate.
    gate.set_open(false);
    let mut held = Vec::new();
    for n in 0..3 {
        let text = format!("Held post {n} for @bob@{other_host}");
        held.push(write(&at(&alice_web, first_addr), &public, &text).await);
    }
    eventually("the deliveries held in the gate", || async {
        let (_, in_flight, _) = queue_counts(&database).await;
        in_flight == 3 && gate.held() == 3
    })
    .await;

    // The first process dies with its claims: its requests are abandoned at the gate.
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    eventually("the dead process's requests abandoned", || async {
        gate.abandoned() >= 1
    })
    .await;
    gate.set_open(true);
    // Until their lease lapses, the dead process's deliveries are nobody else's.
    let (_, in_flight, _) = queue_counts(&database).await;
    assert!(in_flight >= 1, "the dead process's claims are still leased");

    // Alice goes on through the balancer, which now finds one process; her session holds.
    let mut after = Vec::new();
    for n in 0..3 {
        let text = format!("Later post {n} for @bob@{other_host}");
        after.push(write(&alice_web, &public, &text).await);
    }

    // Every post reaches the other pod once, and bob is notified of each mention once.
    let posts: Vec<String> = held.iter().chain(&after).cloned().collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(LEASE_SECONDS) + WAIT;
    loop {
        let mut missing = 0;
        for post in &posts {
            if other.instance.state().object(post).await.unwrap().is_none() {
                missing += 1;
            }
        }
        if missing == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing} posts not at the other pod"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually("an empty queue after the kill", || async {
        queue_counts(&database).await == (0, 0, 0)
    })
    .await;
    let by_alice = other
        .instance
        .state()
        .objects_by(&alice, &scope, 0, 50)
        .await
        .unwrap();
    // The garden, the answer, and the six posts: each once.
    assert_eq!(by_alice.len(), 8, "{by_alice:?}");
    let notifications = other
        .instance
        .state()
        .notifications(&bob, false, 100)
        .await
        .unwrap();
    for post in posts.iter().chain([&garden]) {
        let mentions = notifications
            .iter()
            .filter(|n| n.kind == "mention" && n.object.as_deref() == Some(post))
            .count();
        assert_eq!(mentions, 1, "{post}: {notifications:?}");
    }
    let bob_web = Session::new(&other, "bob").await;
    let (_, stream) = bob_web.get("/").await;
    for n in 0..3 {
        assert_eq!(
            stream.matches(&format!("Held post {n} ")).count(),
            1,
            "{stream}"
        );
        assert_eq!(
            stream.matches(&format!("Later post {n} ")).count(),
            1,
            "{stream}"
        );
    }
    // Bob's comment is stored once on the scaled pod, under the garden post.
    let (_, page) = alice_web.get(&path).await;
    assert_eq!(page.matches("Lovely, ").count(), 1, "{page}");
    assert!(comment.starts_with(gate_url.as_str()));

    // A process started again on the database serves what the survivor serves.
    let (third, third_addr) = serve(&database, &media, &base).await;
    let outbox = format!("{alice}/outbox?page=1");
    let survivor = document_at(second_addr, &outbox).await;
    assert_eq!(survivor, document_at(third_addr, &outbox).await);
    for post in &posts {
        assert!(survivor.to_string().contains(post.as_str()), "{post}");
    }
    let (status, page) = at(&alice_web, third_addr).get("/notifications").await;
    assert_eq!(status, 200, "{page}");

    drop((second, third));
    other.stop().await.unwrap();
}

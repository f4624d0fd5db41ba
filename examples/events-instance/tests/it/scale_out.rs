//! One instance on several machines: two `events-instance serve` processes on one PostgreSQL
//! database behind a round-robin load balancer (a TCP proxy here), federating with another
//! instance, one of them killed mid-way. Nothing published is lost, and what the dead process
//! was delivering is delivered by the other once its claims' lease lapses: at least once, and
//! stored once by the receiver.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use events_instance::demo::{Client, admin_of, eventually};
use events_instance::{Options, SignupMode, start};
use serde_json::{Value, json};
use sqlx::Connection;
use test_peer::balance::{Gate, balance};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::postgres::{fresh_database, postgres_url};

const BIN: &str = env!("CARGO_BIN_EXE_events-instance");
const WAIT: Duration = Duration::from_secs(30);
/// The serving processes' delivery lease: how long a dead process's claims stay its own.
const LEASE_SECONDS: u64 = 10;

/// `events-instance serve` on `database`, at the public `base_url`, listening on a port the OS
/// picks; the address it listens on, from the line it prints.
async fn serve(database: &str, base_url: &str) -> anyhow::Result<(Child, SocketAddr)> {
    let mut command = Command::new(BIN);
    command.args([
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
    ]);
    let serving = test_peer::serve::spawn(command, WAIT).await?;
    assert_eq!(serving.base_url.as_str(), format!("{base_url}/"));
    Ok((serving.child, serving.addr))
}

/// The queue's deliveries on `database`: (pending, in flight, dead).
async fn queue_counts(database: &str) -> anyhow::Result<(i64, i64, i64)> {
    let mut connection = sqlx::PgConnection::connect(database).await?;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 1), \
         count(*) FILTER (WHERE state = 2) FROM fq_deliveries",
    )
    .fetch_one(&mut connection)
    .await?;
    connection.close().await?;
    Ok(counts)
}

/// POSTs an event to `outbox` (the identity's, at the balancer or at one process).
async fn publish(
    http: &reqwest::Client,
    outbox: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<String> {
    let response = http
        .post(outbox)
        .bearer_auth(token)
        .header("content-type", "application/activity+json")
        .body(serde_json::to_vec(&json!({"type": "Event",
            "name": format!("Evening walk {n}"), "startTime": "2031-06-01T19:00:00Z"}))?)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "{}", response.text().await?);
    let created: Value = serde_json::from_slice(&response.bytes().await?)?;
    Ok(created["object"]["id"].as_str().unwrap().to_owned())
}

async fn activity_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = http
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

/// `url` (at the balancer) asked of the process listening on `addr`.
fn at(url: &str, balancer: &str, addr: SocketAddr) -> String {
    url.replacen(balancer, &format!("http://{addr}"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_database_lose_nothing_when_one_is_killed() -> anyhow::Result<()>
{
    let Some(server) = postgres_url() else {
        return Ok(());
    };
    let database = fresh_database(&server).await?;
    let balancer = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", balancer.local_addr()?);
    // One process first (it makes the schema), then the second.
    let (mut first, first_addr) = serve(&database, &base).await?;
    let (second, second_addr) = serve(&database, &base).await?;
    let served = balance(balancer, vec![first_addr, second_addr]);

    let identity = Command::new(BIN)
        .args(["admin", "--danger-allow-private-addresses", "--database"])
        .arg(&database)
        .args(["create-identity", "organizer"])
        .output()
        .await?;
    assert!(identity.status.success(), "{identity:?}");
    let organizer = Client::from_identity(&serde_json::from_slice(&identity.stdout)?)?;
    assert!(organizer.actor.starts_with(&base), "{}", organizer.actor);

    // The other instance, behind a gate that holds what the processes deliver to it.
    let dir = tempfile::tempdir()?;
    let gate_listener = TcpListener::bind("127.0.0.1:0").await?;
    let other = start(
        Options::new(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path()
                .join("other.sqlite")
                .to_string_lossy()
                .into_owned(),
        )
        .with_base_url(format!("http://{}", gate_listener.local_addr()?).parse()?)
        .with_name("other")
        .with_signup(SignupMode::Open)
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true),
    )
    .await?;
    let gate = Gate::new(gate_listener, other.addr);
    let watcher = Client::from_identity(
        &admin_of(&other, dir.path(), "other")
            .create_identity("watcher")
            .await?,
    )?;
    watcher
        .post(json!({"type": "Follow", "object": organizer.actor}))
        .await?;
    eventually(WAIT, "the follow accepted", || async {
        Ok((other
            .instance
            .following_state("watcher", &organizer.actor)
            .await?
            .as_deref()
            == Some("accepted"))
        .then_some(()))
    })
    .await?;

    // A new connection per request: the balancer sends them to each process in turn.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(WAIT)
        .build()?;
    let outbox = format!("{}/outbox", organizer.actor);
    let mut events = Vec::new();
    for n in 0..4 {
        events.push(publish(&http, &outbox, organizer.token(), n).await?);
    }
    for backend in served.iter() {
        assert!(backend.load(Ordering::SeqCst) >= 2, "{served:?}");
    }

    eventually(WAIT, "the first events at the other instance", || async {
        for event in &events {
            if other.instance.stored_object(event).await?.is_none() {
                return Ok(None);
            }
        }
        Ok((queue_counts(&database).await? == (0, 0, 0)).then_some(()))
    })
    .await?;

    // With the gate closed, three events published at the first process: its worker claims
    // their deliveries and sends them, and they wait in the gate.
    gate.set_open(false);
    for n in 4..7 {
        events.push(publish(&http, &at(&outbox, &base, first_addr), organizer.token(), n).await?);
    }
    eventually(WAIT, "the deliveries held in the gate", || async {
        let (_, in_flight, _) = queue_counts(&database).await?;
        Ok((in_flight == 3 && gate.held() == 3).then_some(()))
    })
    .await?;

    // The first process dies with its claims: its requests are abandoned at the gate.
    first.start_kill()?;
    first.wait().await?;
    eventually(WAIT, "the dead process's requests abandoned", || async {
        Ok((gate.abandoned() >= 1).then_some(()))
    })
    .await?;
    gate.set_open(true);
    // Until their lease lapses, the dead process's deliveries are nobody else's.
    let (_, in_flight, _) = queue_counts(&database).await?;
    assert!(in_flight >= 1, "the dead process's claims are still leased");

    // Publishing goes on through the balancer, which now finds one process.
    for n in 7..10 {
        events.push(publish(&http, &outbox, organizer.token(), n).await?);
    }

    // Every event reaches the other instance, and is stored there once: the dead process's
    // deliveries once their lease lapsed and the survivor claimed them (bounded generously: on
    // a loaded machine the survivor's claims and retries take their time).
    eventually(
        Duration::from_secs(LEASE_SECONDS) + 2 * WAIT,
        "every event at the other instance",
        || async {
            for event in &events {
                if other.instance.stored_object(event).await?.is_none() {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
    .await?;
    assert_eq!(other.instance.stored_object_count().await?, 10);
    // Nothing enqueued is left behind or given up.
    eventually(WAIT, "an empty queue", || async {
        Ok((queue_counts(&database).await? == (0, 0, 0)).then_some(()))
    })
    .await?;
    assert_eq!(other.instance.stored_object_count().await?, 10);

    // A process started again on the database serves what the survivor serves.
    let (third, third_addr) = serve(&database, &base).await?;
    for page in [outbox.clone(), format!("{outbox}?page=1")] {
        let survivor = activity_json(&http, &at(&page, &base, second_addr)).await?;
        let restarted = activity_json(&http, &at(&page, &base, third_addr)).await?;
        assert_eq!(survivor, restarted, "{page}");
    }
    let outbox_doc = activity_json(&http, &at(&outbox, &base, third_addr)).await?;
    assert_eq!(outbox_doc["totalItems"], 10, "{outbox_doc}");
    for event in &events {
        let survivor = activity_json(&http, &at(event, &base, second_addr)).await?;
        let restarted = activity_json(&http, &at(event, &base, third_addr)).await?;
        assert_eq!(survivor, restarted);
        assert_eq!(
            other.instance.stored_object(event).await?.unwrap()["name"],
            survivor["name"]
        );
    }

    drop((second, third));
    other.stop().await?;
    Ok(())
}

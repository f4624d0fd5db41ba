//! Capacity holds under concurrency: Joins that arrive at the same moment, from other servers
//! (signed, over HTTP) or from local identities (client-to-server), never take more seats than
//! the event has, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use events_instance::admin::Admin;
use events_instance::demo::{Client, admin_of, loopback_instance};
use events_instance::{Options, Running, start};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::postgres::{fresh_database, postgres_url};
use test_peer::{Delivery, Peer};

const JOINS: usize = 30;
const CAPACITY: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_remote_joins_never_overbook_on_sqlite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = loopback_instance(dir.path(), "events").await?;
    let admin = admin_of(&running, dir.path(), "events");
    concurrent_remote_joins(&running, &admin).await?;
    running.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_remote_joins_never_overbook_on_postgresql() -> anyhow::Result<()> {
    let Some(server) = postgres_url() else {
        return Ok(());
    };
    let (running, admin) = on_postgres(&server).await?;
    concurrent_remote_joins(&running, &admin).await?;
    running.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_local_joins_never_overbook_on_sqlite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = loopback_instance(dir.path(), "events").await?;
    let admin = admin_of(&running, dir.path(), "events");
    concurrent_local_joins(&running, &admin).await?;
    running.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_local_joins_never_overbook_on_postgresql() -> anyhow::Result<()> {
    let Some(server) = postgres_url() else {
        return Ok(());
    };
    let (running, admin) = on_postgres(&server).await?;
    concurrent_local_joins(&running, &admin).await?;
    running.stop().await
}

/// An instance on a fresh database of the PostgreSQL server at `server`, and its admin.
async fn on_postgres(server: &str) -> anyhow::Result<(Running, Admin)> {
    let database = fresh_database(server).await?;
    let running = start(
        Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.clone())
            .with_name("events")
            .with_danger_allow_private_addresses(true)
            .with_quick_retries(true),
    )
    .await?;
    let admin = Admin::new(database)
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true);
    Ok((running, admin))
}

/// A `free` event with room for [`CAPACITY`], published by a new identity; returns its id.
async fn free_event(admin: &Admin) -> anyhow::Result<String> {
    Ok(organized_free_event(admin).await?.1)
}

/// [`free_event`], with its organizer.
async fn organized_free_event(admin: &Admin) -> anyhow::Result<(Client, String)> {
    let organizer = Client::from_identity(&admin.create_identity("organizer").await?)?;
    let create = organizer
        .post(
            json!({"type": "Event", "name": "Boat trip", "startTime": "2031-06-01T09:00:00Z",
            "joinMode": "free", "maximumAttendeeCapacity": CAPACITY}),
        )
        .await?;
    let id = create["object"]["id"].as_str().unwrap().to_owned();
    Ok((organizer, id))
}

async fn concurrent_remote_joins(running: &Running, admin: &Admin) -> anyhow::Result<()> {
    let event = free_event(admin).await?;
    let peer = Arc::new(Peer::start().await?);
    let mut joins = BTreeMap::new();
    for i in 0..JOINS {
        let actor = peer.add_actor(&format!("users/p{i}"), &format!("p{i}"))?;
        let join = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/joins/{i}", peer.origin()),
            "type": "Join",
            "actor": actor,
            "object": event,
            "to": [format!("{}actors/organizer", running.base_url)],
        });
        joins.insert(actor, join);
    }
    // Every Join leaves at the same moment.
    let inbox = format!("{}inbox", running.base_url);
    let barrier = Arc::new(Barrier::new(JOINS));
    let mut tasks = Vec::new();
    for join in joins.values() {
        let (peer, barrier, inbox, join) =
            (peer.clone(), barrier.clone(), inbox.clone(), join.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            peer.post(&inbox, &join).await
        }));
    }
    for task in tasks {
        let (status, body) = task.await??;
        assert!(
            (200..300).contains(&status),
            "a Join was answered {status}: {body}"
        );
    }

    // Each Join gets exactly one answer, delivered to its actor.
    let answers = |received: &[Delivery]| -> Vec<(String, String, String)> {
        received
            .iter()
            .filter(|d| matches!(d.body["type"].as_str(), Some("Accept" | "Reject")))
            .map(|d| {
                (
                    d.to.clone(),
                    d.body["type"].as_str().unwrap().to_owned(),
                    d.body["object"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    let received = peer
        .wait_for("an answer to every Join", |received| {
            answers(received).len() >= JOINS
        })
        .await?;
    let answers = answers(&received);
    assert_eq!(answers.len(), JOINS, "{answers:#?}");
    let accepted: Vec<_> = answers.iter().filter(|a| a.1 == "Accept").collect();
    let rejected: Vec<_> = answers.iter().filter(|a| a.1 == "Reject").collect();
    assert_eq!(accepted.len(), CAPACITY, "Accepts: {accepted:#?}");
    assert_eq!(rejected.len(), JOINS - CAPACITY);
    for (to, _, join_id) in &answers {
        let actor = format!("{}/{to}", peer.origin());
        assert_eq!(
            joins[&actor]["id"],
            join_id.as_str(),
            "answered to its actor"
        );
    }
    let answered: std::collections::BTreeSet<_> = answers.iter().map(|a| &a.2).collect();
    assert_eq!(answered.len(), JOINS, "one answer per Join");

    // The instance agrees with what it sent.
    let instance = &running.instance;
    let mut states = BTreeMap::<String, usize>::new();
    for actor in joins.keys() {
        let state = instance.participation_state(&event, actor).await?.unwrap();
        let sent = answers
            .iter()
            .find(|a| format!("{}/{}", peer.origin(), a.0) == *actor)
            .unwrap();
        let expected = if sent.1 == "Accept" {
            "accepted"
        } else {
            "rejected"
        };
        assert_eq!(state, expected, "{actor}");
        *states.entry(state).or_default() += 1;
    }
    assert_eq!(states.get("accepted"), Some(&CAPACITY));
    assert_eq!(
        instance.participant_count(&event).await?,
        Some(CAPACITY as u64)
    );
    let stored = instance.stored_object(&event).await?.unwrap();
    assert_eq!(stored["participantCount"], CAPACITY);
    assert_eq!(stored["remainingAttendeeCapacity"], 0);
    Ok(())
}

async fn concurrent_local_joins(running: &Running, admin: &Admin) -> anyhow::Result<()> {
    const LOCAL: usize = 8;
    // The organizer edits the event while the Joins arrive: an edit must not write back a
    // count from before a Join it raced with.
    const UPDATES: usize = 4;
    let (organizer, event) = organized_free_event(admin).await?;
    let mut clients = Vec::new();
    for i in 0..LOCAL {
        clients.push(Client::from_identity(
            &admin.create_identity(&format!("local{i}")).await?,
        )?);
    }
    let barrier = Arc::new(Barrier::new(LOCAL + UPDATES));
    let mut updates = Vec::new();
    for i in 0..UPDATES {
        let (organizer, barrier, event) = (organizer.clone(), barrier.clone(), event.clone());
        updates.push(tokio::spawn(async move {
            barrier.wait().await;
            organizer
                .post(
                    json!({"type": "Update", "object": {"id": event, "type": "Event",
                    "name": format!("Boat trip, edit {i}")}}),
                )
                .await
        }));
    }
    let mut tasks = Vec::new();
    for client in &clients {
        let (client, barrier, event) = (client.clone(), barrier.clone(), event.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.post(json!({"type": "Join", "object": event})).await
        }));
    }
    for task in tasks {
        let join: Value = task.await??;
        assert_eq!(join["type"], "Join");
    }
    for update in updates {
        let update: Value = update.await??;
        assert_eq!(update["type"], "Update");
    }
    let mut accepted = 0;
    for client in &clients {
        match running
            .instance
            .participation_state(&event, &client.actor)
            .await?
            .as_deref()
        {
            Some("accepted") => accepted += 1,
            Some("rejected") => {}
            other => panic!("{}: {other:?}", client.actor),
        }
    }
    assert_eq!(accepted, CAPACITY);
    assert_eq!(
        running.instance.participant_count(&event).await?,
        Some(CAPACITY as u64)
    );
    let stored = running.instance.stored_object(&event).await?.unwrap();
    assert_eq!(stored["participantCount"], CAPACITY);
    Ok(())
}

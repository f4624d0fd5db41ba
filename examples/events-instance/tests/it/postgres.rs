//! The instance on PostgreSQL (a `postgres://` database), federating with one on SQLite.
//! `scripts/test` runs the tests under `scripts/with-postgres`, which sets
//! `FEDERATION_QUEUE_PG_URL`; in CI a missing server fails the test.

use std::net::SocketAddr;
use std::time::Duration;

use events_instance::admin::Admin;
use events_instance::demo::{Client, admin_of, eventually, loopback_instance};
use events_instance::{Options, start};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// The tests' PostgreSQL server (`test_peer::postgres::server_url`).
pub(crate) fn postgres_url() -> Option<String> {
    test_peer::postgres::server_url("the events instance's PostgreSQL tests")
}

/// A fresh database on the server of `url`, and its URL.
pub(crate) async fn fresh_database(url: &str) -> anyhow::Result<String> {
    test_peer::postgres::fresh_database(url, "events").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_on_postgresql_federates_with_one_on_sqlite() -> anyhow::Result<()> {
    let Some(server) = postgres_url() else {
        return Ok(());
    };
    let database = fresh_database(&server).await?;
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let beta = start(
        Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.clone())
            .with_name("beta")
            .with_danger_allow_private_addresses(true)
            .with_quick_retries(true),
    )
    .await?;
    let beta_admin = Admin::new(database.clone())
        .with_base_url(Some(beta.base_url.clone()))
        .with_danger_allow_private_addresses(true);
    let alice = Client::from_identity(
        &admin_of(&alpha, dir.path(), "alpha")
            .create_identity("alice")
            .await?,
    )?;
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;
    let group = beta_admin.create_group("hikers", "organizer").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    // The admin commands read the base URL the instance recorded.
    let recorded = Admin::new(database.clone())
        .create_identity("carol")
        .await?;
    assert!(
        recorded["actor"]
            .as_str()
            .unwrap()
            .starts_with(beta.base_url.as_str())
    );

    alice
        .post(json!({"type": "Follow", "object": group}))
        .await?;
    eventually(WAIT, "the follower at beta", || async {
        Ok(beta
            .instance
            .followers_of("hikers")
            .await?
            .contains(&alice.actor)
            .then_some(()))
    })
    .await?;
    let create = organizer
        .post(
            json!({"type": "Create", "object": {"type": "Event", "name": "Board games",
            "startTime": "2031-03-01T18:00:00Z", "attributedTo": group,
            "maximumAttendeeCapacity": 5}}),
        )
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the event at alpha", || async {
        alpha.instance.stored_object(&event).await
    })
    .await?;
    alice.post(json!({"type": "Join", "object": event})).await?;
    eventually(WAIT, "equal participant counts", || async {
        let here = alpha.instance.participant_count(&event).await?;
        let there = beta.instance.participant_count(&event).await?;
        Ok((here == Some(1) && there == Some(1)).then_some(()))
    })
    .await?;
    let comment = alice
        .post(json!({"type": "Note", "inReplyTo": event, "content": "See you there"}))
        .await?;
    let comment_id = comment["object"]["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the comment at beta", || async {
        Ok(beta
            .instance
            .comment_ids(&event)
            .await?
            .contains(&comment_id)
            .then_some(()))
    })
    .await?;
    assert!(beta.instance.processed_activities().await? >= 3);
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

//! A database of the release before the move onto instance-state is carried over when it is
//! first opened: every actor with its keys, follows, objects and who may see them, events,
//! participations, comments, members, processed ids, remote actors, and the bearer tokens.
//!
//! The databases are `tests/data/previous-release/{alpha,beta}.sqlite`, made by
//! `scripts/events-instance-previous-release` from commit 8be6ac8 (its demo, then on beta an
//! identity `bob` with a token, a second identity `bob_choir` of bob's account, bob made a
//! member of `hikers`, and a private event of bob's addressed to the organizer only);
//! `tokens.json` holds bob's token. The PostgreSQL test copies beta's rows, in the previous
//! schema, into a fresh database and carries them over the same way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use events_instance::{Options, Running, start};
use http_signatures::SigningKey;
use serde_json::{Value, json};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::postgres::{fresh_database, postgres_url};
use crate::support::fetch_json;

/// The folder of the previous release's databases.
fn data() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/previous-release"
    ))
}

/// A copy of the previous release's database `name` in `dir`.
fn copy_of(dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.sqlite"));
    std::fs::copy(data().join(format!("{name}.sqlite")), &path).unwrap();
    path.to_string_lossy().into_owned()
}

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

/// What the previous release's database holds, read with its own schema.
#[derive(Debug)]
struct Before {
    base_url: String,
    /// Actor name → the PEM of its RSA public key.
    actors: BTreeMap<String, String>,
    /// [local name, follower].
    followers: Vec<Vec<String>>,
    /// [local name, target, state].
    following: Vec<Vec<String>>,
    /// Object id → whether it was public (its audience held the public collection).
    objects: BTreeMap<String, bool>,
    /// [event, actor, state].
    participations: Vec<Vec<String>>,
    /// [group, member, role].
    members: Vec<Vec<String>>,
    processed: i64,
    /// [id].
    remote_actors: Vec<Vec<String>>,
}

/// The first `N` columns of `row`.
fn columns<const N: usize>(row: &[String]) -> [&str; N] {
    std::array::from_fn(|i| row[i].as_str())
}

/// The rows `sql` selects, every column read as text.
async fn texts(pool: &AnyPool, sql: &'static str) -> Vec<Vec<String>> {
    sqlx::query(sql)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect())
        .collect()
}

async fn before(pool: &AnyPool) -> Before {
    let base_url = texts(
        pool,
        "SELECT value FROM ev_settings WHERE name = 'base_url'",
    )
    .await[0][0]
        .clone();
    let mut actors = BTreeMap::new();
    for row in texts(pool, "SELECT name, rsa_key FROM ev_actors").await {
        let key = SigningKey::from_pem(&row[1]).unwrap();
        actors.insert(row[0].clone(), key.verifying_key().to_spki_pem().unwrap());
    }
    let mut objects = BTreeMap::new();
    for row in sqlx::query(
        "SELECT id, (SELECT COUNT(*) FROM ev_audience a WHERE a.object = ev_objects.id
            AND a.address = 'https://www.w3.org/ns/activitystreams#Public') AS public
         FROM ev_objects",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        objects.insert(row.get::<String, _>("id"), row.get::<i64, _>("public") > 0);
    }
    Before {
        base_url,
        actors,
        followers: texts(pool, "SELECT local_name, follower FROM ev_followers").await,
        following: texts(pool, "SELECT local_name, target, state FROM ev_following").await,
        objects,
        participations: texts(pool, "SELECT event, actor, state FROM ev_participations").await,
        members: texts(pool, "SELECT group_name, actor, role FROM ev_members").await,
        processed: sqlx::query("SELECT COUNT(*) AS n FROM ev_processed")
            .fetch_one(pool)
            .await
            .unwrap()
            .get("n"),
        remote_actors: texts(pool, "SELECT id FROM ev_remote_actors").await,
    }
}

/// The instance on `database`, with the base URL the previous release served from, on a port
/// of the OS's choosing.
async fn serve(database: &str, base_url: &str) -> Running {
    start(
        Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database)
            .with_base_url(url::Url::parse(base_url).unwrap())
            .with_danger_allow_private_addresses(true)
            .with_quick_retries(true),
    )
    .await
    .unwrap()
}

/// `id` (on the old base URL) at the address `running` listens on.
fn at(running: &Running, id: &str) -> String {
    let mut url = url::Url::parse(id).unwrap();
    url.set_port(Some(running.addr.port())).unwrap();
    url.to_string()
}

/// Checks that `running` finds everything `before` held.
async fn finds_everything(running: &Running, before: &Before) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let instance = &running.instance;
    // Every actor, with the same keys.
    for (name, pem) in &before.actors {
        let id = format!("{}actors/{name}", before.base_url);
        let document = fetch_json(&http, &at(running, &id)).await.unwrap();
        assert_eq!(document["id"], id.as_str());
        assert_eq!(
            document["publicKey"]["publicKeyPem"].as_str(),
            Some(pem.as_str()),
            "{name}'s key"
        );
    }
    // Follows both ways.
    for row in &before.followers {
        let [local, follower] = columns(row);
        assert!(
            instance
                .followers_of(local)
                .await
                .unwrap()
                .iter()
                .any(|f| f == follower),
            "{follower} follows {local}"
        );
    }
    for row in &before.following {
        let [local, target, state] = columns(row);
        assert_eq!(
            instance
                .following_state(local, target)
                .await
                .unwrap()
                .as_deref(),
            Some(state)
        );
    }
    // Objects, and who may see them: the public ones anyone, the others nobody anonymous.
    for (id, public) in &before.objects {
        assert!(instance.stored_object(id).await.unwrap().is_some(), "{id}");
        if id.starts_with(&before.base_url) {
            let status = http
                .get(at(running, id))
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, if *public { 200 } else { 404 }, "{id}");
        }
    }
    // Participations (and the counts they make), members.
    for row in &before.participations {
        let [event, actor, state] = columns(row);
        assert_eq!(
            instance
                .participation_state(event, actor)
                .await
                .unwrap()
                .as_deref(),
            Some(state)
        );
        assert_eq!(instance.participant_count(event).await.unwrap(), Some(1));
    }
    for row in &before.members {
        let [group, member, role] = columns(row);
        assert_eq!(
            instance
                .member_role(group, member)
                .await
                .unwrap()
                .as_deref(),
            Some(role)
        );
    }
    assert_eq!(
        instance.processed_activities().await.unwrap(),
        before.processed
    );
    for row in &before.remote_actors {
        let id = &row[0];
        assert!(instance.remote_actor(id).await.unwrap().is_some(), "{id}");
    }
}

/// Beta's checks of its own: the comment on the event, bob's token acting for both of his
/// identities, and the private event shown to bob with it and to nobody anonymous.
async fn beta_specifics(running: &Running, before: &Before) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let tokens: Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("tokens.json")).unwrap())
            .unwrap();
    let token = tokens["beta"]["bob"].as_str().unwrap();
    let events: Vec<&String> = before
        .objects
        .keys()
        .filter(|id| id.contains("/events/"))
        .collect();
    let public_event = events
        .iter()
        .find(|id| before.objects[id.as_str()])
        .unwrap();
    assert_eq!(
        running
            .instance
            .comment_ids(public_event)
            .await
            .unwrap()
            .len(),
        1
    );
    let page = |token: Option<&str>| {
        let mut request = http.get(at(running, &before.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert!(!page(None).await.contains("Private rehearsal"));
    assert!(page(Some(token)).await.contains("Private rehearsal"));
    for identity in ["bob", "bob_choir"] {
        let response = http
            .post(at(
                running,
                &format!("{}actors/{identity}/outbox", before.base_url),
            ))
            .bearer_auth(token)
            .header("content-type", "application/activity+json")
            .body(
                json!({"type": "Event", "name": "after the upgrade",
                    "startTime": "2032-01-01T10:00:00Z"})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "{identity}");
    }
    let organizer = http
        .post(at(
            running,
            &format!("{}actors/organizer/outbox", before.base_url),
        ))
        .bearer_auth(token)
        .header("content-type", "application/activity+json")
        .body(json!({"type": "Event", "name": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(organizer.status().as_u16(), 403);
}

/// Whether `table` exists in the SQLite database `pool`.
async fn has_table(pool: &AnyPool, table: &str) -> bool {
    sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>("n")
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_release_is_carried_over() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha", "beta"] {
        let database = copy_of(dir.path(), name);
        let url = format!("sqlite://{database}");
        let old = pool(&url).await;
        let before = before(&old).await;
        old.close().await;
        assert!(!before.actors.is_empty());

        let running = serve(&database, &before.base_url).await;
        finds_everything(&running, &before).await;
        if name == "beta" {
            beta_specifics(&running, &before).await;
        }
        running.stop().await.unwrap();

        // The old tables are gone, and a second start changes nothing.
        let new = pool(&url).await;
        for table in ["ev_actors", "ev_objects", "ev_audience", "ev_settings"] {
            assert!(!has_table(&new, table).await, "{table}");
        }
        new.close().await;
        let running = serve(&database, &before.base_url).await;
        finds_everything(&running, &before).await;
        running.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_leaves_the_old_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let database = copy_of(dir.path(), "beta");
    let url = format!("sqlite://{database}");
    let old = pool(&url).await;
    let before = before(&old).await;
    // One document the upgrade cannot read: it fails.
    let (broken, document): (String, String) =
        sqlx::query("SELECT id, document FROM ev_objects WHERE kind = 'Note'")
            .fetch_one(&old)
            .await
            .map(|r| (r.get("id"), r.get("document")))
            .unwrap();
    sqlx::query("UPDATE ev_objects SET document = 'not JSON' WHERE id = $1")
        .bind(&broken)
        .execute(&old)
        .await
        .unwrap();
    old.close().await;

    let Err(error) = start(
        Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.as_str())
            .with_base_url(url::Url::parse(&before.base_url).unwrap())
            .with_danger_allow_private_addresses(true),
    )
    .await
    else {
        panic!("an unreadable document stops the upgrade");
    };
    assert!(format!("{error:#}").contains("not JSON"), "{error:#}");

    // The old tables are all there, with all their rows.
    let old = pool(&url).await;
    for table in [
        "ev_actors",
        "ev_objects",
        "ev_audience",
        "ev_members",
        "ev_participations",
        "ev_settings",
    ] {
        assert!(has_table(&old, table).await, "{table}");
    }
    assert_eq!(
        before.actors.len(),
        usize::try_from(
            sqlx::query("SELECT COUNT(*) AS n FROM ev_actors")
                .fetch_one(&old)
                .await
                .unwrap()
                .get::<i64, _>("n")
        )
        .unwrap()
    );
    // Mended, the next start carries everything over.
    sqlx::query("UPDATE ev_objects SET document = $2 WHERE id = $1")
        .bind(&broken)
        .bind(&document)
        .execute(&old)
        .await
        .unwrap();
    old.close().await;
    let running = serve(&database, &before.base_url).await;
    finds_everything(&running, &before).await;
    beta_specifics(&running, &before).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_database_of_the_previous_release_is_carried_over() {
    let Some(server) = postgres_url() else {
        return;
    };
    let database = fresh_database(&server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = pool(&format!("sqlite://{}", copy_of(dir.path(), "beta"))).await;
    let before = before(&sqlite).await;
    let postgres = pool(&database).await;
    copy_previous_schema(&sqlite, &postgres).await;
    sqlite.close().await;
    postgres.close().await;

    let running = serve(&database, &before.base_url).await;
    finds_everything(&running, &before).await;
    beta_specifics(&running, &before).await;
    running.stop().await.unwrap();
}

/// Copies the previous release's tables, schema and rows, from SQLite to PostgreSQL: its
/// statements were written in the dialect both run, so its `CREATE TABLE`s serve as they are.
async fn copy_previous_schema(from: &AnyPool, to: &AnyPool) {
    let tables = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'ev_%'",
    )
    .fetch_all(from)
    .await
    .unwrap();
    for table in tables {
        let name: String = table.get("name");
        let sql: String = table.get("sql");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(to)
            .await
            .unwrap();
        let columns: Vec<(String, String)> =
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({name})")))
                .fetch_all(from)
                .await
                .unwrap()
                .iter()
                .map(|c| (c.get("name"), c.get("type")))
                .collect();
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let parameters: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
        let insert = format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            names.join(", "),
            parameters.join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {name}",
            names.join(", ")
        )))
        .fetch_all(from)
        .await
        .unwrap();
        for row in rows {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for (column, kind) in &columns {
                query = if kind == "BIGINT" {
                    query.bind(row.get::<Option<i64>, _>(column.as_str()))
                } else {
                    query.bind(row.get::<Option<String>, _>(column.as_str()))
                };
            }
            query.execute(to).await.unwrap();
        }
    }
}

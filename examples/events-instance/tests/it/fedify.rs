//! End to end against [Fedify](https://fedify.dev), an independent TypeScript implementation:
//! the peer in `scripts/fedify-peer` (a child process speaking JSON lines, see its README)
//! follows a group of ours, receives the event the group's admin publishes, joins it, leaves
//! it, and is followed back (the steps are in `flow`; the findings in `docs/interop-fedify.md`).
//!
//! Each test pairs the signature standard our instance tries first with the one Fedify tries
//! first. Both sides verify both standards, so every delivery must be accepted at the first
//! knock: the peer must never reject one of our requests, nor our inbox one of its.
//!
//! The peer is installed (`scripts/fedify-peer/install`, `npm ci` the first time) by the test
//! itself; when that fails the test fails with the reason.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use events_instance::demo::{Client, admin_of, eventually};
use events_instance::{Instance, Options, Running, start};
use http_signatures::Standard;
use serde_json::{Value, json};
use test_peer::fedify::{self, FedifyOptions, FedifyPeer as Peer, received, standard_name};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long one expected line of the peer, or one state change of ours, may take.
const WAIT: Duration = Duration::from_secs(30);

const INSTANCE: &str = "events";
const EVENT_NAME: &str = "Autumn walk on the ridge";
const EVENT_START: &str = "2031-10-04T09:00:00+02:00";

#[tokio::test(flavor = "multi_thread")]
async fn fedify_rfc9421_both_ways() -> Result<()> {
    check(Case::new(Standard::Rfc9421, Standard::Rfc9421)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_cavage_both_ways() -> Result<()> {
    check(Case::new(Standard::Cavage, Standard::Cavage)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_ours_rfc9421_theirs_cavage() -> Result<()> {
    check(Case::new(Standard::Rfc9421, Standard::Cavage)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_ours_cavage_theirs_rfc9421() -> Result<()> {
    check(Case::new(Standard::Cavage, Standard::Rfc9421)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_authorized_fetch_rfc9421() -> Result<()> {
    check(Case::new(Standard::Rfc9421, Standard::Rfc9421).with_authorized_fetch()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_authorized_fetch_cavage() -> Result<()> {
    check(Case::new(Standard::Cavage, Standard::Cavage).with_authorized_fetch()).await
}

/// A canary: Fedify 2.3 verifies HTTP signatures only with keys in `publicKey` (and
/// draft-cavage ones only with RSA keys), so it refuses what we sign with the Ed25519 key we
/// publish as a Multikey in `assertionMethod`, whichever the standard. When this fails, Fedify
/// has learnt to, and `docs/interop-fedify.md` needs updating.
#[tokio::test(flavor = "multi_thread")]
async fn fedify_refuses_our_ed25519_signatures() -> Result<()> {
    let case = Case::new(Standard::Rfc9421, Standard::Rfc9421).with_ed25519();
    with_instance_and_peer(case, async |running, dir, peer| {
        let admin = admin_of(running, dir, INSTANCE);
        admin.create_identity("organizer").await?;
        let group = admin.create_group("hikers", "organizer").await?;
        let group = group["actor"].as_str().context("no group id")?;
        peer.command(json!({"cmd": "follow", "target": group}))
            .await?;
        // Our queue double-knocks: one refusal per standard.
        for spec in [Standard::Rfc9421, Standard::Cavage] {
            let what = format!(
                "the peer to refuse our {} Ed25519 signature",
                standard_name(spec)
            );
            peer.expect(&what, |e| {
                e["event"] == "inbox-rejected"
                    && e["status"] == 401
                    && e["activity_type"] == "Accept"
                    && e["signature"]["spec"] == standard_name(spec)
                    && e["signature"]["key_id"]
                        .as_str()
                        .is_some_and(|id| id.ends_with("#ed25519-key"))
            })
            .await?;
        }
        Ok(())
    })
    .await
}

/// One combination.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// Our first knock.
    ours: Standard,
    /// The peer's first knock.
    theirs: Standard,
    /// We sign with our Ed25519 keys rather than the RSA ones.
    ed25519: bool,
    /// We require signed fetches, and the peer signs its own.
    authorized_fetch: bool,
}

impl Case {
    fn new(ours: Standard, theirs: Standard) -> Self {
        Self {
            ours,
            theirs,
            ed25519: false,
            authorized_fetch: false,
        }
    }

    fn with_authorized_fetch(self) -> Self {
        Self {
            authorized_fetch: true,
            ..self
        }
    }

    fn with_ed25519(self) -> Self {
        Self {
            ed25519: true,
            ..self
        }
    }
}

/// The whole flow in `case`.
async fn check(case: Case) -> Result<()> {
    with_instance_and_peer(case, async |running, dir, peer| {
        flow(running, dir, peer, case).await
    })
    .await
}

/// Installs the peer, starts our instance (its database in a temporary directory) and the peer
/// for `case`, runs `test` on them, and stops both.
async fn with_instance_and_peer(
    case: Case,
    test: impl AsyncFnOnce(&Running, &Path, &mut Peer) -> Result<()>,
) -> Result<()> {
    init_tracing();
    fedify::install().await?;
    let dir = tempfile::tempdir()?;
    let running = start_instance(dir.path(), case).await?;
    let mut peer =
        Peer::spawn(FedifyOptions::new(case.theirs).with_sign_fetches(case.authorized_fetch))
            .await?;
    let outcome = test(&running, dir.path(), &mut peer).await;
    // Shown on failure, and with `--nocapture`.
    println!("{}", peer.transcript());
    peer.quit().await;
    tokio::time::timeout(WAIT, running.stop())
        .await
        .context("stopping the instance timed out")??;
    outcome
}

async fn flow(running: &Running, dir: &Path, peer: &mut Peer, case: Case) -> Result<()> {
    let instance = &running.instance;
    let admin = admin_of(running, dir, INSTANCE);
    let organizer = Client::from_identity(&admin.create_identity("organizer").await?)?;
    let group = admin.create_group("hikers", "organizer").await?;
    let group = group["actor"].as_str().context("no group id")?.to_owned();

    // 1. The peer follows the group; we record it and Accept.
    let done = peer
        .command(json!({"cmd": "follow", "target": group}))
        .await?;
    check_first_knock(&done, case)?;
    let follow_id = done["id"].as_str().context("no Follow id")?.to_owned();
    eventually(
        WAIT,
        "the group to record the peer as a follower",
        || async {
            Ok(instance
                .followers_of("hikers")
                .await?
                .iter()
                .any(|f| f == peer.actor())
                .then_some(()))
        },
    )
    .await?;
    let accept = peer
        .expect("the Accept of the Follow", |e| {
            received(e, "Accept") && e["object_id"] == follow_id.as_str()
        })
        .await?;
    ensure!(
        accept["actor"] == group.as_str() && accept["object_type"] == "Follow",
        "the Accept of the Follow is not by the group, or does not embed the Follow: {accept}"
    );
    check_signature(&accept, case)?;

    // 2. The group's admin publishes an event; the peer, a follower, receives its Create.
    let create = organizer
        .post(json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": EVENT_NAME,
                "content": "<p>Twelve kilometres, a picnic at the top.</p>",
                "startTime": EVENT_START,
                "endTime": "2031-10-04T16:00:00+02:00",
                "attributedTo": group,
            }
        }))
        .await?;
    let create_id = create["id"].as_str().context("no Create id")?.to_owned();
    let event_id = create["object"]["id"]
        .as_str()
        .context("no event id")?
        .to_owned();
    let created = peer
        .expect("the Create of the event", |e| {
            received(e, "Create") && e["id"] == create_id.as_str()
        })
        .await?;
    ensure!(
        created["actor"] == organizer.actor.as_str(),
        "the Create is not by the organizer: {created}"
    );
    check_signature(&created, case)?;
    let event = &created["object"]["object"];
    ensure!(
        created["object_type"] == "Event" && event["id"] == event_id.as_str(),
        "Fedify did not read the Create's object as our Event: {created}"
    );
    ensure!(
        event["name"] == EVENT_NAME,
        "the event's name did not survive: {event}"
    );
    let start = event["startTime"]
        .as_str()
        .context("the event's startTime did not survive")?;
    ensure!(
        OffsetDateTime::parse(start, &Rfc3339)? == OffsetDateTime::parse(EVENT_START, &Rfc3339)?,
        "Fedify read startTime {start}, we sent {EVENT_START}"
    );

    // 3. The peer joins; the event is free to join, so the organizer Accepts at once, and
    // sends the event's new participant count (an Update) to its audience.
    let done = peer
        .command(json!({"cmd": "join", "object": event_id, "to": organizer.actor}))
        .await?;
    check_first_knock(&done, case)?;
    let join_id = done["id"].as_str().context("no Join id")?.to_owned();
    let accept = peer
        .expect("the Accept of the Join", |e| {
            received(e, "Accept") && e["object_id"] == join_id.as_str()
        })
        .await?;
    ensure!(
        accept["actor"] == organizer.actor.as_str(),
        "the Accept of the Join is not by the organizer: {accept}"
    );
    check_signature(&accept, case)?;
    wait_participation(instance, &event_id, peer.actor(), "accepted").await?;
    ensure!(
        instance.participant_count(&event_id).await? == Some(1),
        "the event does not count one participant"
    );
    let update = peer
        .expect("the Update of the event after the Join", |e| {
            received(e, "Update") && e["object_id"] == event_id.as_str()
        })
        .await?;
    check_signature(&update, case)?;
    let first_update = update["id"].clone();

    // 4. Fedify reads the event's own document too (with a signed GET in authorized-fetch
    // mode, which an unsigned one does not pass).
    let done = peer
        .command(json!({"cmd": "lookup", "url": event_id}))
        .await?;
    ensure!(
        done["type"] == "Event" && done["object"]["name"] == EVENT_NAME,
        "Fedify did not read our event document as the Event: {done}"
    );
    if case.authorized_fetch {
        let done = peer
            .try_command(json!({"cmd": "lookup", "url": event_id, "signed": false}))
            .await?;
        ensure!(
            done["ok"] == false,
            "an unsigned GET read the event in authorized-fetch mode: {done}"
        );
    }

    // 5. A restricted event: the Join waits until the organizer accepts it.
    let create = organizer
        .post(json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": "Ridge walk, by approval",
                "startTime": EVENT_START,
                "joinMode": "restricted",
                "attributedTo": group,
            }
        }))
        .await?;
    let create_id = create["id"].as_str().context("no Create id")?.to_owned();
    let restricted = create["object"]["id"]
        .as_str()
        .context("no event id")?
        .to_owned();
    peer.expect("the Create of the restricted event", |e| {
        received(e, "Create") && e["id"] == create_id.as_str()
    })
    .await?;
    let done = peer
        .command(json!({"cmd": "join", "object": restricted, "to": organizer.actor}))
        .await?;
    let join_id = done["id"].as_str().context("no Join id")?.to_owned();
    wait_participation(instance, &restricted, peer.actor(), "pending").await?;
    organizer
        .post(json!({"type": "Accept", "object": join_id}))
        .await?;
    let accept = peer
        .expect("the organizer's Accept of the Join", |e| {
            received(e, "Accept") && e["object_id"] == join_id.as_str()
        })
        .await?;
    ensure!(
        accept["actor"] == organizer.actor.as_str(),
        "the Accept of the Join is not by the organizer: {accept}"
    );
    check_signature(&accept, case)?;
    wait_participation(instance, &restricted, peer.actor(), "accepted").await?;
    peer.expect("the Update of the restricted event", |e| {
        received(e, "Update") && e["object_id"] == restricted.as_str()
    })
    .await?;

    // 6. The peer leaves the first event.
    peer.command(json!({"cmd": "leave", "object": event_id, "to": organizer.actor}))
        .await?;
    wait_participation(instance, &event_id, peer.actor(), "left").await?;
    ensure!(
        instance.participant_count(&event_id).await? == Some(0),
        "the event still counts a participant after the Leave"
    );
    peer.expect("the Update of the event after the Leave", |e| {
        received(e, "Update") && e["object_id"] == event_id.as_str() && e["id"] != first_update
    })
    .await?;

    // 7. Our organizer follows the peer, which Accepts (its Accept embeds our Follow).
    let follow = organizer
        .post(json!({"type": "Follow", "object": peer.actor()}))
        .await?;
    let follow_id = follow["id"].as_str().context("no Follow id")?.to_owned();
    let followed = peer
        .expect("our Follow", |e| {
            received(e, "Follow") && e["id"] == follow_id.as_str()
        })
        .await?;
    check_signature(&followed, case)?;
    let sent = peer
        .expect("the peer's Accept of our Follow", |e| {
            e["event"] == "sent" && e["object_id"] == follow_id.as_str()
        })
        .await?;
    ensure!(
        sent["ok"] == true,
        "the peer could not deliver its Accept: {sent}"
    );
    check_first_knock(&sent, case)?;
    let peer_actor = peer.actor().to_owned();
    eventually(WAIT, "our Follow of the peer to be accepted", || async {
        Ok((instance
            .following_state("organizer", &peer_actor)
            .await?
            .as_deref()
            == Some("accepted"))
        .then_some(()))
    })
    .await?;

    // Nothing was refused along the way (a refused first knock included).
    let refused = peer.refusals();
    ensure!(refused.is_empty(), "the peer refused requests: {refused:?}");
    Ok(())
}

/// Waits until `actor`'s participation in `event` is in `state`.
async fn wait_participation(
    instance: &Instance,
    event: &str,
    actor: &str,
    state: &str,
) -> Result<()> {
    eventually(
        WAIT,
        &format!("the participation to be {state}"),
        || async {
            Ok(
                (instance.participation_state(event, actor).await?.as_deref() == Some(state))
                    .then_some(()),
            )
        },
    )
    .await
}

/// Our inbox took the peer's delivery at the first knock it tried.
///
/// That knock is the peer's first knock, except in authorized-fetch mode: Fedify 2.3 signs the
/// `@target-uri` of a GET with the URL's fragment (`…/actors/hikers#main-key` when it fetches a
/// key), which is not part of the request, so our routes refuse its RFC 9421 GETs of key ids
/// and it falls back to draft-cavage, which it then remembers for our origin and uses for its
/// deliveries too (see `docs/interop-fedify.md`).
fn check_first_knock(done: &Value, case: Case) -> Result<()> {
    let theirs = standard_name(case.theirs);
    ensure!(
        done["knocks"] == json!([]),
        "our inbox refused the peer's first knock: {done}"
    );
    ensure!(
        case.authorized_fetch || done["signed_with"] == theirs,
        "the peer did not sign with its first knock ({theirs}): {done}"
    );
    Ok(())
}

/// Fedify verified the HTTP signature of what we sent, made with our first knock and the key
/// of `case`.
fn check_signature(received: &Value, case: Case) -> Result<()> {
    let key = if case.ed25519 {
        "#ed25519-key"
    } else {
        "#main-key"
    };
    fedify::check_signature(received, case.ours, key)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Our instance on loopback, with embedded SQLite in `dir`, set up for `case`.
async fn start_instance(dir: &Path, case: Case) -> Result<Running> {
    let database = dir.join(format!("{INSTANCE}.sqlite"));
    let options = Options::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        database.to_string_lossy().into_owned(),
    )
    .with_name(INSTANCE)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true)
    .with_first_knock(case.ours)
    .with_ed25519_signatures(case.ed25519)
    .with_authorized_fetch(case.authorized_fetch);
    start(options).await
}

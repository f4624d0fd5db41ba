//! Two instances in one process, federating over loopback: follow, publish, join with approval,
//! capacity reached, comment, Update and Delete propagated, participant counts equal.

use std::time::Duration;

use events_instance::demo::{Client, admin_of, eventually, loopback_instance};
use serde_json::json;

use crate::support::authorized_fetch_instance;

const WAIT: Duration = Duration::from_secs(30);

/// Waits until `at` shows `actor`'s participation in `event` (or membership request of a group)
/// in `state`.
async fn wait_for_participation(
    at: &events_instance::Running,
    event: &str,
    actor: &str,
    state: &str,
    what: &str,
) -> anyhow::Result<()> {
    eventually(WAIT, what, || async {
        let now = at.instance.participation_state(event, actor).await?;
        Ok((now.as_deref() == Some(state)).then_some(()))
    })
    .await
}

/// Waits until local actor `name`'s follow of `target` at `at` is in `state`.
async fn wait_for_following(
    at: &events_instance::Running,
    name: &str,
    target: &str,
    state: &str,
    what: &str,
) -> anyhow::Result<()> {
    eventually(WAIT, what, || async {
        let now = at.instance.following_state(name, target).await?;
        Ok((now.as_deref() == Some(state)).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_federate_an_event_from_follow_to_delete() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let beta = loopback_instance(dir.path(), "beta").await?;
    let alpha_admin = admin_of(&alpha, dir.path(), "alpha");
    let beta_admin = admin_of(&beta, dir.path(), "beta");
    let alice = Client::from_identity(&alpha_admin.create_identity("alice").await?)?;
    let bob = Client::from_identity(&alpha_admin.create_identity("bob").await?)?;
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;
    let group = beta_admin.create_group("hikers", "organizer").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();

    // Follow: Beta records the follower, Alpha the Accept.
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
    wait_for_following(&alpha, "alice", &group, "accepted", "the Accept at alpha").await?;

    // Publish: a restricted event with room for one.
    let create = organizer
        .post(json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": "Ridge walk",
                "content": "<p>Bring water.</p><script>alert(1)</script>",
                "startTime": "2031-10-04T09:00:00+02:00",
                "endTime": "2031-10-04T16:00:00+02:00",
                "timezone": "Europe/Paris",
                "joinMode": "restricted",
                "maximumAttendeeCapacity": 1,
                "attributedTo": group,
                "location": {"type": "Place", "name": "Col de la Croix",
                    "address": {"type": "PostalAddress", "addressLocality": "Thônes"}}
            }
        }))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    assert!(
        event.starts_with(beta.base_url.as_str()),
        "the server assigns ids: {event}"
    );
    let received = eventually(WAIT, "the event at alpha", || async {
        alpha.instance.stored_object(&event).await
    })
    .await?;
    assert_eq!(received["name"], "Ridge walk");
    assert_eq!(received["attributedTo"], group.as_str());
    assert_eq!(received["joinMode"], "restricted");
    let content = received["content"].as_str().unwrap();
    assert!(
        content.contains("Bring water") && !content.contains("<script"),
        "{content}"
    );
    // What Mastodon falls back to: a name, a summary and an HTML url.
    assert!(
        received["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Col de la Croix"))
    );
    assert_eq!(received["url"], event.as_str());

    // Join with approval.
    let join = alice.post(json!({"type": "Join", "object": event})).await?;
    let join_id = join["id"].as_str().unwrap().to_owned();
    wait_for_participation(
        &beta,
        &event,
        &alice.actor,
        "pending",
        "the pending Join at beta",
    )
    .await?;
    assert_eq!(
        alpha
            .instance
            .participation_state(&event, &alice.actor)
            .await?
            .as_deref(),
        Some("pending")
    );
    // Only an organizer decides.
    let (status, _) = alice
        .post_raw(&json!({"type": "Accept", "object": join_id}))
        .await?;
    assert_eq!(status, 404, "alice has no local event to decide on");
    organizer
        .post(json!({"type": "Accept", "object": join_id}))
        .await?;
    wait_for_participation(
        &alpha,
        &event,
        &alice.actor,
        "accepted",
        "the Accept at alpha",
    )
    .await?;
    eventually(WAIT, "equal participant counts", || async {
        let here = alpha.instance.participant_count(&event).await?;
        let there = beta.instance.participant_count(&event).await?;
        Ok((here == Some(1) && there == Some(1)).then_some(()))
    })
    .await?;

    // Capacity reached: the next Join is rejected without waiting for an organizer.
    bob.post(json!({"type": "Join", "object": event})).await?;
    wait_for_participation(
        &alpha,
        &event,
        &bob.actor,
        "rejected",
        "the Reject at alpha",
    )
    .await?;
    assert_eq!(
        beta.instance
            .participation_state(&event, &bob.actor)
            .await?
            .as_deref(),
        Some("rejected")
    );
    assert_eq!(beta.instance.participant_count(&event).await?, Some(1));
    assert_eq!(alpha.instance.participant_count(&event).await?, Some(1));

    // A comment, and a reply to it from the organizer.
    let comment = alice
        .post(json!({"type": "Note", "inReplyTo": event, "content": "<p>Parking at the col?</p>"}))
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
    let reply = organizer
        .post(json!({"type": "Note", "inReplyTo": comment_id, "content": "<p>Yes, free.</p>"}))
        .await?;
    let reply_id = reply["object"]["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the reply at alpha", || async {
        Ok(alpha
            .instance
            .comment_ids(&event)
            .await?
            .contains(&reply_id)
            .then_some(()))
    })
    .await?;

    // The event page at beta shows the event and both comments; its calendar exports.
    let http = reqwest::Client::builder().no_proxy().build()?;
    let page = http
        .get(&event)
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    let page = page.text().await?;
    assert!(
        page.contains("Ridge walk")
            && page.contains("Parking at the col?")
            && page.contains("Yes, free.")
    );
    let ics = http.get(format!("{event}/calendar.ics")).send().await?;
    assert_eq!(ics.status(), 200);
    let ics = ics.text().await?;
    assert!(ics.contains("DTSTART:20311004T070000Z"), "{ics}");
    let group_ics = http
        .get(format!("{group}/calendar.ics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(group_ics.contains("SUMMARY:Ridge walk"), "{group_ics}");

    // Update propagates.
    let mut changed = received.clone();
    changed["name"] = json!("Ridge walk (new time)");
    changed["startTime"] = json!("2031-10-04T10:00:00+02:00");
    organizer
        .post(json!({"type": "Update", "object": changed}))
        .await?;
    eventually(WAIT, "the Update at alpha", || async {
        let doc = alpha.instance.stored_object(&event).await?;
        Ok(doc
            .filter(|d| d["name"] == "Ridge walk (new time)")
            .map(|_| ()))
    })
    .await?;

    // Delete propagates; the object answers 410 with a Tombstone.
    organizer
        .post(json!({"type": "Delete", "object": event}))
        .await?;
    eventually(WAIT, "the Delete at alpha", || async {
        Ok(alpha.instance.is_deleted(&event).await?.then_some(()))
    })
    .await?;
    let gone = http
        .get(&event)
        .header("accept", "application/activity+json")
        .send()
        .await?;
    assert_eq!(gone.status(), 410);
    let tombstone: serde_json::Value = serde_json::from_slice(&gone.bytes().await?)?;
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(tombstone["formerType"], "Event");

    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_refuses_strangers_and_nonsense() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let alice = admin.create_identity("alice").await?;
    let bob = Client::from_identity(&admin.create_identity("bob").await?)?;
    let alice_actor = alice["actor"].as_str().unwrap();
    // Bob's token on Alice's outbox.
    let impostor = Client::new(alice_actor, bob_token(&bob))?;
    let (status, _) = impostor
        .post_raw(&json!({"type": "Note", "inReplyTo": "x", "content": "hi"}))
        .await?;
    assert_eq!(status, 403);
    // No token.
    let anonymous = reqwest::Client::builder().no_proxy().build()?;
    let status = anonymous
        .post(format!("{alice_actor}/outbox"))
        .body("{}")
        .send()
        .await?
        .status();
    assert_eq!(status, 401);
    let alice = Client::from_identity(&alice)?;
    for (body, expected) in [
        (json!({"type": "Create", "object": {"type": "Event"}}), 400),
        (
            json!({"type": "Create", "object": {"type": "Event", "name": "x", "startTime": "tomorrow"}}),
            400,
        ),
        (
            json!({"type": "Join", "object": format!("{}events/nope", alpha.base_url)}),
            404,
        ),
        (json!({"type": "Dance"}), 400),
        (json!([1, 2]), 400),
    ] {
        let (status, answer) = alice.post_raw(&body).await?;
        assert_eq!(status, expected, "{body} → {answer}");
    }
    // A group event needs a moderator of the group.
    let group = admin.create_group("club", "bob").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = alice
        .post_raw(
            &json!({"type": "Create", "object": {"type": "Event", "name": "x",
            "startTime": "2031-01-01T10:00:00Z", "attributedTo": group}}),
        )
        .await?;
    assert_eq!(status, 403);
    assert_eq!(alpha.instance.stored_object_count().await?, 0);
    alpha.stop().await?;
    Ok(())
}

fn bob_token(bob: &Client) -> String {
    bob.token().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_take_members_by_request_and_by_invitation() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let beta = loopback_instance(dir.path(), "beta").await?;
    let alpha_admin = admin_of(&alpha, dir.path(), "alpha");
    let beta_admin = admin_of(&beta, dir.path(), "beta");
    let alice = Client::from_identity(&alpha_admin.create_identity("alice").await?)?;
    let bob = Client::from_identity(&alpha_admin.create_identity("bob").await?)?;
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;
    let group = beta_admin.create_group("hikers", "organizer").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();

    // By request: pending until a moderator accepts.
    let join = alice.post(json!({"type": "Join", "object": group})).await?;
    let join_id = join["id"].as_str().unwrap().to_owned();
    eventually(WAIT, "the request at beta", || async {
        let role = beta.instance.member_role("hikers", &alice.actor).await?;
        Ok((role.as_deref() == Some("not_approved")).then_some(()))
    })
    .await?;
    assert_eq!(
        alpha
            .instance
            .participation_state(&group, &alice.actor)
            .await?
            .as_deref(),
        Some("pending")
    );
    // A non-member cannot decide.
    let (status, _) = bob
        .post_raw(&json!({"type": "Accept", "object": join_id}))
        .await?;
    assert_eq!(status, 404, "bob's instance has no such request");
    organizer
        .post(json!({"type": "Accept", "object": join_id}))
        .await?;
    assert_eq!(
        beta.instance
            .member_role("hikers", &alice.actor)
            .await?
            .as_deref(),
        Some("member")
    );
    wait_for_participation(
        &alpha,
        &group,
        &alice.actor,
        "accepted",
        "the Accept at alpha",
    )
    .await?;

    // By invitation: the invitee answers.
    let invite = organizer
        .post(json!({"type": "Invite", "object": group, "target": bob.actor}))
        .await?;
    let invite_id = invite["id"].as_str().unwrap().to_owned();
    assert_eq!(
        beta.instance
            .member_role("hikers", &bob.actor)
            .await?
            .as_deref(),
        Some("invited")
    );
    wait_for_participation(
        &alpha,
        &group,
        &bob.actor,
        "invited",
        "the invitation at alpha",
    )
    .await?;
    // Only the invitee answers.
    let (status, _) = alice
        .post_raw(&json!({"type": "Accept", "object": invite_id}))
        .await?;
    assert_eq!(status, 403);
    bob.post(json!({"type": "Accept", "object": invite_id}))
        .await?;
    eventually(WAIT, "bob a member at beta", || async {
        let role = beta.instance.member_role("hikers", &bob.actor).await?;
        Ok((role.as_deref() == Some("member")).then_some(()))
    })
    .await?;

    // An invite-only group refuses requests; an open one takes them at once.
    beta_admin.create_group("secret", "organizer").await?;
    beta_admin
        .set_group_openness("secret", "invite_only")
        .await?;
    let secret = format!("{}actors/secret", beta.base_url);
    alice
        .post(json!({"type": "Join", "object": secret}))
        .await?;
    wait_for_participation(
        &alpha,
        &secret,
        &alice.actor,
        "rejected",
        "the Reject at alpha",
    )
    .await?;
    assert_eq!(
        beta.instance.member_role("secret", &alice.actor).await?,
        None
    );
    beta_admin.create_group("open", "organizer").await?;
    beta_admin.set_group_openness("open", "open").await?;
    let open = format!("{}actors/open", beta.base_url);
    alice.post(json!({"type": "Join", "object": open})).await?;
    wait_for_participation(
        &alpha,
        &open,
        &alice.actor,
        "accepted",
        "the Accept at alpha",
    )
    .await?;
    assert_eq!(
        beta.instance
            .member_role("open", &alice.actor)
            .await?
            .as_deref(),
        Some("member")
    );
    // Leaving.
    alice.post(json!({"type": "Leave", "object": open})).await?;
    eventually(WAIT, "alice gone from the group", || async {
        Ok(beta
            .instance
            .member_role("open", &alice.actor)
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_instance_announces_its_public_events() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    // Beta signs with its Ed25519 keys: alpha verifies them through `assertionMethod`.
    let beta = events_instance::start(
        events_instance::Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path()
                .join("beta.sqlite")
                .to_string_lossy()
                .into_owned(),
        )
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true)
        .with_ed25519_signatures(true),
    )
    .await?;
    let beta_admin = admin_of(&beta, dir.path(), "beta");
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;

    // Alpha's instance actor follows beta, found from beta's base URL through NodeInfo.
    let followed = admin_of(&alpha, dir.path(), "alpha")
        .follow_instance(&beta.base_url)
        .await?;
    let beta_instance = format!("{}actors/instance", beta.base_url);
    assert_eq!(followed["target"], beta_instance.as_str());
    let alpha_instance = format!("{}actors/instance", alpha.base_url);
    eventually(WAIT, "alpha's instance among beta's followers", || async {
        Ok(beta
            .instance
            .followers_of("instance")
            .await?
            .contains(&alpha_instance)
            .then_some(()))
    })
    .await?;
    wait_for_following(
        &alpha,
        "instance",
        &beta_instance,
        "accepted",
        "the Accept at alpha",
    )
    .await?;

    // A public event of someone alpha does not follow reaches alpha through the Announce.
    let create = organizer
        .post(json!({"type": "Event", "name": "Open day", "startTime": "2031-05-01T10:00:00Z"}))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let stored = eventually(WAIT, "the announced event at alpha", || async {
        alpha.instance.stored_object(&event).await
    })
    .await?;
    assert_eq!(stored["name"], "Open day");
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_acts_as_each_of_its_identities() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let work = admin.create_identity("alice_work").await?;
    let token = work["token"].as_str().unwrap().to_owned();
    let home = admin.add_identity("alice_home", &token).await?;
    assert_eq!(home["token"], token.as_str());
    assert!(admin.add_identity("mallory", "not-a-token").await.is_err());
    let other = admin.create_identity("bob").await?;
    assert_ne!(other["token"], token.as_str());
    let as_home = Client::new(home["actor"].as_str().unwrap(), &token)?;
    let as_work = Client::new(work["actor"].as_str().unwrap(), &token)?;
    for client in [&as_home, &as_work] {
        client
            .post(json!({"type": "Event", "name": "x", "startTime": "2031-01-01T10:00:00Z"}))
            .await?;
    }
    // The account's token does not act for someone else's identity.
    let as_bob = Client::new(other["actor"].as_str().unwrap(), &token)?;
    let (status, _) = as_bob
        .post_raw(&json!({"type": "Event", "name": "x", "startTime": "2031-01-01T10:00:00Z"}))
        .await?;
    assert_eq!(status, 403);
    assert_eq!(alpha.instance.stored_object_count().await?, 2);
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_in_authorized_fetch_mode_federate_with_signed_fetches() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = authorized_fetch_instance(dir.path(), "alpha").await?;
    let beta = authorized_fetch_instance(dir.path(), "beta").await?;
    let alice = Client::from_identity(
        &admin_of(&alpha, dir.path(), "alpha")
            .create_identity("alice")
            .await?,
    )?;
    let beta_admin = admin_of(&beta, dir.path(), "beta");
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;
    let group = beta_admin.create_group("hikers", "organizer").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    // Anonymous readers get nothing but the instance actor (and web pages).
    let http = reqwest::Client::builder().no_proxy().build()?;
    let get = |url: String| {
        let http = http.clone();
        async move {
            http.get(url)
                .header("accept", "application/activity+json")
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    assert_eq!(get(group.clone()).await?, 401);
    assert_eq!(get(format!("{group}/followers")).await?, 401);
    assert_eq!(get(format!("{}actors/instance", beta.base_url)).await?, 200);

    // Fetching actors and keys goes through signed GETs: everything still federates.
    alice
        .post(json!({"type": "Follow", "object": group}))
        .await?;
    wait_for_following(&alpha, "alice", &group, "accepted", "the Accept at alpha").await?;
    let create = organizer
        .post(
            json!({"type": "Event", "name": "Quiet walk", "startTime": "2031-05-01T10:00:00Z",
            "attributedTo": group}),
        )
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    assert_eq!(get(event.clone()).await?, 401);
    eventually(WAIT, "the event at alpha", || async {
        alpha.instance.stored_object(&event).await
    })
    .await?;
    alice.post(json!({"type": "Join", "object": event})).await?;
    wait_for_participation(
        &alpha,
        &event,
        &alice.actor,
        "accepted",
        "the participation at alpha",
    )
    .await?;
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_an_unknown_thread_brings_its_ancestors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let beta = loopback_instance(dir.path(), "beta").await?;
    let gamma = loopback_instance(dir.path(), "gamma").await?;
    let alice = Client::from_identity(
        &admin_of(&alpha, dir.path(), "alpha")
            .create_identity("alice")
            .await?,
    )?;
    let organizer = Client::from_identity(
        &admin_of(&beta, dir.path(), "beta")
            .create_identity("organizer")
            .await?,
    )?;
    let carol = Client::from_identity(
        &admin_of(&gamma, dir.path(), "gamma")
            .create_identity("carol")
            .await?,
    )?;

    let host = Client::from_identity(
        &admin_of(&beta, dir.path(), "beta")
            .create_identity("host")
            .await?,
    )?;

    // An event on beta by its host, a comment on it from gamma: alpha knows neither (alpha
    // follows the organizer below, and reads the organizer's outbox then, not the host's).
    let create = host
        .post(json!({"type": "Event", "name": "Choir rehearsal", "startTime": "2031-02-01T19:00:00Z"}))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let comment = carol
        .post(json!({"type": "Note", "inReplyTo": event, "content": "Which songs?"}))
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

    // Alice follows the organizer, whose reply then reaches alpha alone.
    alice
        .post(json!({"type": "Follow", "object": organizer.actor}))
        .await?;
    wait_for_following(
        &alpha,
        "alice",
        &organizer.actor,
        "accepted",
        "the Accept at alpha",
    )
    .await?;
    assert!(alpha.instance.stored_object(&event).await?.is_none());
    let reply = organizer
        .post(json!({"type": "Note", "inReplyTo": comment_id, "content": "The autumn programme."}))
        .await?;
    let reply_id = reply["object"]["id"].as_str().unwrap().to_owned();

    // Alpha fetched the chain up to the event: the event, the comment, then the reply.
    let comments = eventually(WAIT, "the thread at alpha", || async {
        let ids = alpha.instance.comment_ids(&event).await?;
        Ok(ids.contains(&reply_id).then_some(ids))
    })
    .await?;
    assert_eq!(comments, [comment_id, reply_id]);
    assert_eq!(
        alpha.instance.stored_object(&event).await?.unwrap()["name"],
        "Choir rehearsal"
    );
    alpha.stop().await?;
    beta.stop().await?;
    gamma.stop().await?;
    Ok(())
}

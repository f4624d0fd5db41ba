//! Who sees what: every page, calendar, document and collection shows its reader only what the
//! addressing of each object lets that reader see. Replies come as Mastodon sends them (the
//! fixture `mastodon/create-note.json` moved to a loopback peer, addressed three ways).

use std::time::Duration;

use events_instance::admin::Admin;
use events_instance::demo::{Client, admin_of, eventually, loopback_instance};
use events_instance::{Options, Running, start};
use serde_json::{Value, json};

use test_peer::Peer;

use crate::peer::{get_json, get_page};
use crate::postgres::{fresh_database, postgres_url};
use crate::support::authorized_fetch_instance;

const WAIT: Duration = Duration::from_secs(30);
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Mastodon's reply (`mastodon/create-note.json`, moved to `peer`) to `in_reply_to`, saying
/// `text`, addressed to `to` and `cc`; `n` tells the copies apart.
fn reply(peer: &Peer, n: u32, in_reply_to: &str, text: &str, to: Value, cc: Value) -> Value {
    let mut create = peer
        .fixture_from("mastodon/create-note.json", "https://mastodon.madrid")
        .unwrap();
    let note_id = format!("{}/users/felix/statuses/{n}", peer.origin());
    create["id"] = json!(format!("{note_id}/activity"));
    create["to"] = to.clone();
    create["cc"] = cc.clone();
    let note = &mut create["object"];
    note["id"] = json!(note_id);
    note["to"] = to;
    note["cc"] = cc;
    note["inReplyTo"] = json!(in_reply_to);
    note["content"] = json!(format!("<p>{text}</p>"));
    let object = note.as_object_mut().unwrap();
    for key in [
        "inReplyToAtomUri",
        "contentMap",
        "tag",
        "replies",
        "atomUri",
    ] {
        object.remove(key);
    }
    create
}

/// Delivers to the shared inbox of the instance `at`, signed by `author` (felix, an actor of
/// `peer`), three replies to `event` (see [`reply`], numbered 1 to 3), each `(text, to, cc)`,
/// and waits until `at` has stored them; gives them.
async fn deliver_replies(
    at: &Running,
    peer: &Peer,
    author: &str,
    event: &str,
    replies: [(&str, Value, Value); 3],
) -> anyhow::Result<[Value; 3]> {
    let mut n = 0;
    let replies = replies.map(|(text, to, cc)| {
        n += 1;
        reply(peer, n, event, text, to, cc)
    });
    let inbox = format!("{}inbox", at.base_url);
    for activity in &replies {
        peer.deliver(author, &inbox, activity).await?;
    }
    wait_for_comments(at, event, 3).await?;
    Ok(replies)
}

async fn wait_for_comments(at: &Running, event: &str, n: usize) -> anyhow::Result<Vec<String>> {
    eventually(WAIT, "the replies stored", || async {
        let ids = at.instance.comment_ids(event).await?;
        Ok((ids.len() == n).then_some(ids))
    })
    .await
}

fn items(page: &Value) -> Vec<String> {
    page["orderedItems"]
        .as_array()
        .unwrap_or_else(|| panic!("no orderedItems in {page}"))
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_readers_see_public_replies_and_activities_only() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let organizer = Client::from_identity(&admin.create_identity("organizer").await?)?;
    let bob = Client::from_identity(&admin.create_identity("bob").await?)?;
    let event = organizer
        .post(json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00+02:00"}))
        .await?["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let peer = Peer::start().await?;
    let felix = peer.actor("felix").await?;
    let followers = format!("{felix}/followers");
    // As Mastodon addresses its replies: unlisted (public in cc), followers-only, direct.
    let [unlisted, _, _] = deliver_replies(
        &alpha,
        &peer,
        &felix,
        &event,
        [
            ("Is it steep?", json!([followers]), json!([PUBLIC])),
            ("Only for my followers", json!([followers]), json!([])),
            (
                "Only for the organizer",
                json!([organizer.actor]),
                json!([]),
            ),
        ],
    )
    .await?;

    // The event's page.
    let (status, page) = get_page(&event, None).await?;
    assert_eq!(status, 200);
    assert!(page.contains("Is it steep?"), "{page}");
    assert!(!page.contains("Only for my followers"), "{page}");
    assert!(!page.contains("Only for the organizer"), "{page}");
    assert!(page.contains("Comments (1)"), "{page}");

    // Its replies collection.
    let (status, collection) = get_json(&format!("{event}/replies")).await?;
    assert_eq!(status, 200, "{collection}");
    assert_eq!(collection["type"], "OrderedCollection");
    assert_eq!(collection["totalItems"], 1);
    let (status, first) = get_json(collection["first"].as_str().unwrap()).await?;
    assert_eq!(status, 200);
    assert_eq!(items(&first), [unlisted["object"]["id"].as_str().unwrap()]);
    // Signed by their author, the same GET shows all three: a signature is identified outside
    // authorized-fetch mode too.
    let (_, first) = peer.get(&felix, &format!("{event}/replies?page=1")).await?;
    assert_eq!(items(&first).len(), 3, "{first}");

    // A participation is told to the organizer only: its activity, and the organizer's Accept,
    // are in the outboxes for them, not for everyone.
    let join = bob.post(json!({"type": "Join", "object": event})).await?;
    let join_id = join["id"].as_str().unwrap();
    eventually(WAIT, "bob accepted", || async {
        let state = alpha
            .instance
            .participation_state(&event, &bob.actor)
            .await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await?;
    let (status, _) = get_json(join_id).await?;
    assert_eq!(status, 404, "the Join is not public");
    let (_, outbox) = get_json(&format!("{}/outbox", bob.actor)).await?;
    assert_eq!(outbox["totalItems"], 0, "{outbox}");
    let (_, outbox) = get_json(&format!("{}/outbox?page=1", organizer.actor)).await?;
    let kinds: Vec<&str> = outbox["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"Accept"), "{outbox}");
    assert!(kinds.contains(&"Create"), "{outbox}");
    assert_eq!(outbox["totalItems"], kinds.len(), "{outbox}");
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_fetch_sees_what_is_addressed_to_its_signer() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = authorized_fetch_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let organizer = Client::from_identity(&admin.create_identity("organizer").await?)?;
    let group = admin.create_group("hikers", "organizer").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    admin.set_group_openness("hikers", "open").await?;
    let event = organizer
        .post(
            json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00+02:00",
            "attributedTo": group}),
        )
        .await?["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let peer = Peer::start().await?;
    let felix = peer.actor("felix").await?;
    let dana = peer.actor("dana").await?;
    let carol = peer.actor("carol").await?;
    let erin = peer.actor("erin").await?;
    let followers = format!("{felix}/followers");
    let inbox = format!("{}inbox", alpha.base_url);
    let [public, private, direct] = deliver_replies(
        &alpha,
        &peer,
        &felix,
        &event,
        [
            ("Is it steep?", json!([PUBLIC]), json!([followers])),
            ("Only for my followers", json!([followers]), json!([])),
            (
                "For the organizer and Dana",
                json!([organizer.actor, dana]),
                json!([]),
            ),
        ],
    )
    .await?;
    let id = |activity: &Value| activity["object"]["id"].as_str().unwrap().to_owned();

    // The replies collection: the author sees all of them, an addressee what names it, anyone
    // else the public one.
    let replies = format!("{event}/replies?page=1");
    for (reader, expected) in [
        (&felix, vec![id(&public), id(&private), id(&direct)]),
        (&dana, vec![id(&public), id(&direct)]),
        (&carol, vec![id(&public)]),
    ] {
        let (status, page) = peer.get(reader, &replies).await?;
        assert_eq!(status, 200, "{reader}: {page}");
        assert_eq!(items(&page), expected, "{reader}");
        assert_eq!(page["totalItems"], expected.len(), "{reader}");
    }

    // Erin takes part and joins the group: the participants and the members are shown to
    // those among them, their numbers to everyone.
    peer.deliver(
        &erin,
        &inbox,
        &json!({"id": format!("{erin}/join/1"), "type": "Join", "actor": erin, "object": event}),
    )
    .await?;
    peer.deliver(
        &erin,
        &inbox,
        &json!({"id": format!("{erin}/join/2"), "type": "Join", "actor": erin, "object": group}),
    )
    .await?;
    eventually(WAIT, "erin a participant and a member", || async {
        let participant = alpha.instance.participation_state(&event, &erin).await?;
        let member = alpha.instance.member_role("hikers", &erin).await?;
        Ok(
            (participant.as_deref() == Some("accepted") && member.as_deref() == Some("member"))
                .then_some(()),
        )
    })
    .await?;
    for (collection, count) in [
        (format!("{event}/participants"), 1),
        (format!("{group}/members"), 2),
    ] {
        let (status, root) = peer.get(&carol, &collection).await?;
        assert_eq!(status, 200, "{collection}: {root}");
        assert_eq!(root["totalItems"], count, "{collection}");
        let (_, page) = peer.get(&carol, &format!("{collection}?page=1")).await?;
        assert_eq!(items(&page), Vec::<String>::new(), "{collection} for carol");
        let (_, page) = peer.get(&erin, &format!("{collection}?page=1")).await?;
        assert!(
            items(&page).contains(&erin),
            "{collection} for erin: {page}"
        );
        assert_eq!(items(&page).len(), count, "{collection} for erin");
    }

    // The organizer's Accept of Erin's Join is addressed to Erin: in the organizer's outbox
    // for her, not for Carol.
    let outbox = format!("{}/outbox?page=1", organizer.actor);
    let accepts = |page: &Value| {
        page["orderedItems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "Accept")
            .count()
    };
    let (_, page) = peer.get(&erin, &outbox).await?;
    assert_eq!(accepts(&page), 1, "{page}");
    let (_, page) = peer.get(&carol, &outbox).await?;
    assert_eq!(accepts(&page), 0, "{page}");

    // A blind recipient may read what it was sent, though no document names it; whoever was
    // not sent it may not.
    let blind = organizer
        .post(json!({"type": "Create", "to": [carol], "bcc": [dana],
            "object": {"type": "Event", "name": "Surprise", "startTime": "2031-10-06T09:00:00Z"}}))
        .await?["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (reader, status) in [(&carol, 200), (&dana, 200), (&felix, 404)] {
        let (got, document) = peer.get(reader, &blind).await?;
        assert_eq!(got, status, "{reader}: {document}");
        assert!(document.get("bcc").is_none(), "{document}");
    }
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_calendars_show_each_reader_its_own() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let alice = Client::from_identity(&admin.create_identity("alice").await?)?;
    let bob = Client::from_identity(&admin.create_identity("bob").await?)?;
    let group = admin.create_group("hikers", "alice").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .post(
            json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00+02:00",
            "attributedTo": group}),
        )
        .await?;
    let inbox = format!("{}inbox", alpha.base_url);
    let peer = Peer::start().await?;
    let organizer = peer
        .actor_at("/@metacartes", "Person", "metacartes")
        .await?;

    // Alice follows a Mobilizon organizer, who publishes two events: one public, one for its
    // followers (Mobilizon's `create-event.json`, moved to the peer).
    let follow = alice
        .post(json!({"type": "Follow", "object": organizer}))
        .await?;
    let accept = json!({"id": format!("{organizer}/accepts/1"), "type": "Accept",
        "actor": organizer, "object": follow["id"]});
    peer.deliver(&organizer, &inbox, &accept).await?;
    eventually(WAIT, "the follow accepted", || async {
        let state = alpha.instance.following_state("alice", &organizer).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await?;
    let followers = format!("{organizer}/followers");
    for (n, name, to, cc) in [
        (1, "Open picnic", json!([PUBLIC]), json!([followers])),
        (2, "Followers picnic", json!([followers]), json!([])),
    ] {
        let mut create =
            peer.fixture_from("mobilizon/create-event.json", "https://mobilizon.fr")?;
        let id = format!("{}/events/{n}", peer.origin());
        create["id"] = json!(format!("{id}/activity"));
        create["to"] = to.clone();
        create["cc"] = cc.clone();
        let event = &mut create["object"];
        for (key, value) in [
            ("id", json!(id)),
            ("url", json!(id)),
            ("name", json!(name)),
            ("startTime", json!("2031-02-12T14:08:20Z")),
            ("to", to),
            ("cc", cc),
        ] {
            event[key] = value;
        }
        peer.deliver(&organizer, &inbox, &create).await?;
    }

    // The front page: anyone sees the public events; Alice, with her token, also the one for
    // the organizer's followers; Bob, who does not follow, does not.
    let front = alpha.base_url.as_str();
    let (_, page) = get_page(front, None).await?;
    assert!(
        page.contains("Open picnic") && page.contains("Ridge walk"),
        "{page}"
    );
    assert!(!page.contains("Followers picnic"));
    let (_, page) = get_page(front, Some(alice.token())).await?;
    assert!(page.contains("Followers picnic"));
    let (_, page) = get_page(front, Some(bob.token())).await?;
    assert!(page.contains("Open picnic"), "{page}");
    assert!(!page.contains("Followers picnic"));
    let (status, _) = get_page(front, Some("not-a-token")).await?;
    assert_eq!(status, 401);

    // The group's page and calendar list its own event, for anyone and with a token.
    let (_, page) = get_page(&group, None).await?;
    assert!(page.contains("Ridge walk"), "{page}");
    assert!(!page.contains("picnic"), "{page}");
    for token in [None, Some(alice.token())] {
        let (status, calendar) = get_page(&format!("{group}/calendar.ics"), token).await?;
        assert_eq!(status, 200);
        assert!(calendar.contains("SUMMARY:Ridge walk"), "{calendar}");
        assert!(!calendar.contains("picnic"), "{calendar}");
    }
    let (status, _) = get_page(&format!("{group}/calendar.ics"), Some("not-a-token")).await?;
    assert_eq!(status, 401);

    // Another account of the organizer's server cannot delete its event; the organizer can.
    let mallory = peer.actor_at("/@mallory", "Person", "mallory").await?;
    let delete_by = |actor: &str| {
        json!({"id": format!("{actor}/deletes/1"), "type": "Delete", "actor": actor,
            "object": format!("{}/events/1", peer.origin()), "to": [PUBLIC]})
    };
    peer.deliver(&mallory, &inbox, &delete_by(&mallory)).await?;
    let (_, page) = get_page(front, None).await?;
    assert!(
        page.contains("Open picnic"),
        "deleted by another account: {page}"
    );
    peer.deliver(&organizer, &inbox, &delete_by(&organizer))
        .await?;
    let (_, page) = get_page(front, None).await?;
    assert!(!page.contains("Open picnic"), "{page}");
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_only_event_is_shown_to_the_members_only() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    members_only(&alpha, &admin).await?;
    alpha.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_only_event_is_shown_to_the_members_only_on_postgresql() -> anyhow::Result<()> {
    let Some(server) = postgres_url() else {
        return Ok(());
    };
    let database = fresh_database(&server).await?;
    let alpha = start(
        Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            database.clone(),
        )
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true),
    )
    .await?;
    let admin = Admin::new(database)
        .with_base_url(Some(alpha.base_url.clone()))
        .with_danger_allow_private_addresses(true);
    members_only(&alpha, &admin).await?;
    alpha.stop().await
}

/// A group's public event and its members-only one, with a public comment and one for the
/// members, on every surface, for anyone, a member and a non-member.
async fn members_only(alpha: &Running, admin: &Admin) -> anyhow::Result<()> {
    let alice = Client::from_identity(&admin.create_identity("alice").await?)?;
    let bob = Client::from_identity(&admin.create_identity("bob").await?)?;
    let carol = Client::from_identity(&admin.create_identity("carol").await?)?;
    let group = admin.create_group("hikers", "alice").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    admin.add_member("hikers", "bob", "member").await?;
    let walk = alice
        .post(
            json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00Z",
            "attributedTo": group}),
        )
        .await?["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .post(json!({"type": "Note", "inReplyTo": walk, "content": "<p>See you there</p>"}))
        .await?;
    let members_comment = bob
        .post(json!({"type": "Create", "to": [format!("{group}/members")],
            "object": {"type": "Note", "inReplyTo": walk,
                "content": "<p>Members: bring the keys</p>"}}))
        .await?["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // As Mobilizon addresses a private group event: to the group's members.
    let create = alice
        .post(json!({"type": "Create", "to": [format!("{group}/members")],
            "object": {"type": "Event", "name": "Members meeting",
                "startTime": "2031-10-05T18:00:00Z", "attributedTo": group}}))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let event_ics = format!("{event}/calendar.ics");
    let group_ics = format!("{group}/calendar.ics");
    let front = alpha.base_url.as_str().to_owned();

    for (reader, token, member) in [
        ("anyone", None, false),
        ("alice", Some(alice.token()), true),
        ("bob", Some(bob.token()), true),
        ("carol", Some(carol.token()), false),
    ] {
        let (status, calendar) = get_page(&event_ics, token).await?;
        assert_eq!(
            status,
            if member { 200 } else { 404 },
            "{reader}: {calendar}"
        );
        let (status, calendar) = get_page(&group_ics, token).await?;
        assert_eq!(status, 200);
        assert!(
            calendar.contains("SUMMARY:Ridge walk"),
            "{reader}: {calendar}"
        );
        assert_eq!(
            calendar.contains("SUMMARY:Members meeting"),
            member,
            "{reader}: {calendar}"
        );
        let (_, page) = get_page(&front, token).await?;
        assert!(page.contains("Ridge walk"), "{reader}: {page}");
        assert_eq!(page.contains("Members meeting"), member, "{reader}: {page}");
    }
    // The event's page, its document, the group's page and the Create in the outbox: for
    // nobody who is not identified as a member.
    let (status, _) = get_page(&event, None).await?;
    assert_eq!(status, 404);
    let (status, _) = get_json(&event).await?;
    assert_eq!(status, 404);
    let (_, page) = get_page(&group, None).await?;
    assert!(
        page.contains("Ridge walk") && !page.contains("Members meeting"),
        "{page}"
    );
    let (_, outbox) = get_json(&format!("{}/outbox?page=1", alice.actor)).await?;
    assert!(!outbox.to_string().contains("Members meeting"), "{outbox}");
    assert_eq!(outbox["totalItems"], 2, "{outbox}");

    // Comments: the public one on the event's page and in its replies, the members' one not.
    let (_, page) = get_page(&walk, None).await?;
    assert!(page.contains("See you there"), "{page}");
    assert!(!page.contains("bring the keys"), "{page}");
    let (_, replies) = get_json(&format!("{walk}/replies?page=1")).await?;
    assert_eq!(items(&replies).len(), 1, "{replies}");
    let (status, _) = get_json(&members_comment).await?;
    assert_eq!(status, 404);
    Ok(())
}

//! PeerTube's videos and Mobilizon's events in the pod, from real payloads delivered signed by
//! test-peer's `Peer`: those of a followed channel or group show as cards in the stream and at
//! their page, a comment from the pod reaches their server addressed to their authors, the
//! origin's own comments thread under them, an unfollowed author's video is not kept, and an
//! `Announce` by a followed channel brings the video fetched from its origin.

use pod::Running;
use serde_json::{Value, json};
use test_peer::{Delivery, Peer};

use crate::support::{Session, eventually, person, pod, until_following};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// `follower` (local, named `name`) follows `followed` on the peer, which accepts.
async fn follow(a: &Running, peer: &Peer, name: &str, follower: &str, followed: &str) {
    a.instance.follow(name, followed).await.unwrap();
    let received = peer
        .wait_for("the Follow", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == json!(followed))
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow" && d.body["object"] == json!(followed))
        .unwrap()
        .body
        .clone();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{followed}#accepts/1"),
        "type": "Accept",
        "actor": followed,
        "object": follow,
    });
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    peer.deliver(followed, &inbox, &accept).await.unwrap();
    until_following(a, follower, followed).await;
}

/// The path of the pod's page of a remote post.
fn page_of(id: &str) -> String {
    format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish()
    )
}

/// The `Create` the pod sent with `inReplyTo` `object`.
fn comment_on(deliveries: &[Delivery], object: &str) -> Option<Value> {
    deliveries
        .iter()
        .find(|d| d.body["type"] == "Create" && d.body["object"]["inReplyTo"] == json!(object))
        .map(|d| d.body.clone())
}

fn holds(list: &Value, id: &str) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|item| item == id))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_followed_channel_s_video_and_group_s_event_show_as_cards_and_take_comments() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice_id = person(&a, "alice").await;
    let peer = Peer::start().await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();

    // PeerTube: the account sends the Create; its video is attributed to it and its channel,
    // which alice follows.
    let account = peer
        .actor_at("/accounts/framasoft", "Person", "framasoft")
        .await
        .unwrap();
    let channel = peer
        .actor_at(
            "/video-channels/bf54d359-cfad-4935-9d45-9d6be93f63e8",
            "Group",
            "framasoft_channel",
        )
        .await
        .unwrap();
    follow(&a, &peer, "alice", &alice_id, &channel).await;
    let create = peer
        .fixture_from("peertube/create-video.json", "https://framatube.org")
        .unwrap();
    let video = create["object"]["id"].as_str().unwrap().to_owned();
    peer.deliver(&account, &inbox, &create).await.unwrap();

    // Mobilizon: the organizer sends the Create of an event attributed to the group alice
    // follows (the fixture addresses the group's members; a public event, as the events
    // instance sends one, is addressed to the public and the group's followers).
    let group = peer.actor_at("/@group", "Group", "group").await.unwrap();
    let organizer = peer.actor_at("/@user", "Person", "user").await.unwrap();
    follow(&a, &peer, "alice", &alice_id, &group).await;
    let mut event_create = peer
        .fixture_from(
            "mobilizon/create-event-in-group.json",
            "http://mobilizon1.com",
        )
        .unwrap();
    for path in ["/to", "/object/to"] {
        *event_create.pointer_mut(path).unwrap() = json!([PUBLIC]);
    }
    for path in ["/cc", "/object/cc"] {
        *event_create.pointer_mut(path).unwrap() = json!([format!("{group}/followers")]);
    }
    let event = event_create["object"]["id"].as_str().unwrap().to_owned();
    peer.deliver(&organizer, &inbox, &event_create)
        .await
        .unwrap();

    let alice = Session::new(&a, "alice").await;
    eventually("the video and the event are in alice's stream", || async {
        let stream = alice.get("/").await.1;
        stream.contains("Déframasoftisons Internet [Framasoft]")
            && stream.contains("My first event")
    })
    .await;
    let (_, stream) = alice.get("/").await;
    let thumbnail = format!(
        "{}/static/thumbnails/6050732a-8a7a-43d4-a6cd-809525a1d206.jpg",
        peer.origin()
    );
    assert!(stream.contains(&format!("src=\"{thumbnail}\"")), "{stream}");
    assert!(
        stream.contains("Starts <time>2018-02-12 14:08 UTC</time>"),
        "{stream}"
    );
    // Shown under the channel and the group, whom alice follows.
    assert!(
        stream.contains("<strong>framasoft_channel</strong>"),
        "{stream}"
    );
    assert!(stream.contains("<strong>group</strong>"), "{stream}");

    // The video's page: its card, its description (PeerTube's Markdown, as text), a link to
    // its watch page (the url of type text/html).
    let (status, page) = alice.get(&page_of(&video)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("class=\"card card-video\""), "{page}");
    assert!(page.contains(&format!("href=\"{video}\"")), "{page}");
    assert!(page.contains("l’association Framasoft annonce"), "{page}");
    let (status, page) = alice.get(&page_of(&event)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("class=\"card card-event\""), "{page}");
    // Mobilizon's HTML, sanitized: the mention's link is kept.
    assert!(
        page.contains("href=\"https://framapiaf.org/users/tcit\""),
        "{page}"
    );

    // Alice comments on both from their pages' form: to the public, her followers and the
    // object's authors, delivered to the peer.
    let (status, _) = alice
        .post(
            "/posts/comment",
            &[("post", video.as_str()), ("text", "Great talk!")],
        )
        .await;
    assert_eq!(status, 303);
    a.instance
        .write_comment("alice", &event, "I will come.")
        .await
        .unwrap();
    let received = peer
        .wait_for("alice's comments", |d| {
            comment_on(d, &video).is_some() && comment_on(d, &event).is_some()
        })
        .await
        .unwrap();
    let on_video = comment_on(&received, &video).unwrap();
    assert_eq!(on_video["object"]["type"], "Note");
    assert!(holds(&on_video["to"], PUBLIC), "{on_video}");
    assert!(holds(&on_video["cc"], &account), "{on_video}");
    assert!(holds(&on_video["cc"], &channel), "{on_video}");
    assert!(
        holds(&on_video["cc"], &format!("{alice_id}/followers")),
        "{on_video}"
    );
    assert_eq!(on_video["object"]["to"], on_video["to"]);
    let on_event = comment_on(&received, &event).unwrap();
    assert!(holds(&on_event["cc"], &group), "{on_event}");
    assert!(holds(&on_event["cc"], &organizer), "{on_event}");

    // A PeerTube comment from the video's server (the fixture, answering the video) threads
    // under it, beside alice's.
    let commenter = peer
        .actor_at("/accounts/yoge6785555", "Person", "yoge")
        .await
        .unwrap();
    let mut note = peer
        .fixture_from("peertube/comment-note.json", "https://video.antopie.org")
        .unwrap();
    note["inReplyTo"] = json!(video);
    let reply = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activity", note["id"].as_str().unwrap()),
        "type": "Create",
        "actor": commenter,
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    });
    peer.deliver(&commenter, &inbox, &reply).await.unwrap();
    eventually("the origin's comment is under the video", || async {
        alice.get(&page_of(&video)).await.1.contains("2 comments")
    })
    .await;
    let (_, page) = alice.get(&page_of(&video)).await;
    assert!(page.contains("Great talk!"), "{page}");
    assert!(page.contains("idk"), "{page}");

    // The account updates the video (its channel's): the card follows.
    let mut update = create.clone();
    update["type"] = json!("Update");
    update["id"] = json!(format!("{video}/updates/1"));
    update["object"]["name"] = json!("Déframasoftisons Internet (new title)");
    peer.deliver(&account, &inbox, &update).await.unwrap();
    eventually("the new title", || async {
        alice.get("/").await.1.contains("(new title)")
    })
    .await;

    // And deletes it (PeerTube's Delete names the video by id): gone with its comments.
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{video}/delete"),
        "type": "Delete",
        "actor": account,
        "to": [PUBLIC],
        "object": video,
    });
    peer.deliver(&account, &inbox, &delete).await.unwrap();
    eventually("the video is gone", || async {
        !alice.get("/").await.1.contains("(new title)")
    })
    .await;
    assert_eq!(alice.get(&page_of(&video)).await.0, 404);
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfollowed_channel_s_video_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    let peer = Peer::start().await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    let account = peer
        .actor_at("/accounts/framasoft", "Person", "framasoft")
        .await
        .unwrap();
    peer.actor_at(
        "/video-channels/bf54d359-cfad-4935-9d45-9d6be93f63e8",
        "Group",
        "framasoft_channel",
    )
    .await
    .unwrap();
    let create = peer
        .fixture_from("peertube/create-video.json", "https://framatube.org")
        .unwrap();
    let video = create["object"]["id"].as_str().unwrap().to_owned();
    let status = peer.deliver(&account, &inbox, &create).await.unwrap();
    assert!((200..300).contains(&status), "{status}");
    // The delivery is handled before its answer: nothing was kept.
    let alice = Session::new(&a, "alice").await;
    assert_eq!(alice.get(&page_of(&video)).await.0, 404);
    assert!(a.instance.state().object(&video).await.unwrap().is_none());
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announce_by_a_followed_channel_brings_the_video_from_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice_id = person(&a, "alice").await;
    let peer = Peer::start().await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    peer.actor_at(
        "/accounts/thelinuxexperiment",
        "Person",
        "thelinuxexperiment",
    )
    .await
    .unwrap();
    let channel = peer
        .actor_at(
            "/video-channels/thelinuxexperiment_channel",
            "Group",
            "thelinuxexperiment_channel",
        )
        .await
        .unwrap();
    follow(&a, &peer, "alice", &alice_id, &channel).await;
    // The video is served at its id (PeerTube's tilvids.com, moved to the peer); the Announce
    // names it by id only.
    let video = peer
        .fixture_from("peertube/video.json", "https://tilvids.com")
        .unwrap();
    peer.serve(&video).unwrap();
    let announce = peer
        .fixture_from("peertube/announce-video.json", "https://tilvids.com")
        .unwrap();
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(announce["object"], json!(id));
    peer.deliver(&channel, &inbox, &announce).await.unwrap();

    let alice = Session::new(&a, "alice").await;
    eventually("the announced video is in alice's stream", || async {
        alice
            .get("/")
            .await
            .1
            .contains("Mesa, Wayland &amp; X.org in trouble")
    })
    .await;
    let (status, page) = alice.get(&page_of(&id)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("class=\"card card-video\""), "{page}");

    a.stop().await.unwrap();
}

/// Uploads the sample `vp8-vorbis.webm` (media-probe's test data) as `name` into `channel` on
/// the video instance with `token`; its id.
async fn upload(
    http: &reqwest::Client,
    tube: &video_instance::Running,
    token: &str,
    channel: &str,
    name: &str,
) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../media-probe/tests/data/vp8-vorbis.webm"
    );
    let bytes = std::fs::read(path).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("channel", channel.to_owned())
        .text("name", name.to_owned())
        .text("description", "Birds at the *estuary*.")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(bytes).file_name("birds.webm"),
        );
    let response = http
        .post(format!("{}api/v1/videos/upload", tube.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let uuid = answer["video"]["uuid"].as_str().unwrap();
    format!("{}videos/watch/{uuid}", tube.base_url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_person_follows_a_channel_of_the_video_instance_and_comments_on_its_upload() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice_id = person(&a, "alice").await;
    let database = dir.path().join("tube.sqlite").display().to_string();
    let mut options = video_instance::Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database.clone(),
    )
    .with_name("tube")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    options.app = options
        .app
        .clone()
        .with_transcoding(video_instance::Transcoding::Off);
    let tube = video_instance::start(options).await.unwrap();
    let vera = video_instance::admin::Admin::new(database)
        .with_base_url(Some(tube.base_url.clone()))
        .with_danger_allow_private_addresses(true)
        .create_account("vera")
        .await
        .unwrap();
    let channel = vera["channel"].as_str().unwrap().to_owned();

    // Alice follows vera's channel; the video instance accepts at once.
    a.instance.follow("alice", &channel).await.unwrap();
    until_following(&a, &alice_id, &channel).await;

    // Vera uploads: alice sees it in her stream, under the channel, and on its page.
    let http = reqwest::Client::new();
    let video = upload(
        &http,
        &tube,
        vera["token"].as_str().unwrap(),
        "vera_channel",
        "Curlews at dusk",
    )
    .await;
    let alice = Session::new(&a, "alice").await;
    eventually("the upload is in alice's stream", || async {
        alice.get("/").await.1.contains("Curlews at dusk")
    })
    .await;
    let (status, page) = alice.get(&page_of(&video)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("class=\"card card-video\""), "{page}");
    assert!(page.contains(&format!("href=\"{video}\"")), "{page}");

    // Alice comments from the page: the video instance threads it under the video.
    let (status, _) = alice
        .post(
            "/posts/comment",
            &[("post", video.as_str()), ("text", "Lovely birds")],
        )
        .await;
    assert_eq!(status, 303);
    let comments = format!("{video}/comments");
    eventually("the video instance lists alice's comment", || async {
        let Ok(response) = http
            .get(&comments)
            .header("accept", "application/activity+json")
            .send()
            .await
        else {
            return false;
        };
        let Ok(collection) = response.json::<Value>().await else {
            return false;
        };
        collection["totalItems"] == 1
    })
    .await;
    let (_, watch) = {
        let response = http
            .get(&video)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert!(watch.contains("Lovely birds"), "{watch}");
    tube.stop().await.unwrap();
    a.stop().await.unwrap();
}

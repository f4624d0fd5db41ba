//! The events instance, the video instance and two pods, each a `serve` process, with the
//! Fedify peer (`scripts/fedify-peer`) as an independent witness. Alice, on pod A, follows
//! vera's channel on the video instance and the hikers' group on the events instance, and
//! comments under vera's video and under the group's event; vera's and the organizer's answers
//! reach the pod, and so does vera's own comment on her video (sent to her channel's
//! followers). The two instances follow each other's instance actor. A Delete from each
//! reaches the others: alice's comments leave the video and the event, the video and the
//! event leave the pod, and the peer, which follows alice, the channel and the group, receives
//! all of them. Alice then moves to bob on pod B, whose archive import follows what she
//! followed: the channel and the group list bob, and the organizer, who followed alice, now
//! follows bob.

use std::path::Path;

use http_signatures::Standard;
use serde_json::{Value, json};
use test_peer::fedify::{self, FedifyOptions, FedifyPeer};

use crate::support::{
    Binary, Browser, Served, client, eventually, fetch, items, lists, outbox, page, witnessed,
};

/// The path of the pod's page of a remote post.
fn remote(id: &str) -> String {
    format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish()
    )
}

/// The id of the comment alice's outbox holds in reply to `parent`.
async fn comment_of(alice: &str, parent: &str) -> Option<String> {
    items(&format!("{alice}/outbox"))
        .await
        .iter()
        .find(|a| a["type"] == "Create" && a["object"]["inReplyTo"] == parent)
        .and_then(|a| a["object"]["id"].as_str())
        .map(str::to_owned)
}

/// Uploads media-probe's `vp8-vorbis.webm` into `channel` on `tube`; the video's uuid and id.
async fn upload(tube: &Served, token: &str, channel: &str, name: &str) -> (String, String) {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../media-probe/tests/data/vp8-vorbis.webm");
    let form = reqwest::multipart::Form::new()
        .text("channel", channel.to_owned())
        .text("name", name.to_owned())
        .text("description", "Filmed from the dyke.")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(std::fs::read(sample).unwrap()).file_name("birds.webm"),
        );
    let response = client()
        .post(tube.at("api/v1/videos/upload"))
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

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_federate_follows_comments_deletes_and_a_move() {
    fedify::install().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let events = Served::start(Binary::Events, dir, "events", &[]).await;
    let tube = Served::start(Binary::Video, dir, "tube", &["--no-transcoding"]).await;
    let pod_a = Served::start(Binary::Pod, dir, "pod-a", &[]).await;
    let pod_b = Served::start(Binary::Pod, dir, "pod-b", &[]).await;
    let mut peer = FedifyPeer::spawn(FedifyOptions::new(Standard::Rfc9421))
        .await
        .unwrap();

    // The people, made with each instance's `admin` command.
    let vera = tube.admin(&["create-account", "vera"]).await;
    tube.set_password("vera").await;
    let (vera_id, channel) = (
        vera["actor"].as_str().unwrap().to_owned(),
        vera["channel"].as_str().unwrap().to_owned(),
    );
    let organizer = events.admin(&["create-identity", "organizer"]).await;
    let (organizer_id, organizer_token) = (
        organizer["actor"].as_str().unwrap().to_owned(),
        organizer["token"].as_str().unwrap().to_owned(),
    );
    let group = events
        .admin(&[
            "create-group",
            "hikers",
            "--admin",
            "organizer",
            "--openness",
            "open",
        ])
        .await["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = pod_a.admin(&["create-account", "alice"]).await["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    pod_a.set_password("alice").await;
    let bob = pod_b.admin(&["create-account", "bob"]).await["actor"]
        .as_str()
        .unwrap()
        .to_owned();

    // Alice follows the channel and the group; both accept, and each side records it.
    for followed in [&channel, &group] {
        pod_a.admin(&["follow", "alice", followed]).await;
    }
    for followed in [&channel, &group] {
        eventually(&format!("{followed} lists alice"), || async {
            lists(&format!("{followed}/followers"), &alice)
                .await
                .then_some(())
        })
        .await;
        eventually(&format!("alice follows {followed}, accepted"), || async {
            lists(&format!("{alice}/following"), followed)
                .await
                .then_some(())
        })
        .await;
    }
    // The peer follows alice, the channel and the group; the organizer follows alice.
    for followed in [&alice, &channel, &group] {
        peer.command(json!({"cmd": "follow", "target": followed}))
            .await
            .unwrap_or_else(|error| panic!("{error:#}{}", peer.transcript()));
    }
    outbox(
        &organizer_id,
        &organizer_token,
        json!({"type": "Follow", "object": alice}),
    )
    .await;
    for followed in [&alice, &channel, &group] {
        eventually(&format!("{followed} lists the peer"), || async {
            lists(&format!("{followed}/followers"), peer.actor())
                .await
                .then_some(())
        })
        .await;
    }
    eventually("alice lists the organizer", || async {
        lists(&format!("{alice}/followers"), &organizer_id)
            .await
            .then_some(())
    })
    .await;

    // The events instance's instance actor follows the video instance's (whose instance
    // actor shares every new video with the instances that follow it, as PeerTube's does),
    // and the reverse (the events instance's shares its public events): both accepted.
    tube.admin(&["follow-instance", events.base.as_str()]).await;
    events.admin(&["follow-instance", tube.base.as_str()]).await;
    for (follower, followed) in [(&tube, &events), (&events, &tube)] {
        let (follower, followed) = (follower.instance_actor(), followed.instance_actor());
        eventually(&format!("{follower} follows {followed}"), || async {
            (lists(&format!("{followed}/followers"), &follower).await
                && lists(&format!("{follower}/following"), &followed).await)
                .then_some(())
        })
        .await;
    }

    // Vera uploads a video; the organizer publishes an event of the group. Both are in
    // alice's stream, and the peer has them (the channel's Announce, the organizer's Create).
    let (uuid, video) = upload(
        &tube,
        vera["token"].as_str().unwrap(),
        "vera_channel",
        "Curlews at dusk",
    )
    .await;
    let created = outbox(
        &organizer_id,
        &organizer_token,
        json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": "Autumn walk on the ridge",
                "content": "<p>Twelve kilometres, a picnic at the top.</p>",
                "startTime": "2031-10-04T09:00:00+02:00",
                "endTime": "2031-10-04T16:00:00+02:00",
                "attributedTo": group,
            }
        }),
    )
    .await;
    let event = created["object"]["id"].as_str().unwrap().to_owned();
    let alice_web = Browser::sign_in(&pod_a, "alice", "/compose").await;
    eventually("the video and the event in alice's stream", || async {
        let (_, stream) = alice_web.get("/").await;
        (stream.contains("Curlews at dusk") && stream.contains("Autumn walk on the ridge"))
            .then_some(())
    })
    .await;
    witnessed(&mut peer, "Announce", &channel, &video).await;
    witnessed(&mut peer, "Create", &organizer_id, &event).await;

    // Alice comments under both from the pod's pages; the video instance and the events
    // instance thread her comments.
    for (parent, text) in [(&video, "Lovely curlews"), (&event, "I will come.")] {
        let (status, location) = alice_web
            .post("/posts/comment", &[("post", parent), ("text", text)])
            .await;
        assert_eq!(status, 303, "{location}");
    }
    let on_video = eventually("alice's comment on the video", || {
        comment_of(&alice, &video)
    })
    .await;
    let on_event = eventually("alice's comment on the event", || {
        comment_of(&alice, &event)
    })
    .await;
    eventually("the video instance lists alice's comment", || async {
        lists(&format!("{video}/comments"), &on_video)
            .await
            .then_some(())
    })
    .await;
    eventually("the events instance lists alice's comment", || async {
        lists(&format!("{event}/replies"), &on_event)
            .await
            .then_some(())
    })
    .await;
    let (_, watch) = page(&video).await;
    assert!(watch.contains("Lovely curlews"), "{watch}");

    // Vera answers from the video's page, the organizer through the events instance's API:
    // both answers reach alice's pod, threaded under the video and the event.
    let vera_web = Browser::sign_in(&tube, "vera", &format!("/videos/watch/{uuid}")).await;
    let (status, location) = vera_web
        .post(
            "/videos/comment",
            &[
                ("parent", &on_video),
                ("text", "They nest on the saltmarsh"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{location}");
    outbox(
        &organizer_id,
        &organizer_token,
        json!({
            "type": "Note",
            "inReplyTo": on_event,
            "content": "<p>See you at the col, bring water.</p>",
        }),
    )
    .await;
    // Vera also comments on her video through PeerTube's API: the video instance sends it to
    // the channel's followers, so it reaches the pod too.
    let commented = client()
        .post(tube.at(&format!("api/v1/videos/{uuid}/comment-threads")))
        .bearer_auth(vera["token"].as_str().unwrap())
        .json(&json!({"text": "Filmed at low tide"}))
        .send()
        .await
        .unwrap();
    assert_eq!(commented.status(), 200);
    for (parent, answer) in [
        (&video, "Filmed at low tide"),
        (&video, "They nest on the saltmarsh"),
        (&event, "See you at the col, bring water."),
    ] {
        eventually(&format!("the answer under {parent} on the pod"), || async {
            let (_, page) = alice_web.get(&remote(parent)).await;
            page.contains(answer).then_some(())
        })
        .await;
    }

    // A Delete from the pod: alice deletes her comments; they leave the video and the event,
    // and the peer, her follower, receives the Deletes.
    for comment in [&on_video, &on_event] {
        let (status, location) = alice_web.post("/posts/delete", &[("post", comment)]).await;
        assert_eq!(status, 303, "{location}");
        witnessed(&mut peer, "Delete", &alice, comment).await;
    }
    eventually("alice's comment leaves the video", || async {
        let (_, watch) = page(&video).await;
        (!watch.contains("Lovely curlews") && !lists(&format!("{video}/comments"), &on_video).await)
            .then_some(())
    })
    .await;
    eventually("alice's comment leaves the event", || async {
        (!lists(&format!("{event}/replies"), &on_event).await).then_some(())
    })
    .await;

    // A Delete from the video instance and one from the events instance: the video and the
    // event leave the pod, and the peer receives both.
    let deleted = client()
        .delete(tube.at(&format!("api/v1/videos/{uuid}")))
        .bearer_auth(vera["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    outbox(
        &organizer_id,
        &organizer_token,
        json!({"type": "Delete", "object": event}),
    )
    .await;
    for gone in [&video, &event] {
        eventually(&format!("{gone} leaves the pod"), || async {
            (alice_web.get(&remote(gone)).await.0 == 404).then_some(())
        })
        .await;
    }
    witnessed(&mut peer, "Delete", &vera_id, &video).await;
    witnessed(&mut peer, "Delete", &organizer_id, &event).await;
    let (_, stream) = alice_web.get("/").await;
    assert!(!stream.contains("Curlews at dusk"), "{stream}");

    // Alice moves to bob on pod B: her archive, imported into bob, follows what she followed
    // (the channel and the group list bob); bob lists alice among his other accounts; alice
    // moves. The peer receives the Move, and the organizer, who followed alice, follows bob.
    let archive = dir.join("alice.tar.gz");
    pod_a
        .admin(&["export", "alice", "--out", archive.to_str().unwrap()])
        .await;
    pod_b
        .admin(&["import", "bob", "--file", archive.to_str().unwrap()])
        .await;
    for followed in [&channel, &group] {
        eventually(
            &format!("{followed} lists bob, the new follower"),
            || async {
                lists(&format!("{followed}/followers"), &bob)
                    .await
                    .then_some(())
            },
        )
        .await;
    }
    pod_b.admin(&["add-alias", "bob", &alice]).await;
    pod_a.admin(&["move", "alice", &bob]).await;
    let (_, document) = fetch(&alice).await;
    assert_eq!(document["movedTo"], bob.as_str(), "{document}");
    witnessed(&mut peer, "Move", &alice, &alice).await;
    eventually("bob lists the organizer, alice's follower", || async {
        lists(&format!("{bob}/followers"), &organizer_id)
            .await
            .then_some(())
    })
    .await;
    eventually("alice no longer lists the organizer", || async {
        (!lists(&format!("{alice}/followers"), &organizer_id).await).then_some(())
    })
    .await;

    assert!(peer.refusals().is_empty(), "{}", peer.transcript());
    peer.quit().await;
}

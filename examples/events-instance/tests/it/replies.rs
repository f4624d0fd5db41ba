//! A reply is any object `inReplyTo` something here, whatever its type: a PeerTube `Video`, a
//! Mastodon `Question`, a type nobody knows. Each is kept as it came (its HTML sanitized), shown
//! under the event with its author's full handle (`@user@host:port`).

use serde_json::json;
use test_peer::Peer;

use crate::support::instance_with_identity;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_of_every_type_are_kept_as_they_came() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, organizer) = instance_with_identity(dir.path(), "events", "organizer").await?;
    let create = organizer
        .post(json!({"type": "Event", "name": "Film night", "startTime": "2031-11-20T20:00:00Z"}))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let peer = Peer::start().await?;
    let inbox = format!("{}inbox", running.base_url);

    // A PeerTube video, answering the event.
    peer.add_actor("accounts/framasoft", "framasoft")?;
    let mut video = peer.fixture_from("peertube/create-video.json", "https://framatube.org")?;
    video["object"]["inReplyTo"] = json!(event);
    // A Mastodon poll, answering it too.
    peer.add_actor("users/rinpatch", "rinpatch")?;
    let mut question =
        peer.fixture_from("mastodon/create-question.json", "https://mastodon.sdf.org")?;
    question["object"]["inReplyTo"] = json!(event);
    // And a type no vocabulary here knows.
    let chatter = peer.add_actor("users/chatter", "chatter")?;
    let chat = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{chatter}/activities/1"),
        "type": "Create",
        "actor": chatter,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": format!("{chatter}/messages/1"),
            "type": "ChatMessage",
            "attributedTo": chatter,
            "inReplyTo": event,
            "content": "<p>Which film?</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "x-unknown": {"kept": [1, 2, 3]}
        }
    });
    for activity in [&video, &question, &chat] {
        let (status, body) = peer.post(&inbox, activity).await?;
        assert!((200..300).contains(&status), "{status}: {body}");
    }

    let comments = running.instance.comment_ids(&event).await?;
    for activity in [&video, &question, &chat] {
        let object = &activity["object"];
        let id = object["id"].as_str().unwrap();
        assert!(
            comments.iter().any(|c| c == id),
            "{id} is not a reply: {comments:?}"
        );
        // Kept as it came, but for its HTML, which is sanitized when stored.
        let mut stored = running.instance.stored_object(id).await?.unwrap();
        let mut sent = object.clone();
        for key in ["content", "contentMap", "summary", "summaryMap"] {
            assert_eq!(
                stored.get(key).is_some(),
                sent.get(key).is_some(),
                "{id}: {key}"
            );
            stored.as_object_mut().unwrap().remove(key);
            sent.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(stored, sent, "{id} was not kept as it came");
    }

    // The event's page shows them, each author with a full handle.
    let http = reqwest::Client::builder().no_proxy().build()?;
    let page = http
        .get(&event)
        .header("accept", "text/html")
        .send()
        .await?
        .text()
        .await?;
    let host = peer.origin().trim_start_matches("http://");
    for handle in ["@framasoft", "@rinpatch", "@chatter"] {
        assert!(
            page.contains(&format!("{handle}@{host}<")),
            "no {handle}@{host} on the page:\n{page}"
        );
    }
    assert!(page.contains("Which film?"), "{page}");
    assert!(
        page.contains("Why is Tenshi eating a corndog so cute?"),
        "{page}"
    );
    assert!(!page.contains("framasoft@127.0.0.1<"), "{page}");
    running.stop().await
}

//! The stream's pages: newest first, 40 a page, each page after the last post of the one
//! before ("Older posts"), every post once, however far back the posts go.

use serde_json::json;
use test_peer::Peer;

use crate::support::{Session, eventually, person, pod, until_following};

/// The ids of the posts a page of the stream shows (their links), in order.
fn shown(page: &str, base: &url::Url) -> Vec<String> {
    let prefix = format!("href=\"{}posts/", base.path());
    page.match_indices(&prefix)
        .filter_map(|(at, _)| {
            let rest = page.get(at + "href=\"".len()..)?;
            Some(rest.get(..rest.find('"')?)?.to_owned())
        })
        .collect()
}

/// The `href` of the page's "Older posts" link.
fn older(page: &str) -> Option<String> {
    let end = page.find("\" rel=\"next\"")?;
    let start = page.get(..end)?.rfind("href=\"")? + "href=\"".len();
    Some(page.get(start..end)?.replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_pages_back_through_every_post_once() {
    stream_pages().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn stream_pages() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    person(&a, "carol").await;
    a.instance.follow("alice", &bob).await.unwrap();
    until_following(&a, &alice, &bob).await;

    // 50 posts by bob; carol's (not followed) are not in alice's stream.
    let mut posts = Vec::new();
    for n in 0..50 {
        posts.push(
            a.instance
                .write_post(
                    "bob",
                    &format!("Bob's post {n}."),
                    &pod::PostAudience::Public,
                )
                .await
                .unwrap(),
        );
        if n % 10 == 0 {
            a.instance
                .write_post("carol", "Carol's post.", &pod::PostAudience::Public)
                .await
                .unwrap();
        }
    }
    // The ten oldest are dated days and years back (as imported or late-received posts are),
    // far outside the first window of time the stream looks in.
    let day = 86_400_000_000_i64;
    for (n, id) in posts.iter().take(10).enumerate() {
        let back = if n < 5 { 400 * day } else { 3 * day };
        sqlx::query("UPDATE pd_posts SET published = published - $1 - $2 WHERE id = $3")
            .bind(back)
            .bind(i64::try_from(10 - n).unwrap())
            .bind(id.clone())
            .execute(a.instance.state().pool())
            .await
            .unwrap();
    }

    let web = Session::new(&a, "alice").await;
    let (status, first) = web.get("/").await;
    assert_eq!(status, 200);
    let first_ids = shown(&first, &a.base_url);
    assert_eq!(first_ids.len(), 40, "{first}");
    assert!(!first.contains("Carol&#39;s post") && !first.contains("Carol's post"));
    let next = older(&first).expect("an Older posts link");
    let (status, second) = web.get(&next).await;
    assert_eq!(status, 200);
    let second_ids = shown(&second, &a.base_url);
    assert_eq!(second_ids.len(), 10, "{second}");
    assert!(older(&second).is_none(), "a link past the last page");

    // Every post once, newest first: the reverse of the order they were written in.
    let all: Vec<String> = first_ids.into_iter().chain(second_ids).collect();
    let expected: Vec<String> = posts
        .iter()
        .rev()
        .map(|id| url::Url::parse(id).unwrap().path().to_owned())
        .collect();
    assert_eq!(all, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_shows_each_source_and_nothing_else() {
    stream_sources().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`): each way a post comes into the stream (the reader's own, the people it
/// follows, what they reshared, the public posts with a followed tag, however old), and what
/// stays out of it (posts of people not followed without a followed tag, posts not addressed
/// to the reader even from someone it follows or with a tag it follows, hidden posts,
/// comments), newest first and by id among posts of the same time.
pub(crate) async fn stream_sources() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    person(&a, "carol").await;
    let dave = person(&a, "dave").await;
    a.instance.follow("alice", &bob).await.unwrap();
    a.instance.follow("dave", &bob).await.unwrap();
    until_following(&a, &alice, &bob).await;
    until_following(&a, &dave, &bob).await;
    let alice_web = Session::new(&a, "alice").await;
    let (status, _) = alice_web.post("/tags/follow", &[("tag", "moo")]).await;
    assert_eq!(status, 303);
    // Bob's aspect holding dave alone.
    let close = a.instance.create_aspect("bob", "Close").await.unwrap();
    a.instance
        .add_to_aspect("bob", &close, &dave)
        .await
        .unwrap();

    let write = |author: &'static str, text: &'static str, audience: pod::PostAudience| {
        let a = &a;
        async move {
            a.instance
                .write_post(author, text, &audience)
                .await
                .unwrap()
        }
    };
    use pod::PostAudience::{Aspects, Followers, Public};
    let own = write("alice", "Alice's own post.", Public).await;
    let followed = write("bob", "Bob's public post.", Public).await;
    let followers = write("bob", "Bob's post to his followers.", Followers).await;
    let aspect = write(
        "bob",
        "Bob's post to dave, token-aspect.",
        Aspects(vec![close.clone()]),
    )
    .await;
    let hidden = write("bob", "Bob's post, token-hidden.", Public).await;
    let stranger = write("carol", "Carol's post, token-untagged.", Public).await;
    let tagged = write("carol", "Carol's post about #moo.", Public).await;
    let old_tagged = write("carol", "Carol's old post about #Moo.", Public).await;
    let tagged_private = write(
        "carol",
        "Carol's #moo for her followers, token-private.",
        Followers,
    )
    .await;
    let other_tag = write("carol", "Carol's post about #baa, token-other-tag.", Public).await;
    let reshared = write("carol", "Carol's post bob reshared.", Public).await;
    assert!(a.instance.reshare("bob", &reshared).await.unwrap());
    let comment = a
        .instance
        .write_comment("bob", &followed, "Bob's comment, token-comment.")
        .await
        .unwrap();
    a.instance
        .state()
        .hide_object(&hidden, &alice)
        .await
        .unwrap();

    // Their dates, newest first: the old tagged post two months back (outside the first
    // windows of time the stream looks in); `followed` and `followers` at the same time.
    let now = 1_900_000_000_000_000_i64;
    let minute = 60_000_000_i64;
    let dated = [
        (&reshared, now),
        (&comment, now - minute),
        (&tagged_private, now - 2 * minute),
        (&aspect, now - 3 * minute),
        (&followed, now - 4 * minute),
        (&followers, now - 4 * minute),
        (&hidden, now - 5 * minute),
        (&tagged, now - 6 * minute),
        (&stranger, now - 7 * minute),
        (&other_tag, now - 8 * minute),
        (&own, now - 9 * minute),
        (&old_tagged, now - 60 * 24 * 60 * minute),
    ];
    for (id, published) in dated {
        sqlx::query("UPDATE pd_posts SET published = $1 WHERE id = $2")
            .bind(published)
            .bind(id.to_string())
            .execute(a.instance.state().pool())
            .await
            .unwrap();
    }

    let (status, page) = alice_web.get("/").await;
    assert_eq!(status, 200);
    let mut same_time = [followed.clone(), followers.clone()];
    same_time.sort();
    let expected: Vec<String> = [&reshared, &same_time[0], &same_time[1], &tagged, &own]
        .into_iter()
        .chain([&old_tagged])
        .map(|id| url::Url::parse(id).unwrap().path().to_owned())
        .collect();
    // (Alice's own post has an "Edit" link besides its own.)
    let posts: Vec<String> = shown(&page, &a.base_url)
        .into_iter()
        .filter(|href| !href.starts_with("/posts/edit?"))
        .collect();
    assert_eq!(posts, expected, "{page}");
    for text in [
        "token-aspect",
        "token-hidden",
        "token-untagged",
        "token-private",
        "token-other-tag",
        "token-comment",
    ] {
        assert!(!page.contains(text), "{text:?} in alice's stream: {page}");
    }
    // Dave, in bob's aspect and following no tag: bob's posts, the aspect's among them.
    let dave_web = Session::new(&a, "dave").await;
    let (_, page) = dave_web.get("/").await;
    let mut same_time = [followed, followers];
    same_time.sort();
    let expected: Vec<String> = [&reshared, &aspect, &same_time[0], &same_time[1]]
        .into_iter()
        .map(|id| url::Url::parse(id).unwrap().path().to_owned())
        .collect();
    assert_eq!(shown(&page, &a.base_url), expected, "{page}");
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_shows_followers_posts_of_every_remote_follow() {
    remote_followers_posts().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`): what remote people alice follows send to their followers is in her stream
/// and on its page, for a Mastodon-like person she followed before 250 others (beyond the 200
/// addresses a scope lists) and for one whose followers collection is not under its id (as
/// Friendica keeps it, `/followers/{name}`); dave, who follows neither, reads neither.
pub(crate) async fn remote_followers_posts() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    person(&a, "dave").await;
    let peer = Peer::start().await.unwrap();
    let felix = peer.actor("felix").await.unwrap();
    let fri = peer
        .actor_at("/profile/fri", "Person", "fri")
        .await
        .unwrap();
    let fri_followers = format!("{}/followers/fri", peer.origin());
    let mut document = peer.document(&fri).unwrap();
    document["followers"] = json!(fri_followers);
    peer.serve(&document).unwrap();

    // Alice follows both; they accept.
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    for (n, target) in [&felix, &fri].into_iter().enumerate() {
        a.instance.follow("alice", target).await.unwrap();
        let received = peer
            .wait_for("alice's Follow", |d| {
                d.iter()
                    .any(|d| d.body["type"] == "Follow" && d.body["object"] == json!(target))
            })
            .await
            .unwrap();
        let follow = received
            .iter()
            .find(|d| d.body["type"] == "Follow" && d.body["object"] == json!(target))
            .unwrap()
            .body
            .clone();
        let accept = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{target}#accepts/{n}"),
            "type": "Accept",
            "actor": target,
            "object": follow,
        });
        peer.deliver(target, &inbox, &accept).await.unwrap();
        until_following(&a, &alice, target).await;
    }
    // Then 250 others (newer follows, listed before felix's).
    let state = a.instance.state();
    for n in 0..250 {
        let other = format!("https://many.example/users/u{n}");
        state
            .put_remote_actor(
                &instance_state::remote::RemoteActor::new(&other, format!("u{n}"))
                    .with_followers(format!("{other}/followers")),
            )
            .await
            .unwrap();
        state
            .put_follow(
                &alice,
                &other,
                &format!("{alice}#follows/{n}"),
                instance_state::follows::FollowState::Accepted,
            )
            .await
            .unwrap();
    }

    // Each sends a post to its followers only.
    let note = |author: &str, n: u32, to: &str, text: &str| {
        let id = format!("{author}/statuses/{n}");
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}/activity"),
            "type": "Create",
            "actor": author,
            "to": [to],
            "object": {
                "id": id,
                "type": "Note",
                "attributedTo": author,
                "to": [to],
                "content": format!("<p>{text}</p>"),
                "published": "2030-01-01T00:00:00Z",
            },
        })
    };
    let felix_post = note(
        &felix,
        1,
        &format!("{felix}/followers"),
        "Felix to his followers, token-felix.",
    );
    let fri_post = note(&fri, 1, &fri_followers, "Fri to her followers, token-fri.");
    for (author, create) in [(&felix, &felix_post), (&fri, &fri_post)] {
        peer.deliver(author, &inbox, create).await.unwrap();
    }
    let page_of = |create: &serde_json::Value| {
        let id = create["object"]["id"].as_str().unwrap().to_owned();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &id)
            .finish();
        format!("/posts/remote?{query}")
    };
    let alice_web = Session::new(&a, "alice").await;
    eventually("both posts are in alice's stream", || async {
        let page = alice_web.get("/").await.1;
        page.contains("token-felix") && page.contains("token-fri")
    })
    .await;
    let dave_web = Session::new(&a, "dave").await;
    for (create, token) in [(&felix_post, "token-felix"), (&fri_post, "token-fri")] {
        let (status, page) = alice_web.get(&page_of(create)).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(token), "{page}");
        let (_, page) = dave_web.get(&page_of(create)).await;
        assert!(!page.contains(token), "{token} shown to dave: {page}");
    }
    let page = dave_web.get("/").await.1;
    assert!(
        !page.contains("token-felix") && !page.contains("token-fri"),
        "{page}"
    );
    a.stop().await.unwrap();
}

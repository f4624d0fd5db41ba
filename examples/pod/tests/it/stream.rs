//! The stream's pages: newest first, 40 a page, each page after the last post of the one
//! before ("Older posts"), every post once, however far back the posts go.

use crate::support::{Session, person, pod, until_following};

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

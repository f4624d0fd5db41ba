//! What the test modules share: a relay and pods on loopback, people, a signed-in person's
//! forms, and polling.

use std::path::Path;
use std::time::{Duration, Instant};

use instance_state::follows::FollowState;
use serde_json::Value;
use tag_relay::WithParts as _;

/// Logs to the test's output when `RUST_LOG` asks.
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A loopback tag relay, its database in `dir`.
pub(crate) async fn relay(dir: &Path) -> tag_relay::Running {
    relay_with(dir, tag_relay::RelayOptions::default()).await
}

/// A loopback tag relay with `app` options, its database in `dir`.
pub(crate) async fn relay_with(dir: &Path, app: tag_relay::RelayOptions) -> tag_relay::Running {
    init_logging();
    let options = tag_relay::Options::with_app(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join("relay.sqlite").display().to_string(),
        app,
    )
    .with_name("Tag relay")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    tag_relay::start(options).await.unwrap()
}

/// A loopback pod `name`, its database and files in `dir`.
pub(crate) async fn pod(dir: &Path, name: &str) -> pod::Running {
    init_logging();
    let options = pod::Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join(format!("{name}.sqlite")).display().to_string(),
    )
    .with_name(name)
    .with_signup(pod::SignupMode::Open)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    pod::start(options).await.unwrap()
}

/// Makes person `name` on `running`; its actor id.
pub(crate) async fn person(running: &pod::Running, name: &str) -> String {
    let made = instance_server::admin::create_person(running.instance.state(), name)
        .await
        .unwrap();
    made.actor.to_string()
}

/// Person `name` on `running` follows `tag` from its page, as a browser does (a session, the
/// page's CSRF token, the form).
pub(crate) async fn follow_tag(running: &pod::Running, name: &str, tag: &str) {
    let state = running.instance.state();
    let account = state.account_by_username(name).await.unwrap().unwrap();
    let (secret, _) = state
        .new_session(&account.id, Some(name), "test", 3_600_000_000)
        .await
        .unwrap();
    let cookie = format!("session={}", secret.expose());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(running.base_url.join(&format!("tags/{tag}")).unwrap())
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF token") + marker.len();
    let csrf = page[start..].split('"').next().unwrap();
    let response = http
        .post(running.base_url.join("tags/follow").unwrap())
        .header("cookie", &cookie)
        .header("origin", running.base_url.origin().ascii_serialization())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("csrf", csrf), ("tag", tag)])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
}

/// Person `name`'s stream on `running` (its HTML).
pub(crate) async fn stream(running: &pod::Running, name: &str) -> String {
    page(running, name, "/").await
}

/// Page `path` on `running` as person `name` sees it (its HTML).
pub(crate) async fn page(running: &pod::Running, name: &str, path: &str) -> String {
    let state = running.instance.state();
    let account = state.account_by_username(name).await.unwrap().unwrap();
    let (secret, _) = state
        .new_session(&account.id, Some(name), "test", 3_600_000_000)
        .await
        .unwrap();
    reqwest::Client::new()
        .get(running.base_url.join(path).unwrap())
        .header("accept", "text/html")
        .header("cookie", format!("session={}", secret.expose()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls `check` every 100 ms until it holds, for at most 30 seconds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 30 seconds");
}

/// Waits until `running`'s subscription to the relay at `relay` is accepted.
pub(crate) async fn until_subscribed(running: &pod::Running, relay: &tag_relay::Running) {
    let inbox = relay.base_url.join("/inbox").unwrap().to_string();
    eventually("the pod's subscription to the relay accepted", || async {
        running
            .instance
            .relays()
            .await
            .unwrap()
            .iter()
            .any(|r| r.inbox == inbox && r.state == "accepted")
    })
    .await;
}

/// Waits until `follower` follows `followed` (an actor of `at`, the relay), accepted there.
pub(crate) async fn until_following(at: &tag_relay::Running, follower: &str, followed: &str) {
    eventually(&format!("{follower} follows {followed}"), || async {
        at.instance
            .state()
            .follow(follower, followed)
            .await
            .unwrap()
            .is_some_and(|f| f.state == FollowState::Accepted)
    })
    .await;
}

/// The public collection.
pub(crate) const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// A `Note` document by `author` with `text`, hashtag `tag` and `to`.
pub(crate) fn note(author: &str, n: u32, text: &str, tag: &str, to: &[&str]) -> Value {
    serde_json::json!({
        "id": format!("{author}/statuses/{n}"),
        "type": "Note",
        "attributedTo": author,
        "published": "2026-12-07T01:00:00Z",
        "to": to,
        "content": format!("<p>{text} #{tag}</p>"),
        "tag": [{
            "type": "Hashtag",
            "href": format!("https://example.com/tags/{tag}"),
            "name": format!("#{tag}"),
        }],
    })
}

/// GETs `url` as ActivityPub, unsigned: the status and the JSON (`Null` when none).
pub(crate) async fn fetch_json(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

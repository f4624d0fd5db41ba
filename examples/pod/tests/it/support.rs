//! What several test modules share: pods on loopback, people, sessions, forms and signed
//! fetches.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use http_signatures::{Signer, Standard};
use pod::{Options, Running, SignupMode, start};

/// The password of the people made here.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Logs to the test's output when `RUST_LOG` asks.
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

tokio::task_local! {
    /// Set by [`on_postgres`]: the pods [`pod_with`] makes keep their state in fresh databases
    /// on this PostgreSQL server instead of SQLite files.
    static POSTGRES: Postgres;
}

/// A PostgreSQL server, and what the databases made on it for one test start with.
#[derive(Clone)]
struct Postgres {
    server: url::Url,
    prefix: String,
}

/// Runs `test` with the pods it makes (through [`pod_with`] and [`database`]) on PostgreSQL, a
/// fresh database each on the server of `server` (a `postgres://` URL). Their media
/// directories are where SQLite's would be (`{dir}/{name}.sqlite.media`).
pub(crate) async fn on_postgres(server: &str, test: impl std::future::Future<Output = ()>) {
    let postgres = Postgres {
        server: url::Url::parse(server).unwrap(),
        prefix: format!(
            "pod_{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ),
    };
    let prefix = postgres.prefix.clone();
    POSTGRES.scope(postgres, test).await;
    // The pods were on PostgreSQL indeed: their databases are there.
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(server).await.unwrap();
    let (made,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)")
            .bind(format!("{prefix}_"))
            .fetch_one(&mut connection)
            .await
            .unwrap();
    connection.close().await.unwrap();
    assert!(made >= 1, "no pod made a database on PostgreSQL");
}

/// The database of pod `name` of the test: `{dir}/{name}.sqlite`, or under [`on_postgres`] a
/// database of its own on the server.
pub(crate) fn database(dir: &Path, name: &str) -> String {
    match POSTGRES.try_with(Postgres::clone) {
        Ok(postgres) => {
            let mut url = postgres.server.clone();
            url.set_path(&format!("/{}_{}", postgres.prefix, name.to_lowercase()));
            url.to_string()
        }
        Err(_) => dir.join(format!("{name}.sqlite")).display().to_string(),
    }
}

/// Makes the database of pod `name` when it is on PostgreSQL (a SQLite file makes itself).
async fn make_database(dir: &Path, name: &str) {
    if let Ok(postgres) = POSTGRES.try_with(Postgres::clone) {
        create_database(postgres.server.as_str(), &database(dir, name)).await;
    }
}

/// Creates the PostgreSQL database `url` names (its path) through `server` (a `postgres://`
/// URL of the same server).
pub(crate) async fn create_database(server: &str, url: &str) {
    use sqlx::Connection as _;
    let url = url::Url::parse(url).unwrap();
    let name = url.path().trim_start_matches('/');
    let mut connection = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

/// A new database's URL on the server of `server` (not made yet: see [`create_database`]).
pub(crate) fn unique_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&format!(
        "/pod_{}_{}_{name}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    url.to_string()
}

/// The PostgreSQL server the tests may use (`FEDERATION_QUEUE_PG_URL`, which
/// `scripts/with-postgres` sets): `None`, said loudly, when there is none, and in CI
/// (`CI` set) a failure.
pub(crate) fn postgres_url() -> Option<String> {
    test_peer::postgres::server_url("the pod's PostgreSQL tests")
}

/// A loopback pod `name`, its database and files in `dir` (see [`database`]), with options
/// changed by `change`.
pub(crate) async fn pod_with(dir: &Path, name: &str, change: impl FnOnce(&mut Options)) -> Running {
    make_database(dir, name).await;
    pod_again(dir, name, change).await
}

/// Pod `name` started again on the database [`pod_with`] made for it, with options changed by
/// `change` (its former address, say).
pub(crate) async fn pod_again(
    dir: &Path,
    name: &str,
    change: impl FnOnce(&mut Options),
) -> Running {
    init_logging();
    let mut options = Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database(dir, name),
    )
    .with_name(name)
    .with_signup(SignupMode::Open)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    if POSTGRES.try_with(|_| ()).is_ok() {
        options.app = options
            .app
            .clone()
            .with_media_dir(dir.join(format!("{name}.sqlite.media")));
    }
    change(&mut options);
    start(options).await.unwrap()
}

/// A loopback pod `name`.
pub(crate) async fn pod(dir: &Path, name: &str) -> Running {
    pod_with(dir, name, |_| {}).await
}

/// Makes person `name` (an account with a password) on `running`; its actor id.
pub(crate) async fn person(running: &Running, name: &str) -> String {
    let state = running.instance.state();
    let made = instance_server::admin::create_person(state, name)
        .await
        .unwrap();
    instance_server::admin::set_password(state, name, PASSWORD)
        .await
        .unwrap();
    made.actor.to_string()
}

/// A signed-in browser of person `name` on `running`, without a browser: its session cookie
/// and the CSRF token its pages carry.
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
    pub(crate) base: url::Url,
    pub(crate) http: reqwest::Client,
}

impl Session {
    /// Signs `name` in (a session made as the sign-in page makes one).
    pub(crate) async fn new(running: &Running, name: &str) -> Session {
        let state = running.instance.state();
        let account = state.account_by_username(name).await.unwrap().unwrap();
        let (secret, _) = state
            .new_session(&account.id, Some(name), "test", 3_600_000_000)
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut session = Session {
            cookie: format!("session={}", secret.expose()),
            csrf: String::new(),
            base: running.base_url.clone(),
            http,
        };
        let (status, page) = session.get("/compose").await;
        assert_eq!(status, 200, "{page}");
        session.csrf = csrf_of(&page);
        session
    }

    /// `path`'s page: its status and text.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.base.join(path).unwrap())
            .header("accept", "text/html")
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// `path`'s answer: its status and, for a redirect, its `Location`.
    pub(crate) async fn get_raw(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.base.join(path).unwrap())
            .header("accept", "text/html")
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        (status, location.unwrap_or(response.text().await.unwrap()))
    }

    /// Posts the form `fields` (and the token) to `path`: the status and the text (a redirect's
    /// target in `Location`).
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(self.base.join(path).unwrap())
            .header("cookie", &self.cookie)
            .header("origin", self.base.origin().ascii_serialization())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap();
        (status, location.unwrap_or(text))
    }

    /// Posts a multipart form (the token first) to `path`.
    pub(crate) async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, String) {
        let response = self
            .http
            .post(self.base.join(path).unwrap())
            .header("cookie", &self.cookie)
            .header("origin", self.base.origin().ascii_serialization())
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// A multipart form holding the token.
    pub(crate) fn multipart(&self) -> reqwest::multipart::Form {
        reqwest::multipart::Form::new().text("csrf", self.csrf.clone())
    }
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no token in {page}"))
        + "name=\"csrf\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// GETs `url` as a browser does (`Accept: text/html`), anonymously: the status and the page.
pub(crate) async fn html(url: impl reqwest::IntoUrl) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// GETs `url` as ActivityPub, unsigned: the status and the JSON (`Null` when none).
pub(crate) async fn fetch(url: &str) -> (u16, serde_json::Value) {
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

/// GETs `url` as ActivityPub, signed (draft-cavage, as Mastodon signs) with the RSA key of
/// `name`, a local actor of `by`: what `by` sends when it fetches for that actor.
pub(crate) async fn signed_fetch(by: &Running, name: &str, url: &str) -> (u16, serde_json::Value) {
    let signer = cavage_signer(by, name).await;
    let mut request = http::Request::get(url)
        .header("accept", "application/activity+json")
        .body(Vec::new())
        .unwrap();
    signer.sign(&mut request, SystemTime::now()).unwrap();
    let (parts, _) = request.into_parts();
    let response = reqwest::Client::new()
        .get(url)
        .headers(parts.headers)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default())
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

/// Waits until `follower` (an actor id) follows `followed` (an actor id on `at`), accepted.
pub(crate) async fn until_following(at: &Running, follower: &str, followed: &str) {
    eventually(&format!("{follower} follows {followed}"), || async {
        at.instance
            .state()
            .follow(follower, followed)
            .await
            .unwrap()
            .is_some_and(|f| f.state == instance_state::follows::FollowState::Accepted)
    })
    .await;
}

/// The signer of `name`, a local actor of `by`: its RSA key, draft-cavage, as Mastodon signs.
async fn cavage_signer(by: &Running, name: &str) -> Signer {
    let keys = by
        .instance
        .state()
        .signing_keys(name)
        .await
        .unwrap()
        .unwrap();
    Signer::new(keys.rsa, format!("{}#main-key", by.instance.actor_id(name)))
        .with_standard(Standard::Cavage)
}

/// POSTs `activity` to `inbox`, signed over HTTP as [`signed_fetch`] signs: its status and
/// text.
pub(crate) async fn deliver_to(
    by: &Running,
    name: &str,
    inbox: &str,
    activity: &serde_json::Value,
) -> (u16, String) {
    test_peer::signed_post(
        &reqwest::Client::new(),
        inbox,
        serde_json::to_vec(activity).unwrap(),
        &cavage_signer(by, name).await,
    )
    .await
    .unwrap()
}

//! A browser in a test: a cookie jar, forms read from pages and posted back, over the
//! router in process; and the instance it talks to, on SQLite or PostgreSQL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use instance_state::accounts::{Account, AccountState, Role};
use instance_state::actors::{ActorKind, NewActor};
use instance_state::{Clock, InstanceState, Options};
use instance_web::{
    CsrfForm, DefaultLayout, MaybeViewer, Viewer, Web, WebConfig, account_routes, csrf_field,
    security_headers,
};
use maud::html;
use sqlx::Connection as _;
use tower::ServiceExt as _;
use url::Url;

/// A password every test account has.
pub const PASSWORD: &str = "correct horse battery";

/// Where the test clock starts (Unix microseconds).
const START: i64 = 1_800_000_000_000_000;

/// A database for the instance.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The instance under test: its router, its `Web`, and a clock the test moves.
#[derive(Clone)]
pub struct Instance {
    pub router: Router,
    pub web: Web,
    clock: Arc<AtomicI64>,
}

impl Instance {
    /// An instance at `http://localhost` on SQLite.
    pub async fn start(config: impl FnOnce(WebConfig) -> WebConfig) -> Self {
        Self::start_on(Db::Sqlite, "http://localhost", config)
            .await
            .unwrap()
    }

    /// An instance at `base` on `db`; `None` when PostgreSQL is not available (outside CI).
    pub async fn start_on(
        db: Db,
        base: &str,
        config: impl FnOnce(WebConfig) -> WebConfig,
    ) -> Option<Self> {
        let base = Url::parse(base).unwrap();
        let clock = Arc::new(AtomicI64::new(START));
        let read = clock.clone();
        let options = Options::new(base.clone())
            .with_clock(Clock::from_fn(move || read.load(Ordering::SeqCst)));
        let state = match db {
            Db::Sqlite => sqlite(options).await,
            Db::Postgres => postgres(options).await?,
        };
        let web = Web::new(
            state,
            config(WebConfig::new(base)),
            Arc::new(DefaultLayout::new("Test instance")),
        );
        Some(Self {
            router: app(web.clone()),
            web,
            clock,
        })
    }

    /// Another process serving the same database (and clock), configured by `config`.
    pub fn beside(&self, config: impl FnOnce(WebConfig) -> WebConfig) -> Self {
        let web = Web::new(
            self.web.state().clone(),
            config(WebConfig::new(self.web.config().base_url.clone())),
            Arc::new(DefaultLayout::new("Test instance")),
        );
        Self {
            router: app(web.clone()),
            web,
            clock: self.clock.clone(),
        }
    }

    pub fn state(&self) -> &InstanceState {
        self.web.state()
    }

    /// Moves the clock on.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap();
        self.clock.fetch_add(micros, Ordering::SeqCst);
    }

    /// A browser at a fresh loopback address.
    pub fn browser(&self) -> Browser {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let address = format!("127.0.{}.{}:5000", (n >> 8) & 0xff, n & 0xff);
        self.browser_at(address.parse().unwrap())
    }

    /// A browser whose requests come from `address`.
    pub fn browser_at(&self, address: SocketAddr) -> Browser {
        Browser {
            router: self.router.clone(),
            origin: self.web.config().base_url.origin().ascii_serialization(),
            cookies: BTreeMap::new(),
            address,
            headers: HeaderMap::new(),
        }
    }

    /// An active account `name` with the password [`PASSWORD`], its first identity a `Person`
    /// of the same name.
    pub async fn account(&self, name: &str, role: Role) -> Account {
        let account = self
            .state()
            .create_account(name, None, Some(PASSWORD), role, AccountState::Active)
            .await
            .unwrap();
        self.state()
            .create_actor(
                NewActor::new(name, ActorKind::Person, format!("{name}'s name"))
                    .with_account(account.id.clone()),
            )
            .await
            .unwrap();
        account
    }

    /// A browser signed in as `name` (password [`PASSWORD`]).
    pub async fn signed_in(&self, name: &str) -> Browser {
        let mut browser = self.browser();
        let page = browser
            .submit(
                "/login",
                "/login",
                &[("username", name), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        browser
    }
}

/// The app: its own pages (`/`, `/private` for the signed-in, `/notes` a form of theirs)
/// and the account routes, with the security headers.
fn app(web: Web) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/private", get(private))
        .route("/notes", post(note))
        .merge(account_routes())
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}

async fn home(
    axum::extract::State(web): axum::extract::State<Web>,
    MaybeViewer(viewer): MaybeViewer,
) -> axum::response::Response {
    let body = html! {
        h1 { "Home" }
        @if let Some(viewer) = &viewer {
            p { "Hello " (viewer.account.username) }
        }
    };
    web.page(viewer.as_ref(), "Home", body)
}

async fn private(
    axum::extract::State(web): axum::extract::State<Web>,
    viewer: Viewer,
) -> axum::response::Response {
    let body = html! {
        h1 { "Private" }
        p id="identity" { "acting as " (viewer.identity_name().unwrap_or("nobody")) }
        form method="post" action="/notes" {
            (csrf_field(&viewer))
            input type="text" name="text";
            button type="submit" { "Post" }
        }
    };
    web.page(Some(&viewer), "Private", body)
}

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

async fn note(viewer: Viewer, CsrfForm(note): CsrfForm<Note>) -> String {
    format!(
        "{} posted {}",
        viewer.identity_name().unwrap_or("nobody"),
        note.text
    )
}

/// An answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap())
            .unwrap_or_else(|| panic!("no Location: {self:?}"))
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the hidden field `name` (the first).
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }

    /// The page's CSRF token.
    pub fn csrf(&self) -> String {
        self.hidden("csrf")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body))
    }
}

/// A browser: keeps cookies, sends `Origin` and `Sec-Fetch-Site` with posts as browsers do.
#[derive(Clone)]
pub struct Browser {
    router: Router,
    origin: String,
    pub cookies: BTreeMap<String, String>,
    address: SocketAddr,
    /// Headers sent with every request (a forged `Origin`, say).
    pub headers: HeaderMap,
}

impl Browser {
    pub async fn get(&mut self, path: &str) -> Page {
        let request = Request::get(path).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// Posts `fields` to `path` as a form of this site.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, &self.origin)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Opens `page`, then posts its form's token with `fields` to `action`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let shown = self.get(page).await;
        assert_eq!(shown.status, StatusCode::OK, "{page}: {}", shown.body);
        let token = shown.csrf();
        let mut fields = fields.to_vec();
        fields.push(("csrf", &token));
        self.post(action, &fields).await
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let headers = request.headers_mut();
        if !cookie.is_empty() {
            headers.insert(header::COOKIE, cookie.parse().unwrap());
        }
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }
        request.extensions_mut().insert(ConnectInfo(self.address));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let page = Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        };
        for set in page.set_cookies() {
            let cookie = cookie::Cookie::parse(set).unwrap();
            let removed = cookie.max_age().is_some_and(|age| age.is_zero());
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        page
    }
}

/// A state on a fresh SQLite file in the temporary directory.
async fn sqlite(options: Options) -> InstanceState {
    let path = std::env::temp_dir().join(format!("{}.db", unique()));
    InstanceState::open(path.to_str().unwrap(), options)
        .await
        .unwrap()
}

/// A state on a fresh schema of the server `scripts/with-postgres` starts. Without one the
/// test is skipped loudly, except in CI (`CI` set), where it fails.
async fn postgres(options: Options) -> Option<InstanceState> {
    let url = match std::env::var("FEDERATION_QUEUE_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "FEDERATION_QUEUE_PG_URL is not set: in CI the PostgreSQL tests must run"
            );
            eprintln!(
                "\n!!! SKIPPING a PostgreSQL test: FEDERATION_QUEUE_PG_URL is not set. \
                 Run them with: scripts/with-postgres cargo test -p instance-web !!!\n"
            );
            return None;
        }
    };
    let schema = unique().to_lowercase();
    let mut connection = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let location = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    Some(InstanceState::open(&location, options).await.unwrap())
}

fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("web_{}_{n}_{nanos}", std::process::id())
}

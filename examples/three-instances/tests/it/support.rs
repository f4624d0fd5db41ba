//! The instances as child processes (`serve` on a port the OS picks, `admin` on the same
//! database), a signed-in browser without a browser, ActivityPub reads, and polling with a
//! deadline.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_peer::fedify::{FedifyPeer, received};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use url::Url;

/// How long one process may take to start, one admin command to run, or one condition to
/// become true.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// The password of the people who sign in.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Which instance a process runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Binary {
    Events,
    Video,
    Pod,
}

impl Binary {
    fn path(self) -> &'static str {
        match self {
            Binary::Events => env!("CARGO_BIN_EXE_three-events-instance"),
            Binary::Video => env!("CARGO_BIN_EXE_three-video-instance"),
            Binary::Pod => env!("CARGO_BIN_EXE_three-pod"),
        }
    }
}

/// A `serve` process (killed when dropped) and what its `admin` command needs.
pub(crate) struct Served {
    child: Child,
    binary: Binary,
    database: PathBuf,
    /// The base URL it printed.
    pub(crate) base: Url,
}

impl Served {
    /// Starts `binary serve` for instance `name`, its SQLite database (and files) in `dir`,
    /// with `args`; waits for the `{"event":"listening",...}` line it prints.
    pub(crate) async fn start(binary: Binary, dir: &Path, name: &str, args: &[&str]) -> Served {
        let database = dir.join(format!("{name}.sqlite"));
        let mut command = Command::new(binary.path());
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--danger-allow-private-addresses",
                "--workers",
                "1",
                "--name",
                name,
                "--database",
            ])
            .arg(&database)
            .args(args)
            .stdin(Stdio::null());
        let serving = test_peer::serve::spawn(command, WAIT)
            .await
            .unwrap_or_else(|e| panic!("starting {name}: {e:#}"));
        let (child, base) = (serving.child, serving.base_url);
        Served {
            child,
            binary,
            database,
            base,
        }
    }

    /// Kills the process and waits until it has exited: its port then refuses connections
    /// (its database stays, and `admin` still works on it).
    pub(crate) async fn stop(&mut self) {
        self.child.kill().await.unwrap();
        assert!(
            self.child.try_wait().unwrap().is_some(),
            "the process is still running"
        );
    }

    /// `binary admin ... args` on this instance's database: its JSON output (`Null` if none).
    pub(crate) async fn admin(&self, args: &[&str]) -> Value {
        self.admin_with_input(args, None).await
    }

    /// Sets `account`'s password, so that it signs in.
    pub(crate) async fn set_password(&self, account: &str) {
        self.admin_with_input(&["set-password", account], Some(PASSWORD))
            .await;
    }

    async fn admin_with_input(&self, args: &[&str], input: Option<&str>) -> Value {
        let mut child = Command::new(self.binary.path())
            .args(["admin", "--danger-allow-private-addresses", "--database"])
            .arg(&self.database)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin
                .write_all(format!("{input}\n").as_bytes())
                .await
                .unwrap();
        }
        drop(stdin);
        let output = tokio::time::timeout(WAIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("admin {args:?} took more than {WAIT:?}"))
            .unwrap();
        assert!(
            output.status.success(),
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }

    /// The URL of `path` here.
    pub(crate) fn at(&self, path: &str) -> String {
        self.base.join(path).unwrap().to_string()
    }

    /// The instance actor's id.
    pub(crate) fn instance_actor(&self) -> String {
        self.at("actors/instance")
    }
}

/// Polls `check` every 100 ms until it gives a value, for at most [`WAIT`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client that gives up on a request after a while.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `url` as ActivityPub, unsigned: its status and its JSON (`Null` when none).
pub(crate) async fn fetch(url: &str) -> (u16, Value) {
    let response = client()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// The items of the first page of the collection at `url` (embedded or linked).
pub(crate) async fn items(url: &str) -> Vec<Value> {
    let (_, collection) = fetch(url).await;
    let page = match &collection["first"] {
        Value::String(first) => fetch(first).await.1,
        Value::Null => collection,
        first => first.clone(),
    };
    for member in ["orderedItems", "items"] {
        if let Value::Array(items) = &page[member] {
            return items.clone();
        }
    }
    Vec::new()
}

/// Whether the collection at `url` lists `id` (by itself or as an object's id).
pub(crate) async fn lists(url: &str, id: &str) -> bool {
    items(url)
        .await
        .iter()
        .any(|item| item == id || item["id"] == id)
}

/// A page as a browser asks for it: its status and its text.
pub(crate) async fn page(url: &str) -> (u16, String) {
    let response = client()
        .get(url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// POSTs `activity` to `actor`'s outbox on the events instance (its client-to-server API);
/// the stored activity.
pub(crate) async fn outbox(actor: &str, token: &str, activity: Value) -> Value {
    let response = client()
        .post(format!("{actor}/outbox"))
        .bearer_auth(token)
        .header("content-type", "application/activity+json")
        .body(activity.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or_default();
    assert_eq!(status, 201, "{answer}");
    answer
}

/// Waits until the Fedify peer has received an activity of type `kind` by `actor` about
/// `object`.
pub(crate) async fn witnessed(
    peer: &mut FedifyPeer,
    kind: &str,
    actor: &str,
    object: &str,
) -> Value {
    peer.expect(&format!("the peer to receive {kind} of {object}"), |e| {
        received(e, kind) && e["actor"] == actor && e["object_id"] == object
    })
    .await
    .unwrap_or_else(|error| panic!("{error:#}{}", peer.transcript()))
}

/// Someone signed in on an instance through its sign-in form (the cookies a browser keeps,
/// and the CSRF token its pages' forms carry).
pub(crate) struct Browser {
    base: Url,
    cookies: Vec<(String, String)>,
    csrf: String,
}

impl Browser {
    /// Signs `name` in on `served`, then reads the token from the page at `form_page`.
    pub(crate) async fn sign_in(served: &Served, name: &str, form_page: &str) -> Browser {
        let mut browser = Browser {
            base: served.base.clone(),
            cookies: Vec::new(),
            csrf: String::new(),
        };
        let response = browser.send(browser.get_request("/login")).await;
        browser.keep_cookies(&response);
        let (status, login) = (response.status(), response.text().await.unwrap());
        assert_eq!(status, 200, "{login}");
        browser.csrf = csrf_of(&login);
        let fields = [("username", name), ("password", PASSWORD), ("next", "/")];
        let response = browser.send(browser.post_request("/login", &fields)).await;
        browser.keep_cookies(&response);
        assert_eq!(response.status(), 303, "signing {name} in");
        let (status, form) = browser.get(form_page).await;
        assert_eq!(status, 200, "{form}");
        browser.csrf = csrf_of(&form);
        browser
    }

    /// `path`'s page: its status and its text.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let response = self.send(self.get_request(path)).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Posts the form `fields` (and the token) to `path`: the status, and a redirect's
    /// `Location` or the text.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let response = self.send(self.post_request(path, fields)).await;
        status_and_location(response).await
    }

    /// Posts `form` (made by [`Browser::multipart`], the token first) to `path`: the status,
    /// and a redirect's `Location` or the text.
    pub(crate) async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, String) {
        let request = client()
            .post(self.base.join(path).unwrap())
            .header("cookie", self.cookie())
            .header("origin", self.base.origin().ascii_serialization())
            .multipart(form);
        let response = self.send(request).await;
        status_and_location(response).await
    }

    /// A multipart form holding the token, its first part (as the pages' forms send it).
    pub(crate) fn multipart(&self) -> reqwest::multipart::Form {
        reqwest::multipart::Form::new().text("csrf", self.csrf.clone())
    }

    fn get_request(&self, path: &str) -> reqwest::RequestBuilder {
        client()
            .get(self.base.join(path).unwrap())
            .header("accept", "text/html")
            .header("cookie", self.cookie())
    }

    fn post_request(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &self.csrf);
        form.extend_pairs(fields);
        client()
            .post(self.base.join(path).unwrap())
            .header("cookie", self.cookie())
            .header("origin", self.base.origin().ascii_serialization())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        request.send().await.unwrap()
    }

    fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all("set-cookie") {
            let Some((name, value)) = header
                .to_str()
                .ok()
                .and_then(|h| h.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            self.cookies.retain(|(kept, _)| kept != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let start = page
        .find(FIELD)
        .unwrap_or_else(|| panic!("no token in {page}"))
        + FIELD.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The status of `response`, and its `Location` if it redirects, else its text.
async fn status_and_location(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap();
    (status, location.unwrap_or(text))
}

//! Another server on loopback, for the tests: its actors' documents served over HTTP, their
//! activities signed with a test key, and real payloads from the fixtures moved to its origin.

use std::time::SystemTime;

use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture_text, signed_post};

/// A fixture's JSON.
pub(crate) fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap()
}

/// A server of actors on loopback: `GET` of an actor answers its document (with the test key),
/// `GET` of an object answers what [`Peer::serve`] put there, and every `POST` (an inbox) is
/// accepted.
pub(crate) struct Peer {
    server: MockServer,
    key: SigningKey,
    http: reqwest::Client,
}

impl Peer {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048)).await??;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        Ok(Self {
            server,
            key,
            http: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    /// `http://127.0.0.1:PORT`, without a final slash.
    pub(crate) fn origin(&self) -> String {
        self.server.uri()
    }

    /// Publishes the actor `/users/{name}` (a `Person`) and gives its id.
    pub(crate) async fn actor(&self, name: &str) -> anyhow::Result<String> {
        self.actor_at(&format!("/users/{name}"), "Person", name)
            .await
    }

    /// Publishes an actor of type `kind` at `path` and gives its id.
    pub(crate) async fn actor_at(
        &self,
        path_: &str,
        kind: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let id = format!("{}{path_}", self.origin());
        let document = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id,
            "type": kind,
            "preferredUsername": name,
            "name": name,
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "endpoints": {"sharedInbox": format!("{}/inbox", self.origin())},
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id,
                "publicKeyPem": self.key.verifying_key().to_spki_pem()?,
            },
        });
        self.serve(&document).await;
        Ok(id)
    }

    /// Serves `document` at its id (on this peer's origin).
    pub(crate) async fn serve(&self, document: &Value) {
        let id = document["id"].as_str().unwrap();
        let at = id.strip_prefix(&self.origin()).unwrap().to_owned();
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                serde_json::to_vec(document).unwrap(),
                "application/activity+json",
            ))
            .mount(&self.server)
            .await;
    }

    fn signer(&self, actor: &str) -> Signer {
        Signer::new(self.key.clone(), format!("{actor}#main-key")).with_standard(Standard::Cavage)
    }

    /// POSTs `activity` to `inbox`, signed by `actor`; gives the status.
    pub(crate) async fn deliver(
        &self,
        actor: &str,
        inbox: &str,
        activity: &Value,
    ) -> anyhow::Result<u16> {
        let (status, text) = signed_post(
            &self.http,
            inbox,
            serde_json::to_vec(activity)?,
            &self.signer(actor),
        )
        .await?;
        assert!(
            (200..300).contains(&status),
            "{inbox} answered {status}: {text}"
        );
        Ok(status)
    }

    /// GETs `url` as ActivityPub, signed by `actor`; gives the status and the JSON (`Null` when
    /// there is none).
    pub(crate) async fn get(&self, actor: &str, url: &str) -> anyhow::Result<(u16, Value)> {
        let mut request = http::Request::get(url)
            .header("accept", "application/activity+json")
            .body(Vec::new())?;
        self.signer(actor).sign(&mut request, SystemTime::now())?;
        let (parts, _) = request.into_parts();
        let response = self.http.get(url).headers(parts.headers).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// The fixture `name` moved to this peer: every `from` (an origin, `https://host`) in it
    /// becomes this peer's origin.
    pub(crate) fn fixture_from(&self, name: &str, from: &str) -> Value {
        let text = fixture(name).to_string().replace(from, &self.origin());
        serde_json::from_str(&text).unwrap()
    }
}

/// An anonymous client for the instance's pages and documents.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GETs `url` as ActivityPub, unsigned; gives the status and the JSON (`Null` when none).
pub(crate) async fn get_json(url: &str) -> anyhow::Result<(u16, Value)> {
    let response = browser()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// GETs `url` as a browser (or a calendar app) does, with a bearer token when given; gives the
/// status and the body.
pub(crate) async fn get_page(url: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut request = browser().get(url).header("accept", "text/html");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

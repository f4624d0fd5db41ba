//! The demo: two instances on loopback, an identity on the first following a group on the
//! second, an event published, joined, accepted and commented, each step printed.
//!
//! [`Client`] is the client-to-server side the demo (and the tests) use.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::{Options, Running, start};

/// An identity's client: POSTs activities to its outbox with its bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The identity's actor id.
    pub actor: String,
    token: String,
}

impl Client {
    /// The client of identity `actor` (its id) with `token`.
    pub fn new(actor: impl Into<String>, token: impl Into<String>) -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            actor: actor.into(),
            token: token.into(),
        })
    }

    /// From the JSON `create-identity` prints.
    pub fn from_identity(identity: &Value) -> Result<Self> {
        let actor = identity
            .pointer("/actor")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("no actor in {identity}"))?;
        let token = identity
            .pointer("/token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("no token in {identity}"))?;
        Self::new(actor, token)
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// POSTs `activity` to the outbox; returns the status and the answer.
    pub async fn post_raw(&self, activity: &Value) -> Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/outbox", self.actor))
            .bearer_auth(&self.token)
            .header("content-type", "application/activity+json")
            .body(serde_json::to_vec(activity)?)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// POSTs `activity`; returns the stored activity, failing unless the answer is 201.
    pub async fn post(&self, activity: Value) -> Result<Value> {
        let (status, body) = self.post_raw(&activity).await?;
        if status != 201 {
            bail!("the outbox answered {status}: {body}");
        }
        Ok(body)
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts an instance for the demo or a test: loopback, embedded SQLite in `dir`, sign-up open
/// to anyone (its pages are there to be tried).
pub async fn loopback_instance(dir: &Path, name: &str) -> Result<Running> {
    let database = dir.join(format!("{name}.sqlite"));
    let options = Options::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        database.to_string_lossy().into_owned(),
    )
    .with_name(name)
    .with_signup(crate::SignupMode::Open)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    start(options).await
}

/// The admin commands for a running loopback instance.
pub fn admin_of(running: &Running, dir: &Path, name: &str) -> Admin {
    Admin::new(
        dir.join(format!("{name}.sqlite"))
            .to_string_lossy()
            .into_owned(),
    )
    .with_base_url(Some(running.base_url.clone()))
    .with_danger_allow_private_addresses(true)
}

const WAIT: Duration = Duration::from_secs(30);

/// Runs the demo in `dir`; stops both instances at the end when `once`, else serves until
/// interrupted.
pub async fn run(dir: &Path, once: bool) -> Result<()> {
    let alpha = loopback_instance(dir, "alpha").await?;
    let beta = loopback_instance(dir, "beta").await?;
    println!("1. two instances are running:");
    println!("   alpha at {}", alpha.base_url);
    println!("   beta  at {}", beta.base_url);

    let alice = admin_of(&alpha, dir, "alpha")
        .create_identity("alice")
        .await?;
    let alice = Client::from_identity(&alice)?;
    let beta_admin = admin_of(&beta, dir, "beta");
    let organizer = Client::from_identity(&beta_admin.create_identity("organizer").await?)?;
    let group = beta_admin.create_group("hikers", "organizer").await?;
    let group = group
        .pointer("/actor")
        .and_then(Value::as_str)
        .context("no group id")?
        .to_owned();
    println!(
        "2. identities: {} on alpha, {} on beta; group {group} on beta",
        alice.actor, organizer.actor
    );

    alice
        .post(json!({"type": "Follow", "object": group}))
        .await?;
    eventually(
        WAIT,
        "beta to record alice as a follower of the group",
        || async {
            Ok(beta
                .instance
                .followers_of("hikers")
                .await?
                .contains(&alice.actor)
                .then_some(()))
        },
    )
    .await?;
    eventually(WAIT, "alpha to get the Accept of the Follow", || async {
        Ok((alpha
            .instance
            .following_state("alice", &group)
            .await?
            .as_deref()
            == Some("accepted"))
        .then_some(()))
    })
    .await?;
    println!("3. alice follows the group (beta accepted the Follow; alpha got the Accept)");

    let create = organizer
        .post(json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": "Autumn walk on the ridge",
                "content": "<p>Twelve kilometres, a picnic at the top. Bring water.</p>",
                "startTime": "2031-10-04T09:00:00+02:00",
                "endTime": "2031-10-04T16:00:00+02:00",
                "timezone": "Europe/Paris",
                "joinMode": "restricted",
                "maximumAttendeeCapacity": 12,
                "attributedTo": group,
                "location": {
                    "type": "Place",
                    "name": "Col de la Croix",
                    "latitude": 45.9,
                    "longitude": 6.1,
                    "address": {
                        "type": "PostalAddress",
                        "streetAddress": "Route du col",
                        "addressLocality": "Thônes",
                        "postalCode": "74230",
                        "addressCountry": "FR"
                    }
                }
            }
        }))
        .await?;
    let event = create
        .pointer("/object/id")
        .and_then(Value::as_str)
        .context("no event id")?
        .to_owned();
    eventually(WAIT, "alpha to receive the event", || async {
        Ok(alpha.instance.stored_object(&event).await?.map(|_| ()))
    })
    .await?;
    println!("4. the organizer published {event}; alpha received it");

    let join = alice.post(json!({"type": "Join", "object": event})).await?;
    let join_id = join
        .pointer("/id")
        .and_then(Value::as_str)
        .context("no Join id")?
        .to_owned();
    eventually(WAIT, "beta to receive the Join", || async {
        Ok((beta
            .instance
            .participation_state(&event, &alice.actor)
            .await?
            .as_deref()
            == Some("pending"))
        .then_some(()))
    })
    .await?;
    println!("5. alice asked to join (the event needs approval): beta has the request pending");

    organizer
        .post(json!({"type": "Accept", "object": join_id}))
        .await?;
    eventually(WAIT, "alpha to learn that alice was accepted", || async {
        Ok((alpha
            .instance
            .participation_state(&event, &alice.actor)
            .await?
            .as_deref()
            == Some("accepted"))
        .then_some(()))
    })
    .await?;
    eventually(WAIT, "the participant counts to agree", || async {
        let here = alpha.instance.participant_count(&event).await?;
        let there = beta.instance.participant_count(&event).await?;
        Ok((here == Some(1) && there == Some(1)).then_some(()))
    })
    .await?;
    println!("6. the organizer accepted; both instances count 1 participant");

    let comment = alice
        .post(json!({
            "type": "Note",
            "inReplyTo": event,
            "content": "<p>Looking forward to it! Is there parking at the col?</p>"
        }))
        .await?;
    let comment_id = comment
        .pointer("/object/id")
        .and_then(Value::as_str)
        .context("no comment id")?
        .to_owned();
    eventually(WAIT, "beta to receive the comment", || async {
        Ok(beta
            .instance
            .comment_ids(&event)
            .await?
            .contains(&comment_id)
            .then_some(()))
    })
    .await?;
    println!("7. alice commented; the comment is on the event at beta");
    println!();
    println!("   event page:      {event}");
    println!("   its calendar:    {event}/calendar.ics");
    println!("   the group:       {group}");
    println!("   upcoming events: {}", beta.base_url);
    println!(
        "   sign up (open):  {}signup, then create events and groups, follow @hikers@{} from alpha",
        alpha.base_url,
        beta.base_url.authority()
    );

    if once {
        alpha.stop().await?;
        beta.stop().await?;
        println!("done: both instances stopped");
        return Ok(());
    }
    println!();
    println!("both instances keep running; press Ctrl-C to stop them");
    tokio::signal::ctrl_c().await?;
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}

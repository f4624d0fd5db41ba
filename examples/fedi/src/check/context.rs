//! What the checks share: the target, what was learnt of it so far, the raw HTTP client and
//! `fedi`'s ephemeral actor.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http::StatusCode;
use http_signatures::{Signer, Standard};
use serde_json::Value;
use url::Url;
use webfinger::fetch::is_public_address;
use webfinger::{AcctUri, Host, Resource};

use crate::actor::{ActorConfig, Ephemeral};
use crate::net::Network;
use crate::probe::{Answer, Probe};

/// The `Accept` of ActivityPub GETs.
pub(crate) const ACCEPT_ACTIVITY_JSON: &str = "application/activity+json";

/// An actor document, fetched.
#[derive(Debug, Clone)]
pub(crate) struct LoadedActor {
    /// The URL asked for.
    pub(crate) url: Url,
    /// The answer (the URL it came from after redirects is `answer.url`).
    pub(crate) answer: Answer,
    /// The document.
    pub(crate) document: Value,
}

/// The state of a check run.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The network switches.
    pub(crate) network: Network,
    /// The raw HTTP client.
    pub(crate) probe: Probe,
    /// The server's host (and port).
    pub(crate) host: Host,
    /// `https` or `http`, once known.
    pub(crate) scheme: Option<String>,
    /// The account checked, once known.
    pub(crate) acct: Option<AcctUri>,
    /// The actor checked, once known.
    pub(crate) actor_url: Option<Url>,
    /// Its document, once fetched.
    pub(crate) actor: Option<LoadedActor>,
    /// Why the actor could not be had, when it could not.
    pub(crate) actor_error: Option<String>,
    /// NodeInfo's instance actor (FEP-2677).
    pub(crate) instance_actor: Option<Url>,
    /// `fedi`'s ephemeral actor.
    pub(crate) ephemeral: Option<Ephemeral>,
    /// Whether the server can reach the ephemeral actor, or why not.
    pub(crate) reach_back: Result<(), String>,
    /// How long to wait for what the server sends back.
    pub(crate) wait: Duration,
    /// The server requires signed fetches: it said so (--authorized-fetch), or refused an
    /// unsigned GET of the actor.
    pub(crate) authorized_fetch: bool,
}

impl Ctx {
    /// Reads the target and starts the ephemeral actor.
    pub(crate) async fn new(
        target: &str,
        network: Network,
        listen: SocketAddr,
        public_url: Option<Url>,
        wait: Duration,
        authorized_fetch: bool,
    ) -> anyhow::Result<Ctx> {
        let target = target.trim();
        let (host, scheme, acct, actor_url) =
            if target.starts_with("https://") || target.starts_with("http://") {
                let url = Url::parse(target).with_context(|| format!("`{target}` is not a URL"))?;
                let authority = match (url.host_str(), url.port()) {
                    (Some(host), Some(port)) => format!("{host}:{port}"),
                    (Some(host), None) => host.to_owned(),
                    (None, _) => bail!("`{target}` has no host"),
                };
                let host = Host::parse(&authority)
                    .with_context(|| format!("`{authority}` is not a host"))?;
                let actor = (url.path() != "/" && !url.path().is_empty()).then_some(url.clone());
                (host, Some(url.scheme().to_owned()), None, actor)
            } else {
                let resource = Resource::from_user_input(target)
                    .with_context(|| format!("`{target}` is neither a handle nor a URL"))?;
                let Some(acct) = resource.as_acct().cloned() else {
                    bail!("`{target}` is neither a handle nor a URL");
                };
                (acct.host().clone(), None, Some(acct), None)
            };
        let probe = Probe::new(&network)?;
        let started = Ephemeral::start(ActorConfig {
            listen,
            public_url: public_url.clone(),
            name: "fedi".to_owned(),
            network: network.clone(),
            printer: None,
        })
        .await;
        let (ephemeral, reach_back) = match started {
            Ok(ephemeral) => {
                let reach_back = reachable(&host, &ephemeral, public_url.is_some()).await;
                (Some(ephemeral), reach_back)
            }
            Err(error) => (
                None,
                Err(format!("fedi's actor could not start: {error:#}")),
            ),
        };
        Ok(Ctx {
            network,
            probe,
            host,
            scheme,
            acct,
            actor_url,
            actor: None,
            actor_error: None,
            instance_actor: None,
            ephemeral,
            reach_back,
            wait,
            authorized_fetch,
        })
    }

    /// `scheme://host/path_and_query`, with the scheme known or guessed (`https`).
    pub(crate) fn url_on_host(&self, scheme: &str, path_and_query: &str) -> anyhow::Result<Url> {
        Url::parse(&format!("{scheme}://{}{path_and_query}", self.host))
            .with_context(|| format!("cannot make a URL on {}", self.host))
    }

    /// GETs `path_and_query` on the server: over the scheme known, else https and, with
    /// --danger-allow-http, http when https cannot connect. Learns the scheme.
    pub(crate) async fn get_from_host(
        &mut self,
        path_and_query: &str,
        accept: &str,
    ) -> anyhow::Result<Answer> {
        if let Some(scheme) = self.scheme.clone() {
            let url = self.url_on_host(&scheme, path_and_query)?;
            return self.probe.get(&url, accept, None).await;
        }
        let https = self.url_on_host("https", path_and_query)?;
        match self.probe.get(&https, accept, None).await {
            Ok(answer) => {
                self.scheme = Some("https".to_owned());
                Ok(answer)
            }
            Err(error) if self.network.danger_allow_http => {
                let http = self.url_on_host("http", path_and_query)?;
                let answer = self
                    .probe
                    .get(&http, accept, None)
                    .await
                    .with_context(|| format!("over https: {error:#}"))?;
                self.scheme = Some("http".to_owned());
                Ok(answer)
            }
            Err(error) => Err(error),
        }
    }

    /// A signer of `fedi`'s actor with its RSA key, when the server can fetch that key.
    pub(crate) fn signer(&self, standard: Standard) -> Option<Signer> {
        match (&self.ephemeral, &self.reach_back) {
            (Some(ephemeral), Ok(())) => Some(ephemeral.main().rsa_signer(standard)),
            _ => None,
        }
    }

    /// GETs an ActivityPub document: unsigned, and when that is refused with 401 or 403 (or
    /// the server requires signed fetches), signed by `fedi`'s actor if the server can reach
    /// it. Returns the answer and whether it was signed.
    pub(crate) async fn get_activitypub(
        &mut self,
        url: &Url,
        accept: &str,
    ) -> anyhow::Result<(Answer, bool)> {
        if !self.authorized_fetch {
            let answer = self.probe.get(url, accept, None).await?;
            if !matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) {
                return Ok((answer, false));
            }
            self.authorized_fetch = true;
            if self.signer(Standard::Cavage).is_none() {
                return Ok((answer, false));
            }
        }
        match self.signer(Standard::Cavage) {
            Some(signer) => Ok((self.probe.get(url, accept, Some(&signer)).await?, true)),
            None => Ok((self.probe.get(url, accept, None).await?, false)),
        }
    }

    /// Fetches the actor at [`Ctx::actor_url`] (once).
    pub(crate) async fn load_actor(&mut self) {
        if self.actor.is_some() || self.actor_error.is_some() {
            return;
        }
        let Some(url) = self.actor_url.clone() else {
            self.actor_error = Some(
                "no actor to check: give a handle or an actor URL (the server names no instance \
                 actor in NodeInfo)"
                    .to_owned(),
            );
            return;
        };
        if self.scheme.is_none() {
            self.scheme = Some(url.scheme().to_owned());
        }
        match self.get_activitypub(&url, ACCEPT_ACTIVITY_JSON).await {
            Ok((answer, _)) if answer.status.is_success() => match answer.json() {
                Some(document) => {
                    self.actor = Some(LoadedActor {
                        url,
                        answer,
                        document,
                    });
                }
                None => {
                    self.actor_error = Some(format!("the actor is not JSON: {}", answer.summary()));
                }
            },
            Ok((answer, _)) => {
                self.actor_error = Some(format!("the actor cannot be had: {}", answer.summary()));
            }
            Err(error) => {
                self.actor_error = Some(format!(
                    "the actor cannot be had: {}",
                    crate::net::explain(&error)
                ));
            }
        }
    }

    /// Why a check that needs the server to reach `fedi` cannot run, if it cannot.
    pub(crate) fn cannot_reach_back(&self) -> Option<String> {
        self.reach_back.as_ref().err().cloned()
    }

    /// Stops the ephemeral actor.
    pub(crate) async fn stop(self) {
        if let Some(ephemeral) = self.ephemeral {
            ephemeral.stop().await;
        }
    }
}

/// Whether a server at `host` can reach the ephemeral actor: yes behind --public-url (the
/// operator says so), and on loopback only when the server is on this machine or a private
/// network too.
async fn reachable(host: &Host, ephemeral: &Ephemeral, public: bool) -> Result<(), String> {
    if public {
        return Ok(());
    }
    let target = host.to_string();
    let with_port = if target
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !target.ends_with(']')
    {
        target.clone()
    } else {
        format!("{target}:443")
    };
    let addresses: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(&with_port).await {
        Ok(addresses) => addresses.collect(),
        Err(error) => return Err(format!("cannot resolve {target}: {error}")),
    };
    if !addresses.is_empty() && addresses.iter().all(|a| !is_public_address(a.ip())) {
        return Ok(());
    }
    Err(format!(
        "the server ({target}) is not on this machine, and fedi's actor listens on {} only: run \
         `fedi check` with --public-url (a tunnel to --listen) for the checks that need the \
         server to reach fedi",
        ephemeral.listen
    ))
}

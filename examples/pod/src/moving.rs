//! Moving an account elsewhere, as Mastodon does it (FEP-7628), over instance-state's moves:
//! a person lists their other accounts ("also known as"), which lets those accounts move here,
//! and moves this account to another one that lists it. Moves received from elsewhere are
//! instance-state's social handlers' (the people here who followed the old account follow the
//! new one). The administration commands of the same are here too.

use anyhow::{Result, bail};
use serde_json::{Value, json};
use url::Url;

use crate::Pod;
use crate::admin::Admin;
use crate::app::Instance;

/// What the pod refuses about aliases (the moves' own refusals are instance-state's
/// [`MoveError`](instance_state::moves::MoveError)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AliasRefused {
    /// An account is not another account of itself.
    #[error("an account cannot be an alias of itself")]
    Itself,
    /// A person lists a few other accounts, not a directory.
    #[error("an account lists at most {MAX_ALIASES} other accounts")]
    TooMany,
}

/// The most other accounts one person lists.
pub const MAX_ALIASES: usize = 10;

impl Instance {
    /// Lists `alias` (an actor id) among local person `name`'s other accounts (its
    /// `alsoKnownAs`), so that `alias` may move here, and sends the person's document again.
    /// The aliases now.
    pub async fn add_alias(&self, name: &str, alias: &str) -> Result<Vec<String>> {
        let actor = self.state().live_actor(name).await?;
        if alias == self.actor_id(name).as_str() {
            bail!(AliasRefused::Itself);
        }
        let mut aliases = actor.also_known_as;
        if aliases.iter().any(|a| a == alias) {
            return Ok(aliases);
        }
        if aliases.len() >= MAX_ALIASES {
            bail!(AliasRefused::TooMany);
        }
        aliases.push(alias.to_owned());
        self.state().set_also_known_as(name, &aliases).await?;
        self.send_profile(name).await?;
        if let Err(error) = self.remember_actor(alias).await {
            tracing::debug!(%error, %alias, "naming an alias");
        }
        Ok(aliases)
    }

    /// Takes `alias` off local person `name`'s other accounts, and sends its document again.
    /// The aliases now.
    pub async fn remove_alias(&self, name: &str, alias: &str) -> Result<Vec<String>> {
        let actor = self.state().live_actor(name).await?;
        let aliases: Vec<String> = actor
            .also_known_as
            .into_iter()
            .filter(|a| a != alias)
            .collect();
        self.state().set_also_known_as(name, &aliases).await?;
        self.send_profile(name).await?;
        Ok(aliases)
    }

    /// Moves local person `name` to `target` (an actor id): refused unless `target` lists it
    /// among its other accounts, and within 30 days of an earlier move (instance-state's
    /// [`InstanceState::move_to`](instance_state::InstanceState::move_to)). Its followers get a
    /// `Move`, its document says `movedTo` (sent again), its page says where it went. The
    /// `Move`.
    pub async fn move_account(&self, name: &str, target: &str) -> Result<Value> {
        let moved = self
            .state()
            .move_to(self.outbox(), self.keys(), name, target)
            .await?;
        self.send_profile(name).await?;
        if let Err(error) = self.remember_actor(target).await {
            tracing::debug!(%error, %target, "naming the account moved to");
        }
        Ok(moved)
    }
}

/// The actor `text` names for an administration command: an actor's address, or `@name@host`
/// (this pod's own people directly, others through WebFinger).
pub(crate) async fn resolve(instance: &Instance, danger: bool, text: &str) -> Result<String> {
    let text = text.trim();
    if text.starts_with("https://") || text.starts_with("http://") {
        return Ok(Url::parse(text)?.to_string());
    }
    let acct = webfinger::AcctUri::from_handle(text.trim_start_matches('@'))?;
    if acct
        .host()
        .to_string()
        .eq_ignore_ascii_case(&instance.authority())
    {
        instance.state().live_actor(acct.user()).await?;
        return Ok(instance.actor_id(acct.user()).to_string());
    }
    let client = webfinger::client::Client::from_config(
        webfinger::fetch::HttpConfig::default()
            .with_danger_allow_http(danger)
            .with_danger_allow_private_addresses(danger),
    )?;
    let resolved = client
        .resolve(&webfinger::Resource::Acct(acct.clone()))
        .await?;
    Ok(resolved.actor_id.to_string())
}

/// `admin add-alias NAME ACCOUNT`: lists `account` (`@name@host` or an address) among local
/// person `name`'s other accounts. The document `Update` is delivered when the pod next serves.
pub async fn admin_add_alias(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let alias = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    let aliases = instance.add_alias(name, &alias).await?;
    Ok(json!({"actor": instance.actor_id(name).as_str(), "alsoKnownAs": aliases}))
}

/// `admin remove-alias NAME ACCOUNT`.
pub async fn admin_remove_alias(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let alias = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    let aliases = instance.remove_alias(name, &alias).await?;
    Ok(json!({"actor": instance.actor_id(name).as_str(), "alsoKnownAs": aliases}))
}

/// `admin move NAME ACCOUNT`: moves local person `name` to `account` (which must list it).
/// The `Move` is delivered when the pod next serves.
pub async fn admin_move(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let target = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    instance.move_account(name, &target).await
}

/// Why the move proof of an archive (`pod/move.json`, see [`sign_move_proof`]) is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MoveProofError {
    /// Its Linked Data signature is missing, unreadable or does not verify.
    #[error("its Linked Data signature: {0}")]
    Signature(#[source] Box<ld_signatures::Error>),
    /// The archive's `actor.json` has no RSA key of the id the signature names.
    #[error("actor.json has no key {creator}, which signed it")]
    UnknownKey {
        /// The key the signature names.
        creator: String,
    },
    /// That key is not one this pod can read.
    #[error("the key {creator} of actor.json cannot be read: {detail}")]
    UnreadableKey {
        /// The key id.
        creator: String,
        /// Why.
        detail: String,
    },
    /// The signed document is not a `Move` of the archive's person by itself.
    #[error("it is not a Move of {origin} by itself ({what} differs)")]
    NotAMoveOfTheArchive {
        /// The archive's person.
        origin: String,
        /// Which member differs.
        what: &'static str,
    },
    /// It moves the archive's person to another account than the one importing it.
    #[error("it moves {origin} to {target}, not to this account ({importing})")]
    OtherTarget {
        /// The archive's person.
        origin: String,
        /// The account it names.
        target: String,
        /// The account importing the archive.
        importing: String,
    },
}

/// What [`Instance::send_archived_move`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct MoveSent {
    /// Followers whose inbox the `Move` was queued for.
    pub queued: u64,
    /// Followers here, moved at once.
    pub local: u64,
    /// Followers whose inbox could not be found (their server did not answer, or their
    /// document names none): the serving process tries them again (`pending_moves.rs`).
    pub unreachable: u64,
}

/// The most followers a `Move` from an archive is sent to.
pub const MAX_MOVE_RECIPIENTS: usize = 100_000;

/// The `Move{actor: origin, object: origin, target}` an export carries when the person names
/// the account they move to (FEP-7628's pull mode), signed by `origin`'s RSA key `key_id`
/// (`RsaSignature2017`) at `now` (Unix microseconds). The private key never leaves the pod:
/// the proof authorises that one target and nothing else. Its id is a fragment of the actor's
/// (`#moves/...`), as Mastodon names its `Move`s; it is addressed to `origin`'s followers.
pub fn sign_move_proof(
    key: &ld_signatures::SigningKey,
    key_id: &str,
    origin: &str,
    target: &str,
    now: i64,
) -> Result<Value> {
    let move_ = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{origin}#moves/{}", uuid::Uuid::new_v4()),
        "type": "Move",
        "actor": origin,
        "object": origin,
        "target": target,
        "to": [format!("{origin}/followers")],
    });
    let created = time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1_000_000))?;
    Ok(ld_signatures::sign(&move_, key_id, created, key)?)
}

/// Checks an archive's move proof: signed by the RSA key of the archive's `actor.json`
/// (`document`) that its signature names, a `Move` of `origin` by itself, to `importing`.
pub fn check_move_proof(
    proof: &Value,
    document: &Value,
    origin: &str,
    importing: &str,
) -> Result<(), MoveProofError> {
    let signature = |e: ld_signatures::Error| MoveProofError::Signature(Box::new(e));
    let creator = ld_signatures::LdSignature::read(proof)
        .map_err(signature)?
        .creator;
    let keys = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key) => vec![key],
        None => Vec::new(),
    };
    let pem = keys
        .into_iter()
        .filter(|key| key.get("id").and_then(Value::as_str) == Some(creator.as_str()))
        .find_map(|key| key.get("publicKeyPem").and_then(Value::as_str))
        .ok_or_else(|| MoveProofError::UnknownKey {
            creator: creator.clone(),
        })?;
    let key =
        ld_signatures::VerifyingKey::from_pem(pem).map_err(|e| MoveProofError::UnreadableKey {
            creator: creator.clone(),
            detail: e.to_string(),
        })?;
    let verified = ld_signatures::verify(proof, &key).map_err(signature)?;
    let not_ours = |what| MoveProofError::NotAMoveOfTheArchive {
        origin: origin.to_owned(),
        what,
    };
    let signed = &verified.document;
    if signed.get("type").and_then(Value::as_str) != Some("Move") {
        return Err(not_ours("type"));
    }
    if signed.get("id").and_then(Value::as_str) != Some(verified.id.as_str())
        || !verified.id.starts_with(&format!("{origin}#"))
    {
        return Err(not_ours("id"));
    }
    for member in ["actor", "object"] {
        if signed.get(member).and_then(Value::as_str) != Some(origin) {
            return Err(not_ours(member));
        }
    }
    let target = signed
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| not_ours("target"))?;
    if target != importing {
        return Err(MoveProofError::OtherTarget {
            origin: origin.to_owned(),
            target: target.to_owned(),
            importing: importing.to_owned(),
        });
    }
    Ok(())
}

impl Instance {
    /// Sends the `Move` an archive carries (`proof`, checked at import by
    /// [`check_move_proof`]: signed by the old account's key, to local person `name`) to the
    /// old account's `followers` as the archive lists them, HTTP-signed by `name`: one
    /// delivery per inbox, through the queue (recipients sharing an inbox get one). Each
    /// follower's inbox is read from its document (cached, or fetched, a few at a time); one
    /// that cannot be had now is recorded and tried again by the serving process
    /// (`pending_moves.rs`); a follower on this
    /// pod is moved at once, as a `Move` received here would move it. Receivers believe it
    /// from the old account's document, or, when that is gone, from the signature by the old
    /// key they kept (instance-state's `vouch_passed_on_move`).
    pub async fn send_archived_move(
        &self,
        name: &str,
        proof: &Value,
        followers: &[String],
    ) -> Result<MoveSent> {
        let me = self.actor_id(name).to_string();
        let origin = proof
            .get("actor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut sent = MoveSent::default();
        let mut remote = Vec::new();
        for follower in followers.iter().take(MAX_MOVE_RECIPIENTS) {
            if *follower == me {
                continue;
            }
            if self.state().is_local(follower) {
                sent.local += 1;
                continue;
            }
            remote.push(follower.clone());
        }
        let mut recipients = Vec::new();
        let mut unreached = Vec::new();
        for (follower, recipient) in self.move_recipients(remote).await {
            match recipient {
                Ok(recipient) => {
                    recipients.push(recipient);
                    sent.queued += 1;
                }
                Err(error) => {
                    tracing::info!(%follower, %error, "a follower of the old account cannot be reached now; tried again later");
                    unreached.push((follower, error));
                    sent.unreachable += 1;
                }
            }
        }
        if !recipients.is_empty() {
            self.queue_move(name, serde_json::to_vec(proof)?, recipients)
                .await?;
        }
        self.remember_unreached(name, proof, &unreached).await?;
        if sent.local > 0 && !origin.is_empty() {
            self.state().record_move(&origin, &me).await?;
            self.state().set_remote_moved_to(&origin, &me).await?;
            self.state().carry_blocks(&origin, &me).await?;
            self.state()
                .move_followers(self.outbox(), &origin, &me)
                .await?;
        }
        tracing::info!(actor = name, %origin, queued = sent.queued, local = sent.local, unreachable = sent.unreachable, "the archive's Move sent");
        Ok(sent)
    }
}

//! Moving accounts: FEP-7628's `Move`, as Mastodon sends and receives it.
//!
//! A person who opens an account elsewhere first lists the old account among the new one's
//! other accounts (`alsoKnownAs`), then moves the old one: its document says `movedTo`, and a
//! `Move{actor: old, object: old, target: new}` goes to its followers. A server that receives
//! it fetches the new account's document afresh and, when it lists the old one, has each of
//! its people who followed the old account follow the new one instead.
//!
//! Both sides are here: [`InstanceState::set_also_known_as`] and [`InstanceState::move_to`]
//! for local actors, and [`InstanceState::check_move_target`] and
//! [`InstanceState::move_followers`], which the `Move` handler of
//! [`social_handlers`](crate::handlers::social_handlers) runs for a received one. Every move
//! accepted or made is kept (`st_moves`), so that a move back within [`MOVE_COOLDOWN`] is
//! refused, as Mastodon refuses it; the local actors' blocks of the old account are carried
//! over to the new one ([`InstanceState::carry_blocks`]).

use activitypub_core::Iri;
use federation::fetch::FetchBudget;
use federation::inbox::Forward;
use federation::keys::{KeyCache, KeyError};
use federation::outbox::{Enqueuer, Outbox};
use serde_json::{Value, json};
use tracing::info;
use url::Url;

use crate::actors::LocalActor;
use crate::blocks::BlockTarget;
use crate::error::{Columns, Error, db};
use crate::follows::FollowState;
use crate::{InstanceState, PublishError};

/// How long after a move another move of the same account, or a move back, is refused: 30
/// days (Unix microseconds), Mastodon's cool-down.
pub const MOVE_COOLDOWN: i64 = 30 * 24 * 3600 * 1_000_000;

/// The most followers of one account moved at once.
const MAX_MOVED_FOLLOWERS: u64 = 100_000;

/// Why a move was refused, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MoveError {
    /// Reading or writing the state failed.
    #[error(transparent)]
    State(#[from] Error),
    /// Sending the `Move` or the follows failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// An account cannot move to itself.
    #[error("{actor} cannot move to itself")]
    SameActor {
        /// The account.
        actor: String,
    },
    /// The target is not an actor's address.
    #[error("{target:?} is not an actor's address")]
    NotAnAddress {
        /// What was given.
        target: String,
    },
    /// The target's document could not be fetched.
    #[error("fetching {target}: {source}")]
    Fetch {
        /// The target.
        target: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The target is a local actor that does not exist (or was deleted).
    #[error("there is no {target} here")]
    NoTarget {
        /// The target.
        target: String,
    },
    /// A remote target and no way to fetch it.
    #[error("{target} is remote and there is no fetcher to read it with")]
    NoFetcher {
        /// The target.
        target: String,
    },
    /// The target's document does not list the moving account in its `alsoKnownAs`.
    #[error("{target} does not list {origin} among its other accounts (alsoKnownAs)")]
    NotListed {
        /// The moving account.
        origin: String,
        /// The target.
        target: String,
    },
    /// The target moved away from the moving account less than [`MOVE_COOLDOWN`] ago: a
    /// move back and forth.
    #[error("{target} moved away from {origin} less than 30 days ago")]
    MovedBack {
        /// The moving account.
        origin: String,
        /// The target.
        target: String,
        /// When the target moved away (Unix microseconds).
        at: i64,
    },
    /// A `Move` passed on by someone other than its actor that is not one as FEP-7628's pull
    /// mode sends it: a `Move` of its actor itself, to one target, passed on by that target.
    #[error("a Move passed on by {signer} is refused: {reason}")]
    NotPassedOnByTarget {
        /// Who passed it on (signed the delivery).
        signer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The old account's server still serves its document, which does not name the target
    /// (`movedTo` or `alsoKnownAs`): the live document decides.
    #[error("{origin} is still served and does not name {target} (movedTo or alsoKnownAs)")]
    OriginDoesNotName {
        /// The old account.
        origin: String,
        /// The target.
        target: String,
    },
    /// The old account's document cannot be had and no key of it is kept here.
    #[error("{origin} cannot be fetched ({reason}) and no key of it is kept here")]
    NoKeptKey {
        /// The old account.
        origin: String,
        /// Why it could not be fetched.
        reason: String,
    },
    /// The `Move`'s Linked Data signature is not by the key of the old account kept here.
    #[error("the Move is signed by {creator}, but the key of {origin} kept here is {kept}")]
    OtherKey {
        /// The old account.
        origin: String,
        /// The key the signature names.
        creator: String,
        /// The key kept.
        kept: String,
    },
    /// The `Move`'s Linked Data signature does not verify (or is missing, or unreadable).
    #[error("the Move's Linked Data signature by {origin}'s key: {source}")]
    Signature {
        /// The old account.
        origin: String,
        /// Why.
        #[source]
        source: Box<ld_signatures::Error>,
    },
    /// The signed document is not the `Move` delivered (another id, actor, object or target).
    #[error("the Linked Data signature covers another document than the Move delivered ({what})")]
    SignedOtherwise {
        /// Which member differs.
        what: &'static str,
    },
    /// The local actor moved less than [`MOVE_COOLDOWN`] ago.
    #[error("{actor} moved less than 30 days ago; it may move again after {until}")]
    TooSoon {
        /// The actor's name.
        actor: String,
        /// When it may move again (Unix microseconds).
        until: i64,
    },
}

/// The ids a member names: a string, an object's `id`, or those of an array's items.
fn member_ids(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(id)) => vec![id.as_str()],
        Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).into_iter().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|item| member_ids(Some(item)))
            .collect(),
        _ => Vec::new(),
    }
}

/// What [`InstanceState::move_followers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MovedFollowers {
    /// The local followers that now follow the target (or asked to), and no longer the
    /// origin.
    pub moved: Vec<String>,
    /// The local followers that already followed the target: they no longer follow the
    /// origin.
    pub already: Vec<String>,
    /// The local followers that block the target (or whose instance does): left as they
    /// were, following the origin, as Mastodon leaves them.
    pub blocked: Vec<String>,
}

impl InstanceState {
    /// Sets local actor `name`'s other accounts (`alsoKnownAs`, actor ids: the accounts that
    /// may move to it), replacing the list (empty: none). Its document shows them; the app
    /// sends its document again (`Update`) to its followers, as after any profile change.
    pub async fn set_also_known_as(
        &self,
        name: &str,
        aliases: &[String],
    ) -> Result<LocalActor, Error> {
        let mut actor = self.live_actor(name).await?;
        let mut kept: Vec<String> = Vec::with_capacity(aliases.len());
        for alias in aliases {
            if !Url::parse(alias).is_ok_and(|url| matches!(url.scheme(), "https" | "http")) {
                return Err(Error::InvalidDocument {
                    reason: "an alias (alsoKnownAs) is an actor's http(s) address",
                });
            }
            if !kept.contains(alias) {
                kept.push(alias.clone());
            }
        }
        let text = serde_json::to_string(&kept).map_err(|e| Error::Corrupt {
            what: "alsoKnownAs",
            detail: e.to_string(),
        })?;
        actor.also_known_as = kept;
        actor.updated = self.now();
        sqlx::query("UPDATE st_actors SET also_known_as = $2, updated = $3 WHERE name = $1")
            .bind(name)
            .bind(text)
            .bind(actor.updated)
            .execute(self.pool())
            .await
            .map_err(db("setting alsoKnownAs"))?;
        Ok(actor)
    }

    /// Records that `origin` moved to `target` (actor ids), now. `true` the first time this
    /// move is recorded (a later one updates its time).
    pub async fn record_move(&self, origin: &str, target: &str) -> Result<bool, Error> {
        let first = self.move_time(origin, target).await?.is_none();
        sqlx::query(
            "INSERT INTO st_moves (origin, target, at) VALUES ($1, $2, $3)
             ON CONFLICT (origin, target) DO UPDATE SET at = excluded.at",
        )
        .bind(origin)
        .bind(target)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("recording a move"))?;
        Ok(first)
    }

    /// When `origin` last moved to `target`, if it did (as recorded here).
    pub async fn move_time(&self, origin: &str, target: &str) -> Result<Option<i64>, Error> {
        let query = sqlx::query("SELECT at FROM st_moves WHERE origin = $1 AND target = $2")
            .bind(origin)
            .bind(target);
        self.fetch_row(query, "reading a move", |row| {
            Columns::new(row, "reading a move").get("at")
        })
        .await
    }

    /// The account `actor` (a local or remote actor id) moved to, if it did.
    pub async fn moved_to(&self, actor: &str) -> Result<Option<String>, Error> {
        if let Some(name) = self.local_name(actor) {
            return Ok(self.actor(&name).await?.and_then(|a| a.moved_to));
        }
        Ok(self.remote_actor(actor).await?.and_then(|a| a.moved_to))
    }

    /// Remembers that remote actor `actor` moved to `target` (its record made if it had none).
    pub async fn set_remote_moved_to(&self, actor: &str, target: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO st_remote_actors (id, kind, name, handle, url, inbox, moved_to, updated)
             VALUES ($1, NULL, $1, NULL, NULL, NULL, $2, $3)
             ON CONFLICT (id) DO UPDATE SET moved_to = excluded.moved_to",
        )
        .bind(actor)
        .bind(target)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("recording where an actor moved"))?;
        Ok(())
    }

    /// Whether `origin` may move to `target`, as Mastodon decides: not to itself, not back
    /// to an account that moved away from it less than [`MOVE_COOLDOWN`] ago, and only when
    /// `target`'s document, read afresh, lists `origin` in its `alsoKnownAs`. A local
    /// target's is read from the state; a remote one's is fetched through `keys` (its cached
    /// copy dropped first, and its keys refreshed with it), within `budget`.
    pub async fn check_move_target(
        &self,
        keys: Option<&KeyCache>,
        origin: &str,
        target: &str,
        budget: &mut FetchBudget,
    ) -> Result<(), MoveError> {
        if origin == target {
            return Err(MoveError::SameActor {
                actor: origin.to_owned(),
            });
        }
        if let Some(at) = self.move_time(target, origin).await?
            && at > self.now().saturating_sub(MOVE_COOLDOWN)
        {
            return Err(MoveError::MovedBack {
                origin: origin.to_owned(),
                target: target.to_owned(),
                at,
            });
        }
        let listed = if let Some(name) = self.local_name(target) {
            let Some(actor) = self.actor(&name).await?.filter(|actor| !actor.deleted) else {
                return Err(MoveError::NoTarget {
                    target: target.to_owned(),
                });
            };
            actor.also_known_as.iter().any(|alias| alias == origin)
        } else {
            let url = Url::parse(target).map_err(|_| MoveError::NotAnAddress {
                target: target.to_owned(),
            })?;
            let keys = keys.ok_or_else(|| MoveError::NoFetcher {
                target: target.to_owned(),
            })?;
            keys.invalidate(target);
            let remote = keys
                .actor(&url, budget)
                .await
                .map_err(|source| MoveError::Fetch {
                    target: target.to_owned(),
                    source,
                })?;
            remote.id.as_str() == target
                && remote
                    .actor
                    .also_known_as
                    .iter()
                    .flatten()
                    .any(|alias: &Iri| alias.as_str() == origin)
        };
        if listed {
            Ok(())
        } else {
            Err(MoveError::NotListed {
                origin: origin.to_owned(),
                target: target.to_owned(),
            })
        }
    }

    /// Whether a `Move` passed on by someone other than its actor (FEP-7628's pull mode: the
    /// new account sends the `Move` its old server signed before it went) can be believed as
    /// the old account's, before the `Move` handler checks it as any other
    /// ([`InstanceState::check_move_target`]: the target lists the old account).
    ///
    /// It must be a `Move` of its actor itself to one target, passed on (signed over HTTP) by
    /// that target. Then the old account's document is fetched afresh through `keys`:
    /// - when its server serves it, it decides: it must name the target (`movedTo` or
    ///   `alsoKnownAs`);
    /// - when it cannot be had (gone, `410`, `404`, the server unreachable), the `Move` must
    ///   carry an `RsaSignature2017` Linked Data signature by the old account's key kept here
    ///   ([`RemoteActor::key`](crate::remote::RemoteActor::key), remembered when it was met),
    ///   over this very `Move` (its id, actor, object and target), as Mastodon believes a
    ///   forwarded activity from the key it stored.
    pub async fn vouch_passed_on_move(
        &self,
        keys: Option<&KeyCache>,
        forward: &Forward,
        budget: &mut FetchBudget,
    ) -> Result<(), MoveError> {
        let origin = forward.actor.to_string();
        let signer = forward.signer.owner.to_string();
        let refuse = |reason| MoveError::NotPassedOnByTarget {
            signer: signer.clone(),
            reason,
        };
        let activity = &forward.activity;
        if activity.kind != activitypub_core::ActivityType::Move {
            return Err(refuse("it is not a Move"));
        }
        if activity.object_id() != Some(&forward.actor) {
            return Err(refuse("it moves something other than its actor"));
        }
        let targets: Vec<&Iri> = activity
            .target
            .iter()
            .flat_map(|targets| targets.iter())
            .filter_map(activitypub_core::reference_id)
            .collect();
        let [target] = targets.as_slice() else {
            return Err(refuse("it does not name one target"));
        };
        let target = target.to_string();
        if target != signer {
            return Err(refuse("it is passed on by someone other than its target"));
        }
        if let Some(keys) = keys
            && let Ok(url) = Url::parse(&origin)
        {
            keys.invalidate(&origin);
            match keys.actor(&url, budget).await {
                Ok(remote) => {
                    let named = remote.actor.moved_to.as_ref().map(Iri::as_str)
                        == Some(target.as_str())
                        || remote
                            .actor
                            .also_known_as
                            .iter()
                            .flatten()
                            .any(|alias| alias.as_str() == target);
                    return if remote.id.as_str() == origin && named {
                        Ok(())
                    } else {
                        Err(MoveError::OriginDoesNotName { origin, target })
                    };
                }
                Err(error) => {
                    info!(%origin, %error, "the old account of a passed-on Move cannot be fetched; checking its signature with the key kept");
                }
            }
        }
        let kept = self
            .remote_actor(&origin)
            .await?
            .and_then(|actor| actor.key)
            .ok_or_else(|| MoveError::NoKeptKey {
                origin: origin.clone(),
                reason: "its server does not serve it".to_owned(),
            })?;
        let document: Value =
            serde_json::from_slice(&forward.body).map_err(|_| refuse("its body is not JSON"))?;
        let signature_error = |source: ld_signatures::Error| MoveError::Signature {
            origin: origin.clone(),
            source: Box::new(source),
        };
        let read = ld_signatures::LdSignature::read(&document).map_err(signature_error)?;
        if read.creator != kept.key_id {
            return Err(MoveError::OtherKey {
                origin: origin.clone(),
                creator: read.creator,
                kept: kept.key_id,
            });
        }
        let verified =
            ld_signatures::verify(&document, &kept.verifying_key()?).map_err(signature_error)?;
        let id = activity.props.id.as_ref().map(Iri::as_str);
        if Some(verified.id.as_str()) != id {
            return Err(MoveError::SignedOtherwise { what: "id" });
        }
        let signed = &verified.document;
        if signed.get("type").and_then(Value::as_str) != Some("Move") {
            return Err(MoveError::SignedOtherwise { what: "type" });
        }
        for (member, wanted) in [("actor", &origin), ("object", &origin), ("target", &target)] {
            if member_ids(signed.get(member)) != [wanted.as_str()] {
                return Err(MoveError::SignedOtherwise { what: member });
            }
        }
        Ok(())
    }

    /// Has every local actor that follows `origin` follow `target` instead (a `Follow`, the
    /// follow recorded as pending until answered; none when it follows `target` already) and
    /// stop following `origin` (`Undo{Follow}` when `origin` is remote, the follow removed),
    /// with a `move` notification. A follower that blocks `target` (or whose instance blocks
    /// it) is left as it was. Running it again does nothing more: no follow of `origin` is
    /// left.
    pub async fn move_followers<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        origin: &str,
        target: &str,
    ) -> Result<MovedFollowers, PublishError> {
        let mut done = MovedFollowers::default();
        let follows = self
            .followers(origin, FollowState::Accepted, 0, MAX_MOVED_FOLLOWERS)
            .await?;
        for follow in follows {
            let Some(name) = self.local_name(&follow.follower) else {
                continue;
            };
            if follow.follower == target
                || self.actor(&name).await?.is_none_or(|actor| actor.deleted)
            {
                continue;
            }
            if self
                .block_list(Some(&follow.follower))
                .await?
                .blocks(target)
            {
                info!(follower = %follow.follower, %target, "a follower blocks the target of a move; left as it was");
                done.blocked.push(follow.follower);
                continue;
            }
            let follows_target = self
                .follow(&follow.follower, target)
                .await?
                .is_some_and(|f| f.state != FollowState::Rejected);
            if !follows_target {
                self.send_follow(outbox, &name, target).await?;
            }
            self.send_unfollow(outbox, &name, origin).await?;
            self.notify(&follow.follower, "move", origin, None, Some(target))
                .await?;
            if follows_target {
                done.already.push(follow.follower);
            } else {
                done.moved.push(follow.follower);
            }
        }
        info!(%origin, %target, moved = done.moved.len(), already = done.already.len(), blocked = done.blocked.len(), "followers moved");
        Ok(done)
    }

    /// Carries the local actors' blocks of `origin` over to `target`, as Mastodon's
    /// `MoveWorker` does: whoever here blocked the old account blocks the new one too (ending
    /// the follows between them), unless they follow it already. Nothing is sent. How many
    /// blocks were made.
    pub async fn carry_blocks(&self, origin: &str, target: &str) -> Result<u64, Error> {
        use sqlx::Row as _;
        let rows = sqlx::query(
            "SELECT blocker FROM st_blocks WHERE kind = 'actor' AND target = $1 AND blocker <> ''",
        )
        .bind(origin)
        .fetch_all(self.pool())
        .await
        .map_err(db("listing the blocks of a moved actor"))?;
        let mut made = 0;
        for row in rows {
            let blocker: String = row
                .try_get("blocker")
                .map_err(db("listing the blocks of a moved actor"))?;
            if blocker == target
                || self
                    .follow(&blocker, target)
                    .await?
                    .is_some_and(|f| f.state == FollowState::Accepted)
            {
                continue;
            }
            let reason = format!("moved from {origin}, which was blocked");
            if self
                .block(
                    Some(&blocker),
                    &BlockTarget::Actor(target.to_owned()),
                    &reason,
                )
                .await?
            {
                made += 1;
            }
        }
        Ok(made)
    }

    /// Moves local actor `name` to `target` (an actor id, here or elsewhere), as Mastodon
    /// does: refused ([`MoveError`]) when `name` moved less than [`MOVE_COOLDOWN`] ago, or
    /// when [`InstanceState::check_move_target`] refuses (`target`'s document, fetched afresh
    /// through `keys`, must list `name` in its `alsoKnownAs`). Then `name` is marked as moved
    /// (its document says `movedTo`; it is still served), the move is recorded, a `Move` goes
    /// to its followers (addressed to its followers collection), and its local followers
    /// follow `target` instead ([`InstanceState::move_followers`]). The app sends the actor's
    /// document again (`Update`), as after any profile change. Returns the `Move`.
    pub async fn move_to<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        keys: &KeyCache,
        name: &str,
        target: &str,
    ) -> Result<Value, MoveError> {
        let actor = self.live_actor(name).await?;
        let now = self.now();
        if let Some(at) = actor.moved_at
            && now < at.saturating_add(MOVE_COOLDOWN)
        {
            return Err(MoveError::TooSoon {
                actor: name.to_owned(),
                until: at.saturating_add(MOVE_COOLDOWN),
            });
        }
        let origin = self.actor_id(name).to_string();
        let mut budget = FetchBudget::default();
        self.check_move_target(Some(keys), &origin, target, &mut budget)
            .await?;
        // Sent first, marked after: a Move that could not be enqueued leaves the actor free
        // to try again, and one sent twice is taken once by its receivers.
        let followers = format!("{origin}/followers");
        let mut activity = self.new_activity("Move", name, json!(origin), &[followers.as_str()]);
        if let Some(map) = activity.as_object_mut() {
            map.insert("target".into(), json!(target));
        }
        self.publish(outbox, name, activity.clone(), Some(&origin))
            .await?;
        sqlx::query(
            "UPDATE st_actors SET moved_to = $2, moved_at = $3, updated = $3 WHERE name = $1",
        )
        .bind(name)
        .bind(target)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(db("marking an actor as moved"))?;
        self.record_move(&origin, target).await?;
        self.carry_blocks(&origin, target).await?;
        self.move_followers(outbox, &origin, target).await?;
        info!(actor = name, %target, "moved");
        Ok(activity)
    }
}

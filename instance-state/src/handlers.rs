//! The inbox handlers of the social graph, for an app to take into its [`Dispatcher`].
//!
//! [`social_handlers`] registers handlers for `Follow`, `Accept`, `Reject`, `Undo`, `Block`,
//! `Delete`, `Update`, `Flag` and `Move`, for actors found gone, and the inbox's `forwarded`
//! hook. Each does what is about the state
//! this crate keeps and hands the rest to the app through [`Social::unhandled`]:
//!
//! | activity | handled here | handed to the app |
//! |---|---|---|
//! | `Follow` of a local actor | recorded; `Accept` sent at once, or pending (a `follow_request` notification) when the actor `manuallyApprovesFollowers`; `Reject` when the actor blocks the follower | a `Follow` of anything else |
//! | `Accept` / `Reject` of a local actor's `Follow` | the follow's state (only the followed actor answers) | anything else (a `Join`'s answer) |
//! | `Undo` of a `Follow` | the follow removed | anything else |
//! | `Block` of a local actor | the follows between them removed | — |
//! | `Delete` of the actor itself, or its key answering `410` | the actor forgotten ([`Social::actor_deleted`] then) | any other `Delete` (after the stored object, if any and if the actor is one of its authors, became a `Tombstone`) |
//! | `Update` of the actor itself | its name and handle refreshed, its cached keys dropped | any other `Update` |
//! | `Flag` | a report filed (once per `Flag`) | — |
//! | `Move` of the actor itself to an account whose document, fetched afresh, lists it in `alsoKnownAs` | the local followers follow the new account and no longer the old ([`moves`](crate::moves)); refused (logged, nothing done) otherwise, or when it moves back within 30 days | — |
//! | a forward (signed over HTTP by someone other than its actor): a `Move` passed on by its target | vouched for when the old account's document, fetched, names the target, or when it cannot be fetched and the `Move`'s LD signature verifies with the old account's key kept here ([`InstanceState::vouch_passed_on_move`](crate::InstanceState::vouch_passed_on_move)), then handled as any `Move`; refused (`401`) otherwise | any other forward ([`Social::forwarded`], refused by default) |
//!
//! The `Dispatcher` keeps one handler per type: register the app's own types (`Create`,
//! `Announce`, `Like`...) on the dispatcher this returns, and not these, whose other cases reach
//! the app through [`Social::unhandled`].

use std::future::Future;
use std::time::SystemTime;

use activitypub_core::{ActivityType, AnyObject, Iri};
use federation::inbox::{Dispatcher, Forward, HandlerError, Incoming, Vouch};
use federation::keys::KeyCache;
use federation::outbox::{Enqueuer, Outbox};
use serde_json::Value;
use tracing::{debug, info, warn};
use url::Url;

use crate::InstanceState;
use crate::follows::FollowState;
use crate::moderation::NewReport;
use crate::moves::MoveError;
use crate::remote::{RemoteActor, RemoteKeyRecord};

/// What the built-in handlers need from the app's state.
pub trait Social: Clone + Send + Sync + 'static {
    /// The queue the outbox enqueues on.
    type Queue: Enqueuer + 'static;

    /// The instance state.
    fn state(&self) -> &InstanceState;

    /// The outbox answers (`Accept`, `Reject`) go through.
    fn outbox(&self) -> &Outbox<Self::Queue>;

    /// The cache of remote actors, to name the actors met and to drop the keys of an actor
    /// that changed or went. Default: none.
    fn keys(&self) -> Option<&KeyCache> {
        None
    }

    /// An activity of a type these handlers take that is not about the social graph (an
    /// `Accept` of a `Join`, an `Undo` of a `Like`, a `Delete` of a note): the app's. Default:
    /// ignored.
    fn unhandled(
        &self,
        incoming: Incoming,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = incoming;
        async { Ok(()) }
    }

    /// A local actor's `follow` was accepted by the actor it follows: an app may read what
    /// that actor published before (its outbox), which never reaches this server otherwise.
    /// Called once the follow is recorded as accepted; it should not wait on the network (the
    /// inbox answers only after it returns). Default: nothing.
    fn follow_accepted(
        &self,
        follow: &crate::follows::Follow,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = follow;
        async { Ok(()) }
    }

    /// An activity signed over HTTP by someone other than its actor (a forward, see
    /// [`Dispatcher::on_forwarded`]) that is not a `Move` (a `Move` passed on by its target is
    /// these handlers': [`InstanceState::vouch_passed_on_move`](crate::InstanceState::vouch_passed_on_move)):
    /// the app vouches for it or not. Default: refused, as the inbox refuses every forward
    /// without a hook.
    fn forwarded(
        &self,
        forward: Forward,
    ) -> impl Future<Output = Result<Vouch, HandlerError>> + Send {
        let kind = forward.activity.kind.to_string();
        async move {
            Ok(Vouch::Refused {
                reason: format!(
                    "a {kind} signed by someone other than its actor is not taken here"
                ),
            })
        }
    }

    /// A remote actor was deleted, and forgotten here: the app forgets what it keeps of it.
    /// Default: nothing.
    fn actor_deleted(&self, actor: &Iri) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = actor;
        async { Ok(()) }
    }
}

/// `dispatcher` with the social handlers registered (see the [module documentation](self)).
pub fn social_handlers<S: Social>(dispatcher: Dispatcher<S>) -> Dispatcher<S> {
    dispatcher
        .on(ActivityType::Follow, |app: S, incoming| async move {
            on_follow(&app, incoming).await
        })
        .on(ActivityType::Accept, |app: S, incoming| async move {
            on_answer(&app, incoming, true).await
        })
        .on(ActivityType::Reject, |app: S, incoming| async move {
            on_answer(&app, incoming, false).await
        })
        .on(ActivityType::Undo, |app: S, incoming| async move {
            on_undo(&app, incoming).await
        })
        .on(ActivityType::Block, |app: S, incoming| async move {
            on_block(&app, incoming).await
        })
        .on(ActivityType::Delete, |app: S, incoming| async move {
            on_delete(&app, incoming).await
        })
        .on(ActivityType::Update, |app: S, incoming| async move {
            on_update(&app, incoming).await
        })
        .on(ActivityType::Flag, |app: S, incoming| async move {
            on_flag(&app, incoming).await
        })
        .on(ActivityType::Move, |app: S, incoming| async move {
            on_move(&app, incoming).await
        })
        .on_actor_gone(|app: S, actor| async move { actor_gone(&app, &actor).await })
        .on_forwarded(|app: S, forward| async move { on_forwarded(&app, forward).await })
}

/// A forward: a `Move` passed on by its target is vouched for by
/// [`InstanceState::vouch_passed_on_move`](crate::InstanceState::vouch_passed_on_move) (then
/// handled as any `Move`); anything else is the app's ([`Social::forwarded`]).
async fn on_forwarded<S: Social>(app: &S, forward: Forward) -> Result<Vouch, HandlerError> {
    if forward.activity.kind != ActivityType::Move {
        return app.forwarded(forward).await;
    }
    let mut budget = forward.budget.clone();
    match app
        .state()
        .vouch_passed_on_move(app.keys(), &forward, &mut budget)
        .await
    {
        Ok(()) => Ok(Vouch::Vouched { budget }),
        Err(MoveError::State(error)) => Err(failed(error)),
        Err(refused) => {
            warn!(actor = %forward.actor, signer = %forward.signer.owner, reason = %refused, "a passed-on Move refused");
            Ok(Vouch::Refused {
                reason: refused.to_string(),
            })
        }
    }
}

fn failed(error: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
    HandlerError::Failed(Box::new(error))
}

/// The handle `@user@host` (with the port when not the default) of an actor.
fn handle_of(user: &str, id: &str) -> Option<String> {
    let url = Url::parse(id).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("@{user}@{host}:{port}"),
        None => format!("@{user}@{host}"),
    })
}

/// Records the name, handle, inbox, followers collection and key of `actor` from the key
/// cache (which has its document: it just checked its signature).
async fn remember<S: Social>(app: &S, actor: &Iri) -> Result<(), HandlerError> {
    let Some(remote) = app
        .keys()
        .and_then(|keys| keys.cached_actor(actor.as_str()))
    else {
        return Ok(());
    };
    let user = remote.preferred_username.clone();
    let name = remote
        .actor
        .props
        .name
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| user.clone())
        .unwrap_or_else(|| actor.to_string());
    let mut record = RemoteActor::new(actor.as_str(), name)
        .with_kind(remote.actor.kind.to_string())
        .with_url(actor.as_str());
    if let Some(handle) = user.as_deref().and_then(|u| handle_of(u, actor.as_str())) {
        record = record.with_handle(handle);
    }
    if let Some(inbox) = &remote.inbox {
        record = record.with_inbox(inbox.as_str());
    }
    if let Some(followers) = &remote.actor.followers {
        record = record.with_followers(followers.as_str());
    }
    if let Some(key) = RemoteKeyRecord::of(&remote) {
        record = record.with_key(key);
    }
    app.state().put_remote_actor(&record).await.map_err(failed)
}

async fn on_follow<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let Some(target) = incoming.object.id().cloned() else {
        return Ok(());
    };
    let Some(name) = state.local_name(target.as_str()) else {
        return app.unhandled(incoming).await;
    };
    let Some(actor) = state.actor(&name).await.map_err(failed)? else {
        debug!(%target, "a Follow of no actor of ours");
        return Ok(());
    };
    if actor.deleted {
        return Ok(());
    }
    let Some(follow_id) = incoming.activity.props.id.as_ref().map(ToString::to_string) else {
        return Err(HandlerError::Refused(
            "a Follow without an id cannot be answered".to_owned(),
        ));
    };
    let follower = incoming.actor.to_string();
    remember(app, &incoming.actor).await?;
    if state
        .is_blocked(Some(target.as_str()), &follower)
        .await
        .map_err(failed)?
    {
        state
            .put_follow(
                &follower,
                target.as_str(),
                &follow_id,
                FollowState::Rejected,
            )
            .await
            .map_err(failed)?;
        return state
            .reject_follower(app.outbox(), &name, &follower)
            .await
            .map_err(failed);
    }
    let wanted = if actor.manually_approves_followers {
        FollowState::Pending
    } else {
        FollowState::Accepted
    };
    let follow = state
        .put_follow(&follower, target.as_str(), &follow_id, wanted)
        .await
        .map_err(failed)?;
    match follow.state {
        FollowState::Pending => {
            state
                .notify(
                    target.as_str(),
                    "follow_request",
                    &follower,
                    Some(&follow_id),
                    None,
                )
                .await
                .map_err(failed)?;
            info!(%follower, %target, "follow pending approval");
            Ok(())
        }
        _ => {
            state
                .notify(target.as_str(), "follow", &follower, Some(&follow_id), None)
                .await
                .map_err(failed)?;
            state
                .accept_follower(app.outbox(), &name, &follower)
                .await
                .map_err(failed)
        }
    }
}

/// The local follow an `Accept` or `Reject` answers: by the Follow's id, or, for an embedded
/// Follow without one, by its actor and object.
async fn answered_follow<S: Social>(
    app: &S,
    incoming: &Incoming,
) -> Result<Option<crate::follows::Follow>, HandlerError> {
    let state = app.state();
    if let Some(id) = incoming.object.id()
        && let Some(follow) = state.follow_by_id(id.as_str()).await.map_err(failed)?
        && state.local_name(&follow.follower).is_some()
    {
        return Ok(Some(follow));
    }
    let embedded = incoming
        .activity
        .object
        .iter()
        .flatten()
        .next()
        .and_then(activitypub_core::Reference::as_object);
    if let Some(AnyObject::Activity(inner)) = embedded
        && inner.kind == ActivityType::Follow
        && let (Some(follower), Some(followed)) = (inner.actor_id(), inner.object_id())
        && state.local_name(follower.as_str()).is_some()
    {
        return state
            .follow(follower.as_str(), followed.as_str())
            .await
            .map_err(failed);
    }
    Ok(None)
}

async fn on_answer<S: Social>(
    app: &S,
    incoming: Incoming,
    accepted: bool,
) -> Result<(), HandlerError> {
    let Some(follow) = answered_follow(app, &incoming).await? else {
        return app.unhandled(incoming).await;
    };
    // Only the followed actor answers a Follow.
    if follow.followed != incoming.actor.as_str() {
        warn!(actor = %incoming.actor, follow = %follow.follow_id, "an answer to a Follow of someone else; ignored");
        return Ok(());
    }
    let state = if accepted {
        FollowState::Accepted
    } else {
        FollowState::Rejected
    };
    app.state()
        .set_follow_state(&follow.follower, &follow.followed, state)
        .await
        .map_err(failed)?;
    remember(app, &incoming.actor).await?;
    info!(follow = %follow.follow_id, state = state.as_str(), "follow answered");
    if accepted {
        app.follow_accepted(&follow).await?;
    }
    Ok(())
}

async fn on_undo<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let actor = incoming.actor.to_string();
    let undone_follow = match incoming.object.object() {
        Some(AnyObject::Activity(inner)) if inner.kind == ActivityType::Follow => {
            inner.object_id().map(ToString::to_string)
        }
        Some(_) => None,
        None => match incoming.object.id() {
            // An Undo naming the Follow by id only.
            Some(id) => state
                .follow_by_id(id.as_str())
                .await
                .map_err(failed)?
                .filter(|follow| follow.follower == actor)
                .map(|follow| follow.followed),
            None => None,
        },
    };
    match undone_follow {
        Some(followed) if state.local_name(&followed).is_some() => {
            state
                .remove_follow(&actor, &followed)
                .await
                .map_err(failed)?;
            info!(%actor, %followed, "unfollowed");
            Ok(())
        }
        _ => app.unhandled(incoming).await,
    }
}

async fn on_block<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let Some(target) = incoming.object.id() else {
        return Ok(());
    };
    if state.local_name(target.as_str()).is_none() {
        return Ok(());
    }
    let actor = incoming.actor.as_str();
    // As Mastodon does: a block ends the follows both ways, and says nothing to the blocked.
    state
        .remove_follow(actor, target.as_str())
        .await
        .map_err(failed)?;
    state
        .remove_follow(target.as_str(), actor)
        .await
        .map_err(failed)?;
    info!(%actor, %target, "blocked by a remote actor");
    Ok(())
}

async fn on_delete<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let Some(id) = incoming.object.id().cloned() else {
        return app.unhandled(incoming).await;
    };
    if id == incoming.actor {
        return actor_gone(app, &id).await;
    }
    // The inbox checked that the object is on the actor's server; of its objects, only those
    // the actor wrote (`Addressing::changeable_by`).
    if let Some(object) = state.object(id.as_str()).await.map_err(failed)?
        && !object.local
        && !object.deleted
    {
        if object.addressing.changeable_by(incoming.actor.as_str()) {
            state.tombstone(id.as_str()).await.map_err(failed)?;
            info!(object = %id, "remote object deleted");
        } else {
            let authors = &object.addressing.authors;
            warn!(object = %id, actor = %incoming.actor, ?authors, "a Delete of someone else's object; kept");
        }
    }
    app.unhandled(incoming).await
}

async fn actor_gone<S: Social>(app: &S, actor: &Iri) -> Result<(), HandlerError> {
    app.state()
        .forget_remote_actor(actor.as_str())
        .await
        .map_err(failed)?;
    if let Some(keys) = app.keys() {
        keys.invalidate(actor.as_str());
    }
    info!(%actor, "actor deleted");
    app.actor_deleted(actor).await
}

async fn on_update<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let is_self = incoming.object.id() == Some(&incoming.actor);
    if !is_self {
        return app.unhandled(incoming).await;
    }
    if let Some(keys) = app.keys() {
        keys.invalidate(incoming.actor.as_str());
    }
    // The actor as it now is: from the (trusted: same origin) embedded document.
    if let Some(AnyObject::Actor(actor)) = incoming.object.object() {
        let user = actor.preferred_username.clone();
        let name = actor
            .props
            .name
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| user.clone())
            .unwrap_or_else(|| incoming.actor.to_string());
        let mut record = RemoteActor::new(incoming.actor.as_str(), name)
            .with_kind(actor.kind.to_string())
            .with_url(incoming.actor.as_str());
        if let Some(handle) = user
            .as_deref()
            .and_then(|u| handle_of(u, incoming.actor.as_str()))
        {
            record = record.with_handle(handle);
        }
        if let Some(inbox) = &actor.inbox {
            record = record.with_inbox(inbox.as_str());
        }
        if let Some(followers) = &actor.followers {
            record = record.with_followers(followers.as_str());
        }
        // Its key as the document now gives it (the cached one was dropped above).
        if let Ok(remote) =
            federation::keys::RemoteActor::from_actor((**actor).clone(), SystemTime::now())
            && let Some(key) = RemoteKeyRecord::of(&remote)
        {
            record = record.with_key(key);
        }
        app.state()
            .put_remote_actor(&record)
            .await
            .map_err(failed)?;
        info!(actor = %incoming.actor, "actor updated");
    }
    Ok(())
}

async fn on_flag<S: Social>(app: &S, incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let objects: Vec<String> = incoming
        .activity
        .object
        .iter()
        .flatten()
        .filter_map(activitypub_core::reference_id)
        .map(ToString::to_string)
        .collect();
    // The reported actor: the first local actor named, else the first object's author, else
    // the first object.
    let mut target = objects
        .iter()
        .find(|id| state.local_name(id).is_some())
        .cloned();
    if target.is_none() {
        for id in &objects {
            if let Some(object) = state.object(id).await.map_err(failed)?
                && let Some(author) = object.attributed_to
            {
                target = Some(author);
                break;
            }
        }
    }
    let Some(target) = target.or_else(|| objects.first().cloned()) else {
        return Err(HandlerError::Refused("a Flag of nothing".to_owned()));
    };
    let document = serde_json::to_value(&incoming.activity).unwrap_or_default();
    let reason = document
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // PeerTube's predefined reasons, named in `tag`, written first as a local report's are.
    let labels = flag_reasons(&document);
    let content = match (labels.is_empty(), reason.is_empty()) {
        (true, _) => reason.to_owned(),
        (false, true) => labels.join(", "),
        (false, false) => format!("{}: {reason}", labels.join(", ")),
    };
    let mut report = NewReport::new(incoming.actor.as_str(), target)
        .with_objects(objects)
        .with_content(content);
    if let Some(id) = &incoming.activity.props.id {
        report = report.with_activity(id.as_str());
    }
    let report = state.file_report(report).await.map_err(failed)?;
    info!(report = %report.id, reporter = %incoming.actor, "report received");
    Ok(())
}

/// A `Move{actor: old, object: old, target: new}` (FEP-7628, as Mastodon sends it): checked
/// as Mastodon checks it, then the local followers of the old account follow the new one.
/// A refused `Move` is logged and acknowledged: its sender learns nothing more than from any
/// other activity.
async fn on_move<S: Social>(app: &S, mut incoming: Incoming) -> Result<(), HandlerError> {
    let state = app.state();
    let origin = incoming.actor.to_string();
    if incoming.object.id() != Some(&incoming.actor) {
        warn!(actor = %origin, "a Move of something other than its actor; refused");
        return Ok(());
    }
    let target = incoming
        .activity
        .target
        .iter()
        .flat_map(|targets| targets.iter())
        .find_map(activitypub_core::reference_id)
        .map(ToString::to_string);
    let Some(target) = target else {
        warn!(actor = %origin, "a Move without a target; refused");
        return Ok(());
    };
    match state
        .check_move_target(app.keys(), &origin, &target, &mut incoming.budget)
        .await
    {
        Ok(()) => {}
        Err(MoveError::State(error)) => return Err(failed(error)),
        Err(refused) => {
            warn!(actor = %origin, %target, reason = %refused, "Move refused");
            return Ok(());
        }
    }
    remember(app, &incoming.actor).await?;
    state.record_move(&origin, &target).await.map_err(failed)?;
    state
        .set_remote_moved_to(&origin, &target)
        .await
        .map_err(failed)?;
    state.carry_blocks(&origin, &target).await.map_err(failed)?;
    state
        .move_followers(app.outbox(), &origin, &target)
        .await
        .map_err(failed)?;
    Ok(())
}

/// The words for the PeerTube report reasons a `Flag` names in its `tag` (Hashtags whose name
/// is one of [`ABUSE_REASONS`](activitypub_core::ext::peertube::ABUSE_REASONS)), each once, in
/// the order given; the others are left out.
fn flag_reasons(flag: &Value) -> Vec<&'static str> {
    let mut labels = Vec::new();
    let tags = match flag.get("tag") {
        Some(Value::Array(tags)) => tags.iter().collect(),
        Some(tag) => vec![tag],
        None => Vec::new(),
    };
    for tag in tags {
        let label = tag
            .get("name")
            .and_then(Value::as_str)
            .map(|name| name.trim_start_matches('#'))
            .and_then(activitypub_core::ext::peertube::abuse_reason_label);
        if let Some(label) = label
            && !labels.contains(&label)
        {
            labels.push(label);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::flag_reasons;

    #[test]
    fn a_flags_peertube_reasons_are_read_from_its_tags() {
        let flag = json!({"tag": [
            {"type": "Hashtag", "name": "spamOrMisleading"},
            {"type": "Hashtag", "name": "#privacy"},
            {"type": "Hashtag", "name": "spamOrMisleading"},
            {"type": "Hashtag", "name": "somethingElse"},
            {"type": "Mention", "href": "https://example.org/x"}
        ]});
        assert_eq!(
            flag_reasons(&flag),
            ["Spam or misleading", "Private information"]
        );
        let one = json!({"tag": {"type": "Hashtag", "name": "rights"}});
        assert_eq!(flag_reasons(&one), ["Infringes rights"]);
        assert!(flag_reasons(&json!({"content": "no tags"})).is_empty());
    }
}

//! Whether received content concerns this instance: the rule that keeps what nobody here asked
//! for off an instance's pages.

use activitypub_core::{Activity, AnyObject, Iri};
use tracing::debug;

use crate::follows::FollowState;
use crate::{Error, InstanceState};

/// The most accounts of the instance actor's follows looked through for a followed server.
const MAX_INSTANCE_FOLLOWS: u64 = 10_000;

impl InstanceState {
    /// Whether `object`, which `activity` (sent by `sender`, the key's owner) creates, updates
    /// or announces, concerns this instance, as Mastodon decides for a `Create` ("related to
    /// local activity"): an object already stored here, from an actor followed here (the
    /// sender, or an author of the sender's own server), addressed to a local actor or one of
    /// its collections, or answering an object stored here or a local one. Anything else is
    /// unsolicited: an instance shows what its people asked for, not what anyone sends to its
    /// shared inbox. Actors (profile updates) always concern it. `instance_actor` names the
    /// local actor whose follows of other servers' actors stand for following those whole
    /// servers (an instance follow), if there is one.
    pub async fn is_solicited(
        &self,
        activity: &Activity,
        sender: &Iri,
        object: &AnyObject,
        instance_actor: Option<&str>,
    ) -> Result<bool, Error> {
        if matches!(object, AnyObject::Actor(_)) {
            return Ok(true);
        }
        if let Some(id) = object.id()
            && self.object(id.as_str()).await?.is_some()
        {
            return Ok(true);
        }
        // Authors count when they are of the sender's server (a channel's video sent by its
        // account): a server speaks for its own actors only.
        let authors = object
            .props()
            .attributed_to
            .iter()
            .flatten()
            .filter_map(activitypub_core::reference_id)
            .filter(|author| activitypub_core::origin::same_origin(author, sender));
        for actor in std::iter::once(sender).chain(authors) {
            if self.is_followed_source(actor, instance_actor).await? {
                return Ok(true);
            }
        }
        let addresses = activitypub_core::addressing::recipients(&activity.props)
            .chain(activitypub_core::addressing::recipients(object.props()))
            .filter_map(activitypub_core::Address::id);
        for address in addresses {
            if self.is_local(address.as_str()) {
                return Ok(true);
            }
        }
        for parent in object
            .props()
            .in_reply_to
            .iter()
            .flatten()
            .filter_map(activitypub_core::reference_id)
        {
            if self.is_local(parent.as_str())
                || self
                    .object(parent.as_str())
                    .await?
                    .is_some_and(|stored| !stored.deleted)
            {
                return Ok(true);
            }
        }
        debug!(actor = %sender, object = ?object.id(), "unsolicited content");
        Ok(false)
    }

    /// Whether what `actor` sends is followed here: a local actor follows it (the follow
    /// accepted), or `instance_actor` follows an actor of its server (an instance follow: the
    /// content of a followed server is wanted).
    pub async fn is_followed_source(
        &self,
        actor: &Iri,
        instance_actor: Option<&str>,
    ) -> Result<bool, Error> {
        if self
            .follower_count(actor.as_str(), FollowState::Accepted)
            .await?
            > 0
        {
            return Ok(true);
        }
        let Some(instance_actor) = instance_actor else {
            return Ok(false);
        };
        let id = self.actor_id(instance_actor).to_string();
        for follow in self
            .following(&id, FollowState::Accepted, 0, MAX_INSTANCE_FOLLOWS)
            .await?
        {
            if let Ok(followed) = Iri::parse(follow.followed)
                && activitypub_core::origin::same_origin(actor, &followed)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

//! Posts a subscriber forwards (a Mastodon-style relay subscribed to this one passing on its
//! subscribers' `Create`s): signed over HTTP by the subscriber, not by the author. The
//! federation inbox checks such a delivery as any other (size, digest, the subscriber's
//! signature, date, blocks) and asks its `forwarded` hook, [`Relay::vouch_for_forward`]
//! (through instance-state's `Social::forwarded`), which vouches for a `Create` only when the
//! signer is an accepted subscriber and its post is believed from its author's LD signature or
//! its own server (`federation::relayed::verify_create`), as the pod does with what relays
//! forward. The inbox then records it once and hands it to the `Create` handler with the post
//! as believed; a forged signature is answered `401` with the reason, and nothing is relayed.

use activitypub_core::{ActivityType, AnyObject};
use anyhow::Result;
use federation::inbox::{Forward, Vouch};
use federation::relayed;
use instance_server::WithParts as _;
use serde_json::Value;
use tracing::{debug, info, warn};
use url::Url;

use crate::app::Relay;

impl Relay {
    /// The inbox's `forwarded` hook: a `Create` signed over HTTP by an accepted subscriber's
    /// actor, not by its author, vouched for with its post as `federation::relayed` believes
    /// it; refused from anyone else or when the post is not believed; any other forwarded
    /// activity (and a post of this server) acknowledged and ignored.
    pub(crate) async fn vouch_for_forward(&self, forward: Forward) -> Result<Vouch> {
        let signer = &forward.signer.owner;
        if self.subscriber_of(signer).await?.as_deref() != Some(signer.as_str()) {
            return Ok(refused("not signed by a server subscribed here"));
        }
        if forward.activity.kind != ActivityType::Create {
            debug!(kind = %forward.activity.kind, %signer, "a forwarded activity other than a Create; ignored");
            return Ok(Vouch::Ignored {
                reason: format!("a forwarded {} is not relayed", forward.activity.kind),
            });
        }
        let Ok(activity) = serde_json::from_slice::<Value>(&forward.body) else {
            return Ok(refused("not JSON"));
        };
        let parts = &self.0.parts;
        let mut budget = forward.budget;
        let post = match relayed::verify_create(&activity, &parts.keys, &parts.fetcher, &mut budget)
            .await
        {
            Ok(post) => post,
            Err(error) => {
                warn!(actor = %forward.actor, %signer, %error, "a forwarded post refused");
                return Ok(refused(error.reason()));
            }
        };
        if let Some(id) = post.object.get("id").and_then(Value::as_str)
            && (self.state().is_local(id) || Url::parse(id).is_err())
        {
            return Ok(Vouch::Ignored {
                reason: "a post of this server".to_owned(),
            });
        }
        match AnyObject::from_value(post.object) {
            Ok(object) => Ok(Vouch::VouchedWithObject {
                budget,
                object: Box::new(object),
            }),
            Err(error) => {
                info!(actor = %forward.actor, %error, "a forwarded post that cannot be read");
                Ok(refused("the post cannot be read"))
            }
        }
    }
}

fn refused(reason: &str) -> Vouch {
    Vouch::Refused {
        reason: reason.to_owned(),
    }
}

//! Mentions: whom `@name` (someone here) and `@name@host` (someone anywhere) in a post name.
//! A handle from elsewhere is found with WebFinger (within the fetcher's bounds) once, and
//! remembered (`pd_handles`), so a later post does not look it up again. A name nobody has
//! stays text: never an error.

use anyhow::Result;
use tracing::debug;

use crate::INSTANCE_ACTOR;
use crate::app::Instance;
use crate::markdown::Mention;

/// The most mentions of a post made links.
const MAX_MENTIONS: usize = 30;

/// The most handles a post may have looked up with WebFinger (those past it stay text).
const MAX_LOOKUPS: usize = 5;

/// The longest all of a post's lookups take together (those not done by then stay text): the
/// person writing waits for them.
const LOOKUP_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Someone a text mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mentioned {
    /// As written ([`Mention::key`]).
    pub(crate) written: Mention,
    /// Their actor id.
    pub(crate) actor: String,
    /// `@user@host`, as a `Mention` tag names them.
    pub(crate) name: String,
}

/// What is left of a post's lookups.
struct Lookups {
    left: usize,
    deadline: tokio::time::Instant,
}

impl Instance {
    /// The people `mentions` name (each once), those nobody has left out.
    pub(crate) async fn resolve_mentions(&self, mentions: &[Mention]) -> Vec<Mentioned> {
        let mut found: Vec<Mentioned> = Vec::new();
        let mut lookups = Lookups {
            left: MAX_LOOKUPS,
            deadline: tokio::time::Instant::now() + LOOKUP_TIME,
        };
        for written in mentions.iter().take(MAX_MENTIONS) {
            match self.resolve_mention(written, &mut lookups).await {
                Ok(Some(mentioned)) => {
                    if !found.iter().any(|m| m.actor == mentioned.actor) {
                        found.push(mentioned);
                    }
                }
                Ok(None) => {}
                Err(error) => debug!(%error, ?written, "a mention names nobody found"),
            }
        }
        found
    }

    async fn resolve_mention(
        &self,
        written: &Mention,
        lookups: &mut Lookups,
    ) -> Result<Option<Mentioned>> {
        let authority = self.authority();
        let host = match &written.host {
            Some(host) if !host.eq_ignore_ascii_case(&authority) => host,
            _ => return self.local_mention(written, &written.user).await,
        };
        let handle = format!("{}@{host}", written.user);
        let mentioned = |actor: String| Mentioned {
            written: written.clone(),
            actor,
            name: format!("@{handle}"),
        };
        if let Some(actor) = self.db().handle(&handle).await? {
            return Ok(Some(mentioned(actor)));
        }
        if lookups.left == 0 || tokio::time::Instant::now() >= lookups.deadline {
            return Ok(None);
        }
        lookups.left -= 1;
        let acct = webfinger::AcctUri::from_handle(&handle)?;
        let resolved = tokio::time::timeout_at(
            lookups.deadline,
            self.0.webfinger.resolve(&webfinger::Resource::Acct(acct)),
        )
        .await??;
        let actor = resolved.actor_id.to_string();
        if let Some(name) = self.state().local_name(&actor) {
            return self.local_mention(written, &name).await;
        }
        // Named on the pages by its own name (and its document fetched once, as a check).
        match tokio::time::timeout_at(lookups.deadline, self.remember_actor(&actor)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => debug!(%error, %actor, "naming a mentioned actor"),
            Err(_) => debug!(%actor, "naming a mentioned actor: out of time"),
        }
        self.db().put_handle(&handle, &actor).await?;
        Ok(Some(mentioned(actor)))
    }

    /// The local person `name`, if there is one.
    async fn local_mention(&self, written: &Mention, name: &str) -> Result<Option<Mentioned>> {
        if name == INSTANCE_ACTOR {
            return Ok(None);
        }
        let Some(actor) = self.state().actor(name).await?.filter(|a| !a.deleted) else {
            return Ok(None);
        };
        Ok(Some(Mentioned {
            written: written.clone(),
            actor: self.actor_id(&actor.name).to_string(),
            name: format!("@{}@{}", actor.name, self.authority()),
        }))
    }
}

//! Notifications, in instance-state's `st_notifications`: someone mentioned a person here or
//! wrote to them (`mention`, `addressed`), commented on their post (`reply`), liked it
//! (`like`), reshared it (`reshare`); follows are instance-state's own (`follow`,
//! `follow_request`). Each is made once per person, kind, actor and object (a redelivered or
//! updated post notifies once), never for what one does oneself, and never when the person
//! blocks the actor or its domain.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

use crate::INSTANCE_ACTOR;
use crate::app::Instance;
use crate::db::PostRow;

/// The most people here one post or comment notifies.
const MAX_NOTIFIED: usize = 100;

/// The kinds of notification the pod makes (beside instance-state's).
pub(crate) mod kind {
    /// A post or comment mentions the person (a `Mention` tag).
    pub(crate) const MENTION: &str = "mention";
    /// A post or comment is addressed to the person by name, without mentioning them.
    pub(crate) const ADDRESSED: &str = "addressed";
    /// A comment on the person's post.
    pub(crate) const REPLY: &str = "reply";
    /// A like of the person's post or comment.
    pub(crate) const LIKE: &str = "like";
    /// A reshare of the person's post.
    pub(crate) const RESHARE: &str = "reshare";
}

impl Instance {
    /// Notifies `recipient` (an actor id) that `actor` did `kind` about `object`, when the
    /// recipient is a person here other than the actor who does not block it. `true` when a
    /// notification was made.
    pub(crate) async fn notify(
        &self,
        recipient: &str,
        kind: &str,
        actor: &str,
        activity: Option<&str>,
        object: &str,
    ) -> Result<bool> {
        if recipient == actor {
            return Ok(false);
        }
        let Some(name) = self.state().local_name(recipient) else {
            return Ok(false);
        };
        if name == INSTANCE_ACTOR
            || self.state().actor(&name).await?.is_none_or(|a| a.deleted)
            || self.state().is_blocked(Some(recipient), actor).await?
        {
            return Ok(false);
        }
        let made = self
            .state()
            .notify_once(recipient, kind, actor, activity, object)
            .await?
            .is_some();
        // Named on the page (the key cache has the actor whose signature was checked).
        if made && let Err(error) = self.remember_actor(actor).await {
            tracing::debug!(%error, %actor, "naming a notification's actor");
        }
        Ok(made)
    }

    /// What a post or comment written or received (`row`, its `document`) tells the people
    /// here who may read it: those its `Mention` tags name (`mention`); else, the author of the
    /// post it comments on (`reply`); else, those its `to` or `cc` names (`addressed`).
    pub(crate) async fn notify_about_post(
        &self,
        row: &PostRow,
        document: &Value,
        activity: Option<&str>,
    ) -> Result<()> {
        let mut notices: Vec<(String, &str)> = self
            .local_mentions(document)
            .into_iter()
            .map(|id| (id, kind::MENTION))
            .collect();
        if let Some(root) = &row.root
            && let Some(root) = self.db().post(root).await?
        {
            notices.push((root.author, kind::REPLY));
        }
        for member in ["to", "cc"] {
            for id in ids(document.get(member)) {
                if self.state().is_local(&id) {
                    notices.push((id, kind::ADDRESSED));
                }
            }
        }
        let mut told: BTreeSet<String> = BTreeSet::new();
        let mut considered = 0;
        for (recipient, kind) in notices {
            if told.contains(&recipient) || self.state().local_name(&recipient).is_none() {
                continue;
            }
            // Each costs a few reads: a document naming thousands of people here is not
            // allowed to make thousands.
            considered += 1;
            if considered > MAX_NOTIFIED {
                break;
            }
            let scope = self.scope_of(&recipient).await?;
            if self.db().visible_post(&row.id, &scope).await?.is_none() {
                continue;
            }
            self.notify(&recipient, kind, &row.author, activity, &row.id)
                .await?;
            told.insert(recipient);
        }
        Ok(())
    }

    /// The people here that `document`'s `Mention` tags name: by `href` (their id), or by a
    /// `name` that is their handle here (`@user@host`).
    pub(crate) fn local_mentions(&self, document: &Value) -> BTreeSet<String> {
        let authority = self.authority();
        let mut found = BTreeSet::new();
        for tag in tags(document) {
            if tag.get("type").and_then(Value::as_str) != Some("Mention") {
                continue;
            }
            if let Some(href) = tag.get("href").and_then(Value::as_str)
                && self.state().local_name(href).is_some()
            {
                found.insert(href.to_owned());
                continue;
            }
            let handle = tag
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| name.strip_prefix('@'))
                .and_then(|name| name.split_once('@'));
            if let Some((user, host)) = handle
                && host.eq_ignore_ascii_case(&authority)
                && !user.is_empty()
                && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                found.insert(self.actor_id(user).to_string());
            }
        }
        found.retain(|id| {
            self.state()
                .local_name(id)
                .is_some_and(|name| name != INSTANCE_ACTOR)
        });
        found
    }
}

/// The members of a document's `tag` that are objects.
pub(crate) fn tags(document: &Value) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    let tags: &[Value] = match document.get("tag") {
        Some(Value::Array(items)) => items,
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    tags.iter().filter_map(Value::as_object)
}

/// The ids an addressing member holds (strings, or objects with an `id`).
fn ids(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(id)) => vec![id.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(id) => Some(id.clone()),
                Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect(),
        Some(Value::Object(map)) => map
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

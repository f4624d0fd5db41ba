//! Group membership: joining by request (a Join the group's administrators or moderators
//! accept or reject), by invitation (an Invite the invitee accepts), or at once in an open
//! group; leaving. Works for local and remote people and groups, as Mobilizon does: the group
//! answers a Join; the invitee answers an Invite.
//!
//! Pending requests and invitations are kept as participations whose "event" is the group, so
//! one table tracks every Join, Invite and their answers.

use activitypub_core::ActorType;
use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use tracing::info;
use url::Url;

use crate::activities::ClientError;
use crate::app::Instance;
use crate::db::Participation;

/// How people get into a group.
const OPENNESS: &[&str] = &["open", "moderated", "invite_only"];

fn setting_key(group: &str) -> String {
    format!("group_openness:{group}")
}

impl Instance {
    /// Creates local group `name` (`display_name`, `summary` as plain text), administered by
    /// `admin` (a local identity's id), joined as `openness` says; `false` when the name is
    /// taken.
    pub(crate) async fn create_group(
        &self,
        name: &str,
        display_name: &str,
        summary: &str,
        admin: &str,
        openness: &str,
    ) -> Result<bool> {
        if name == crate::app::INSTANCE_ACTOR {
            return Ok(false);
        }
        if !OPENNESS.contains(&openness) {
            return Err(anyhow!("unknown openness {openness:?}"));
        }
        let summary_html = if summary.is_empty() {
            String::new()
        } else {
            maud::html! { p { (summary) } }.into_string()
        };
        let new = instance_state::actors::NewActor::new(
            name,
            instance_state::actors::ActorKind::Group,
            display_name,
        )
        .with_summary(summary_html);
        match self.db().state().create_actor(new).await {
            Ok(_) => {}
            Err(instance_state::Error::NameTaken { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.db().set_member(name, admin, "administrator").await?;
        set_openness(self.db(), name, openness).await?;
        info!(group = name, %admin, "group created");
        Ok(true)
    }

    /// The name of the local group `id`, if it is one.
    pub(crate) async fn local_group(&self, id: &str) -> Result<Option<String>> {
        let Some(name) = self.local_actor_name(id) else {
            return Ok(None);
        };
        Ok(self
            .db()
            .actor(&name)
            .await?
            .filter(|a| a.kind == "Group")
            .map(|a| a.name))
    }

    /// Whether `id` is a remote group (fetched, or from the cache).
    pub(crate) async fn is_remote_group(&self, id: &str) -> bool {
        if self.is_local(id) {
            return false;
        }
        let Ok(url) = Url::parse(id) else {
            return false;
        };
        let mut budget = federation::fetch::FetchBudget::default();
        self.keys()
            .actor(&url, &mut budget)
            .await
            .is_ok_and(|actor| actor.actor.kind == ActorType::Group)
    }

    /// How people join local group `name`: `open`, `moderated` (the default) or `invite_only`.
    pub(crate) async fn group_openness(&self, name: &str) -> Result<String> {
        Ok(self
            .db()
            .setting(&setting_key(name))
            .await?
            .unwrap_or_else(|| "moderated".to_owned()))
    }

    /// A local identity asks to join a group.
    pub(crate) async fn join_group(
        &self,
        name: &str,
        me: &str,
        group: &str,
    ) -> Result<Value, ClientError> {
        let activity = self.activity("Join", me, json!(group), json!([group]), json!([]));
        let join_id = activity_id(&activity);
        if let Some(group_name) = self.local_group(group).await? {
            self.db().put_activity(&activity).await?;
            self.process_group_join(&group_name, me, &join_id).await?;
        } else {
            self.db()
                .put_participation(&Participation {
                    event: group.to_owned(),
                    actor: me.to_owned(),
                    join_id,
                    state: "pending".into(),
                })
                .await?;
            self.publish(name, activity.clone(), None).await?;
        }
        Ok(activity)
    }

    /// A Join of local group `group_name` by `joiner` (local or remote): a member at once in
    /// an open group, a pending request in a moderated one, refused in an invite-only one.
    pub(crate) async fn process_group_join(
        &self,
        group_name: &str,
        joiner: &str,
        join_id: &str,
    ) -> Result<()> {
        if let Some(role) = self.db().member_role(group_name, joiner).await?
            && matches!(role.as_str(), "administrator" | "moderator" | "member")
        {
            return Ok(());
        }
        let participation = Participation {
            event: self.actor_id(group_name).to_string(),
            actor: joiner.to_owned(),
            join_id: join_id.to_owned(),
            state: "pending".into(),
        };
        match self.group_openness(group_name).await?.as_str() {
            "open" => {
                self.answer_group_join(group_name, participation, true)
                    .await?;
            }
            "invite_only" => {
                self.answer_group_join(group_name, participation, false)
                    .await?;
            }
            _ => {
                self.db()
                    .set_member(group_name, joiner, "not_approved")
                    .await?;
                self.db().put_participation(&participation).await?;
                info!(%joiner, group = group_name, "membership request awaits approval");
            }
        }
        Ok(())
    }

    /// The group's answer to a Join: the joiner becomes a member, or is refused.
    async fn answer_group_join(
        &self,
        group_name: &str,
        mut participation: Participation,
        accept: bool,
    ) -> Result<Value> {
        participation.state = if accept { "accepted" } else { "rejected" }.into();
        self.db().put_participation(&participation).await?;
        if accept {
            self.db()
                .set_member(group_name, &participation.actor, "member")
                .await?;
        } else {
            self.db()
                .remove_member(group_name, &participation.actor)
                .await?;
        }
        let group = self.actor_id(group_name).to_string();
        let join = json!({
            "id": participation.join_id,
            "type": "Join",
            "actor": participation.actor,
            "object": group,
        });
        let kind = if accept { "Accept" } else { "Reject" };
        let mut activity =
            self.activity(kind, &group, join, json!([participation.actor]), json!([]));
        if accept {
            let result = json!({
                "type": "Member",
                "actor": participation.actor,
                "object": group,
                "role": "member",
            });
            if let Some(map) = activity.as_object_mut() {
                map.insert("result".into(), result);
            }
        }
        self.publish(group_name, activity.clone(), None).await?;
        info!(member = %participation.actor, group = group_name, kind, "membership answered");
        Ok(activity)
    }

    /// An administrator or moderator of a local group invites someone (local or remote).
    pub(crate) async fn invite(
        &self,
        name: &str,
        me: &str,
        activity: &serde_json::Map<String, Value>,
    ) -> Result<Value, ClientError> {
        let group = activity
            .get("object")
            .and_then(id_str)
            .ok_or_else(|| ClientError::Bad("Invite needs the group as object".into()))?;
        let target = activity
            .get("target")
            .and_then(id_str)
            .ok_or_else(|| ClientError::Bad("Invite needs the invitee as target".into()))?
            .to_owned();
        let group_name = self
            .local_group(group)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("no local group {group}")))?;
        let role = self.db().member_role(&group_name, me).await?;
        if !matches!(role.as_deref(), Some("administrator" | "moderator")) {
            return Err(ClientError::Forbidden(
                "only a group's administrators and moderators invite".into(),
            ));
        }
        let mut invite = self.activity("Invite", me, json!(group), json!([target]), json!([]));
        if let Some(map) = invite.as_object_mut() {
            map.insert("target".into(), json!(target));
        }
        let invite_id = activity_id(&invite);
        self.db()
            .set_member(&group_name, &target, "invited")
            .await?;
        self.db()
            .put_participation(&Participation {
                event: group.to_owned(),
                actor: target.clone(),
                join_id: invite_id,
                state: "invited".into(),
            })
            .await?;
        self.publish(name, invite.clone(), None).await?;
        Ok(invite)
    }

    /// An answer by `me` through the client API to a Join or an Invite about a group, when
    /// `participation` is one; `None` when it is about an event.
    pub(crate) async fn decide_group(
        &self,
        name: &str,
        me: &str,
        participation: &Participation,
        accept: bool,
    ) -> Result<Option<Value>, ClientError> {
        let local_group = self.local_group(&participation.event).await?;
        match (participation.state.as_str(), local_group) {
            // A request to join one of our groups, decided by its staff.
            ("pending", Some(group_name)) => {
                let role = self.db().member_role(&group_name, me).await?;
                if !matches!(role.as_deref(), Some("administrator" | "moderator")) {
                    return Err(ClientError::Forbidden(
                        "only a group's administrators and moderators decide".into(),
                    ));
                }
                let answer = self
                    .answer_group_join(&group_name, participation.clone(), accept)
                    .await?;
                Ok(Some(answer))
            }
            // An invitation, answered by the invitee.
            ("invited", group) if participation.actor == me => {
                let mut updated = participation.clone();
                updated.state = if accept { "accepted" } else { "rejected" }.into();
                self.db().put_participation(&updated).await?;
                let invite = json!({
                    "id": participation.join_id,
                    "type": "Invite",
                    "object": participation.event,
                    "target": me,
                });
                let kind = if accept { "Accept" } else { "Reject" };
                let answer =
                    self.activity(kind, me, invite, json!([participation.event]), json!([]));
                match group {
                    Some(group_name) => {
                        self.settle_invitation(&group_name, me, accept).await?;
                        self.db().put_activity(&answer).await?;
                    }
                    None => {
                        self.publish(name, answer.clone(), None).await?;
                    }
                }
                Ok(Some(answer))
            }
            ("invited", _) => Err(ClientError::Forbidden(
                "only the invitee answers an invitation".into(),
            )),
            (_, Some(_)) => Err(ClientError::Bad(format!(
                "the request is already {}",
                participation.state
            ))),
            _ => Ok(None),
        }
    }

    async fn settle_invitation(&self, group_name: &str, invitee: &str, accept: bool) -> Result<()> {
        if accept {
            self.db().set_member(group_name, invitee, "member").await?;
        } else {
            self.db().remove_member(group_name, invitee).await?;
        }
        info!(%invitee, group = group_name, accept, "invitation answered");
        Ok(())
    }

    /// An invitee's answer (from another server) to one of our groups' invitations; `false`
    /// if `participation` is not one.
    pub(crate) async fn on_invitation_answer(
        &self,
        participation: &Participation,
        from: &str,
        accept: bool,
    ) -> Result<bool> {
        if participation.state != "invited" || participation.actor != from {
            return Ok(false);
        }
        let Some(group_name) = self.local_group(&participation.event).await? else {
            return Ok(false);
        };
        let mut updated = participation.clone();
        updated.state = if accept { "accepted" } else { "rejected" }.into();
        self.db().put_participation(&updated).await?;
        self.settle_invitation(&group_name, from, accept).await?;
        Ok(true)
    }

    /// An Invite from another server to one of our identities: kept until the invitee answers.
    pub(crate) async fn on_invite(&self, invite_id: &str, group: &str, target: &str) -> Result<()> {
        let name = self
            .local_actor_name(target)
            .ok_or_else(|| anyhow!("an invitation for someone else"))?;
        if self
            .db()
            .actor(&name)
            .await?
            .is_none_or(|a| a.kind != "Person")
        {
            return Ok(());
        }
        self.db()
            .put_participation(&Participation {
                event: group.to_owned(),
                actor: target.to_owned(),
                join_id: invite_id.to_owned(),
                state: "invited".into(),
            })
            .await?;
        info!(%target, %group, "invitation received");
        Ok(())
    }

    /// A member leaves a group.
    pub(crate) async fn leave_group(
        &self,
        name: &str,
        me: &str,
        group: &str,
    ) -> Result<Value, ClientError> {
        let activity = self.activity("Leave", me, json!(group), json!([group]), json!([]));
        if let Some(group_name) = self.local_group(group).await? {
            self.db().put_activity(&activity).await?;
            self.db().remove_member(&group_name, me).await?;
        } else {
            if let Some(mut p) = self.db().participation(group, me).await? {
                p.state = "left".into();
                self.db().put_participation(&p).await?;
            }
            self.publish(name, activity.clone(), None).await?;
        }
        Ok(activity)
    }

    /// The role of `actor` in local group `group` (`administrator`, `moderator`, `member`,
    /// `not_approved`, `invited`), if any.
    pub async fn member_role(&self, group: &str, actor: &str) -> Result<Option<String>> {
        self.db().member_role(group, actor).await
    }
}

/// The id of an activity this server wrote.
fn activity_id(activity: &Value) -> String {
    activity
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn id_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// Sets how people join local group `name`.
pub(crate) async fn set_openness(db: &crate::db::Db, name: &str, openness: &str) -> Result<()> {
    if !OPENNESS.contains(&openness) {
        return Err(anyhow!(
            "unknown openness {openness:?} (one of {})",
            OPENNESS.join(", ")
        ));
    }
    db.set_setting(&setting_key(name), openness).await
}

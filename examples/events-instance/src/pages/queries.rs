//! The few reads of the pages that no other part of the instance makes.

use anyhow::Result;
use instance_state::follows::FollowState;
use sqlx::Row;

use crate::app::Instance;

/// The local groups `actor` (an id) belongs to or asked to join or is invited to, with its
/// role in each: `(group name, role)`, by group name.
pub(crate) async fn memberships(instance: &Instance, actor: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT group_name, role FROM ev_group_members WHERE actor = $1 ORDER BY group_name",
    )
    .bind(actor.to_owned())
    .fetch_all(instance.db().state().pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("group_name")?, r.try_get("role")?)))
        .collect()
}

/// Everyone with a role in local group `name` (members, staff, people asking or invited):
/// `(actor id, role)`, by role then id.
pub(crate) async fn member_roles(instance: &Instance, name: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT actor, role FROM ev_group_members WHERE group_name = $1 ORDER BY role, actor",
    )
    .bind(name.to_owned())
    .fetch_all(instance.db().state().pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("actor")?, r.try_get("role")?)))
        .collect()
}

/// Whom local identity `name` follows or asked to follow: `(actor id, state)`, accepted first.
pub(crate) async fn following_with_states(
    instance: &Instance,
    name: &str,
) -> Result<Vec<(String, String)>> {
    let me = instance.actor_id(name);
    let state = instance.db().state();
    let mut out = Vec::new();
    for wanted in [
        FollowState::Accepted,
        FollowState::Pending,
        FollowState::Rejected,
    ] {
        for follow in state.following(me.as_str(), wanted, 0, 500).await? {
            out.push((follow.followed, wanted.as_str().to_owned()));
        }
    }
    Ok(out)
}

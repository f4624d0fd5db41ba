//! The administration commands: what the relay holds, and blocking a server (on the database,
//! beside or without a serving process).

use anyhow::Result;
use instance_state::blocks::BlockTarget;
use serde_json::{Value, json};

use crate::{RelayOptions, TagRelay};

/// What the administration commands need to know: the database, the base URL and the loopback
/// switch.
pub type Admin = instance_server::admin::Admin<RelayOptions>;

/// What the relay holds: `{"subscribers", "tags", "announced"}` (the accepted subscriptions,
/// the tag actors made, the posts announced per tag).
pub async fn stats(admin: &Admin) -> Result<Value> {
    let relay = admin.instance::<TagRelay>().await?;
    relay.stats().await
}

/// Blocks `domain`: its posts are not relayed, its subscriptions and follows refused.
pub async fn block_domain(admin: &Admin, domain: &str, reason: &str) -> Result<Value> {
    let state = admin.state::<TagRelay>().await?;
    state
        .block(None, &BlockTarget::domain(domain), reason)
        .await?;
    Ok(json!({"blocked": domain}))
}

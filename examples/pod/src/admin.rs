//! Administration commands: those every instance has (accounts, roles, passwords:
//! instance-server's [`Admin`]), and a person following someone.

use anyhow::Result;
use serde_json::{Value, json};
use url::Url;

use crate::{Pod, PodOptions};

/// What the administration commands need to know: the database, the base URL, the loopback
/// switch and the pod's options (where images are kept).
pub type Admin = instance_server::admin::Admin<PodOptions>;

/// Makes local person `name` follow `target` (an actor's address): the `Follow` is delivered
/// when the pod next serves.
pub async fn follow(admin: &Admin, name: &str, target: &Url) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    instance.follow(name, target.as_str()).await?;
    Ok(json!({"follower": instance.actor_id(name).as_str(), "target": target.as_str()}))
}

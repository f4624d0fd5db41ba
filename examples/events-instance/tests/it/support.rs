//! What several test modules share: the fixtures folder, instances set up the usual ways, and
//! the HTTP requests they all make.

use std::path::Path;

use events_instance::demo::{Client, admin_of, loopback_instance};
use events_instance::{Options, Running, start};
use serde_json::Value;

/// A loopback instance `name` (its database in `dir`) with one identity, `identity`, and a
/// client acting as it.
pub(crate) async fn instance_with_identity(
    dir: &Path,
    name: &str,
    identity: &str,
) -> anyhow::Result<(Running, Client)> {
    let running = loopback_instance(dir, name).await?;
    let client = Client::from_identity(
        &admin_of(&running, dir, name)
            .create_identity(identity)
            .await?,
    )?;
    Ok((running, client))
}

/// An instance in authorized-fetch mode: every ActivityPub GET is signed, and its signer known.
pub(crate) async fn authorized_fetch_instance(dir: &Path, name: &str) -> anyhow::Result<Running> {
    start(
        Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.join(format!("{name}.sqlite"))
                .to_string_lossy()
                .into_owned(),
        )
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true)
        .with_authorized_fetch(true),
    )
    .await
}

/// GETs `url` as ActivityPub, unsigned, with `http`; gives its JSON (an error when it is not).
pub(crate) async fn fetch_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(
        &http
            .get(url)
            .header("accept", "application/activity+json")
            .send()
            .await?
            .bytes()
            .await?,
    )?)
}

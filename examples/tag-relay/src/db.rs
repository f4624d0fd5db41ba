//! The relay's own table (`tr_announced`, made by `migrations/`), beside instance-state's in
//! the same database and dialect.

use anyhow::Result;
use instance_state::InstanceState;
use sqlx::Row as _;
use url::Url;

use crate::Options;

/// The relay's migrations: `(version, description, statements)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "the posts announced by each tag",
    include_str!("../migrations/0001_relay.sql"),
)];

/// The table the relay's migrations are recorded in.
const MIGRATIONS_TABLE: &str = "tag_relay_migrations";

/// Opens the database (instance-state's tables, then the relay's), with `base_url`, or the one
/// recorded when the relay last served.
pub(crate) async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
    instance_server::open_state(options, base_url, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// Records that `tag`'s actor announces `post` at `now`: `false` when it did already.
pub(crate) async fn claim_announce(
    state: &InstanceState,
    post: &str,
    tag: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO tr_announced (post, tag, announced) VALUES ($1, $2, $3)
         ON CONFLICT (post, tag) DO NOTHING",
    )
    .bind(post.to_owned())
    .bind(tag.to_owned())
    .bind(now)
    .execute(state.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many announces the relay has made (of posts, per tag).
pub(crate) async fn announce_count(state: &InstanceState) -> Result<u64> {
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tr_announced")
        .fetch_one(state.pool())
        .await?
        .try_get("n")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

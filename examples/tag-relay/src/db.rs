//! The relay's own table (`tr_announced`, made by `migrations/`), beside instance-state's in
//! the same database and dialect.

use anyhow::Result;
use instance_state::InstanceState;
use sqlx::Row as _;
use url::Url;

use crate::Options;

/// The relay's migrations: `(version, description, statements)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "the posts announced by each tag",
        include_str!("../migrations/0001_relay.sql"),
    ),
    (
        2,
        "what each announce was, to withdraw it",
        include_str!("../migrations/0002_withdrawn.sql"),
    ),
];

/// The table the relay's migrations are recorded in.
const MIGRATIONS_TABLE: &str = "tag_relay_migrations";

/// Opens the database (instance-state's tables, then the relay's), with `base_url`, or the one
/// recorded when the relay last served.
pub(crate) async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
    instance_server::open_state(options, base_url, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// One announce of a post by a tag actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announced {
    /// The post announced.
    pub(crate) post: String,
    /// The tag actor's name.
    pub(crate) tag: String,
    /// The `Announce`'s id.
    pub(crate) activity: String,
}

/// Records that `tag`'s actor announces `post` of `author` at `now` with the `Announce`
/// `activity`: `false` when it did already (even if that announce was withdrawn since).
pub(crate) async fn claim_announce(
    state: &InstanceState,
    announced: &Announced,
    author: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO tr_announced (post, tag, announced, activity, author)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (post, tag) DO NOTHING",
    )
    .bind(announced.post.clone())
    .bind(announced.tag.clone())
    .bind(now)
    .bind(announced.activity.clone())
    .bind(author.to_owned())
    .execute(state.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the live announces of `post`, written by `author`, withdrawn at `now` and returns
/// them: each is returned to one caller only, however many processes withdraw the same post
/// at once.
pub(crate) async fn withdraw_post(
    state: &InstanceState,
    post: &str,
    author: &str,
    now: i64,
) -> Result<Vec<Announced>> {
    let rows = sqlx::query(
        "UPDATE tr_announced SET withdrawn = $1
         WHERE post = $2 AND author = $3 AND withdrawn IS NULL AND activity IS NOT NULL
         RETURNING post, tag, activity",
    )
    .bind(now)
    .bind(post.to_owned())
    .bind(author.to_owned())
    .fetch_all(state.pool())
    .await?;
    rows.iter().map(announced_of).collect()
}

/// Marks at most `limit` live announces of the posts of `author` withdrawn at `now` and
/// returns them (as [`withdraw_post`] does).
pub(crate) async fn withdraw_author(
    state: &InstanceState,
    author: &str,
    now: i64,
    limit: i64,
) -> Result<Vec<Announced>> {
    let rows = sqlx::query(
        "UPDATE tr_announced SET withdrawn = $1
         WHERE withdrawn IS NULL AND activity IS NOT NULL AND (post, tag) IN (
             SELECT post, tag FROM tr_announced
             WHERE author = $2 AND withdrawn IS NULL AND activity IS NOT NULL
             ORDER BY announced DESC LIMIT $3)
         RETURNING post, tag, activity",
    )
    .bind(now)
    .bind(author.to_owned())
    .bind(limit)
    .fetch_all(state.pool())
    .await?;
    rows.iter().map(announced_of).collect()
}

fn announced_of(row: &sqlx::any::AnyRow) -> Result<Announced> {
    Ok(Announced {
        post: row.try_get("post")?,
        tag: row.try_get("tag")?,
        activity: row.try_get("activity")?,
    })
}

/// How many announces the relay has made (of posts, per tag).
pub(crate) async fn announce_count(state: &InstanceState) -> Result<u64> {
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tr_announced")
        .fetch_one(state.pool())
        .await?
        .try_get("n")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

//! The pod's own tables (`pd_*`, made by `migrations/`), read and written beside
//! instance-state's, in the same database and dialect. Every listing of posts for a reader
//! goes through instance-state's `Scope` condition over the posts' addressing.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use instance_state::InstanceState;
use instance_state::objects::Scope;
use sqlx::Row as _;
use url::Url;

use crate::Options;
use crate::cards::Card;

/// The pod's migrations: `(version, description, statements)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "posts, aspects and their members, reactions, profile fields, images",
        include_str!("../migrations/0001_pod.sql"),
    ),
    (
        2,
        "handles of mentions, hashtags of posts, followed tags, attachments",
        include_str!("../migrations/0002_social.sql"),
    ),
    (
        3,
        "cards of the videos, events, articles and pages kept as posts",
        include_str!("../migrations/0003_cards.sql"),
    ),
    (
        4,
        "the relays the instance actor subscribes to",
        include_str!("../migrations/0004_relays.sql"),
    ),
    (
        6,
        "the posts made by importing archives",
        include_str!("../migrations/0006_imports.sql"),
    ),
    (
        7,
        "the followers a Move from an archive is still to reach",
        include_str!("../migrations/0007_move_recipients.sql"),
    ),
    (
        8,
        "the tags a relay subscription is for",
        include_str!("../migrations/0008_relay_tags.sql"),
    ),
];

/// The table the pod's migrations are recorded in.
const MIGRATIONS_TABLE: &str = "pod_migrations";

/// Opens the database (instance-state's tables, then the pod's), with `base_url`, or the one
/// recorded when the pod last served.
pub(crate) async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
    instance_server::open_state(options, base_url, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// Who may read a post, as the pod shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Everyone, and listed.
    Public,
    /// Everyone, not listed (received from servers that have it).
    Unlisted,
    /// The author's followers.
    Followers,
    /// The members of some of the author's aspects (a local post).
    Aspects,
    /// Named people (a received post addressed to them).
    Limited,
}

impl Audience {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Followers => "followers",
            Self::Aspects => "aspects",
            Self::Limited => "limited",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "public" => Self::Public,
            "unlisted" => Self::Unlisted,
            "followers" => Self::Followers,
            "aspects" => Self::Aspects,
            _ => Self::Limited,
        }
    }

    /// Whether anyone may read it (and so reshare it).
    pub(crate) fn is_public(self) -> bool {
        matches!(self, Self::Public | Self::Unlisted)
    }
}

/// A post or comment's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PostRow {
    pub(crate) id: String,
    pub(crate) author: String,
    pub(crate) local: bool,
    pub(crate) in_reply_to: Option<String>,
    /// The post a comment is under; `None` for a post.
    pub(crate) root: Option<String>,
    /// Markdown (local ones).
    pub(crate) source: String,
    /// Sanitized HTML.
    pub(crate) content: String,
    pub(crate) audience: Audience,
    /// Hashtag names, normalized.
    pub(crate) tags: Vec<String>,
    /// Mentioned actor ids.
    pub(crate) mentions: Vec<String>,
    /// Unix microseconds.
    pub(crate) published: i64,
    pub(crate) updated: i64,
}

const POST_COLUMNS: &str = "id, author, local, in_reply_to, root, source, content, audience, \
     tags, mentions, published, updated";

fn post_row(row: &sqlx::any::AnyRow) -> Result<PostRow> {
    let list = |column: &str| -> Result<Vec<String>> {
        Ok(serde_json::from_str(&row.try_get::<String, _>(column)?).unwrap_or_default())
    };
    Ok(PostRow {
        id: row.try_get("id")?,
        author: row.try_get("author")?,
        local: row.try_get::<i64, _>("local")? != 0,
        in_reply_to: row.try_get("in_reply_to")?,
        root: row.try_get("root")?,
        source: row.try_get("source")?,
        content: row.try_get("content")?,
        audience: Audience::parse(&row.try_get::<String, _>("audience")?),
        tags: list("tags")?,
        mentions: list("mentions")?,
        published: row.try_get("published")?,
        updated: row.try_get("updated")?,
    })
}

/// An aspect of a local person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aspect {
    pub(crate) id: String,
    /// The local actor's name.
    pub(crate) owner: String,
    pub(crate) name: String,
}

/// A profile field (shown as Mastodon shows `PropertyValue` attachments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfileField {
    pub(crate) name: String,
    /// Sanitized HTML.
    pub(crate) value: String,
}

/// An uploaded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRow {
    pub(crate) key: String,
    pub(crate) owner: String,
    pub(crate) role: String,
    pub(crate) media_type: String,
    pub(crate) size: i64,
    pub(crate) sha256: String,
}

/// The pod's database: instance-state's, and the pod's tables in it.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    state: InstanceState,
}

impl Db {
    pub(crate) fn new(state: InstanceState) -> Self {
        Self { state }
    }

    pub(crate) fn state(&self) -> &InstanceState {
        &self.state
    }

    pub(crate) fn pool(&self) -> &sqlx::AnyPool {
        self.state.pool()
    }

    fn now(&self) -> i64 {
        self.state.options().clock.now()
    }

    /// Records a post or comment (or replaces its row).
    pub(crate) async fn put_post(&self, post: &PostRow) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        put_post_in(&mut tx, post).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a new local post with what comes with it, in one transaction: its row and
    /// hashtags ([`Db::put_post`]), its attachments, the aspects it was written to, and, for a
    /// post made by importing an archive, where it was first published (`imported_from`,
    /// recorded for local actor id `importer`: [`Db::imported`] finds it again).
    pub(crate) async fn put_local_post(
        &self,
        post: &PostRow,
        attachments: &[Attachment],
        aspects: &[String],
        imported_from: Option<(&str, &str)>,
    ) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        put_post_in(&mut tx, post).await?;
        put_attachments_in(&mut tx, &post.id, attachments).await?;
        for aspect in aspects {
            sqlx::query(
                "INSERT INTO pd_post_aspects (post, aspect) VALUES ($1, $2)
                 ON CONFLICT (post, aspect) DO NOTHING",
            )
            .bind(post.id.clone())
            .bind(aspect.clone())
            .execute(&mut *tx)
            .await?;
        }
        if let Some((importer, original)) = imported_from {
            sqlx::query("INSERT INTO pd_imports (importer, original, post) VALUES ($1, $2, $3)")
                .bind(importer.to_owned())
                .bind(original.to_owned())
                .bind(post.id.clone())
                .execute(&mut *tx)
                .await
                .context("recording an imported post")?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The post local actor id `importer` made by importing `original`, if it did.
    pub(crate) async fn imported(&self, importer: &str, original: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT post FROM pd_imports WHERE importer = $1 AND original = $2")
            .bind(importer.to_owned())
            .bind(original.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("post").map_err(Into::into))
            .transpose()
    }

    /// The post or comment `id`, whoever asks (check the scope before showing it).
    pub(crate) async fn post(&self, id: &str) -> Result<Option<PostRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(post_row).transpose()
    }

    /// The post or comment `id` if `scope` may read it.
    pub(crate) async fn visible_post(&self, id: &str, scope: &Scope) -> Result<Option<PostRow>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE id = $1 AND {}",
            scope.condition("pd_posts.id", 2)
        );
        let query = scope.bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()));
        let row = query.fetch_optional(self.pool()).await?;
        row.as_ref().map(post_row).transpose()
    }

    /// Forgets post or comment `id` and its reactions (its object is a `Tombstone` already);
    /// a post's comments go with it.
    pub(crate) async fn delete_post(&self, id: &str) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        for statement in [
            "DELETE FROM pd_reactions WHERE post = $1 OR post IN (SELECT id FROM pd_posts WHERE root = $1)",
            "DELETE FROM pd_post_tags WHERE post = $1 OR post IN (SELECT id FROM pd_posts WHERE root = $1)",
            "DELETE FROM pd_attachments WHERE post = $1 OR post IN (SELECT id FROM pd_posts WHERE root = $1)",
            "DELETE FROM pd_post_aspects WHERE post = $1",
            "DELETE FROM pd_cards WHERE post = $1",
            "DELETE FROM pd_posts WHERE id = $1 OR root = $1",
        ] {
            sqlx::query(statement)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records (or replaces) the card of post `post`.
    pub(crate) async fn put_card(&self, post: &str, card: &Card) -> Result<()> {
        sqlx::query(
            "INSERT INTO pd_cards (post, kind, name, starts, image, link, authors)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (post) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                starts = excluded.starts, image = excluded.image, link = excluded.link,
                authors = excluded.authors",
        )
        .bind(post.to_owned())
        .bind(card.kind.clone())
        .bind(card.name.clone())
        .bind(card.starts)
        .bind(card.image.clone())
        .bind(card.link.clone())
        .bind(serde_json::to_string(&card.authors)?)
        .execute(self.pool())
        .await
        .context("storing a card")?;
        Ok(())
    }

    /// The card of post `post`, when it is a video, an event, an article or a page.
    pub(crate) async fn card(&self, post: &str) -> Result<Option<Card>> {
        Ok(self.cards_of(&[post.to_owned()]).await?.remove(post))
    }

    /// The cards of those of `posts` that have one.
    pub(crate) async fn cards_of(&self, posts: &[String]) -> Result<HashMap<String, Card>> {
        let mut cards = HashMap::new();
        if posts.is_empty() {
            return Ok(cards);
        }
        let sql = format!(
            "SELECT post, kind, name, starts, image, link, authors FROM pd_cards
             WHERE post IN ({})",
            placeholders(1, posts.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for post in posts {
            query = query.bind(post.clone());
        }
        for row in query.fetch_all(self.pool()).await? {
            cards.insert(
                row.try_get("post")?,
                Card {
                    kind: row.try_get("kind")?,
                    name: row.try_get("name")?,
                    starts: row.try_get("starts")?,
                    image: row.try_get("image")?,
                    link: row.try_get("link")?,
                    authors: serde_json::from_str(&row.try_get::<String, _>("authors")?)
                        .unwrap_or_default(),
                },
            );
        }
        Ok(cards)
    }

    /// The stream of `reader` (an actor id) as `scope` may see it, newest first: its own
    /// posts, those of the people it follows, the posts they reshared, and the public posts
    /// with the tags it follows; `limit` of them, after `before` (the `published` and id of
    /// the last post of the page before) when given.
    pub(crate) async fn stream(
        &self,
        reader: &str,
        scope: &Scope,
        before: Option<&(i64, String)>,
        limit: i64,
    ) -> Result<Vec<PostRow>> {
        // Newest first, a page after the post `before` (its `published` and id). The posts
        // are walked in that order from `before` (the index of posts by date), each one kept
        // when one of the stream's sources holds it, looked up by the post's own keys (its
        // author among the reader's follows, its reshares by them, its few tags among the
        // followed ones: `EXISTS`, not `IN` lists, so that the database has no other way in
        // than the date), until the page is full: a page reads about as many posts as the
        // stream skips to fill it. An `OR` of `IN` lists would let SQLite gather every post
        // of each followed author (by the author index) and of each followed tag before
        // sorting, over the whole past. The walk is bounded by a window of time going back
        // from `before`, an hour wide at first and eight times wider at each try, until the
        // page is full or reaches the oldest post, so that a planner that sorts what it
        // gathers sorts a window's posts, not all of them.
        let (published, id) = before.cloned().unwrap_or((i64::MAX, String::new()));
        // Each `MIN`/`MAX` alone in its subquery, so that both are read off the date index.
        let bounds = sqlx::query(
            "SELECT (SELECT MIN(published) FROM pd_posts) AS oldest,
                    (SELECT MAX(published) FROM pd_posts) AS newest",
        )
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<i64> = bounds.try_get("oldest")?;
        let Some(oldest) = oldest else {
            return Ok(Vec::new());
        };
        let newest = if published == i64::MAX {
            bounds
                .try_get::<Option<i64>, _>("newest")?
                .unwrap_or(oldest)
        } else {
            published
        };
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts p WHERE p.root IS NULL
             AND p.published <= $3 AND (p.published < $3 OR p.id > $4) AND p.published >= $5
             AND (p.author = $1
                OR EXISTS (SELECT 1 FROM st_follows f WHERE f.follower = $1
                    AND f.followed = p.author AND f.state = 'accepted')
                OR EXISTS (SELECT 1 FROM pd_reactions r JOIN st_follows f
                    ON f.followed = r.actor AND f.follower = $1 AND f.state = 'accepted'
                    WHERE r.post = p.id AND r.kind = 'share')
                OR (p.audience = 'public' AND EXISTS (SELECT 1 FROM pd_post_tags t
                    JOIN pd_tag_follows g ON g.actor = $1 AND g.tag = t.tag
                    WHERE t.post = p.id)))
             AND {} ORDER BY p.published DESC, p.id LIMIT $2",
            scope.condition("p.id", 6)
        );
        let mut width: i64 = 3_600_000_000;
        loop {
            let from = newest.saturating_sub(width);
            let query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(reader.to_owned())
                .bind(limit)
                .bind(published)
                .bind(id.clone())
                .bind(from);
            let rows = scope.bind(query).fetch_all(self.pool()).await?;
            if rows.len() as i64 >= limit || from <= oldest {
                return rows.iter().map(post_row).collect();
            }
            width = width.saturating_mul(8);
        }
    }

    /// The public posts known here, newest first (the front page for the signed out).
    pub(crate) async fn public_posts(&self, offset: i64, limit: i64) -> Result<Vec<PostRow>> {
        let scope = Scope::anonymous();
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE root IS NULL AND audience = 'public'
               AND local = 1 AND {} ORDER BY published DESC, id LIMIT $1 OFFSET $2",
            scope.condition("pd_posts.id", 3)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter().map(post_row).collect()
    }

    /// The posts (not comments) of `author` that `scope` may read, newest first.
    pub(crate) async fn posts_by(
        &self,
        author: &str,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<PostRow>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE author = $1 AND root IS NULL AND {}
             ORDER BY published DESC, id LIMIT $2 OFFSET $3",
            scope.condition("pd_posts.id", 4)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(author.to_owned())
            .bind(limit)
            .bind(offset);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter().map(post_row).collect()
    }

    /// The comments under post `root` that `scope` may read, oldest first (at most `limit`).
    pub(crate) async fn comments(
        &self,
        root: &str,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<PostRow>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE root = $1 AND {}
             ORDER BY published, id LIMIT $2",
            scope.condition("pd_posts.id", 3)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(root.to_owned())
            .bind(limit);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter().map(post_row).collect()
    }

    /// How many answers to post or comment `id` (of the thread of post `root`) `scope` may
    /// read.
    pub(crate) async fn reply_count(&self, root: &str, id: &str, scope: &Scope) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM pd_posts WHERE root = $1 AND in_reply_to = $2 AND {}",
            scope.condition("pd_posts.id", 3)
        );
        let query = scope.bind(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(root.to_owned())
                .bind(id.to_owned()),
        );
        let n: i64 = query.fetch_one(self.pool()).await?.try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The ids of the answers to post or comment `id` (of the thread of post `root`) that
    /// `scope` may read, oldest first, `limit` of them from `offset`.
    pub(crate) async fn replies(
        &self,
        root: &str,
        id: &str,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT id FROM pd_posts WHERE root = $1 AND in_reply_to = $2 AND {}
             ORDER BY published, id LIMIT $3 OFFSET $4",
            scope.condition("pd_posts.id", 5)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(root.to_owned())
            .bind(id.to_owned())
            .bind(limit)
            .bind(offset);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Records `actor`'s `kind` (`like` or `share`) of `post` by activity `activity`; `false`
    /// when it was recorded already.
    pub(crate) async fn put_reaction(
        &self,
        post: &str,
        actor: &str,
        kind: &str,
        activity: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO pd_reactions (post, actor, kind, activity, created)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (post, actor, kind) DO NOTHING",
        )
        .bind(post.to_owned())
        .bind(actor.to_owned())
        .bind(kind.to_owned())
        .bind(activity.to_owned())
        .bind(self.now())
        .execute(self.pool())
        .await
        .context("recording a reaction")?;
        Ok(done.rows_affected() > 0)
    }

    /// The activity of `actor`'s `kind` of `post`, if there is one.
    pub(crate) async fn reaction(
        &self,
        post: &str,
        actor: &str,
        kind: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT activity FROM pd_reactions WHERE post = $1 AND actor = $2 AND kind = $3",
        )
        .bind(post.to_owned())
        .bind(actor.to_owned())
        .bind(kind.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("activity")).transpose()?)
    }

    /// Forgets the reaction made by activity `activity` of `actor` (an `Undo`); `false` when
    /// there was none.
    pub(crate) async fn remove_reaction(&self, activity: &str, actor: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM pd_reactions WHERE activity = $1 AND actor = $2")
            .bind(activity.to_owned())
            .bind(actor.to_owned())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many likes and reshares each of `posts` has (those with none are left out).
    pub(crate) async fn reaction_counts_of(
        &self,
        posts: &[String],
    ) -> Result<HashMap<String, (i64, i64)>> {
        let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
        if posts.is_empty() {
            return Ok(counts);
        }
        let sql = format!(
            "SELECT post, kind, COUNT(*) AS n FROM pd_reactions WHERE post IN ({})
             GROUP BY post, kind",
            placeholders(1, posts.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for post in posts {
            query = query.bind(post.clone());
        }
        for row in query.fetch_all(self.pool()).await? {
            let entry = counts.entry(row.try_get("post")?).or_default();
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("kind")?.as_str() {
                "like" => entry.0 = n,
                "share" => entry.1 = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Which of `posts` `actor` liked or reshared: `(post, kind)`.
    pub(crate) async fn reactions_of(
        &self,
        actor: &str,
        posts: &[String],
    ) -> Result<HashSet<(String, String)>> {
        if posts.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT post, kind FROM pd_reactions WHERE actor = $1 AND post IN ({})",
            placeholders(2, posts.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(actor.to_owned());
        for post in posts {
            query = query.bind(post.clone());
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("post")?, row.try_get("kind")?)))
            .collect()
    }

    /// The names of the aspects (still there) each of `posts` (local ones) was written to.
    pub(crate) async fn post_aspect_names_of(
        &self,
        posts: &[String],
    ) -> Result<HashMap<String, Vec<String>>> {
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        if posts.is_empty() {
            return Ok(names);
        }
        let sql = format!(
            "SELECT p.post, a.name FROM pd_post_aspects p JOIN pd_aspects a ON a.id = p.aspect
             WHERE p.post IN ({}) ORDER BY p.post, a.name",
            placeholders(1, posts.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for post in posts {
            query = query.bind(post.clone());
        }
        for row in query.fetch_all(self.pool()).await? {
            names
                .entry(row.try_get("post")?)
                .or_default()
                .push(row.try_get("name")?);
        }
        Ok(names)
    }

    /// Makes aspect `name` of local person `owner`; `None` when it has one of that name.
    pub(crate) async fn create_aspect(&self, owner: &str, name: &str) -> Result<Option<Aspect>> {
        let id = uuid::Uuid::new_v4().to_string();
        let done = sqlx::query(
            "INSERT INTO pd_aspects (id, owner, name, created) VALUES ($1, $2, $3, $4)
             ON CONFLICT (owner, name) DO NOTHING",
        )
        .bind(id.clone())
        .bind(owner.to_owned())
        .bind(name.to_owned())
        .bind(self.now())
        .execute(self.pool())
        .await
        .context("making an aspect")?;
        Ok((done.rows_affected() > 0).then(|| Aspect {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
        }))
    }

    /// Renames `owner`'s aspect `id`; `false` when it has no such aspect, or another of that
    /// name.
    pub(crate) async fn rename_aspect(&self, owner: &str, id: &str, name: &str) -> Result<bool> {
        let taken = sqlx::query(
            "SELECT 1 AS x FROM pd_aspects WHERE owner = $1 AND name = $2 AND id <> $3",
        )
        .bind(owner.to_owned())
        .bind(name.to_owned())
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        if taken.is_some() {
            return Ok(false);
        }
        let done = sqlx::query("UPDATE pd_aspects SET name = $3 WHERE owner = $1 AND id = $2")
            .bind(owner.to_owned())
            .bind(id.to_owned())
            .bind(name.to_owned())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes `owner`'s aspect `id` and its memberships (the posts written to it stay
    /// addressed to the people it held then); `false` when it has no such aspect.
    pub(crate) async fn delete_aspect(&self, owner: &str, id: &str) -> Result<bool> {
        let mut tx = self.state().begin_write().await?;
        let done = sqlx::query("DELETE FROM pd_aspects WHERE owner = $1 AND id = $2")
            .bind(owner.to_owned())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM pd_aspect_members WHERE aspect = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The aspects of local person `owner`, by name.
    pub(crate) async fn aspects(&self, owner: &str) -> Result<Vec<Aspect>> {
        let rows = sqlx::query(
            "SELECT id, owner, name FROM pd_aspects WHERE owner = $1 ORDER BY name, id",
        )
        .bind(owner.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Aspect {
                    id: r.try_get("id")?,
                    owner: r.try_get("owner")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Puts `member` (an actor id) in `owner`'s aspect `id`, or takes it out; `false` when
    /// `owner` has no such aspect.
    pub(crate) async fn set_membership(
        &self,
        owner: &str,
        id: &str,
        member: &str,
        included: bool,
    ) -> Result<bool> {
        let owned = sqlx::query("SELECT 1 AS x FROM pd_aspects WHERE owner = $1 AND id = $2")
            .bind(owner.to_owned())
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await?;
        if owned.is_none() {
            return Ok(false);
        }
        let statement = if included {
            "INSERT INTO pd_aspect_members (aspect, member) VALUES ($1, $2)
             ON CONFLICT (aspect, member) DO NOTHING"
        } else {
            "DELETE FROM pd_aspect_members WHERE aspect = $1 AND member = $2"
        };
        sqlx::query(statement)
            .bind(id.to_owned())
            .bind(member.to_owned())
            .execute(self.pool())
            .await?;
        Ok(true)
    }

    /// The members of aspects `ids` of `owner` (only its own aspects count), each once.
    pub(crate) async fn aspect_members(&self, owner: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut members: Vec<String> = Vec::new();
        for id in ids {
            let rows = sqlx::query(
                "SELECT m.member FROM pd_aspect_members m JOIN pd_aspects a ON a.id = m.aspect
                 WHERE a.owner = $1 AND a.id = $2 ORDER BY m.member",
            )
            .bind(owner.to_owned())
            .bind(id.clone())
            .fetch_all(self.pool())
            .await?;
            for row in rows {
                let member: String = row.try_get("member")?;
                if !members.contains(&member) {
                    members.push(member);
                }
            }
        }
        Ok(members)
    }

    /// The ids of `owner`'s aspects that hold `member`.
    pub(crate) async fn aspects_holding(&self, owner: &str, member: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.id FROM pd_aspects a JOIN pd_aspect_members m ON m.aspect = a.id
             WHERE a.owner = $1 AND m.member = $2 ORDER BY a.name",
        )
        .bind(owner.to_owned())
        .bind(member.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("id").map_err(Into::into))
            .collect()
    }

    /// The names of the aspects (still there) local post `post` was written to.
    pub(crate) async fn post_aspect_names(&self, post: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.name FROM pd_post_aspects p JOIN pd_aspects a ON a.id = p.aspect
             WHERE p.post = $1 ORDER BY a.name",
        )
        .bind(post.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("name").map_err(Into::into))
            .collect()
    }

    /// Replaces local person `actor`'s profile fields.
    pub(crate) async fn set_profile_fields(
        &self,
        actor: &str,
        fields: &[ProfileField],
    ) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        sqlx::query("DELETE FROM pd_profile_fields WHERE actor = $1")
            .bind(actor.to_owned())
            .execute(&mut *tx)
            .await?;
        for (position, field) in (0_i64..).zip(fields) {
            sqlx::query(
                "INSERT INTO pd_profile_fields (actor, position, name, value) VALUES ($1, $2, $3, $4)",
            )
            .bind(actor.to_owned())
            .bind(position)
            .bind(field.name.clone())
            .bind(field.value.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Local person `actor`'s profile fields, in order.
    pub(crate) async fn profile_fields(&self, actor: &str) -> Result<Vec<ProfileField>> {
        let rows = sqlx::query(
            "SELECT name, value FROM pd_profile_fields WHERE actor = $1 ORDER BY position",
        )
        .bind(actor.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProfileField {
                    name: r.try_get("name")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }

    /// Records an uploaded image.
    pub(crate) async fn put_image(&self, image: &ImageRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO pd_images (key, owner, role, media_type, size, sha256, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(image.key.clone())
        .bind(image.owner.clone())
        .bind(image.role.clone())
        .bind(image.media_type.clone())
        .bind(image.size)
        .bind(image.sha256.clone())
        .bind(self.now())
        .execute(self.pool())
        .await
        .context("recording an image")?;
        Ok(())
    }

    /// The image kept under `key`.
    pub(crate) async fn image(&self, key: &str) -> Result<Option<ImageRow>> {
        let row = sqlx::query(
            "SELECT key, owner, role, media_type, size, sha256 FROM pd_images WHERE key = $1",
        )
        .bind(key.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ImageRow {
                key: r.try_get("key")?,
                owner: r.try_get("owner")?,
                role: r.try_get("role")?,
                media_type: r.try_get("media_type")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
            })
        })
        .transpose()
    }
}

impl Db {
    /// Records the Markdown of local person `actor`'s bio.
    pub(crate) async fn set_bio_source(&self, actor: &str, source: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO pd_bios (actor, source) VALUES ($1, $2)
             ON CONFLICT (actor) DO UPDATE SET source = excluded.source",
        )
        .bind(actor.to_owned())
        .bind(source.to_owned())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The Markdown of local person `actor`'s bio ('' when none).
    pub(crate) async fn bio_source(&self, actor: &str) -> Result<String> {
        let row = sqlx::query("SELECT source FROM pd_bios WHERE actor = $1")
            .bind(actor.to_owned())
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| r.try_get("source"))
            .transpose()?
            .unwrap_or_default())
    }
}

/// Mentions, hashtags and followed tags (migration 2).
impl Db {
    /// The actor handle `handle` (`user@host`, lowercase) was found to be, if it was.
    pub(crate) async fn handle(&self, handle: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT actor FROM pd_handles WHERE handle = $1")
            .bind(handle.to_owned())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("actor")).transpose()?)
    }

    /// Remembers that `handle` is `actor`.
    pub(crate) async fn put_handle(&self, handle: &str, actor: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO pd_handles (handle, actor, resolved) VALUES ($1, $2, $3)
             ON CONFLICT (handle) DO UPDATE SET actor = excluded.actor, resolved = excluded.resolved",
        )
        .bind(handle.to_owned())
        .bind(actor.to_owned())
        .bind(self.now())
        .execute(self.pool())
        .await
        .context("remembering a handle")?;
        Ok(())
    }

    /// The public posts and comments with tag `tag`, newest first, and how many there are:
    /// never a post for followers or for some people, whoever asks.
    pub(crate) async fn tagged(
        &self,
        tag: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<PostRow>, i64)> {
        let scope = Scope::anonymous();
        let tagged = "id IN (SELECT post FROM pd_post_tags WHERE tag = $1) AND audience = 'public'";
        let count = scope
            .bind(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) AS n FROM pd_posts WHERE {tagged} AND {}",
                    scope.condition("pd_posts.id", 2)
                )))
                .bind(tag.to_owned()),
            )
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM pd_posts WHERE {tagged} AND {}
             ORDER BY published DESC, id LIMIT $2 OFFSET $3",
            scope.condition("pd_posts.id", 4)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tag.to_owned())
            .bind(limit)
            .bind(offset);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        let posts = rows.iter().map(post_row).collect::<Result<_>>()?;
        Ok((posts, count))
    }

    /// Local person `actor` follows tag `tag` (or stops, when not `follow`).
    pub(crate) async fn follow_tag(&self, actor: &str, tag: &str, follow: bool) -> Result<()> {
        let query = if follow {
            sqlx::query(
                "INSERT INTO pd_tag_follows (actor, tag, created) VALUES ($1, $2, $3)
                 ON CONFLICT (actor, tag) DO NOTHING",
            )
            .bind(actor.to_owned())
            .bind(tag.to_owned())
            .bind(self.now())
        } else {
            sqlx::query("DELETE FROM pd_tag_follows WHERE actor = $1 AND tag = $2")
                .bind(actor.to_owned())
                .bind(tag.to_owned())
        };
        query.execute(self.pool()).await?;
        Ok(())
    }

    /// The tags someone here follows, each once, by name.
    pub(crate) async fn all_followed_tags(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT tag FROM pd_tag_follows ORDER BY tag")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("tag").map_err(Into::into))
            .collect()
    }

    /// Whether someone here follows tag `tag`.
    pub(crate) async fn is_tag_followed(&self, tag: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM pd_tag_follows WHERE tag = $1 LIMIT 1")
                .bind(tag.to_owned())
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// The names and handles of those of remote actors `ids` met here (instance-state's
    /// `st_remote_actors`, as [`InstanceState::remote_actor`] reads it), by id: one query for
    /// a page's authors rather than one each.
    pub(crate) async fn remote_labels(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, (String, Option<String>)>> {
        let mut labels = HashMap::new();
        for chunk in ids.chunks(MAX_BOUND) {
            let sql = format!(
                "SELECT id, name, handle FROM st_remote_actors WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(self.pool()).await? {
                labels.insert(
                    row.try_get("id")?,
                    (row.try_get("name")?, row.try_get("handle")?),
                );
            }
        }
        Ok(labels)
    }

    /// The tags local person `actor` follows, by name.
    pub(crate) async fn followed_tags(&self, actor: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT tag FROM pd_tag_follows WHERE actor = $1 ORDER BY tag")
            .bind(actor.to_owned())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("tag").map_err(Into::into))
            .collect()
    }
}

/// What is attached to a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attachment {
    /// Its address (http or https).
    pub(crate) url: String,
    pub(crate) media_type: String,
    pub(crate) width: Option<i64>,
    pub(crate) height: Option<i64>,
    /// Its description (alt text); may be empty.
    pub(crate) description: String,
}

impl Db {
    /// Replaces what is attached to post `post`.
    pub(crate) async fn set_attachments(
        &self,
        post: &str,
        attachments: &[Attachment],
    ) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        put_attachments_in(&mut tx, post, attachments).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What is attached to post `post`, in order.
    pub(crate) async fn attachments(&self, post: &str) -> Result<Vec<Attachment>> {
        Ok(self
            .attachments_of(&[post.to_owned()])
            .await?
            .remove(post)
            .unwrap_or_default())
    }

    /// What is attached to each of `posts`, in order (those with nothing are left out).
    pub(crate) async fn attachments_of(
        &self,
        posts: &[String],
    ) -> Result<HashMap<String, Vec<Attachment>>> {
        let mut all: HashMap<String, Vec<Attachment>> = HashMap::new();
        if posts.is_empty() {
            return Ok(all);
        }
        let sql = format!(
            "SELECT post, url, media_type, width, height, description FROM pd_attachments
             WHERE post IN ({}) ORDER BY post, position",
            placeholders(1, posts.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for post in posts {
            query = query.bind(post.clone());
        }
        for r in query.fetch_all(self.pool()).await? {
            all.entry(r.try_get("post")?).or_default().push(Attachment {
                url: r.try_get("url")?,
                media_type: r.try_get("media_type")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
                description: r.try_get("description")?,
            });
        }
        Ok(all)
    }
}

/// The most values a query of [`Db::remote_labels`] binds (far below SQLite's and
/// PostgreSQL's limits).
const MAX_BOUND: usize = 500;

/// `$first, $first+1, ...`: `count` SQL parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores `post`'s row and hashtags within `tx`.
async fn put_post_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, post: &PostRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO pd_posts (id, author, local, in_reply_to, root, source, content, audience,
                tags, mentions, published, updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, content = excluded.content,
                audience = excluded.audience, tags = excluded.tags, mentions = excluded.mentions,
                updated = excluded.updated",
    )
    .bind(post.id.clone())
    .bind(post.author.clone())
    .bind(i64::from(post.local))
    .bind(post.in_reply_to.clone())
    .bind(post.root.clone())
    .bind(post.source.clone())
    .bind(post.content.clone())
    .bind(post.audience.as_str())
    .bind(serde_json::to_string(&post.tags)?)
    .bind(serde_json::to_string(&post.mentions)?)
    .bind(post.published)
    .bind(post.updated)
    .execute(&mut **tx)
    .await
    .context("storing a post")?;
    sqlx::query("DELETE FROM pd_post_tags WHERE post = $1")
        .bind(post.id.clone())
        .execute(&mut **tx)
        .await?;
    for tag in &post.tags {
        sqlx::query(
            "INSERT INTO pd_post_tags (post, tag) VALUES ($1, $2)
                 ON CONFLICT (post, tag) DO NOTHING",
        )
        .bind(post.id.clone())
        .bind(tag.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Replaces what is attached to post `post`, within `tx`.
async fn put_attachments_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    post: &str,
    attachments: &[Attachment],
) -> Result<()> {
    sqlx::query("DELETE FROM pd_attachments WHERE post = $1")
        .bind(post.to_owned())
        .execute(&mut **tx)
        .await?;
    for (position, attachment) in (0_i64..).zip(attachments) {
        sqlx::query(
                "INSERT INTO pd_attachments (post, position, url, media_type, width, height, description)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(post.to_owned())
            .bind(position)
            .bind(attachment.url.clone())
            .bind(attachment.media_type.clone())
            .bind(attachment.width)
            .bind(attachment.height)
            .bind(attachment.description.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::{Db, MIGRATIONS, MIGRATIONS_TABLE, PostRow};
    use crate::{Options, PodOptions};

    /// A database made by the first release (migration 1) takes migration 2 when opened, and
    /// keeps its posts.
    #[tokio::test]
    async fn a_database_of_the_first_release_gets_the_social_tables() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path().join("pod.sqlite").display().to_string(),
        )
        .with_app_options(PodOptions::default());
        let base = url::Url::parse("https://pod.example/").expect("a URL");
        let first = MIGRATIONS.get(..1).expect("the first migration");
        let old = instance_server::open_state(&options, Some(&base), MIGRATIONS_TABLE, first)
            .await
            .expect("the first release's schema");
        let missing = sqlx::query("SELECT COUNT(*) AS n FROM pd_post_tags")
            .fetch_one(old.pool())
            .await;
        assert!(missing.is_err(), "no social tables yet");
        let post = PostRow {
            id: "https://pod.example/posts/1".to_owned(),
            author: "https://pod.example/actors/alice".to_owned(),
            local: true,
            in_reply_to: None,
            root: None,
            source: "Hello".to_owned(),
            content: "<p>Hello</p>".to_owned(),
            audience: super::Audience::Public,
            tags: Vec::new(),
            mentions: Vec::new(),
            published: 1,
            updated: 1,
        };
        sqlx::query(
            "INSERT INTO pd_posts (id, author, local, in_reply_to, root, source, content, audience,
                tags, mentions, published, updated)
             VALUES ($1, $2, 1, NULL, NULL, $3, $4, 'public', '[]', '[]', 1, 1)",
        )
        .bind(post.id.clone())
        .bind(post.author.clone())
        .bind(post.source.clone())
        .bind(post.content.clone())
        .execute(old.pool())
        .await
        .expect("a post of the first release");
        old.close().await;

        let db = Db::new(
            super::open(&options, Some(&base))
                .await
                .expect("the upgrade"),
        );
        assert_eq!(db.post(&post.id).await.expect("read"), Some(post.clone()));
        let (tagged, total) = db.tagged("rust", 0, 10).await.expect("the tag table");
        assert!(tagged.is_empty());
        assert_eq!(total, 0);
        assert!(
            db.attachments(&post.id)
                .await
                .expect("attachments")
                .is_empty()
        );
        assert_eq!(db.handle("bob@b.example").await.expect("handles"), None);
    }
}

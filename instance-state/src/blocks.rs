//! Blocks of actors and domains, by the whole instance or by one local actor.
//!
//! The inbox refuses what comes from an actor or a domain the instance blocks (through
//! [`InboxStore::refuses`](federation::inbox::InboxStore::refuses)); nothing is delivered to a
//! blocked actor, nor to an actor on a blocked domain, and a local actor's own blocks keep its
//! deliveries from the actors it blocks. A block of a domain covers its subdomains.

use std::collections::BTreeSet;

use url::Url;

use crate::InstanceState;
use crate::error::{Columns, Error, db};

/// What is blocked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BlockTarget {
    /// An actor, by id.
    Actor(String),
    /// A domain and its subdomains (lowercase, without a final dot).
    Domain(String),
}

impl BlockTarget {
    /// A domain block (normalized).
    pub fn domain(domain: &str) -> Self {
        Self::Domain(domain.trim().trim_end_matches('.').to_ascii_lowercase())
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Actor(id) => ("actor", id),
            Self::Domain(domain) => ("domain", domain),
        }
    }
}

/// A block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Block {
    /// Who blocks: a local actor's id, or `None` for the whole instance.
    pub blocker: Option<String>,
    /// What is blocked.
    pub target: BlockTarget,
    /// Why (for moderators).
    pub reason: String,
    /// When (Unix microseconds).
    pub created: i64,
}

/// The host of `iri`, lowercase.
pub(crate) fn host_of(iri: &str) -> Option<String> {
    Url::parse(iri).ok().and_then(|u| {
        u.host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    })
}

/// `host` and its parent domains.
fn domains_of(host: &str) -> Vec<String> {
    let mut out = vec![host.to_owned()];
    let mut rest = host;
    while let Some((_, parent)) = rest.split_once('.') {
        out.push(parent.to_owned());
        rest = parent;
    }
    out
}

/// The target of a row of `st_blocks` (its `kind` and `target`).
fn block_target(c: &Columns<'_>) -> Result<BlockTarget, Error> {
    let kind: String = c.get("kind")?;
    let target = c.get("target")?;
    match kind.as_str() {
        "actor" => Ok(BlockTarget::Actor(target)),
        "domain" => Ok(BlockTarget::Domain(target)),
        other => Err(Error::Corrupt {
            what: "block kind",
            detail: format!("unknown kind {other:?}"),
        }),
    }
}

/// The blocks that apply to one blocker (the instance's and, when given, a local actor's),
/// read at once: to filter a long list of actors without a query for each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockList {
    actors: BTreeSet<String>,
    domains: BTreeSet<String>,
}

impl BlockList {
    /// Whether `iri` (an actor id, or anything on its server) is blocked: the actor, or its
    /// domain or a parent of it.
    pub fn blocks(&self, iri: &str) -> bool {
        let actor = iri.split_once('#').map_or(iri, |(actor, _)| actor);
        self.actors.contains(actor)
            || host_of(iri)
                .is_some_and(|host| domains_of(&host).iter().any(|d| self.domains.contains(d)))
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty() && self.domains.is_empty()
    }
}

impl InstanceState {
    /// The blocks that apply to `blocker` (a local actor's id): the instance's and its own;
    /// the instance's only for `None`.
    pub async fn block_list(&self, blocker: Option<&str>) -> Result<BlockList, Error> {
        // One query for both: the instance's blocks (blocker '') and the actor's.
        let rows = sqlx::query("SELECT kind, target FROM st_blocks WHERE blocker IN ('', $1)")
            .bind(blocker.unwrap_or(""))
            .fetch_all(self.pool())
            .await
            .map_err(db("listing blocks"))?;
        let mut list = BlockList::default();
        for row in &rows {
            match block_target(&Columns::new(row, "reading a block"))? {
                BlockTarget::Actor(actor) => list.actors.insert(actor),
                BlockTarget::Domain(domain) => list.domains.insert(domain),
            };
        }
        Ok(list)
    }

    /// Blocks `target`, for `blocker` (a local actor's id; `None`: the whole instance). A block
    /// of an actor ends the follows between it and the blocker (with the whole instance: with
    /// every local actor). `false` if it was blocked already.
    pub async fn block(
        &self,
        blocker: Option<&str>,
        target: &BlockTarget,
        reason: &str,
    ) -> Result<bool, Error> {
        let (kind, value) = target.parts();
        let mut tx = self.begin_write().await.map_err(db("blocking"))?;
        let done = sqlx::query(
            "INSERT INTO st_blocks (blocker, kind, target, reason, created) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (blocker, kind, target) DO NOTHING",
        )
        .bind(blocker.unwrap_or(""))
        .bind(kind)
        .bind(value)
        .bind(reason)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(db("blocking"))?;
        if let BlockTarget::Actor(actor) = target {
            match blocker {
                Some(blocker) => {
                    sqlx::query(
                        "DELETE FROM st_follows WHERE (follower = $1 AND followed = $2)
                         OR (follower = $2 AND followed = $1)",
                    )
                    .bind(blocker)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("ending follows with a blocked actor"))?;
                }
                None => {
                    sqlx::query("DELETE FROM st_follows WHERE follower = $1 OR followed = $1")
                        .bind(actor)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("ending follows with a blocked actor"))?;
                }
            }
        }
        tx.commit().await.map_err(db("blocking"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Lifts a block; `false` if there was none.
    pub async fn unblock(
        &self,
        blocker: Option<&str>,
        target: &BlockTarget,
    ) -> Result<bool, Error> {
        let (kind, value) = target.parts();
        let done =
            sqlx::query("DELETE FROM st_blocks WHERE blocker = $1 AND kind = $2 AND target = $3")
                .bind(blocker.unwrap_or(""))
                .bind(kind)
                .bind(value)
                .execute(self.pool())
                .await
                .map_err(db("unblocking"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The blocks of `blocker` (`None`: the instance's), newest first.
    pub async fn blocks(&self, blocker: Option<&str>) -> Result<Vec<Block>, Error> {
        let rows = sqlx::query(
            "SELECT blocker, kind, target, reason, created FROM st_blocks WHERE blocker = $1
             ORDER BY created DESC, target",
        )
        .bind(blocker.unwrap_or(""))
        .fetch_all(self.pool())
        .await
        .map_err(db("listing blocks"))?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "reading a block");
                let blocker: String = c.get("blocker")?;
                Ok(Block {
                    blocker: (!blocker.is_empty()).then_some(blocker),
                    target: block_target(&c)?,
                    reason: c.get("reason")?,
                    created: c.get("created")?,
                })
            })
            .collect()
    }

    /// Whether `actor` (an id, or any IRI on its server) is blocked by the instance, or by
    /// `blocker` (a local actor's id) when given: the actor itself, or its domain or a parent
    /// of it.
    pub async fn is_blocked(&self, blocker: Option<&str>, actor: &str) -> Result<bool, Error> {
        let domains = host_of(actor).map(|h| domains_of(&h)).unwrap_or_default();
        let mut sql = String::from(
            "SELECT COUNT(*) AS n FROM st_blocks WHERE blocker IN ($1, $2)
             AND ((kind = 'actor' AND target = $3)",
        );
        if !domains.is_empty() {
            let parameters: Vec<String> = (4..4 + domains.len()).map(|n| format!("${n}")).collect();
            sql.push_str(&format!(
                " OR (kind = 'domain' AND target IN ({}))",
                parameters.join(", ")
            ));
        }
        sql.push(')');
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind("")
            .bind(blocker.unwrap_or(""))
            .bind(actor.to_owned());
        for domain in domains {
            query = query.bind(domain);
        }
        Ok(self.count(query, "checking blocks").await? > 0)
    }
}

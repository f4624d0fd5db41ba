//! Who follows whom, with each follow's state.
//!
//! Both directions live in one relation, by actor id: a local actor's followers are the rows
//! whose `followed` is its id, its following the rows whose `follower` is. A follow is
//! `pending` until the followed actor answers (at once when it does not
//! `manuallyApprovesFollowers`), then `accepted` or `rejected`; only accepted follows are in
//! the collections and receive deliveries.

use sqlx::any::AnyRow;

use crate::InstanceState;
use crate::error::{Columns, Error, bigint, db};

/// The state of a follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowState {
    /// Asked, not answered.
    Pending,
    /// Accepted.
    Accepted,
    /// Rejected.
    Rejected,
}

impl FollowState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "pending" => Ok(Self::Pending),
            "accepted" => Ok(Self::Accepted),
            "rejected" => Ok(Self::Rejected),
            other => Err(Error::Corrupt {
                what: "follow state",
                detail: format!("unknown state {other:?}"),
            }),
        }
    }
}

/// A follow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Follow {
    /// Who follows (an actor id).
    pub follower: String,
    /// Who is followed (an actor id).
    pub followed: String,
    /// The `Follow` activity's id.
    pub follow_id: String,
    /// Its state.
    pub state: FollowState,
    /// When it was asked (Unix microseconds).
    pub created: i64,
    /// When its state last changed.
    pub updated: i64,
}

const FOLLOW_COLUMNS: &str = "follower, followed, follow_id, state, created, updated";

fn follow_row(row: &AnyRow) -> Result<Follow, Error> {
    let c = Columns::new(row, "reading a follow");
    let state: String = c.get("state")?;
    Ok(Follow {
        follower: c.get("follower")?,
        followed: c.get("followed")?,
        follow_id: c.get("follow_id")?,
        state: FollowState::parse(&state)?,
        created: c.get("created")?,
        updated: c.get("updated")?,
    })
}

impl InstanceState {
    /// Records that `follower` follows (or asks to follow) `followed` with the `Follow`
    /// `follow_id`, in `state`. A follow asked again replaces the earlier one (its id and
    /// state); when it was accepted and is asked again as pending, it stays accepted (a peer
    /// re-sending its Follow does not lose it).
    pub async fn put_follow(
        &self,
        follower: &str,
        followed: &str,
        follow_id: &str,
        state: FollowState,
    ) -> Result<Follow, Error> {
        let now = self.now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO st_follows (follower, followed, follow_id, state, created, updated)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (follower, followed) DO UPDATE SET follow_id = excluded.follow_id,
                state = CASE WHEN st_follows.state = 'accepted' AND excluded.state = 'pending'
                             THEN st_follows.state ELSE excluded.state END,
                updated = excluded.updated
             RETURNING {FOLLOW_COLUMNS}"
        )))
        .bind(follower)
        .bind(followed)
        .bind(follow_id)
        .bind(state.as_str())
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(db("recording a follow"))?;
        follow_row(&row)
    }

    /// The follow of `followed` by `follower`.
    pub async fn follow(&self, follower: &str, followed: &str) -> Result<Option<Follow>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLLOW_COLUMNS} FROM st_follows WHERE follower = $1 AND followed = $2"
        )))
        .bind(follower)
        .bind(followed);
        self.fetch_row(query, "reading a follow", follow_row).await
    }

    /// The follow whose `Follow` activity is `follow_id`.
    pub async fn follow_by_id(&self, follow_id: &str) -> Result<Option<Follow>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLLOW_COLUMNS} FROM st_follows WHERE follow_id = $1
             ORDER BY updated DESC LIMIT 1"
        )))
        .bind(follow_id);
        self.fetch_row(query, "reading a follow", follow_row).await
    }

    /// Sets the state of `follower`'s follow of `followed`; the follow as it is now, `None`
    /// if there is none.
    pub async fn set_follow_state(
        &self,
        follower: &str,
        followed: &str,
        state: FollowState,
    ) -> Result<Option<Follow>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE st_follows SET state = $3, updated = $4
             WHERE follower = $1 AND followed = $2 RETURNING {FOLLOW_COLUMNS}"
        )))
        .bind(follower)
        .bind(followed)
        .bind(state.as_str())
        .bind(self.now());
        self.fetch_row(query, "answering a follow", follow_row)
            .await
    }

    /// Removes `follower`'s follow of `followed`; `false` if there was none.
    pub async fn remove_follow(&self, follower: &str, followed: &str) -> Result<bool, Error> {
        let done = sqlx::query("DELETE FROM st_follows WHERE follower = $1 AND followed = $2")
            .bind(follower)
            .bind(followed)
            .execute(self.pool())
            .await
            .map_err(db("removing a follow"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The followers of `actor` (an actor id) in `state`, newest first.
    pub async fn followers(
        &self,
        actor: &str,
        state: FollowState,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Follow>, Error> {
        self.follows("followed", actor, state, offset, limit).await
    }

    /// The actors `actor` (an actor id) follows, in `state`, newest first.
    pub async fn following(
        &self,
        actor: &str,
        state: FollowState,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Follow>, Error> {
        self.follows("follower", actor, state, offset, limit).await
    }

    /// How many followers `actor` has in `state`.
    pub async fn follower_count(&self, actor: &str, state: FollowState) -> Result<u64, Error> {
        self.count_follows("followed", actor, state).await
    }

    /// How many actors `actor` follows, in `state`.
    pub async fn following_count(&self, actor: &str, state: FollowState) -> Result<u64, Error> {
        self.count_follows("follower", actor, state).await
    }

    async fn follows(
        &self,
        column: &'static str,
        actor: &str,
        state: FollowState,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Follow>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLLOW_COLUMNS} FROM st_follows WHERE {column} = $1 AND state = $2
             ORDER BY created DESC, follower, followed LIMIT $3 OFFSET $4"
        )))
        .bind(actor)
        .bind(state.as_str())
        .bind(bigint(limit))
        .bind(bigint(offset))
        .fetch_all(self.pool())
        .await
        .map_err(db("listing follows"))?;
        rows.iter().map(follow_row).collect()
    }

    async fn count_follows(
        &self,
        column: &'static str,
        actor: &str,
        state: FollowState,
    ) -> Result<u64, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM st_follows WHERE {column} = $1 AND state = $2"
        )))
        .bind(actor)
        .bind(state.as_str());
        self.count(query, "counting follows").await
    }
}

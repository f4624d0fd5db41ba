//! The crate's error.

/// Why an operation on the [`InstanceState`](crate::InstanceState) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database location could not be read (`postgres://...`, or a SQLite file path).
    #[error("bad database location {location}: {source}")]
    Location {
        /// The location given.
        location: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A database statement failed.
    #[error("{doing}: {source}")]
    Database {
        /// What was being done.
        doing: &'static str,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
    /// The inbox's idempotency record failed (see `InstanceState::record_processed`).
    #[error(transparent)]
    Record(#[from] federation::record::RecordError),
    /// The schema could not be created or upgraded.
    #[error("migrating the schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("the stored {what} is not valid: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// An actor name that cannot be one: letters, digits, `_`, `-` and `.` only, 1 to 64 of
    /// them.
    #[error("{name:?} is not a valid name (1 to 64 letters, digits, `_`, `-` or `.`)")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The actor name or the username is taken (a deleted actor's name stays taken).
    #[error("the name {name:?} is taken")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No local actor has this name (or it was deleted).
    #[error("no local actor {name:?}")]
    NoSuchActor {
        /// The name.
        name: String,
    },
    /// No account has this id.
    #[error("no account {id:?}")]
    NoSuchAccount {
        /// The account id.
        id: String,
    },
    /// No follow between these actors.
    #[error("{follower} does not follow {followed} (nor asked to)")]
    NoSuchFollow {
        /// The follower.
        follower: String,
        /// The followed actor.
        followed: String,
    },
    /// An actor is not one of the account's identities.
    #[error("{name:?} is not an identity of this account")]
    NotAnIdentity {
        /// The actor name.
        name: String,
    },
    /// A key could not be generated, read or written.
    #[error("key: {0}")]
    Key(#[from] http_signatures::KeyError),
    /// A password could not be hashed (argon2).
    #[error("hashing a password: {0}")]
    PasswordHash(argon2::password_hash::Error),
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Random,
    /// A blocking task (key generation, password hashing) did not complete.
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A document the crate was given is not what it should be.
    #[error("invalid document: {reason}")]
    InvalidDocument {
        /// What is missing or wrong.
        reason: &'static str,
    },
}

/// Maps a sqlx error to [`Error::Database`], saying what was being done.
pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { doing, source }
}

/// Whether `error` is a unique or primary key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Reads the columns of one row, each failure saying what was being done: the row mappers'
/// one way to read a column.
pub(crate) struct Columns<'r> {
    row: &'r sqlx::any::AnyRow,
    doing: &'static str,
}

impl<'r> Columns<'r> {
    /// The columns of `row`, read while `doing`.
    pub(crate) fn new(row: &'r sqlx::any::AnyRow, doing: &'static str) -> Self {
        Self { row, doing }
    }

    /// The value of `column`.
    pub(crate) fn get<T>(&self, column: &str) -> Result<T, Error>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        use sqlx::Row as _;
        self.row.try_get(column).map_err(db(self.doing))
    }

    /// The value of the flag `column` (an integer, 0 or 1, as both databases store it).
    pub(crate) fn flag(&self, column: &str) -> Result<bool, Error> {
        Ok(self.get::<i64>(column)? != 0)
    }
}

/// A row count or a limit as the `BIGINT` parameter it is bound as (saturating).
pub(crate) fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

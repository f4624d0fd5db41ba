//! [`InstanceState`]: the pool, the options, the migrations.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use federation::record::{SqlRecord, SqlRecordOptions};
use http_signatures::{Signer, Standard};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};
use url::Url;

use crate::error::{Columns, Error, db};

/// A statement of the `Any` driver, its parameters bound.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// The migrations, in order: `(version, description, statements)`. Both databases run the
/// same statements (see the crate's documentation), but for the versions in
/// [`SQLITE_MIGRATIONS`] and [`POSTGRES_MIGRATIONS`].
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "state", include_str!("../migrations/0001_state.sql")),
    (2, "hidden", include_str!("../migrations/0002_hidden.sql")),
    (
        3,
        "rate_limits",
        include_str!("../migrations/0003_rate_limits.sql"),
    ),
    (4, "moves", include_str!("../migrations/0004_moves.sql")),
    (
        5,
        "remote_keys",
        include_str!("../migrations/0005_remote_keys.sql"),
    ),
    (
        6,
        "followers",
        include_str!("../migrations/0006_followers.sql"),
    ),
];

/// The migrations after [`MIGRATIONS`] whose statements differ on SQLite (a storage choice
/// PostgreSQL does not have), in order.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[(
    7,
    "processed_without_rowid",
    include_str!("../migrations/0007_processed_sqlite.sql"),
)];

/// [`SQLITE_MIGRATIONS`]' versions on PostgreSQL.
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[(
    7,
    "processed_without_rowid",
    include_str!("../migrations/0007_processed_postgres.sql"),
)];

/// The migrations table, named for this crate so that it never meets an app's own.
const MIGRATIONS_TABLE: &str = "instance_state_migrations";

/// Which key signs the local actors' deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyChoice {
    /// The RSA-2048 key (`#main-key`), which every fediverse server verifies.
    #[default]
    Rsa,
    /// The Ed25519 key (`#ed25519-key`, FEP-521a), which fewer servers verify.
    Ed25519,
}

/// Where the time comes from: Unix microseconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        }))
    }

    /// A clock reading `now` (Unix microseconds), for tests.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The current time, in Unix microseconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// How an [`InstanceState`] is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The server's base URL: local actors are `{base_url}/actors/{name}`, as
    /// `federation::routes` serves them.
    pub base_url: Url,
    /// Which key signs deliveries. Default: RSA.
    pub signing_key: KeyChoice,
    /// The signature standard of a first delivery attempt. Default: draft-cavage.
    pub first_knock: Standard,
    /// The most database connections. Default: 4 on SQLite, 8 on PostgreSQL.
    pub max_connections: Option<u32>,
    /// The clock. Default: the system's.
    pub clock: Clock,
    /// SQLite only: the inbox's idempotency record commits with `synchronous=FULL` (an fsync
    /// per transaction: kept through a power cut) instead of `NORMAL` (the default: kept when
    /// the process dies; see `federation::record::SqlRecordOptions::synchronous_full`).
    pub inbox_record_synchronous_full: bool,
}

impl Options {
    /// The defaults for a server at `base_url`.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            signing_key: KeyChoice::Rsa,
            first_knock: Standard::Cavage,
            max_connections: None,
            clock: Clock::system(),
            inbox_record_synchronous_full: false,
        }
    }

    /// Signs deliveries with `key`.
    pub fn with_signing_key(mut self, key: KeyChoice) -> Self {
        self.signing_key = key;
        self
    }

    /// Sets the signature standard of first attempts.
    pub fn with_first_knock(mut self, standard: Standard) -> Self {
        self.first_knock = standard;
        self
    }

    /// Sets the most database connections.
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets [`Options::inbox_record_synchronous_full`].
    pub fn with_inbox_record_synchronous_full(mut self, full: bool) -> Self {
        self.inbox_record_synchronous_full = full;
        self
    }
}

/// The state of an instance, in one database. Cheap to clone (the clones share the pool).
#[derive(Clone)]
pub struct InstanceState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: AnyPool,
    /// The inbox's idempotency record (`st_processed`), written with group commit on
    /// connections of its own (see `InstanceState::record_processed`).
    pub(crate) record: SqlRecord,
    pub(crate) options: Options,
    pub(crate) sqlite: bool,
    /// Signers by key reference, so that a delivery does not parse a PEM each time.
    pub(crate) signers: Mutex<HashMap<String, Arc<Signer>>>,
}

impl fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceState")
            .field("base_url", &self.inner.options.base_url.as_str())
            .field("sqlite", &self.inner.sqlite)
            .finish_non_exhaustive()
    }
}

impl InstanceState {
    /// Opens the database at `location` (a `postgres://` or `postgresql://` URL, else a SQLite
    /// file path, created if missing) and creates or upgrades its schema.
    pub async fn open(location: &str, options: Options) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let sqlite =
            !(location.starts_with("postgres://") || location.starts_with("postgresql://"));
        let url = if sqlite {
            format!("sqlite://{location}?mode=rwc")
        } else {
            location.to_owned()
        };
        let connect = AnyConnectOptions::from_str(&url).map_err(|source| Error::Location {
            location: location.to_owned(),
            source,
        })?;
        let max = options
            .max_connections
            .unwrap_or(if sqlite { 4 } else { 8 });
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Writers wait for each other rather than fail: SQLite has one writer.
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(db("connecting to the database"))?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(db("setting the journal mode"))?;
        }
        migrator(sqlite).run(&pool).await?;
        let record = SqlRecord::open(
            location,
            "st_processed",
            SqlRecordOptions::new().with_synchronous_full(options.inbox_record_synchronous_full),
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                record,
                options,
                sqlite,
                signers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The pool, for an app's own tables in the same database (the same `Any` dialect).
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Whether the database is SQLite (else PostgreSQL).
    pub fn is_sqlite(&self) -> bool {
        self.inner.sqlite
    }

    /// Begins a transaction that writes: on SQLite `BEGIN IMMEDIATE`, which takes the write
    /// lock at once (waiting up to the busy timeout), so that a transaction that reads before
    /// it writes cannot fail with `SQLITE_BUSY` because another connection wrote meanwhile
    /// (a deferred transaction's read snapshot cannot become a write then); on PostgreSQL a
    /// plain `BEGIN`.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        if self.is_sqlite() {
            self.pool().begin_with("BEGIN IMMEDIATE").await
        } else {
            self.pool().begin().await
        }
    }

    /// The schema versions applied, in order.
    pub async fn schema_versions(&self) -> Result<Vec<i64>, Error> {
        use sqlx::Row as _;
        let rows = sqlx::query(
            "SELECT version FROM instance_state_migrations WHERE success ORDER BY version",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db("reading the schema versions"))?;
        rows.iter()
            .map(|row| row.try_get::<i64, _>("version"))
            .collect::<Result<_, _>>()
            .map_err(db("reading the schema versions"))
    }

    /// The app's setting `name`.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, Error> {
        use sqlx::Row as _;
        let row = sqlx::query("SELECT value FROM st_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(db("reading a setting"))?;
        row.map(|r| r.try_get("value"))
            .transpose()
            .map_err(db("reading a setting"))
    }

    /// Sets the app's setting `name`.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO st_settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool())
        .await
        .map_err(db("writing a setting"))?;
        Ok(())
    }

    /// Closes the pool and the inbox record's connections.
    pub async fn close(&self) {
        self.inner.record.close().await;
        self.inner.pool.close().await;
    }

    /// The current time, in Unix microseconds.
    pub(crate) fn now(&self) -> i64 {
        self.inner.options.clock.now()
    }

    /// The row `query` finds, if any, read by `map`.
    pub(crate) async fn fetch_row<T>(
        &self,
        query: AnyQuery<'_>,
        doing: &'static str,
        map: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let row = query.fetch_optional(self.pool()).await.map_err(db(doing))?;
        row.as_ref().map(map).transpose()
    }

    /// What `query` (`SELECT COUNT(*) AS n ...`) counts.
    pub(crate) async fn count(
        &self,
        query: AnyQuery<'_>,
        doing: &'static str,
    ) -> Result<u64, Error> {
        let row = query.fetch_one(self.pool()).await.map_err(db(doing))?;
        let n: i64 = Columns::new(&row, doing).get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The id of local actor `name`: `{base_url}/actors/{name}`.
    pub fn actor_id(&self, name: &str) -> Url {
        let mut url = self.inner.options.base_url.clone();
        url.set_path(&format!("actors/{name}"));
        url.set_query(None);
        url.set_fragment(None);
        url
    }

    /// The local actor name of `id`, when `id` is a local actor's id (whether or not the actor
    /// exists).
    pub fn local_name(&self, id: &str) -> Option<String> {
        let prefix = self.actor_id("");
        id.strip_prefix(prefix.as_str())
            .filter(|rest| !rest.is_empty() && !rest.contains(['/', '#', '?']))
            .map(str::to_owned)
    }

    /// Whether `id` is on this server.
    pub fn is_local(&self, id: &str) -> bool {
        Url::parse(id).is_ok_and(|u| u.origin() == self.inner.options.base_url.origin())
    }

    /// A fresh id on this server: `{base_url}/{kind}/{uuid}`.
    pub fn new_id(&self, kind: &str) -> Url {
        let mut url = self.inner.options.base_url.clone();
        url.set_path(&format!("{kind}/{}", uuid::Uuid::new_v4()));
        url
    }
}

/// The migrator over the embedded migrations. `federation-queue` builds its own the same way
/// (`store::sql::migrator`, crate-private, with its own table): a few lines of sqlx, not worth
/// a public API of that crate.
fn migrator(sqlite: bool) -> Migrator {
    let dialect = if sqlite {
        SQLITE_MIGRATIONS
    } else {
        POSTGRES_MIGRATIONS
    };
    let all: Vec<_> = MIGRATIONS.iter().chain(dialect).copied().collect();
    app_migrator(MIGRATIONS_TABLE, &all)
}

/// A migrator for an app's own tables in the same database: `migrations` are
/// `(version, description, statements)` in order (the statements of each run as one
/// transaction), recorded in `table`, which must not be `instance_state_migrations` nor
/// another app's. Run it with `Migrator::run` on [`InstanceState::pool`] after
/// [`InstanceState::open`] (which ran this crate's).
pub fn app_migrator(
    table: &'static str,
    migrations: &[(i64, &'static str, &'static str)],
) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(table);
    migrator
}

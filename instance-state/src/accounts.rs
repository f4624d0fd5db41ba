//! Accounts, password sign-in, sessions and API tokens.
//!
//! An account owns several actors (its identities, as in Mobilizon). It signs in with a
//! password, kept as an argon2id hash with OWASP's parameters (19 MiB, 2 passes, 1 lane), and
//! holds credentials: sessions (a browser's, bound to the identity it acts as) and API tokens.
//! A credential's secret is 256 random bits shown once; only its SHA-256 is stored, and a
//! secret is checked by looking its hash up, so nothing compares secrets byte by byte.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::InstanceState;
use crate::error::{Columns, Error, db, is_unique_violation};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// A person using the instance.
    User,
    /// May handle reports and block actors and domains.
    Moderator,
    /// May do anything.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "user" => Ok(Self::User),
            "moderator" => Ok(Self::Moderator),
            "admin" => Ok(Self::Admin),
            other => Err(corrupt("account role", other)),
        }
    }

    /// Whether the role may moderate.
    pub fn moderates(self) -> bool {
        matches!(self, Self::Moderator | Self::Admin)
    }
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountState {
    /// It may.
    Active,
    /// It signed up and waits for approval.
    Pending,
    /// A moderator suspended it.
    Suspended,
}

impl AccountState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Suspended => "suspended",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "active" => Ok(Self::Active),
            "pending" => Ok(Self::Pending),
            "suspended" => Ok(Self::Suspended),
            other => Err(corrupt("account state", other)),
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// Its id (a UUID).
    pub id: String,
    /// The name it signs in with (lowercase).
    pub username: String,
    /// Its email address, if given.
    pub email: Option<String>,
    /// What it may do.
    pub role: Role,
    /// Whether it may sign in.
    pub state: AccountState,
    /// When it was created (Unix microseconds).
    pub created: i64,
}

/// The outcome of a password sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Login {
    /// The password is right and the account active.
    Ok(Account),
    /// No such account, or a wrong password (told apart to nobody).
    Invalid,
    /// The password is right but the account is pending or suspended.
    NotActive(Account),
}

/// Which kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A browser session.
    Session,
    /// An API token.
    Token,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Token => "token",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "session" => Ok(Self::Session),
            "token" => Ok(Self::Token),
            other => Err(corrupt("credential kind", other)),
        }
    }
}

/// A session or API token, as stored (its secret is not: only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credential {
    /// The SHA-256 of the secret, hex: the credential's id (safe to show, to revoke it by).
    pub hash: String,
    /// The account.
    pub account: String,
    /// Session or token.
    pub kind: CredentialKind,
    /// A label (`"Firefox on a phone"`, `"backup script"`).
    pub label: String,
    /// The identity (actor name) it acts as.
    pub actor: Option<String>,
    /// When it was made (Unix microseconds).
    pub created: i64,
    /// When it was last used (to the minute).
    pub last_used: i64,
    /// When it expires (`None`: never).
    pub expires: Option<i64>,
    /// When it was revoked.
    pub revoked: Option<i64>,
}

/// A secret shown once: the session cookie's or the API token's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's text (URL-safe base64 of 32 random bytes).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The stored form of a secret: its SHA-256, in hex.
pub fn hash_secret(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Argon2id with OWASP's first recommended parameters (m = 19 MiB, t = 2, p = 1).
fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| Error::PasswordHash(e.into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The argon2id hash of `password`, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| Error::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(Error::PasswordHash)?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::PasswordHash)?
        .to_string())
}

/// Whether `password` matches the PHC string `hash` (any argon2 variant and parameters, so
/// that hashes made with older parameters still verify).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn corrupt(what: &'static str, value: &str) -> Error {
    Error::Corrupt {
        what,
        detail: format!("unknown value {value:?}"),
    }
}

fn new_secret() -> Result<Secret, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    Ok(Secret(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// How stale [`Credential::last_used`] may be (Unix microseconds): a minute.
const LAST_USED_GRANULARITY: i64 = 60_000_000;

const ACCOUNT_COLUMNS: &str = "id, username, email, role, state, created";

fn account_row(row: &AnyRow) -> Result<Account, Error> {
    let c = Columns::new(row, "reading an account");
    let role: String = c.get("role")?;
    let state: String = c.get("state")?;
    Ok(Account {
        id: c.get("id")?,
        username: c.get("username")?,
        email: c.get("email")?,
        role: Role::parse(&role)?,
        state: AccountState::parse(&state)?,
        created: c.get("created")?,
    })
}

const CREDENTIAL_COLUMNS: &str =
    "hash, account, kind, label, actor, created, last_used, expires, revoked";

fn credential_row(row: &AnyRow) -> Result<Credential, Error> {
    let c = Columns::new(row, "reading a credential");
    let kind: String = c.get("kind")?;
    Ok(Credential {
        hash: c.get("hash")?,
        account: c.get("account")?,
        kind: CredentialKind::parse(&kind)?,
        label: c.get("label")?,
        actor: c.get("actor")?,
        created: c.get("created")?,
        last_used: c.get("last_used")?,
        expires: c.get("expires")?,
        revoked: c.get("revoked")?,
    })
}

/// A hash nobody's password has, verified when there is no account so that a sign-in to an
/// unknown name takes as long as one with a wrong password.
const NO_ACCOUNT_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wJ0ctkxWItCBEaH2Ai1x9wAtYDHJ7xyS6sGUjT0ZXwk";

impl InstanceState {
    /// Creates an account; `password` `None` makes one that cannot sign in with a password.
    /// The username is kept lowercase; [`Error::NameTaken`] if it is taken.
    pub async fn create_account(
        &self,
        username: &str,
        email: Option<&str>,
        password: Option<&str>,
        role: Role,
        state: AccountState,
    ) -> Result<Account, Error> {
        let username = username.trim().to_lowercase();
        crate::actors::check_name(&username)?;
        let hash = match password {
            Some(password) => {
                let password = password.to_owned();
                Some(tokio::task::spawn_blocking(move || hash_password(&password)).await??)
            }
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let result = sqlx::query(
            "INSERT INTO st_accounts (id, username, email, password_hash, role, state, created, updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&username)
        .bind(email)
        .bind(hash)
        .bind(role.as_str())
        .bind(state.as_str())
        .bind(now)
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(Account {
                id,
                username,
                email: email.map(str::to_owned),
                role,
                state,
                created: now,
            }),
            Err(e) if is_unique_violation(&e) => Err(Error::NameTaken { name: username }),
            Err(e) => Err(db("creating an account")(e)),
        }
    }

    /// The account `id`.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM st_accounts WHERE id = $1"
        )))
        .bind(id);
        self.fetch_row(query, "reading an account", account_row)
            .await
    }

    /// The account signing in as `username`.
    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM st_accounts WHERE username = $1"
        )))
        .bind(username.trim().to_lowercase());
        self.fetch_row(query, "reading an account", account_row)
            .await
    }

    /// The accounts in `state`, oldest first (sign-ups awaiting approval, say).
    pub async fn accounts_in_state(&self, state: AccountState) -> Result<Vec<Account>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM st_accounts WHERE state = $1 ORDER BY created, id"
        )))
        .bind(state.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db("listing accounts"))?;
        rows.iter().map(account_row).collect()
    }

    /// Checks `username`'s password.
    pub async fn login(&self, username: &str, password: &str) -> Result<Login, Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS}, password_hash FROM st_accounts WHERE username = $1"
        )))
        .bind(username.trim().to_lowercase())
        .fetch_optional(self.pool())
        .await
        .map_err(db("reading an account"))?;
        let (account, hash) = match &row {
            Some(row) => {
                let hash: Option<String> = row
                    .try_get("password_hash")
                    .map_err(db("reading an account"))?;
                (Some(account_row(row)?), hash)
            }
            None => (None, None),
        };
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| NO_ACCOUNT_HASH.to_owned());
        let matches =
            tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await?;
        Ok(match account {
            Some(account) if known && matches => {
                if account.state == AccountState::Active {
                    Login::Ok(account)
                } else {
                    Login::NotActive(account)
                }
            }
            _ => Login::Invalid,
        })
    }

    /// Sets `account`'s password (`None`: no password sign-in).
    pub async fn set_password(&self, account: &str, password: Option<&str>) -> Result<(), Error> {
        let hash = match password {
            Some(password) => {
                let password = password.to_owned();
                Some(tokio::task::spawn_blocking(move || hash_password(&password)).await??)
            }
            None => None,
        };
        self.set_account_column(
            account,
            "password_hash",
            hash.as_deref(),
            "setting a password",
        )
        .await
    }

    /// Sets `account`'s state (approves a sign-up, suspends). Suspending revokes its
    /// credentials.
    pub async fn set_account_state(&self, account: &str, state: AccountState) -> Result<(), Error> {
        self.set_account_column(
            account,
            "state",
            Some(state.as_str()),
            "setting an account's state",
        )
        .await?;
        if state != AccountState::Active {
            self.revoke_all_credentials(account).await?;
        }
        Ok(())
    }

    /// Sets `account`'s role.
    pub async fn set_role(&self, account: &str, role: Role) -> Result<(), Error> {
        self.set_account_column(
            account,
            "role",
            Some(role.as_str()),
            "setting an account's role",
        )
        .await
    }

    /// Sets `column` of `account` to `value`; [`Error::NoSuchAccount`] if there is none.
    async fn set_account_column(
        &self,
        account: &str,
        column: &'static str,
        value: Option<&str>,
        doing: &'static str,
    ) -> Result<(), Error> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE st_accounts SET {column} = $2, updated = $3 WHERE id = $1"
        )))
        .bind(account)
        .bind(value)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db(doing))?;
        if done.rows_affected() == 0 {
            return Err(Error::NoSuchAccount {
                id: account.to_owned(),
            });
        }
        Ok(())
    }

    /// A new session for `account`, acting as `actor` (one of its identities), valid for
    /// `lifetime_micros`. The secret is returned once; only its hash is kept.
    pub async fn new_session(
        &self,
        account: &str,
        actor: Option<&str>,
        label: &str,
        lifetime_micros: i64,
    ) -> Result<(Secret, Credential), Error> {
        if let Some(actor) = actor {
            self.check_identity(account, actor).await?;
        }
        let expires = self.now().saturating_add(lifetime_micros);
        self.new_credential(
            account,
            CredentialKind::Session,
            label,
            actor,
            Some(expires),
        )
        .await
    }

    /// A new API token for `account`, expiring after `lifetime_micros` (`None`: never).
    pub async fn new_token(
        &self,
        account: &str,
        label: &str,
        lifetime_micros: Option<i64>,
    ) -> Result<(Secret, Credential), Error> {
        let expires = lifetime_micros.map(|l| self.now().saturating_add(l));
        self.new_credential(account, CredentialKind::Token, label, None, expires)
            .await
    }

    async fn new_credential(
        &self,
        account: &str,
        kind: CredentialKind,
        label: &str,
        actor: Option<&str>,
        expires: Option<i64>,
    ) -> Result<(Secret, Credential), Error> {
        if self.account(account).await?.is_none() {
            return Err(Error::NoSuchAccount {
                id: account.to_owned(),
            });
        }
        let secret = new_secret()?;
        let now = self.now();
        let credential = Credential {
            hash: hash_secret(secret.expose()),
            account: account.to_owned(),
            kind,
            label: label.to_owned(),
            actor: actor.map(str::to_owned),
            created: now,
            last_used: now,
            expires,
            revoked: None,
        };
        sqlx::query(
            "INSERT INTO st_credentials (hash, account, kind, label, actor, created, last_used, expires)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(&credential.hash)
        .bind(account)
        .bind(kind.as_str())
        .bind(label)
        .bind(actor)
        .bind(now)
        .bind(expires)
        .execute(self.pool())
        .await
        .map_err(db("storing a credential"))?;
        Ok((secret, credential))
    }

    /// Keeps an API token made elsewhere (an older database's), by the SHA-256 of its secret
    /// in hex ([`hash_secret`]), so that it keeps working: for upgrades only.
    pub async fn import_token(
        &self,
        account: &str,
        label: &str,
        sha256_hex: &str,
    ) -> Result<Credential, Error> {
        let valid = sha256_hex.len() == 64 && sha256_hex.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(Error::InvalidDocument {
                reason: "a token hash is 64 hexadecimal digits (a SHA-256)",
            });
        }
        if self.account(account).await?.is_none() {
            return Err(Error::NoSuchAccount {
                id: account.to_owned(),
            });
        }
        let now = self.now();
        let credential = Credential {
            hash: sha256_hex.to_ascii_lowercase(),
            account: account.to_owned(),
            kind: CredentialKind::Token,
            label: label.to_owned(),
            actor: None,
            created: now,
            last_used: now,
            expires: None,
            revoked: None,
        };
        sqlx::query(
            "INSERT INTO st_credentials (hash, account, kind, label, actor, created, last_used, expires)
             VALUES ($1, $2, 'token', $3, NULL, $4, $4, NULL)",
        )
        .bind(&credential.hash)
        .bind(account)
        .bind(label)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(db("importing a token"))?;
        Ok(credential)
    }

    /// The live credential whose secret is `secret` (not expired, not revoked, its account
    /// active), with its account; records that it was used.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<(Credential, Account)>, Error> {
        let hash = hash_secret(secret);
        let now = self.now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM st_credentials
             WHERE hash = $1 AND revoked IS NULL AND (expires IS NULL OR expires > $2)"
        )))
        .bind(&hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(db("reading a credential"))?;
        let Some(credential) = row.as_ref().map(credential_row).transpose()? else {
            return Ok(None);
        };
        let Some(account) = self.account(&credential.account).await? else {
            return Ok(None);
        };
        if account.state != AccountState::Active {
            return Ok(None);
        }
        // At most one write a minute per credential: a page view is not a database write.
        sqlx::query("UPDATE st_credentials SET last_used = $2 WHERE hash = $1 AND last_used < $3")
            .bind(&hash)
            .bind(now)
            .bind(now.saturating_sub(LAST_USED_GRANULARITY))
            .execute(self.pool())
            .await
            .map_err(db("recording a credential's use"))?;
        Ok(Some((credential, account)))
    }

    /// Revokes the credential whose hash is `hash` (a [`Credential::hash`]) if it belongs to
    /// `account`; `false` if there is none.
    pub async fn revoke_credential(&self, account: &str, hash: &str) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE st_credentials SET revoked = $3
             WHERE hash = $1 AND account = $2 AND revoked IS NULL",
        )
        .bind(hash)
        .bind(account)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("revoking a credential"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes the credential whose secret is `secret` (signing out); `false` if there is
    /// none.
    pub async fn revoke_secret(&self, secret: &str) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE st_credentials SET revoked = $2 WHERE hash = $1 AND revoked IS NULL",
        )
        .bind(hash_secret(secret))
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("revoking a credential"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes every credential of `account` (after a password change, a suspension).
    pub async fn revoke_all_credentials(&self, account: &str) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE st_credentials SET revoked = $2 WHERE account = $1 AND revoked IS NULL",
        )
        .bind(account)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("revoking credentials"))?;
        Ok(done.rows_affected())
    }

    /// The credentials of `account`, newest first (revoked and expired ones too).
    pub async fn credentials(&self, account: &str) -> Result<Vec<Credential>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM st_credentials WHERE account = $1
             ORDER BY created DESC, hash"
        )))
        .bind(account)
        .fetch_all(self.pool())
        .await
        .map_err(db("listing credentials"))?;
        rows.iter().map(credential_row).collect()
    }

    /// Makes the session `secret` act as `actor`, one of its account's identities
    /// ([`Error::NotAnIdentity`] otherwise); `false` when the session is not live.
    pub async fn switch_identity(&self, secret: &str, actor: &str) -> Result<bool, Error> {
        let Some((credential, _)) = self.authenticate(secret).await? else {
            return Ok(false);
        };
        self.check_identity(&credential.account, actor).await?;
        sqlx::query("UPDATE st_credentials SET actor = $2 WHERE hash = $1")
            .bind(&credential.hash)
            .bind(actor)
            .execute(self.pool())
            .await
            .map_err(db("switching identity"))?;
        Ok(true)
    }

    /// Deletes the credentials that expired or were revoked before `before` (Unix
    /// microseconds): housekeeping.
    pub async fn purge_credentials(&self, before: i64) -> Result<u64, Error> {
        let done = sqlx::query("DELETE FROM st_credentials WHERE revoked < $1 OR expires < $1")
            .bind(before)
            .execute(self.pool())
            .await
            .map_err(db("purging credentials"))?;
        Ok(done.rows_affected())
    }

    async fn check_identity(&self, account: &str, actor: &str) -> Result<(), Error> {
        let owned = self
            .identities(account)
            .await?
            .iter()
            .any(|identity| identity.name == actor);
        if owned {
            Ok(())
        } else {
            Err(Error::NotAnIdentity {
                name: actor.to_owned(),
            })
        }
    }
}

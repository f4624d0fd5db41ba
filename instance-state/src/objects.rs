//! Stored objects and activities, local and remote, with their addressing.
//!
//! The addressing of each object and activity (`to`, `cc`, `bto`, `bcc`, `audience`, and its
//! authors: `attributedTo`, `actor`) is kept as rows beside the document, and its
//! [`Visibility`] is derived from them, so every surface (an object's URL, an outbox, an app's
//! listing) judges who may read it with one condition, [`Scope`]. `bto` and `bcc` are kept in
//! those rows (their recipients may read it) but never in the stored document, which is what is
//! served. A deleted object is its `Tombstone`, and keeps the audience of the object it replaces.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::InstanceState;
use crate::error::{Columns, Error, bigint, db};
use crate::state::AnyQuery;

/// The public collection, as stored.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The most addresses a [`Scope`] lists: a reader in more of an app's collections than this is
/// judged on the first ones (its own ids come first). The followers collections of the actors
/// it follows are not among them, and have no bound (see [`Scope::condition`]).
const MAX_SCOPE: usize = 200;

/// Who may read an object, as its addressing says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Visibility {
    /// Public, in `to`: anyone, and listed.
    Public,
    /// Public in `cc` or `audience` only: anyone, not listed.
    Unlisted,
    /// Addressed to a followers collection, not to the public.
    Followers,
    /// Addressed to named actors only.
    Direct,
}

impl Visibility {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Followers => "followers",
            Self::Direct => "direct",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "public" => Ok(Self::Public),
            "unlisted" => Ok(Self::Unlisted),
            "followers" => Ok(Self::Followers),
            "direct" => Ok(Self::Direct),
            other => Err(Error::Corrupt {
                what: "visibility",
                detail: format!("unknown visibility {other:?}"),
            }),
        }
    }
}

/// The addressing of an object or activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Addressing {
    /// `to`.
    pub to: Vec<String>,
    /// `cc`.
    pub cc: Vec<String>,
    /// `bto` (never served).
    pub bto: Vec<String>,
    /// `bcc` (never served).
    pub bcc: Vec<String>,
    /// `audience`.
    pub audience: Vec<String>,
    /// The authors: `attributedTo` and `actor`, who may always read their own.
    pub authors: Vec<String>,
}

const FIELDS: [&str; 6] = ["to", "cc", "bto", "bcc", "audience", "author"];

impl Addressing {
    /// The addressing of `document`: ids (strings, or objects with an `id`, alone or in
    /// arrays), the public collection in any spelling (`Public`, `as:Public`) written as
    /// [`PUBLIC`].
    pub fn of(document: &Value) -> Self {
        let field = |name: &str| ids_in(document.get(name));
        let mut authors = field("attributedTo");
        for actor in field("actor") {
            if !authors.contains(&actor) {
                authors.push(actor);
            }
        }
        Self {
            to: field("to"),
            cc: field("cc"),
            bto: field("bto"),
            bcc: field("bcc"),
            audience: field("audience"),
            authors,
        }
    }

    /// The visibility this addressing gives: public in `to`; public elsewhere; a followers
    /// collection (an address ending in `/followers`, as Mastodon, Mobilizon, PeerTube and this
    /// workspace name theirs); else direct.
    pub fn visibility(&self) -> Visibility {
        if self.to.iter().any(|a| a == PUBLIC) {
            Visibility::Public
        } else if self
            .cc
            .iter()
            .chain(&self.audience)
            .chain(&self.bto)
            .chain(&self.bcc)
            .any(|a| a == PUBLIC)
        {
            Visibility::Unlisted
        } else if self.fields().any(|(_, a)| a.ends_with("/followers")) {
            Visibility::Followers
        } else {
            Visibility::Direct
        }
    }

    fn fields(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            &self.to,
            &self.cc,
            &self.bto,
            &self.bcc,
            &self.audience,
            &self.authors,
        ]
        .into_iter()
        .zip(FIELDS)
        .flat_map(|(list, field)| list.iter().map(move |a| (field, a)))
    }

    /// Adds `address` under the stored `field` name.
    fn push(&mut self, field: &str, address: String) {
        match field {
            "to" => self.to.push(address),
            "cc" => self.cc.push(address),
            "bto" => self.bto.push(address),
            "bcc" => self.bcc.push(address),
            "audience" => self.audience.push(address),
            _ => self.authors.push(address),
        }
    }

    /// The recipients (not the authors), owned.
    pub(crate) fn fields_owned(&self) -> Vec<String> {
        self.fields()
            .filter(|(field, _)| *field != "author")
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Whether `address` is among the recipients or the authors.
    pub fn names(&self, address: &str) -> bool {
        self.fields().any(|(_, a)| a == address)
    }

    /// Whether a remote `actor`'s `Delete` (or `Update`) may change the object this is the
    /// addressing of: `actor` is one of its authors (`attributedTo`, or `actor` as Mobilizon
    /// names an event's organizer), or it names none (then its server's word is enough: the
    /// inbox checked that the object is on the actor's server). As Mastodon deletes only the
    /// statuses of the `Delete`'s account, another account of the same server may not.
    pub fn changeable_by(&self, actor: &str) -> bool {
        self.authors.is_empty() || self.authors.iter().any(|a| a == actor)
    }
}

/// The ids in a value that is an id, an object with one, or an array of those; the public
/// collection normalized.
fn ids_in(value: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |id: &str| {
        let id = match id {
            "Public" | "as:Public" => PUBLIC,
            other => other,
        };
        if !out.iter().any(|a| a == id) {
            out.push(id.to_owned());
        }
    };
    match value {
        Some(Value::String(id)) => push(id),
        Some(Value::Object(object)) => {
            if let Some(id) = object.get("id").and_then(Value::as_str) {
                push(id);
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(id) => push(id),
                    Value::Object(object) => {
                        if let Some(id) = object.get("id").and_then(Value::as_str) {
                            push(id);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

/// The first id of `value` (see [`ids_in`]).
fn first_id(value: Option<&Value>) -> Option<String> {
    ids_in(value).into_iter().next()
}

/// RFC 3339 for Unix microseconds.
pub(crate) fn rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The Unix microseconds of an RFC 3339 timestamp.
fn micros_of(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
}

/// What a reader may see: the public collection, the addresses that name the reader (its ids,
/// and the collections of the app's own it is in), and the followers collections of the
/// actors it follows. Every read of objects and activities for someone goes through it.
///
/// The followers collections are not a list of addresses in the query: [`Scope::condition`]
/// finds them in the database from the reader's id (its accepted follows, each followed
/// actor's collection as its document names it), so that a reader following thousands of
/// actors sees what each of them addressed to its followers. The scopes
/// [`InstanceState::scope_of`] makes also hold those collections as they were read, so that
/// [`Scope::sees`], the same judgement in memory, agrees with the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// [`PUBLIC`] first, then the reader's addresses (at most 200).
    addresses: Vec<String>,
    /// The readers whose accepted follows bring the followed actors' followers collections
    /// into the scope (the reader of [`InstanceState::scope_of`]; several when scopes are
    /// [merged](Scope::merge)).
    followers: Vec<String>,
    /// The prefix of this server's actor ids (`{base_url}/actors/`), whose followers
    /// collections are `{actor}/followers`; empty when `followers` is.
    local_actors: String,
    /// The followers collections the follows of `followers` gave when the scope was made.
    collections: BTreeSet<String>,
}

impl Scope {
    /// An anonymous reader: public things only.
    pub fn anonymous() -> Self {
        Self {
            addresses: vec![PUBLIC.to_owned()],
            followers: Vec::new(),
            local_actors: String::new(),
            collections: BTreeSet::new(),
        }
    }

    /// A reader named by `addresses` (its id first, then its collections), capped at 200,
    /// without the collections of those it follows ([`InstanceState::scope_of`] adds them).
    pub fn of(addresses: impl IntoIterator<Item = String>) -> Self {
        let mut scope = Self::anonymous();
        scope.extend(addresses);
        scope
    }

    /// Adds addresses that name the reader (the collections of the app's own: a group's
    /// members, an event's participants), up to 200 in all.
    pub fn extend(&mut self, addresses: impl IntoIterator<Item = String>) {
        for address in addresses {
            if self.addresses.len() > MAX_SCOPE {
                break;
            }
            if !self.addresses.contains(&address) {
                self.addresses.push(address);
            }
        }
    }

    /// Adds what `other` sees to this scope: for a reader that is several actors (the
    /// identities of one account), each actor's scope merged.
    pub fn merge(&mut self, other: Scope) {
        self.extend(other.addresses);
        for reader in other.followers {
            if !self.followers.contains(&reader) {
                self.followers.push(reader);
            }
        }
        if self.local_actors.is_empty() {
            self.local_actors = other.local_actors;
        }
        self.collections.extend(other.collections);
    }

    /// The reader's addresses, the public collection first: its ids and the collections of
    /// the app's own it is in, not the followers collections of those it follows (see
    /// [`Scope::followed_collections`]).
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// The followers collections of the actors the reader follows, as read when the scope
    /// was made (by [`InstanceState::scope_of`]).
    pub fn followed_collections(&self) -> impl Iterator<Item = &str> {
        self.collections.iter().map(String::as_str)
    }

    /// Whether an item addressed as `addressing` is visible in this scope: what
    /// [`Scope::condition`] says of it in the database, judged in memory.
    pub fn sees(&self, addressing: &Addressing) -> bool {
        self.addresses.iter().any(|a| addressing.names(a))
            || addressing
                .fields()
                .any(|(_, a)| self.collections.contains(a))
    }

    /// The SQL condition that the item whose id is `column` is visible (addressed to the
    /// scope, and not hidden by a moderator); its parameters are `$first` onwards, bound by
    /// [`Scope::bind`].
    ///
    /// The followers collections of the followed actors are found from the reader's id, for
    /// each address of the item: the `followers` stored for a remote actor
    /// (`st_remote_actors.followers`, from its document, by its index) that the reader follows
    /// (an accepted follow in `st_follows`), or `{actor}/followers` of a local actor it follows
    /// (the follow found by its key, the address less `/followers`). So the cost is a few index
    /// lookups for each item read, however many actors the reader follows.
    pub fn condition(&self, column: &str, first: usize) -> String {
        let mut next = first;
        let mut parameters = |n: usize| -> Vec<String> {
            let taken = (next..next + n).map(|n| format!("${n}")).collect();
            next += n;
            taken
        };
        let addresses = parameters(self.addresses.len()).join(", ");
        let follows = if self.followers.is_empty() {
            String::new()
        } else {
            let readers = parameters(self.followers.len()).join(", ");
            let prefix = parameters(1).join("");
            format!(
                " OR EXISTS (SELECT 1 FROM st_remote_actors r JOIN st_follows f ON f.followed = r.id \
                   WHERE r.followers = v.address AND f.follower IN ({readers}) \
                   AND f.state = 'accepted') \
                 OR EXISTS (SELECT 1 FROM st_follows f WHERE f.follower IN ({readers}) \
                   AND f.state = 'accepted' \
                   AND f.followed = CASE WHEN length(v.address) > {suffix} \
                     THEN substr(v.address, 1, length(v.address) - {suffix}) END \
                   AND f.followed || '{FOLLOWERS}' = v.address \
                   AND substr(f.followed, 1, length({prefix})) = {prefix})",
                suffix = FOLLOWERS.len(),
            )
        };
        format!(
            "EXISTS (SELECT 1 FROM st_addressing v WHERE v.item = {column} \
             AND (v.address IN ({addresses}){follows})) \
             AND NOT EXISTS (SELECT 1 FROM st_objects h WHERE h.id = {column} AND h.hidden <> 0)"
        )
    }

    /// Binds the parameters of [`Scope::condition`].
    pub fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for address in &self.addresses {
            query = query.bind(address.clone());
        }
        if !self.followers.is_empty() {
            for reader in &self.followers {
                query = query.bind(reader.clone());
            }
            query = query.bind(self.local_actors.clone());
        }
        query
    }
}

/// The path of a local actor's followers collection under its id.
const FOLLOWERS: &str = "/followers";

/// The followers collections (column `address`) of the actors the readers `readers` (SQL
/// parameters, comma separated) follow, accepted: `{actor}/followers` for this server's
/// actors, whose ids start with the parameter `prefix`, and the `followers` stored for remote
/// ones. [`InstanceState::scope_of`] reads it for [`Scope::sees`]; [`Scope::condition`] asks
/// the same of each address of an item.
fn followed_collections_sql(readers: &str, prefix: &str) -> String {
    format!(
        "SELECT r.followers AS address FROM st_follows f \
         JOIN st_remote_actors r ON r.id = f.followed \
         WHERE f.follower IN ({readers}) AND f.state = 'accepted' AND r.followers IS NOT NULL \
         UNION ALL \
         SELECT f.followed || '{FOLLOWERS}' AS address FROM st_follows f \
         WHERE f.follower IN ({readers}) AND f.state = 'accepted' \
         AND substr(f.followed, 1, length({prefix})) = {prefix}"
    )
}

/// A stored object.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredObject {
    /// Its id.
    pub id: String,
    /// Its type (`Note`, `Event`...; `Tombstone` once deleted).
    pub kind: String,
    /// Whether it is this server's.
    pub local: bool,
    /// Its (first) author.
    pub attributed_to: Option<String>,
    /// What it replies to.
    pub in_reply_to: Option<String>,
    /// Its `context` (a thread, an event, a group).
    pub context: Option<String>,
    /// The document as served (without `bto` and `bcc`); a `Tombstone` once deleted.
    pub document: Value,
    /// Its addressing.
    pub addressing: Addressing,
    /// Its visibility.
    pub visibility: Visibility,
    /// Whether it was deleted.
    pub deleted: bool,
    /// `published` (Unix microseconds; when stored if it has none).
    pub published: i64,
    /// When it last changed.
    pub updated: i64,
    /// Whether a moderator hid it ([`InstanceState::hide_object`]): nobody sees it then.
    pub hidden: bool,
}

/// A stored activity.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredActivity {
    /// Its id.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// Its actor.
    pub actor: String,
    /// Its object's id.
    pub object: Option<String>,
    /// Whether it is this server's (in an outbox).
    pub local: bool,
    /// The document as served (without `bto` and `bcc`).
    pub document: Value,
    /// Its visibility.
    pub visibility: Visibility,
    /// When it was stored (Unix microseconds).
    pub stored: i64,
}

/// `document` without `bto` and `bcc` (ActivityPub §6: never shown), at the top and in its
/// embedded object.
pub fn without_hidden_recipients(mut document: Value) -> Value {
    fn strip(map: &mut Map<String, Value>) {
        map.remove("bto");
        map.remove("bcc");
    }
    if let Some(map) = document.as_object_mut() {
        strip(map);
        if let Some(Value::Object(object)) = map.get_mut("object") {
            strip(object);
        }
    }
    document
}

const OBJECT_COLUMNS: &str = "id, kind, local, attributed_to, in_reply_to, context, document, \
     visibility, deleted, published, updated, hidden";

const ACTIVITY_COLUMNS: &str = "id, kind, actor, object, local, document, visibility, stored";

fn parse_document(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        what: "document",
        detail: e.to_string(),
    })
}

impl InstanceState {
    /// Stores `document` (an object with an `id` and a `type`), local or remote, with its
    /// addressing; replaces an earlier version. `published` is read from the document (else
    /// now). The stored document has no `bto` and `bcc`.
    pub async fn put_object(&self, document: &Value, local: bool) -> Result<StoredObject, Error> {
        let id = document
            .get("id")
            .and_then(Value::as_str)
            .ok_or(Error::InvalidDocument {
                reason: "an object to store has no id",
            })?
            .to_owned();
        let kind = document
            .get("type")
            .and_then(Value::as_str)
            .ok_or(Error::InvalidDocument {
                reason: "an object to store has no type",
            })?
            .to_owned();
        let addressing = Addressing::of(document);
        let now = self.now();
        let published = document
            .get("published")
            .and_then(Value::as_str)
            .and_then(micros_of)
            .unwrap_or(now);
        let object = StoredObject {
            id,
            kind,
            local,
            attributed_to: first_id(document.get("attributedTo")),
            in_reply_to: first_id(document.get("inReplyTo")),
            context: first_id(document.get("context"))
                .or_else(|| first_id(document.get("conversation"))),
            visibility: addressing.visibility(),
            addressing,
            document: without_hidden_recipients(document.clone()),
            deleted: false,
            published,
            updated: now,
            // A moderator's hiding outlives a new copy (the upsert below keeps the flag); read
            // the object back to know it.
            hidden: false,
        };
        let mut tx = self.begin_write().await.map_err(db("storing an object"))?;
        sqlx::query(
            "INSERT INTO st_objects (id, kind, local, attributed_to, in_reply_to, context, document,
                visibility, deleted, published, updated, stored)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, attributed_to = excluded.attributed_to,
                in_reply_to = excluded.in_reply_to, context = excluded.context,
                document = excluded.document, visibility = excluded.visibility, deleted = 0,
                published = excluded.published, updated = excluded.updated",
        )
        .bind(&object.id)
        .bind(&object.kind)
        .bind(i64::from(local))
        .bind(&object.attributed_to)
        .bind(&object.in_reply_to)
        .bind(&object.context)
        .bind(object.document.to_string())
        .bind(object.visibility.as_str())
        .bind(object.published)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("storing an object"))?;
        put_addressing(&mut tx, &object.id, &object.addressing).await?;
        tx.commit().await.map_err(db("storing an object"))?;
        Ok(object)
    }

    /// The stored object `id`, deleted or not, whoever asks.
    pub async fn object(&self, id: &str) -> Result<Option<StoredObject>, Error> {
        let mut connection = self
            .pool()
            .acquire()
            .await
            .map_err(db("reading an object"))?;
        self.object_in(&mut connection, id).await
    }

    /// The stored object `id`, read on `connection`: in the caller's transaction, after it
    /// took a lock of its own (an app's row for the object), it sees what the transactions
    /// before the lock committed, with no second connection of the pool.
    pub async fn object_in(
        &self,
        connection: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<Option<StoredObject>, Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM st_objects WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(db("reading an object"))?;
        match row {
            Some(row) => {
                let addressing = addressing_on(connection, id).await?;
                Ok(Some(object_row(&row, addressing)?))
            }
            None => Ok(None),
        }
    }

    /// The stored object `id` if `scope` may read it (deleted or not: whoever could read the
    /// object may learn it is gone).
    pub async fn visible_object(
        &self,
        id: &str,
        scope: &Scope,
    ) -> Result<Option<StoredObject>, Error> {
        Ok(self
            .object(id)
            .await?
            .filter(|object| !object.hidden && scope.sees(&object.addressing)))
    }

    /// Hides object `id` from everyone (a moderator's decision, logged with `moderator`'s
    /// name): its document stays, every page, collection and fetch leaves it out, until
    /// [`InstanceState::unhide_object`]. `false` if there is no such object or it was hidden
    /// already.
    pub async fn hide_object(&self, id: &str, moderator: &str) -> Result<bool, Error> {
        self.set_hidden(id, moderator, true).await
    }

    /// Shows object `id` again after [`InstanceState::hide_object`]; `false` if it was not
    /// hidden.
    pub async fn unhide_object(&self, id: &str, moderator: &str) -> Result<bool, Error> {
        self.set_hidden(id, moderator, false).await
    }

    async fn set_hidden(&self, id: &str, moderator: &str, hide: bool) -> Result<bool, Error> {
        let now = self.now();
        let mut tx = self.begin_write().await.map_err(db("hiding an object"))?;
        // `hidden` holds when it was hidden (0: shown).
        let query = if hide {
            sqlx::query("UPDATE st_objects SET hidden = $2 WHERE id = $1 AND hidden = 0")
                .bind(id)
                .bind(now)
        } else {
            sqlx::query("UPDATE st_objects SET hidden = 0 WHERE id = $1 AND hidden <> 0").bind(id)
        };
        let done = query
            .execute(&mut *tx)
            .await
            .map_err(db("hiding an object"))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let action = if hide { "hide" } else { "unhide" };
        crate::moderation::insert_log(&mut tx, now, moderator, action, id, None, "").await?;
        tx.commit().await.map_err(db("hiding an object"))?;
        Ok(true)
    }

    /// The stored objects `ids` that exist, deleted or not, whoever asks, in the order of
    /// `ids`: for an app that chose them in its own tables (events by start time, say) with
    /// [`Scope::condition`].
    pub async fn objects(&self, ids: &[String]) -> Result<Vec<StoredObject>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let parameters: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM st_objects WHERE id IN ({})",
            parameters.join(", ")
        )));
        for id in ids {
            query = query.bind(id.clone());
        }
        let rows = query
            .fetch_all(self.pool())
            .await
            .map_err(db("reading objects"))?;
        let mut found: BTreeMap<String, StoredObject> = self
            .object_rows(&rows)
            .await?
            .into_iter()
            .map(|object| (object.id.clone(), object))
            .collect();
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Replaces the document of the stored object `id` (not deleted) in `tx`, the caller's
    /// transaction, keeping its addressing and visibility: for an app that changes an object
    /// under a lock of its own (an event's participant count, with its seats). `bto` and `bcc`
    /// are not stored. `false` if there is no such object.
    pub async fn replace_document(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        document: &Value,
    ) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE st_objects SET document = $2, updated = $3 WHERE id = $1 AND deleted = 0",
        )
        .bind(id)
        .bind(without_hidden_recipients(document.clone()).to_string())
        .bind(self.now())
        .execute(&mut **tx)
        .await
        .map_err(db("replacing a document"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the object `id` with its `Tombstone` (`formerType`, `deleted`), keeping its
    /// addressing; the tombstone, `None` if there is no such object.
    pub async fn tombstone(&self, id: &str) -> Result<Option<StoredObject>, Error> {
        let Some(mut object) = self.object(id).await? else {
            return Ok(None);
        };
        if object.deleted {
            return Ok(Some(object));
        }
        let now = self.now();
        object.document = json!({
            "id": id,
            "type": "Tombstone",
            "formerType": object.kind,
            "deleted": rfc3339(now),
        });
        object.deleted = true;
        object.updated = now;
        sqlx::query("UPDATE st_objects SET document = $2, deleted = 1, updated = $3 WHERE id = $1")
            .bind(id)
            .bind(object.document.to_string())
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(db("deleting an object"))?;
        Ok(Some(object))
    }

    /// The objects attributed to `author` that `scope` may read (not deleted), newest first.
    pub async fn objects_by(
        &self,
        author: &str,
        scope: &Scope,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredObject>, Error> {
        self.object_page(
            "attributed_to",
            author,
            "published DESC, id DESC",
            scope,
            offset,
            limit,
        )
        .await
    }

    /// The objects in `context` (the comments of an event, the posts of a thread) that `scope`
    /// may read (not deleted), oldest first.
    pub async fn objects_in_context(
        &self,
        context: &str,
        scope: &Scope,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredObject>, Error> {
        self.object_page(
            "context",
            context,
            "published, stored, id",
            scope,
            offset,
            limit,
        )
        .await
    }

    /// The objects whose `column` is `value` that `scope` may read (not deleted), in `order`.
    async fn object_page(
        &self,
        column: &'static str,
        value: &str,
        order: &'static str,
        scope: &Scope,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredObject>, Error> {
        let sql = format!(
            "SELECT {OBJECT_COLUMNS} FROM st_objects WHERE {column} = $1 AND deleted = 0 AND {}
             ORDER BY {order} LIMIT $2 OFFSET $3",
            scope.condition("st_objects.id", 4)
        );
        let rows = scoped_page(sql, value, scope, offset, limit)
            .fetch_all(self.pool())
            .await
            .map_err(db("listing objects"))?;
        self.object_rows(&rows).await
    }

    /// How many local objects of `kind` exist (not deleted): NodeInfo's post counts.
    pub async fn local_object_count(&self, kind: &str) -> Result<u64, Error> {
        let query = sqlx::query(
            "SELECT COUNT(*) AS n FROM st_objects WHERE kind = $1 AND local = 1 AND deleted = 0",
        )
        .bind(kind);
        self.count(query, "counting objects").await
    }

    /// The objects of `rows`, with their addressing read in one query.
    async fn object_rows(&self, rows: &[AnyRow]) -> Result<Vec<StoredObject>, Error> {
        let ids = rows
            .iter()
            .map(|row| row.try_get::<String, _>("id"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("reading an object"))?;
        let mut addressings: BTreeMap<String, Addressing> = BTreeMap::new();
        if !ids.is_empty() {
            let parameters: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT item, field, address FROM st_addressing WHERE item IN ({})
                 ORDER BY item, field, address",
                parameters.join(", ")
            )));
            for id in &ids {
                query = query.bind(id.clone());
            }
            let found = query
                .fetch_all(self.pool())
                .await
                .map_err(db("reading addressings"))?;
            for row in found {
                let read = |c: &'static str| -> Result<String, Error> {
                    row.try_get(c).map_err(db("reading an addressing"))
                };
                addressings
                    .entry(read("item")?)
                    .or_default()
                    .push(&read("field")?, read("address")?);
            }
        }
        rows.iter()
            .zip(ids)
            .map(|(row, id)| object_row(row, addressings.remove(&id).unwrap_or_default()))
            .collect()
    }

    /// The addressing stored for the object or activity `id`.
    pub async fn addressing(&self, id: &str) -> Result<Addressing, Error> {
        let mut connection = self
            .pool()
            .acquire()
            .await
            .map_err(db("reading an addressing"))?;
        addressing_on(&mut connection, id).await
    }

    /// Stores the activity `document` (with an `id`, a `type` and an `actor`), local (in its
    /// actor's outbox) or remote, with its addressing. An activity stored before is kept as it
    /// was: `false`.
    pub async fn put_activity(&self, document: &Value, local: bool) -> Result<bool, Error> {
        let field = |name: &str| document.get(name).and_then(Value::as_str);
        let id = field("id").ok_or(Error::InvalidDocument {
            reason: "an activity to store has no id",
        })?;
        let kind = field("type").ok_or(Error::InvalidDocument {
            reason: "an activity to store has no type",
        })?;
        let actor = first_id(document.get("actor")).ok_or(Error::InvalidDocument {
            reason: "an activity to store has no actor",
        })?;
        let addressing = Addressing::of(document);
        let now = self.now();
        let published = field("published").and_then(micros_of).unwrap_or(now);
        let mut tx = self
            .begin_write()
            .await
            .map_err(db("storing an activity"))?;
        let done = sqlx::query(
            "INSERT INTO st_activities (id, kind, actor, object, local, document, visibility, published, stored)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(&actor)
        .bind(first_id(document.get("object")))
        .bind(i64::from(local))
        .bind(without_hidden_recipients(document.clone()).to_string())
        .bind(addressing.visibility().as_str())
        .bind(published)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("storing an activity"))?;
        let inserted = done.rows_affected() > 0;
        if inserted {
            put_addressing(&mut tx, id, &addressing).await?;
        }
        tx.commit().await.map_err(db("storing an activity"))?;
        Ok(inserted)
    }

    /// The stored activity `id`, whoever asks.
    pub async fn activity(&self, id: &str) -> Result<Option<StoredActivity>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM st_activities WHERE id = $1"
        )))
        .bind(id);
        self.fetch_row(query, "reading an activity", activity_row)
            .await
    }

    /// The stored activity `id` if `scope` may read it.
    pub async fn visible_activity(
        &self,
        id: &str,
        scope: &Scope,
    ) -> Result<Option<StoredActivity>, Error> {
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM st_activities WHERE id = $1 AND {}",
            scope.condition("st_activities.id", 2)
        );
        let query = scope.bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()));
        self.fetch_row(query, "reading an activity", activity_row)
            .await
    }

    /// The outbox of local actor `actor` (its id) as `scope` may see it, newest first.
    pub async fn outbox(
        &self,
        actor: &str,
        scope: &Scope,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredActivity>, Error> {
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM st_activities WHERE actor = $1 AND local = 1 AND {}
             ORDER BY stored DESC, id DESC LIMIT $2 OFFSET $3",
            scope.condition("st_activities.id", 4)
        );
        let rows = scoped_page(sql, actor, scope, offset, limit)
            .fetch_all(self.pool())
            .await
            .map_err(db("reading an outbox"))?;
        rows.iter().map(activity_row).collect()
    }

    /// How many activities of `actor`'s outbox `scope` may see.
    pub async fn outbox_count(&self, actor: &str, scope: &Scope) -> Result<u64, Error> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM st_activities WHERE actor = $1 AND local = 1 AND {}",
            scope.condition("st_activities.id", 2)
        );
        let query = scope.bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(actor.to_owned()));
        self.count(query, "counting an outbox").await
    }

    /// The scope of `reader` (an actor id, local or remote): itself, and the followers
    /// collections of the actors it follows (accepted), local and remote, however many (see
    /// [`Scope::condition`]). Apps add their own collections with [`Scope::extend`].
    pub async fn scope_of(&self, reader: &str) -> Result<Scope, Error> {
        let local_actors = self.actor_id("").to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(followed_collections_sql("$1", "$2")))
            .bind(reader)
            .bind(&local_actors)
            .fetch_all(self.pool())
            .await
            .map_err(db("reading a reader's follows"))?;
        let mut collections = BTreeSet::new();
        for row in rows {
            let address: String = row
                .try_get("address")
                .map_err(db("reading a reader's follows"))?;
            collections.insert(address);
        }
        let mut scope = Scope::of([reader.to_owned()]);
        scope.followers.push(reader.to_owned());
        scope.local_actors = local_actors;
        scope.collections = collections;
        Ok(scope)
    }
}

/// `sql` with its parameters bound: `$1` the key, `$2` the limit, `$3` the offset, then the
/// scope's from `$4` on.
fn scoped_page(
    sql: String,
    key: &str,
    scope: &Scope,
    offset: u64,
    limit: u64,
) -> AnyQuery<'static> {
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.to_owned())
        .bind(bigint(limit))
        .bind(bigint(offset));
    scope.bind(query)
}

/// The addressing stored for `id`, read on `connection`.
async fn addressing_on(
    connection: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Addressing, Error> {
    let rows = sqlx::query(
        "SELECT field, address FROM st_addressing WHERE item = $1 ORDER BY field, address",
    )
    .bind(id)
    .fetch_all(connection)
    .await
    .map_err(db("reading an addressing"))?;
    let mut addressing = Addressing::default();
    for row in rows {
        let field: String = row.try_get("field").map_err(db("reading an addressing"))?;
        let address: String = row
            .try_get("address")
            .map_err(db("reading an addressing"))?;
        addressing.push(&field, address);
    }
    Ok(addressing)
}

/// Replaces the addressing rows of `id`, in `tx`.
async fn put_addressing(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    addressing: &Addressing,
) -> Result<(), Error> {
    sqlx::query("DELETE FROM st_addressing WHERE item = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(db("storing an addressing"))?;
    for (field, address) in addressing.fields() {
        sqlx::query(
            "INSERT INTO st_addressing (item, field, address) VALUES ($1, $2, $3)
             ON CONFLICT (item, field, address) DO NOTHING",
        )
        .bind(id)
        .bind(field)
        .bind(address)
        .execute(&mut **tx)
        .await
        .map_err(db("storing an addressing"))?;
    }
    Ok(())
}

fn object_row(row: &AnyRow, addressing: Addressing) -> Result<StoredObject, Error> {
    let c = Columns::new(row, "reading an object");
    Ok(StoredObject {
        id: c.get("id")?,
        kind: c.get("kind")?,
        local: c.flag("local")?,
        attributed_to: c.get("attributed_to")?,
        in_reply_to: c.get("in_reply_to")?,
        context: c.get("context")?,
        document: parse_document(&c.get::<String>("document")?)?,
        visibility: Visibility::parse(&c.get::<String>("visibility")?)?,
        addressing,
        deleted: c.flag("deleted")?,
        published: c.get("published")?,
        updated: c.get("updated")?,
        hidden: c.flag("hidden")?,
    })
}

fn activity_row(row: &AnyRow) -> Result<StoredActivity, Error> {
    let c = Columns::new(row, "reading an activity");
    Ok(StoredActivity {
        id: c.get("id")?,
        kind: c.get("kind")?,
        actor: c.get("actor")?,
        object: c.get("object")?,
        local: c.flag("local")?,
        document: parse_document(&c.get::<String>("document")?)?,
        visibility: Visibility::parse(&c.get::<String>("visibility")?)?,
        stored: c.get("stored")?,
    })
}

//! Notifications, reports (`Flag`) and the moderation log.

use serde_json::Value;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::InstanceState;
use crate::error::{Columns, Error, bigint, db};

/// A notification of a local actor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// Its id.
    pub id: String,
    /// The local actor notified (its id).
    pub recipient: String,
    /// What happened (`follow`, `follow_request`, `reply`, `report`, or an app's own kind).
    pub kind: String,
    /// Who did it (an actor id).
    pub actor: String,
    /// The activity, if any.
    pub activity: Option<String>,
    /// The object concerned, if any.
    pub object: Option<String>,
    /// When (Unix microseconds).
    pub created: i64,
    /// When it was seen.
    pub seen: Option<i64>,
}

/// The state of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportState {
    /// Waiting for a moderator.
    Open,
    /// A moderator acted on it.
    Resolved,
    /// A moderator found nothing to do.
    Dismissed,
}

impl ReportState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            "dismissed" => Ok(Self::Dismissed),
            other => Err(Error::Corrupt {
                what: "report state",
                detail: format!("unknown state {other:?}"),
            }),
        }
    }
}

/// A report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Its id.
    pub id: String,
    /// The `Flag` activity's id (a report received from another server, or sent).
    pub activity_id: Option<String>,
    /// Who reports (an actor id; a remote server's instance actor, often).
    pub reporter: String,
    /// Who is reported (an actor id).
    pub target: String,
    /// The reported objects' ids.
    pub objects: Vec<String>,
    /// What the reporter says.
    pub content: String,
    /// Its state.
    pub state: ReportState,
    /// When it came (Unix microseconds).
    pub created: i64,
    /// When its state last changed.
    pub updated: i64,
}

/// A report to file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewReport {
    /// The `Flag` activity's id.
    pub activity_id: Option<String>,
    /// Who reports.
    pub reporter: String,
    /// Who is reported.
    pub target: String,
    /// The reported objects.
    pub objects: Vec<String>,
    /// What the reporter says.
    pub content: String,
}

impl NewReport {
    /// A report of `target` by `reporter`.
    pub fn new(reporter: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            activity_id: None,
            reporter: reporter.into(),
            target: target.into(),
            objects: Vec::new(),
            content: String::new(),
        }
    }

    /// Sets the `Flag` activity's id.
    pub fn with_activity(mut self, id: impl Into<String>) -> Self {
        self.activity_id = Some(id.into());
        self
    }

    /// Sets the reported objects.
    pub fn with_objects(mut self, objects: Vec<String>) -> Self {
        self.objects = objects;
        self
    }

    /// Sets what the reporter says.
    pub fn with_content(mut self, content: impl Into<String>) -> Self {
        self.content = content.into();
        self
    }
}

/// An entry of the moderation log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEntry {
    /// Its id.
    pub id: String,
    /// Who did it (an account id or an actor id: the app's choice, the same everywhere).
    pub moderator: String,
    /// What (`block_domain`, `hide_comment`, `resolve_report`...).
    pub action: String,
    /// On what (an id, a domain).
    pub target: String,
    /// The report it answers, if any.
    pub report: Option<String>,
    /// Why.
    pub note: String,
    /// When (Unix microseconds).
    pub at: i64,
}

fn notification_row(row: &AnyRow) -> Result<Notification, Error> {
    let c = Columns::new(row, "reading a notification");
    Ok(Notification {
        id: c.get("id")?,
        recipient: c.get("recipient")?,
        kind: c.get("kind")?,
        actor: c.get("actor")?,
        activity: c.get("activity")?,
        object: c.get("object")?,
        created: c.get("created")?,
        seen: c.get("seen")?,
    })
}

fn report_row(row: &AnyRow) -> Result<Report, Error> {
    let c = Columns::new(row, "reading a report");
    let objects: String = c.get("objects")?;
    let Ok(Value::Array(objects)) = serde_json::from_str::<Value>(&objects) else {
        return Err(Error::Corrupt {
            what: "report objects",
            detail: "not a JSON array".to_owned(),
        });
    };
    let state: String = c.get("state")?;
    Ok(Report {
        id: c.get("id")?,
        activity_id: c.get("activity_id")?,
        reporter: c.get("reporter")?,
        target: c.get("target")?,
        objects: objects
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        content: c.get("content")?,
        state: ReportState::parse(&state)?,
        created: c.get("created")?,
        updated: c.get("updated")?,
    })
}

fn log_row(row: &AnyRow) -> Result<LogEntry, Error> {
    let c = Columns::new(row, "reading the moderation log");
    Ok(LogEntry {
        id: c.get("id")?,
        moderator: c.get("moderator")?,
        action: c.get("action")?,
        target: c.get("target")?,
        report: c.get("report")?,
        note: c.get("note")?,
        at: c.get("at")?,
    })
}

const NOTIFICATION_COLUMNS: &str = "id, recipient, kind, actor, activity, object, created, seen";
const REPORT_COLUMNS: &str =
    "id, activity_id, reporter, target, objects, content, state, created, updated";

impl InstanceState {
    /// Notifies `recipient` (a local actor's id) that `actor` did `kind`; the notification's id.
    pub async fn notify(
        &self,
        recipient: &str,
        kind: &str,
        actor: &str,
        activity: Option<&str>,
        object: Option<&str>,
    ) -> Result<String, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO st_notifications (id, recipient, kind, actor, activity, object, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(recipient)
        .bind(kind)
        .bind(actor)
        .bind(activity)
        .bind(object)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("notifying"))?;
        Ok(id)
    }

    /// Notifies `recipient` (a local actor's id) that `actor` did `kind` about `object`, unless
    /// it was notified of just that already: a redelivered activity, or another activity about
    /// the same object (the `Update` of a post that mentions it), notifies once. The
    /// notification's id when one was made. Its id is derived from the four, so two deliveries
    /// handled at once still make one.
    pub async fn notify_once(
        &self,
        recipient: &str,
        kind: &str,
        actor: &str,
        activity: Option<&str>,
        object: &str,
    ) -> Result<Option<String>, Error> {
        // Newlines cannot occur in ids or kinds: the four parts are told apart.
        let id = format!(
            "once-{}",
            crate::accounts::hash_secret(&format!("{recipient}\n{kind}\n{actor}\n{object}"))
        );
        let done = sqlx::query(
            "INSERT INTO st_notifications (id, recipient, kind, actor, activity, object, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(recipient)
        .bind(kind)
        .bind(actor)
        .bind(activity)
        .bind(object)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("notifying"))?;
        Ok((done.rows_affected() > 0).then_some(id))
    }

    /// The notifications of `recipient`, newest first (unseen ones only if `unseen`).
    pub async fn notifications(
        &self,
        recipient: &str,
        unseen: bool,
        limit: u64,
    ) -> Result<Vec<Notification>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM st_notifications WHERE recipient = $1
             AND ($2 = 0 OR seen IS NULL) ORDER BY created DESC, id LIMIT $3"
        )))
        .bind(recipient)
        .bind(i64::from(unseen))
        .bind(bigint(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db("listing notifications"))?;
        rows.iter().map(notification_row).collect()
    }

    /// Marks every notification of `recipient` seen; how many were not.
    pub async fn mark_notifications_seen(&self, recipient: &str) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE st_notifications SET seen = $2 WHERE recipient = $1 AND seen IS NULL",
        )
        .bind(recipient)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("marking notifications seen"))?;
        Ok(done.rows_affected())
    }

    /// Files a report. A report of a `Flag` already filed is not filed twice: the earlier one
    /// is returned.
    pub async fn file_report(&self, new: NewReport) -> Result<Report, Error> {
        if let Some(activity) = &new.activity_id
            && let Some(existing) = self.report_by_activity(activity).await?
        {
            return Ok(existing);
        }
        let now = self.now();
        let report = Report {
            id: uuid::Uuid::new_v4().to_string(),
            activity_id: new.activity_id,
            reporter: new.reporter,
            target: new.target,
            objects: new.objects,
            content: new.content,
            state: ReportState::Open,
            created: now,
            updated: now,
        };
        let done = sqlx::query(
            "INSERT INTO st_reports (id, activity_id, reporter, target, objects, content, state, created, updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&report.id)
        .bind(&report.activity_id)
        .bind(&report.reporter)
        .bind(&report.target)
        .bind(Value::from(report.objects.clone()).to_string())
        .bind(&report.content)
        .bind(report.state.as_str())
        .bind(now)
        .execute(self.pool())
        .await;
        match done {
            Ok(_) => Ok(report),
            // The same Flag filed concurrently: the other one won.
            Err(e) if crate::error::is_unique_violation(&e) => {
                let activity = report.activity_id.clone().unwrap_or_default();
                self.report_by_activity(&activity)
                    .await?
                    .ok_or_else(|| db("filing a report")(e))
            }
            Err(e) => Err(db("filing a report")(e)),
        }
    }

    /// The report `id`.
    pub async fn report(&self, id: &str) -> Result<Option<Report>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM st_reports WHERE id = $1"
        )))
        .bind(id);
        self.fetch_row(query, "reading a report", report_row).await
    }

    async fn report_by_activity(&self, activity: &str) -> Result<Option<Report>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM st_reports WHERE activity_id = $1"
        )))
        .bind(activity);
        self.fetch_row(query, "reading a report", report_row).await
    }

    /// The reports in `state`, oldest first.
    pub async fn reports(&self, state: ReportState, limit: u64) -> Result<Vec<Report>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM st_reports WHERE state = $1 ORDER BY created, id LIMIT $2"
        )))
        .bind(state.as_str())
        .bind(bigint(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db("listing reports"))?;
        rows.iter().map(report_row).collect()
    }

    /// Sets report `id`'s state, and logs who did it and why, in one transaction; `false` if
    /// there is no such report.
    pub async fn decide_report(
        &self,
        id: &str,
        state: ReportState,
        moderator: &str,
        note: &str,
    ) -> Result<bool, Error> {
        let now = self.now();
        let mut tx = self.begin_write().await.map_err(db("deciding a report"))?;
        let row = sqlx::query(
            "UPDATE st_reports SET state = $2, updated = $3 WHERE id = $1 RETURNING target",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("deciding a report"))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let target: String = row.try_get("target").map_err(db("deciding a report"))?;
        let action = format!("report_{}", state.as_str());
        insert_log(&mut tx, now, moderator, &action, &target, Some(id), note).await?;
        tx.commit().await.map_err(db("deciding a report"))?;
        Ok(true)
    }

    /// Logs that `moderator` did `action` on `target` (about `report`, if any); the entry's id.
    pub async fn log_moderation(
        &self,
        moderator: &str,
        action: &str,
        target: &str,
        report: Option<&str>,
        note: &str,
    ) -> Result<String, Error> {
        let mut tx = self.begin_write().await.map_err(db("logging"))?;
        let id = insert_log(&mut tx, self.now(), moderator, action, target, report, note).await?;
        tx.commit().await.map_err(db("logging"))?;
        Ok(id)
    }

    /// The moderation log, newest first.
    pub async fn moderation_log(&self, offset: u64, limit: u64) -> Result<Vec<LogEntry>, Error> {
        let rows = sqlx::query(
            "SELECT id, moderator, action, target, report, note, at FROM st_moderation_log
             ORDER BY at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(bigint(limit))
        .bind(bigint(offset))
        .fetch_all(self.pool())
        .await
        .map_err(db("reading the moderation log"))?;
        rows.iter().map(log_row).collect()
    }
}

pub(crate) async fn insert_log(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    at: i64,
    moderator: &str,
    action: &str,
    target: &str,
    report: Option<&str>,
    note: &str,
) -> Result<String, Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO st_moderation_log (id, moderator, action, target, report, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(moderator)
    .bind(action)
    .bind(target)
    .bind(report)
    .bind(note)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(db("logging"))?;
    Ok(id)
}

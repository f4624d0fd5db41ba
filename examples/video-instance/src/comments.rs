//! Comments: `Note`s in reply to a video or to a comment on it, from here or from anywhere,
//! threaded under the video, under its channel's comment policy (PeerTube's `commentsPolicy`:
//! 1 anyone, 2 nobody, 3 held until the owner approves).

use activitypub_core::PUBLIC;
use activitypub_core::{AnyObject, Iri};
use anyhow::{Context, Result, anyhow, bail};
use federation::inbox::Incoming;
use instance_state::objects::Scope;
use serde_json::{Value, json};
use sqlx::Row as _;
use tracing::{debug, info};

use crate::app::Instance;
use crate::db::VideoRow;
use instance_server::WithParts as _;

/// The longest comment written here, in characters.
pub(crate) const MAX_COMMENT_CHARS: usize = 10_000;

/// A comment as a page shows it.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub(crate) id: String,
    pub(crate) in_reply_to: String,
    pub(crate) author: String,
    /// Sanitized HTML.
    pub(crate) content: String,
    pub(crate) approved: bool,
    /// When it was published (Unix seconds).
    pub(crate) published: i64,
}

impl Instance {
    /// The video a comment answering `parent` belongs to: `parent` itself, or the video of the
    /// comment `parent`.
    async fn video_of_thread(&self, parent: &str) -> Result<Option<VideoRow>> {
        if let Some(video) = self.db().video(parent).await? {
            return Ok(Some(video));
        }
        let row = sqlx::query("SELECT video FROM vi_comments WHERE id = $1")
            .bind(parent.to_owned())
            .fetch_optional(self.state().pool())
            .await?;
        match row {
            Some(row) => {
                let video: String = row.try_get("video")?;
                self.db().video(&video).await
            }
            None => Ok(None),
        }
    }

    /// Records a comment (`document`, stored already) on `video`.
    async fn record_comment(
        &self,
        video: &VideoRow,
        document: &Value,
        approved: bool,
    ) -> Result<()> {
        let id = document["id"].as_str().unwrap_or_default().to_owned();
        let in_reply_to = document["inReplyTo"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let author = document["attributedTo"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let published = document["published"]
            .as_str()
            .and_then(|t| activitypub_core::Timestamp::parse(t).ok())
            .map_or(0, |t| t.time().unix_timestamp());
        sqlx::query(
            "INSERT INTO vi_comments (id, video, in_reply_to, author, approved, published, stored)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET approved = excluded.approved",
        )
        .bind(id)
        .bind(video.id.clone())
        .bind(in_reply_to)
        .bind(author)
        .bind(i64::from(approved))
        .bind(published)
        .bind(self.state().options().clock.now())
        .execute(self.state().pool())
        .await
        .context("recording a comment")?;
        Ok(())
    }

    /// A remote `Note` answering `parent`: kept in the thread of the video it belongs to (a
    /// video listed here), under that video's comment policy when it is local. Whether it was
    /// kept.
    pub(crate) async fn receive_comment(&self, note: &AnyObject, sender: &Iri) -> Result<bool> {
        let AnyObject::Object(object) = note else {
            return Ok(false);
        };
        let props = &object.props;
        let (Some(id), Some(parent)) = (
            props.id.as_ref(),
            props
                .in_reply_to
                .iter()
                .flatten()
                .find_map(activitypub_core::reference_id),
        ) else {
            return Ok(false);
        };
        let author = props
            .attributed_to
            .iter()
            .flatten()
            .find_map(activitypub_core::reference_id);
        // A server speaks for its own actors and comments only.
        if !activitypub_core::origin::same_origin(id, sender)
            || !author.is_some_and(|a| activitypub_core::origin::same_origin(a, sender))
        {
            return Ok(false);
        }
        let Some(video) = self.video_of_thread(parent.as_str()).await? else {
            return Ok(false);
        };
        let approved = if video.local {
            match video.comments_policy {
                1 => true,
                3 => false,
                _ => {
                    debug!(video = %video.id, "a comment on a video that takes none; dropped");
                    return Ok(false);
                }
            }
        } else {
            true
        };
        let mut document = serde_json::to_value(note).context("writing a received comment")?;
        if let Some(map) = document.as_object_mut()
            && let Some(Value::String(content)) = map.get("content")
        {
            let safe = federation::sanitize::sanitize_html(content);
            map.insert("content".into(), Value::String(safe));
        }
        self.state().put_object(&document, false).await?;
        self.record_comment(&video, &document, approved).await?;
        info!(comment = %id, video = %video.id, approved, "comment received");
        Ok(true)
    }

    /// Local actor `author` comments `text` in reply to `parent` (a video, or a comment on one
    /// listed here): the `Note` is stored and sent to the video's account (and the parent's
    /// author), public, `cc` the author's followers and, on a local video, the followers of
    /// the video's account and channel. Refused when the video takes no comments. The note's
    /// id.
    pub(crate) async fn comment(&self, author: &str, parent: &str, text: &str) -> Result<String> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS {
            bail!("a comment has 1 to {MAX_COMMENT_CHARS} characters");
        }
        let video = self
            .video_of_thread(parent)
            .await?
            .ok_or_else(|| anyhow!("there is no video here to comment on"))?;
        if video.comments_policy == 2 {
            bail!("this video takes no comments");
        }
        let author_id = self.actor_id(author).to_string();
        let mut cc = vec![format!("{author_id}/followers"), video.account.clone()];
        if let Some(parent_author) = self
            .state()
            .object(parent)
            .await?
            .and_then(|p| p.attributed_to)
            .filter(|a| a != &author_id)
        {
            cc.push(parent_author);
        }
        // On a video of this instance, the followers of its account and of its channel get
        // the comment too, as PeerTube sends a comment on its own video to the followers of
        // the actors involved in the video: a channel's followers elsewhere see its thread.
        if video.local {
            cc.push(format!("{}/followers", video.account));
            cc.push(format!("{}/followers", video.channel));
        }
        let mut seen = std::collections::BTreeSet::new();
        cc.retain(|address| seen.insert(address.clone()));
        let id = self.state().new_id("comments").to_string();
        let paragraphs: String = text
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect();
        let note = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id,
            "type": "Note",
            "attributedTo": author_id,
            "inReplyTo": parent,
            "content": paragraphs,
            "mediaType": "text/html",
            "published": activitypub_core::Timestamp::new(time::OffsetDateTime::from_unix_timestamp(
                self.state().options().clock.now() / 1_000_000,
            )?).to_string(),
            "to": [PUBLIC],
            "cc": cc,
        });
        self.state().put_object(&note, true).await?;
        // A video's owner commenting, or a video that does not hold comments: shown at once;
        // else held until the owner approves (here, or with an `ApproveReply` from the
        // video's server).
        let approved = video.comments_policy != 3
            || self.state().local_name(&video.account).as_deref() == Some(author);
        self.record_comment(&video, &note, approved).await?;
        let create = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}/activity"),
            "type": "Create",
            "actor": author_id,
            "object": note,
            "to": [PUBLIC],
            "cc": note.get("cc"),
        });
        self.publish(author, create).await?;
        Ok(id)
    }

    /// The comments on `video` that `scope` may read, oldest first; those held for approval
    /// only when `with_held` (the owner's view).
    pub(crate) async fn comments(
        &self,
        video: &str,
        scope: &Scope,
        with_held: bool,
    ) -> Result<Vec<Comment>> {
        let held = if with_held { "" } else { "AND approved = 1" };
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, in_reply_to, author, approved FROM vi_comments
             WHERE video = $1 {held} AND {}
             ORDER BY published, stored, id LIMIT 500",
            scope.condition("vi_comments.id", 2)
        )))
        .bind(video.to_owned());
        let rows = scope.bind(query).fetch_all(self.state().pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let Some(stored) = self.state().object(&id).await? else {
                continue;
            };
            if stored.deleted || stored.hidden {
                continue;
            }
            out.push(Comment {
                content: federation::sanitize::sanitize_html(
                    stored
                        .document
                        .get("content")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
                id,
                in_reply_to: row.try_get("in_reply_to")?,
                author: row.try_get("author")?,
                approved: row.try_get::<i64, _>("approved")? != 0,
                published: stored.published.div_euclid(1_000_000),
            });
        }
        Ok(out)
    }
}

impl Instance {
    /// The owner of a local video decides on comment `id`, held under it: approved (shown,
    /// and the author's server told with PeerTube's `ApproveReply`), or rejected (taken out of
    /// the thread, the author's server told with `RejectReply`). `false` if `owner` (a local
    /// actor's name) does not own the video or the comment is not held.
    pub(crate) async fn decide_comment(
        &self,
        id: &str,
        owner: &str,
        approve: bool,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT video, in_reply_to, author FROM vi_comments WHERE id = $1 AND approved = 0",
        )
        .bind(id.to_owned())
        .fetch_optional(self.state().pool())
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let video: String = row.try_get("video")?;
        let in_reply_to: String = row.try_get("in_reply_to")?;
        let author: String = row.try_get("author")?;
        let Some(video) = self.db().video(&video).await? else {
            return Ok(false);
        };
        if !video.local || self.state().local_name(&video.account).as_deref() != Some(owner) {
            return Ok(false);
        }
        let done = if approve {
            sqlx::query("UPDATE vi_comments SET approved = 1 WHERE id = $1 AND approved = 0")
        } else {
            sqlx::query("DELETE FROM vi_comments WHERE id = $1 AND approved = 0")
        }
        .bind(id.to_owned())
        .execute(self.state().pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if !self.state().is_local(&author) {
            let kind = if approve {
                "ApproveReply"
            } else {
                "RejectReply"
            };
            let decision = self.url(&format!("comment-decisions/{}", uuid::Uuid::new_v4()));
            self.publish(
                owner,
                json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": decision.as_str(),
                    "type": kind,
                    "actor": video.account,
                    "object": id,
                    "inReplyTo": in_reply_to,
                    "to": [author],
                }),
            )
            .await?;
        }
        info!(comment = %id, approve, "a held comment decided");
        Ok(true)
    }

    /// `ApproveReply` or `RejectReply` from a remote video's owner about a comment made here
    /// and held there: shown, or taken out of the thread. Only the owner of the video the
    /// comment answers decides.
    pub(crate) async fn on_reply_decision(&self, incoming: &Incoming, approve: bool) -> Result<()> {
        let Some(comment) = incoming.object.id() else {
            return Ok(());
        };
        let row = sqlx::query("SELECT video FROM vi_comments WHERE id = $1")
            .bind(comment.as_str().to_owned())
            .fetch_optional(self.state().pool())
            .await?;
        let Some(row) = row else {
            return Ok(());
        };
        let video: String = row.try_get("video")?;
        let Some(video) = self.db().video(&video).await? else {
            return Ok(());
        };
        if video.local || video.account != incoming.actor.as_str() {
            return Ok(());
        }
        if approve {
            sqlx::query("UPDATE vi_comments SET approved = 1 WHERE id = $1")
        } else {
            sqlx::query("DELETE FROM vi_comments WHERE id = $1")
        }
        .bind(comment.as_str().to_owned())
        .execute(self.state().pool())
        .await?;
        info!(comment = %comment, approve, by = %incoming.actor, "the video's owner decided");
        Ok(())
    }
}

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    maud::html! { (text) }.into_string()
}

/// `POST /api/v1/videos/{uuid}/comment-threads` with a bearer token and `{"text": ...}`, as
/// PeerTube's API: the token's account's first identity comments on the video listed here
/// with that uuid (local, or remote: the comment goes to its server). Answers
/// `{"comment": {"id", "url", "text"}}`.
pub(crate) async fn api_comment(
    axum::extract::State(site): axum::extract::State<crate::web::Site>,
    axum::extract::Path(uuid): axum::extract::Path<String>,
    headers: http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let refuse = |status: http::StatusCode, message: &str| {
        crate::upload::Refusal::new(status, message).into_response()
    };
    let identities = match crate::upload::token_identities(&site, &headers).await {
        Ok(identities) => identities,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(author) = identities.first() else {
        return refuse(http::StatusCode::FORBIDDEN, "this account has no identity");
    };
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return refuse(
            http::StatusCode::BAD_REQUEST,
            "the comment's \"text\" is missing",
        );
    };
    let video = match site.instance.db().video_by_uuid(&uuid).await {
        Ok(Some(video)) => video,
        Ok(None) => return refuse(http::StatusCode::NOT_FOUND, "no such video"),
        Err(error) => {
            tracing::warn!(%error, "looking a video up");
            return refuse(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong",
            );
        }
    };
    match site.instance.comment(&author.name, &video.id, text).await {
        Ok(id) => {
            axum::Json(json!({"comment": {"id": id, "url": id, "text": text}})).into_response()
        }
        Err(error) => refuse(http::StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    }
}

/// `POST /api/v1/videos/{uuid}/comments/{comment}/approve` with the owner's bearer token, as
/// PeerTube's API: the held comment (its id, or its address) is shown, and its author's server
/// told. `204`, or `404` when the token's account owns no such held comment.
pub(crate) async fn api_approve(
    axum::extract::State(site): axum::extract::State<crate::web::Site>,
    axum::extract::Path((_uuid, comment)): axum::extract::Path<(String, String)>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let identities = match crate::upload::token_identities(&site, &headers).await {
        Ok(identities) => identities,
        Err(refusal) => return refusal.into_response(),
    };
    for identity in &identities {
        match site
            .instance
            .decide_comment(&comment, &identity.name, true)
            .await
        {
            Ok(true) => return http::StatusCode::NO_CONTENT.into_response(),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "approving a comment");
                return crate::upload::Refusal::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "something went wrong",
                )
                .into_response();
            }
        }
    }
    crate::upload::Refusal::new(http::StatusCode::NOT_FOUND, "no such held comment of yours")
        .into_response()
}

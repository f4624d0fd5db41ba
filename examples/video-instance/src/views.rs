//! Views: a watch page of a local video counts one view per viewer per hour; one of a remote
//! video sends PeerTube's `View` to its server, which counts it. The counts of local videos go
//! out in batches: one `Update` of each video whose count moved, every interval, not one per
//! view.

use std::sync::{Arc, Weak};
use std::time::Duration;

use activitypub_core::PUBLIC;
use anyhow::Result;
use federation::inbox::Incoming;
use instance_server::INSTANCE_ACTOR;
use serde_json::json;
use sqlx::Row as _;
use tracing::{debug, warn};

use crate::app::{Inner, Instance};
use crate::db::VideoRow;
use instance_server::WithParts as _;

/// The limiter scope of counted views (instance-state's limiter times, shared by every
/// process on the database).
const VIEW_SCOPE: &str = "video-views";

/// How long one viewer's views of one video count once.
const VIEW_WINDOW: Duration = Duration::from_secs(60 * 60);

impl Instance {
    /// `viewer` (an identity's id, or an address) watched `video`: counted here for a local
    /// video, sent to its server as a `View` for a remote one; at most once per
    /// [`VIEW_WINDOW`] per viewer and video.
    pub(crate) async fn count_view(&self, video: &VideoRow, viewer: &str) -> Result<()> {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("{}\n{viewer}", video.id).as_bytes(),
        );
        let key: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let state = self.state();
        let now = state.options().clock.now();
        if state
            .limit_time(VIEW_SCOPE, &key)
            .await?
            .is_some_and(|until| until > now)
        {
            return Ok(());
        }
        let window = i64::try_from(VIEW_WINDOW.as_micros()).unwrap_or(i64::MAX);
        state.advance_limit(VIEW_SCOPE, &key, now, window).await?;
        if video.local {
            self.add_view(&video.id).await
        } else {
            self.send_view(video).await
        }
    }

    /// Counts one view of local video `id` and marks its count for the next batch.
    async fn add_view(&self, id: &str) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        sqlx::query("UPDATE vi_videos SET views = views + 1 WHERE id = $1 AND local = 1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO vi_pending_views (video, since) VALUES ($1, $2)
             ON CONFLICT (video) DO NOTHING",
        )
        .bind(id.to_owned())
        .bind(self.state().options().clock.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends PeerTube's `View` of remote `video` to its server, by the instance actor.
    async fn send_view(&self, video: &VideoRow) -> Result<()> {
        let view = json!({
            "@context": activitypub_core::ext::peertube::context::view().0,
            "id": self.state().new_id("views").as_str(),
            "type": "View",
            "actor": self.instance_actor().as_str(),
            "object": video.id,
            "to": [video.account, video.channel],
            "cc": [],
        });
        self.publish(INSTANCE_ACTOR, view).await
    }

    /// A `View` received: one more view of the local video it names (the inbox already
    /// dropped a repeated activity).
    pub(crate) async fn on_view(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        if !self.state().is_local(id.as_str()) {
            return Ok(());
        }
        if self.db().video(id.as_str()).await?.is_some_and(|v| v.local) {
            self.add_view(id.as_str()).await?;
            debug!(video = %id, viewer = %incoming.actor, "remote view counted");
        }
        Ok(())
    }

    /// Sends an `Update` of each local video whose count moved since the last batch.
    pub(crate) async fn federate_view_counts(&self) -> Result<usize> {
        let rows = sqlx::query("SELECT video FROM vi_pending_views ORDER BY since LIMIT 500")
            .fetch_all(self.state().pool())
            .await?;
        let mut sent = 0;
        for row in rows {
            let id: String = row.try_get("video")?;
            // Taken off the list first: a view counted meanwhile puts it back for the next
            // batch.
            let taken = sqlx::query("DELETE FROM vi_pending_views WHERE video = $1")
                .bind(id.clone())
                .execute(self.state().pool())
                .await?
                .rows_affected();
            if taken == 0 {
                continue;
            }
            if let Some(video) = self.db().video(&id).await?
                && video.local
            {
                self.publish_video_update(&video).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}

/// Sends the view counts' batches every `interval` for as long as the instance lives.
pub(crate) fn start_batches(instance: &Instance, interval: Duration) {
    let weak: Weak<Inner> = Arc::downgrade(&instance.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            let instance = Instance(inner);
            if let Err(error) = instance.federate_view_counts().await {
                warn!(%error, "sending the view counts");
            }
        }
    });
}

impl Instance {
    /// Rewrites local video `video`'s document from its row and files and sends `Update` by
    /// its account to everyone the video reached.
    pub(crate) async fn publish_video_update(&self, video: &VideoRow) -> Result<()> {
        let files = self.db().files(&video.id).await?;
        let mirrors = self.hls_mirrors(&video.id, &files).await?;
        let document = self.video_document_with_mirrors(video, &files, &mirrors)?;
        self.state().put_object(&document, true).await?;
        // The document was written by instance-state, outside the instance's transactions.
        self.search_changed(crate::db::SearchKind::Video, &video.id)
            .await?;
        let Some(account) = self.state().local_name(&video.account) else {
            return Ok(());
        };
        let update = json!({
            "@context": activitypub_core::ext::peertube::context::video().0,
            "id": self.state().new_id("updates").as_str(),
            "type": "Update",
            "actor": video.account,
            "object": document,
            "to": [
                PUBLIC,
                format!("{}/followers", video.account),
                format!("{}/followers", video.channel),
                format!("{}/followers", self.instance_actor()),
            ],
            "cc": [],
        });
        self.publish(&account, update).await
    }
}

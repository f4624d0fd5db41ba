//! From what the instances sent to what the search index stores: a received `Video` and the
//! channel and account it names (fetched from their servers, cached) become a
//! `VideoDocument` and a `ChannelDocument`, every URL absolute.

use activitypub_core::ext::peertube::{VideoSummary, as_video};
use activitypub_core::{AnyObject, Iri};
use anyhow::Result;
use federation::fetch::FetchBudget;
use instance_server::WithParts as _;
use serde_json::Value;
use time::OffsetDateTime;
use tracing::debug;
use url::Url;
use video_search::{ActorSummary, ChannelDocument, Constant, Image, VideoDocument};

use crate::app::{Index, authority};
use crate::db::StoredVideo;

impl Index {
    /// The search document of stored video `stored`, with its channel and account as cached;
    /// `None` when the stored document no longer reads as a video.
    pub(crate) async fn video_document(
        &self,
        stored: &StoredVideo,
    ) -> Result<Option<VideoDocument>> {
        let Ok(object) = AnyObject::from_value(stored.document.clone()) else {
            return Ok(None);
        };
        let Some(video) = as_video(&object) else {
            return Ok(None);
        };
        let Ok(summary) = VideoSummary::read(video) else {
            return Ok(None);
        };
        let channel = self.cached_document(&stored.channel).await?;
        let account = self.cached_document(&stored.account).await?;
        Ok(Some(video_document(
            &summary,
            &stored.channel,
            channel.as_ref(),
            &stored.account,
            account.as_ref(),
        )))
    }

    /// The search document of channel `id`, from its cached actor document; `None` when it
    /// could not be fetched.
    pub(crate) async fn channel_document(&self, id: &str) -> Result<Option<ChannelDocument>> {
        let Some(document) = self.cached_document(id).await? else {
            return Ok(None);
        };
        let owner_id = document
            .get("attributedTo")
            .and_then(|a| first_id_of_kind(a, "Person"));
        let owner = match &owner_id {
            Some(owner) => {
                let cached = self.cached_document(owner).await?;
                actor_summary(owner, cached.as_ref())
            }
            None => actor_summary(id, Some(&document)),
        };
        let mut channel = ChannelDocument::new(
            id,
            preferred_username(id, Some(&document)),
            display_name(id, Some(&document)),
            authority(id),
            timestamp(document.get("published")).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            owner,
        );
        channel.description = document
            .get("summary")
            .and_then(Value::as_str)
            .map(str::to_owned);
        channel.support = document
            .get("support")
            .and_then(Value::as_str)
            .map(str::to_owned);
        channel.avatars = images(document.get("icon"));
        channel.banners = images(document.get("image"));
        channel.videos_count = Some(self.db().channel_video_count(id).await?);
        channel.updated_at = timestamp(document.get("updated")).unwrap_or(channel.created_at);
        Ok(Some(channel))
    }

    /// The cached document of actor `id`, if it was fetched.
    async fn cached_document(&self, id: &str) -> Result<Option<Value>> {
        Ok(self
            .db()
            .actor(id)
            .await?
            .and_then(|cached| cached.document))
    }

    /// Makes sure actor `id` is cached (fetched less than the cache's lifetime ago, or known
    /// to fail for as long): from the key cache when it signed something lately, else fetched
    /// from its server within `budget`. A failure is cached too, so that a server that does
    /// not answer is not asked at each of its videos.
    pub(crate) async fn cache_actor(&self, id: &Iri, budget: &mut FetchBudget) -> Result<()> {
        let now = self.now();
        let ttl = i64::try_from(self.0.options.actor_ttl.as_secs()).unwrap_or(i64::MAX);
        if let Some(cached) = self.db().actor(id.as_str()).await?
            && cached.fetched.saturating_add(ttl) > now
        {
            return Ok(());
        }
        let document = match self.0.parts.keys.cached_actor(id.as_str()) {
            Some(remote) => serde_json::to_value(&remote.actor).ok(),
            None => match Url::parse(id.as_str()) {
                Ok(url) => match self.0.parts.fetcher.fetch(&url, budget).await {
                    Ok(fetched) if matches!(fetched.object(), AnyObject::Actor(_)) => {
                        serde_json::to_value(fetched.object()).ok()
                    }
                    Ok(_) => None,
                    Err(error) => {
                        debug!(actor = %id, %error, "fetching a video's actor");
                        None
                    }
                },
                Err(_) => None,
            },
        };
        if let Some(document) = &document {
            self.remember(id, document).await?;
        }
        self.db()
            .put_actor(id.as_str(), document.as_ref(), now)
            .await
    }

    /// Actor `id` updated itself to `document`: its name recorded and, when the index holds
    /// it, its copy replaced and the entries of its videos (and its channel entry) are made again.
    pub(crate) async fn refresh_actor(&self, id: &Iri, document: &Value) -> Result<()> {
        self.remember(id, document).await?;
        if self.db().actor(id.as_str()).await?.is_none() {
            return Ok(());
        }
        self.db()
            .put_actor(id.as_str(), Some(document), self.now())
            .await?;
        for video in self.db().videos_of(id.as_str()).await? {
            if let Some(stored) = self.db().video(&video).await? {
                self.apply(&stored).await?;
            }
        }
        Ok(())
    }

    /// Records actor `id` as met, so that its `Delete` is taken (the inbox drops those of
    /// actors never known).
    async fn remember(&self, id: &Iri, document: &Value) -> Result<()> {
        let name = display_name(id.as_str(), Some(document));
        let mut remote = instance_state::remote::RemoteActor::new(id.as_str(), name)
            .with_url(id.as_str())
            .with_handle(format!(
                "@{}@{}",
                preferred_username(id.as_str(), Some(document)),
                authority(id.as_str())
            ));
        if let Some(kind) = document.get("type").and_then(Value::as_str) {
            remote = remote.with_kind(kind);
        }
        if let Some(inbox) = document.get("inbox").and_then(Value::as_str) {
            remote = remote.with_inbox(inbox);
        }
        if let Some(followers) = document.get("followers").and_then(Value::as_str) {
            remote = remote.with_followers(followers);
        }
        self.state().put_remote_actor(&remote).await?;
        Ok(())
    }
}

/// The search document of a video read into `summary`, its channel and account named by
/// their ids and, when fetched, their documents.
pub(crate) fn video_document(
    summary: &VideoSummary,
    channel_id: &str,
    channel: Option<&Value>,
    account_id: &str,
    account: Option<&Value>,
) -> VideoDocument {
    let id = summary.id.as_str();
    let host = authority(id);
    let mut document = VideoDocument::new(
        id,
        summary.uuid.clone(),
        summary.name.clone(),
        host.clone(),
        summary.published.time(),
        actor_summary(channel_id, channel),
        actor_summary(account_id, account),
    );
    document.description = summary.content.clone();
    document.duration = summary.duration_secs;
    document.views = summary.views.unwrap_or(0);
    document.nsfw = summary.sensitive;
    document.is_live = summary.is_live;
    document.tags = summary.tags.clone();
    document.aspect_ratio = summary.aspect_ratio;
    document.language = summary.language.as_ref().map(|l| {
        Constant::new(
            l.identifier.clone(),
            l.name.clone().unwrap_or_else(|| l.identifier.clone()),
        )
    });
    let number = |label: &Option<activitypub_core::ext::peertube::Label>| {
        let label = label.as_ref()?;
        let id: u32 = label.identifier.parse().ok()?;
        Some(Constant::new(
            id,
            label
                .name
                .clone()
                .unwrap_or_else(|| label.identifier.clone()),
        ))
    };
    document.category = number(&summary.category);
    document.licence = number(&summary.licence);
    // PeerTube sends the thumbnail and the larger preview as `icon`s.
    let mut thumbnails: Vec<_> = summary.thumbnails.iter().collect();
    thumbnails.sort_by_key(|t| t.width);
    document.thumbnail_url = thumbnails.first().map(|t| t.url.to_string());
    document.preview_url = thumbnails.last().map(|t| t.url.to_string());
    document.embed_url = Url::parse(id)
        .ok()
        .and_then(|u| u.join(&format!("/videos/embed/{}", summary.uuid)).ok())
        .map(String::from);
    document.originally_published_at = summary.originally_published_at.as_ref().map(|t| t.time());
    document.updated_at = summary
        .updated
        .as_ref()
        .map_or(document.published_at, |t| t.time());
    document
}

/// An actor as a video names it, from its document when there is one.
pub(crate) fn actor_summary(id: &str, document: Option<&Value>) -> ActorSummary {
    let mut summary = ActorSummary::new(
        preferred_username(id, document),
        display_name(id, document),
        id,
        authority(id),
    );
    summary.avatars = images(document.and_then(|d| d.get("icon")));
    summary
}

/// The `preferredUsername`, else the id's last path segment.
fn preferred_username(id: &str, document: Option<&Value>) -> String {
    document
        .and_then(|d| d.get("preferredUsername"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            id.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

/// The `name`, else the username.
fn display_name(id: &str, document: Option<&Value>) -> String {
    document
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| preferred_username(id, document))
}

/// The http(s) images of an `icon` or `image` member (one or several `Image`s).
fn images(value: Option<&Value>) -> Vec<Image> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| {
            let url = item.get("url").and_then(|u| match u {
                Value::String(s) => Some(s.as_str()),
                Value::Object(link) => link.get("href").and_then(Value::as_str),
                _ => None,
            })?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return None;
            }
            let mut image = Image::new(url);
            if let Some(width) = item
                .get("width")
                .and_then(Value::as_u64)
                .and_then(|w| u32::try_from(w).ok())
            {
                image = image.with_width(width);
            }
            Some(image)
        })
        .collect()
}

/// The id of the first entry of `kind` in an `attributedTo` value.
fn first_id_of_kind(value: &Value, kind: &str) -> Option<String> {
    let entries: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    entries.into_iter().find_map(|entry| match entry {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some(kind) => {
            map.get("id").and_then(Value::as_str).map(str::to_owned)
        }
        _ => None,
    })
}

/// An RFC 3339 timestamp member.
fn timestamp(value: Option<&Value>) -> Option<OffsetDateTime> {
    let text = value?.as_str()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

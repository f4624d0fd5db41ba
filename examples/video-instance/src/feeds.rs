//! Feeds, at PeerTube's addresses: `/feeds/videos.{xml,atom,json}` (the instance's videos, or a
//! channel's or an account's with `videoChannelName`/`accountName`, local ones only with
//! `isLocal=true`) and `/feeds/video-comments.{xml,atom,json}?videoId=UUID` (a video's
//! comments). `format=rss|atom|json` overrides the extension, as PeerTube reads it. Feeds are
//! anonymous: they hold only what anyone may see, hidden content left out.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use instance_state::objects::{Addressing, Scope, Visibility};
use instance_web::feed::{Enclosure, Feed, FeedFormat, FeedItem};
use serde::Deserialize;
use tracing::warn;

use crate::db::Listing;
use crate::web::Site;
use instance_server::WithParts as _;

/// The most items a feed holds.
const FEED_ITEMS: i64 = 50;

/// What a feed is asked for (PeerTube's query parameters).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FeedQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    video_channel_name: Option<String>,
    #[serde(default)]
    account_name: Option<String>,
    #[serde(default)]
    is_local: Option<String>,
    #[serde(default)]
    video_id: Option<String>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// `GET /feeds/{name}`: `videos.*` or `video-comments.*`.
pub(crate) async fn feed(
    State(site): State<Site>,
    Path(name): Path<String>,
    Query(query): Query<FeedQuery>,
) -> Response {
    let Some((kind, extension)) = name.rsplit_once('.') else {
        return refuse(StatusCode::NOT_FOUND, "no such feed");
    };
    let Some(format) = FeedFormat::from_name(query.format.as_deref().unwrap_or(extension)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the format is one of rss, atom and json",
        );
    };
    let self_link = {
        let mut url = site.instance.url(&format!("feeds/{name}"));
        let query_string = [
            ("videoChannelName", &query.video_channel_name),
            ("accountName", &query.account_name),
            ("isLocal", &query.is_local),
            ("videoId", &query.video_id),
            ("format", &query.format),
        ]
        .iter()
        .filter_map(|(key, value)| value.as_deref().map(|v| (*key, v)))
        .fold(
            url::form_urlencoded::Serializer::new(String::new()),
            |mut s, (key, value)| {
                s.append_pair(key, value);
                s
            },
        )
        .finish();
        if !query_string.is_empty() {
            url.set_query(Some(&query_string));
        }
        url.to_string()
    };
    let built = match kind {
        "videos" => videos_feed(&site, &query, self_link).await,
        "video-comments" => comments_feed(&site, &query, self_link).await,
        _ => return refuse(StatusCode::NOT_FOUND, "no such feed"),
    };
    match built {
        Ok(Ok(feed)) => {
            let mut response = feed.render(format).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(match format {
                    FeedFormat::Json => "application/feed+json; charset=utf-8",
                    FeedFormat::Atom => "application/atom+xml; charset=utf-8",
                    _ => "application/rss+xml; charset=utf-8",
                }),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            );
            response
        }
        Ok(Err(refusal)) => refusal,
        Err(error) => {
            warn!(%error, "a feed failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "the feed failed")
        }
    }
}

/// The actor a feed's `videoChannelName` or `accountName` names: a local name, or
/// `name@host` (this instance's, or another's known here).
async fn named_actor(site: &Site, name: &str) -> anyhow::Result<Option<String>> {
    let state = site.instance.state();
    let (user, host) = match name.trim_start_matches('@').split_once('@') {
        Some((user, host)) => (user, Some(host)),
        None => (name, None),
    };
    let ours = crate::pages::host_of(site.instance.base_url().as_str());
    if host.is_none_or(|host| host.eq_ignore_ascii_case(&ours)) {
        return Ok(state
            .actor(user)
            .await?
            .filter(|actor| !actor.deleted)
            .map(|_| site.instance.actor_id(user).to_string()));
    }
    Ok(state
        .remote_actor_by_handle(&format!("{user}@{}", host.unwrap_or_default()))
        .await?
        .map(|actor| actor.id))
}

async fn videos_feed(
    site: &Site,
    query: &FeedQuery,
    self_link: String,
) -> anyhow::Result<Result<Feed, Response>> {
    let mut listing = Listing {
        local_only: query.is_local.as_deref() == Some("true"),
        ..Listing::default()
    };
    let mut title = format!("Videos of {}", site.instance.name());
    let mut link = site.instance.base_url().to_string();
    if let Some(name) = &query.video_channel_name {
        let Some(channel) = named_actor(site, name).await? else {
            return Ok(Err(refuse(StatusCode::NOT_FOUND, "no such channel here")));
        };
        title = format!("Videos of {name}");
        link.clone_from(&channel);
        listing.channel = Some(channel);
    }
    if let Some(name) = &query.account_name {
        let Some(account) = named_actor(site, name).await? else {
            return Ok(Err(refuse(StatusCode::NOT_FOUND, "no such account here")));
        };
        title = format!("Videos of {name}");
        link.clone_from(&account);
        listing.account = Some(account);
    }
    let videos = site
        .instance
        .db()
        .videos(&listing, &Scope::anonymous(), 0, FEED_ITEMS)
        .await?;
    let mut items = Vec::with_capacity(videos.len());
    for video in &videos {
        // Anonymous readers see public and unlisted videos' pages; a feed lists public ones.
        let Some(stored) = site.instance.state().object(&video.id).await? else {
            continue;
        };
        if stored.deleted
            || stored.hidden
            || Addressing::of(&stored.document).visibility() != Visibility::Public
        {
            continue;
        }
        let files = site.instance.db().files(&video.id).await?;
        let original = files
            .iter()
            .find(|f| matches!(f.role.as_str(), "original" | "rendition"));
        let thumbnail = site.instance.thumbnail(&files).url;
        let description = maud::html! {
            @for line in video.description.lines() { (line) br; }
        };
        items.push(FeedItem {
            id: video.id.clone(),
            title: video.name.clone(),
            link: video.id.clone(),
            content_html: description.into_string(),
            published: video.published,
            updated: video.updated,
            author: Some((
                crate::pages::host_name(&video.channel),
                video.channel.clone(),
            )),
            enclosure: original.map(|f| {
                Enclosure::new(
                    site.instance.file_url(&f.key).to_string(),
                    f.media_type.clone(),
                    u64::try_from(f.size).unwrap_or_default(),
                )
            }),
            thumbnail: Some(thumbnail),
            categories: video.tags.clone(),
        });
    }
    Ok(Ok(Feed {
        title,
        link,
        self_link,
        description: format!("The newest videos on {}", site.instance.name()),
        language: None,
        updated: videos.iter().map(|v| v.updated).max().unwrap_or_default(),
        items,
    }))
}

async fn comments_feed(
    site: &Site,
    query: &FeedQuery,
    self_link: String,
) -> anyhow::Result<Result<Feed, Response>> {
    let Some(uuid) = &query.video_id else {
        return Ok(Err(refuse(
            StatusCode::BAD_REQUEST,
            "say which video: videoId=UUID",
        )));
    };
    let anonymous = Scope::anonymous();
    let video = match site.instance.db().video_by_uuid(uuid).await? {
        Some(video)
            if site
                .instance
                .state()
                .visible_object(&video.id, &anonymous)
                .await?
                .is_some_and(|stored| !stored.deleted) =>
        {
            video
        }
        _ => return Ok(Err(refuse(StatusCode::NOT_FOUND, "no such video here"))),
    };
    let mut comments = site.instance.comments(&video.id, &anonymous, false).await?;
    comments.sort_by_key(|c| std::cmp::Reverse(c.published));
    comments.truncate(usize::try_from(FEED_ITEMS).unwrap_or(50));
    let items = comments
        .iter()
        .map(|comment| FeedItem {
            id: comment.id.clone(),
            title: format!("A comment on {}", video.name),
            link: format!("{}#{}", video.id, crate::pages::comment_anchor(&comment.id)),
            content_html: comment.content.clone(),
            published: comment.published,
            updated: comment.published,
            author: Some((
                crate::pages::host_name(&comment.author),
                comment.author.clone(),
            )),
            ..FeedItem::default()
        })
        .collect::<Vec<_>>();
    Ok(Ok(Feed {
        title: format!("Comments on {}", video.name),
        link: video.id.clone(),
        self_link,
        description: format!("The newest comments on {}", video.name),
        language: None,
        updated: comments
            .iter()
            .map(|c| c.published)
            .max()
            .unwrap_or(video.updated),
        items,
    }))
}

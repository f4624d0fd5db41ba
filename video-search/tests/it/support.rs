//! Builders of documents for the tests.

use time::OffsetDateTime;
use time::macros::datetime;
use video_search::{ActorSummary, Constant, IndexConfig, SearchIndex, VideoDocument};

pub(crate) const T0: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);

pub(crate) fn actor(name: &str, host: &str, kind: &str) -> ActorSummary {
    ActorSummary::new(
        name,
        name.to_uppercase(),
        format!("https://{host}/{kind}/{name}"),
        host,
    )
}

/// A video `key` on `host` in channel `chan`, with a title and a language.
pub(crate) fn video(key: &str, host: &str, name: &str, lang: Option<&str>) -> VideoDocument {
    let mut v = VideoDocument::new(
        format!("https://{host}/videos/watch/{key}"),
        format!("uuid-{key}"),
        name,
        host,
        T0,
        actor("chan", host, "video-channels"),
        actor("acct", host, "accounts"),
    );
    v.language = lang.map(|l| Constant::new(l.to_owned(), l));
    v
}

pub(crate) fn index() -> SearchIndex {
    SearchIndex::in_memory(IndexConfig::default()).unwrap()
}

pub(crate) fn index_with(videos: &[VideoDocument]) -> SearchIndex {
    let index = index();
    for v in videos {
        index.upsert_video(v).unwrap();
    }
    index.commit().unwrap();
    index
}

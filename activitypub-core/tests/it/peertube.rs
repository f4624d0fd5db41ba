//! PeerTube: every fixture of `fixtures/peertube/` read into its summary; what the builders write
//! has PeerTube's shape (compared with real PeerTube documents) and reads back into the same
//! values; absurd values are refused or dropped; no input panics the readers.

use std::collections::{BTreeMap, BTreeSet};

use activitypub_core::ext::peertube::{
    self, ActorKind, CacheFileSummary, CacheFileUrl, Caption, CommentsPolicy, ContentType,
    FieldError, FileFormat, FileStreams, HlsPlaylist, Label, LiveSettings, NewCacheFile,
    NewPlaylist, NewPlaylistElement, NewVideo, NewView, PlaylistElementSummary, PlaylistSummary,
    Problem, Thumbnail, VideoCollections, VideoFile, VideoState, VideoSummary, ViewSummary,
    as_video, context, limits, wrap,
};
use activitypub_core::{ActivityType, AnyObject, Iri, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::{fixture, fixtures_dir};

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn iris(list: &[&str]) -> Vec<Iri> {
    list.iter().map(|s| iri(s)).collect()
}

/// The `Video` of a fixture: the document itself or the object of its activity.
fn video_of(object: &AnyObject) -> &activitypub_core::Video {
    peertube::video_of(object).unwrap_or_else(|| panic!("no video in {}", object.type_name()))
}

fn summary(relative: &str) -> VideoSummary {
    let (_, object) = fixture(relative);
    let summary = VideoSummary::read(video_of(&object))
        .unwrap_or_else(|e| panic!("{relative} was refused: {e}"));
    assert_eq!(summary.dropped, [], "{relative}: nothing dropped");
    summary
}

// --- Reading the fixtures -------------------------------------------------------------------

#[test]
fn tilvids_video_reads_into_its_summary() {
    let s = summary("peertube/video.json");
    let watch = "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1";
    assert_eq!(s.id, watch);
    assert_eq!(s.uuid, "e7946124-7b72-4ad7-9d22-844a84bb2de1");
    assert_eq!(
        s.name,
        "Mesa, Wayland & X.org in trouble, Debian leaves X, Facebook blocks Linux: Linux & Open Source News"
    );
    assert_eq!(s.duration_secs, 1145);
    assert_eq!(s.content_type, Some(ContentType::Markdown));
    let content = s.content.as_deref().unwrap();
    assert_eq!(content.chars().count(), 2731);
    assert!(content.starts_with("Head to https://squarespace.com/thelinuxexperiment"));
    assert_eq!(s.page_url.as_ref().unwrap(), watch);
    assert_eq!(s.files, [], "no progressive file: HLS only");
    assert_eq!(s.hls.len(), 1);
    let hls = &s.hls[0];
    assert_eq!(
        hls.href,
        "https://tilvids.com/static/streaming-playlists/hls/e7946124-7b72-4ad7-9d22-844a84bb2de1/2020efb9-9f43-4e37-b268-3470a4bb89cd-master.m3u8"
    );
    assert_eq!(
        hls.segments_sha256_url.as_ref().unwrap(),
        "https://tilvids.com/static/streaming-playlists/hls/e7946124-7b72-4ad7-9d22-844a84bb2de1/0c0d34b1-ab46-4fc8-ae02-c97c23bfb2db-segments-sha256.json"
    );
    assert_eq!(
        hls.infohashes,
        [
            "bade027756842ecef7a1fb7b437dcaa52eb72350",
            "dc1091029454a93ae893b207cfb1e7faf8d4d8b8",
            "c83b5123b8dcb1b81b53fbdb4c95903cf61a2022"
        ]
    );
    let dims: Vec<_> = hls
        .files
        .iter()
        .map(|f| (f.height, f.width, f.size, f.fps))
        .collect();
    assert_eq!(
        dims,
        [
            (1080, Some(1920), 245_864_545, Some(60)),
            (360, Some(640), 62_546_436, Some(30)),
            (144, Some(256), 31_021_375, Some(30)),
        ]
    );
    let f1080 = &hls.files[0];
    assert_eq!(f1080.media_type, "video/mp4");
    assert_eq!(f1080.streams, Some(FileStreams::new(true, true)));
    assert_eq!(f1080.formats, [FileFormat::Fragmented]);
    assert_eq!(
        f1080.metadata_url.as_ref().unwrap(),
        "https://tilvids.com/api/v1/videos/e7946124-7b72-4ad7-9d22-844a84bb2de1/metadata/729362"
    );
    assert_eq!(
        f1080.torrent_url.as_ref().unwrap(),
        "https://tilvids.com/lazy-static/torrents/cf3222e4-b9fe-4cb3-8b43-2da8afd83895-1080-hls.torrent"
    );
    assert!(
        f1080
            .magnet_uri
            .as_ref()
            .unwrap()
            .as_str()
            .contains("xt=urn:btih:f9b4ddffa454ad6a7d5d7000d307c33f84aba1d1")
    );
    assert_eq!(
        s.thumbnails,
        [
            Thumbnail::new(
                iri(
                    "https://tilvids.com/lazy-static/thumbnails/904efceb-0715-476f-b0dc-b5fba6769851.jpg"
                ),
                "image/jpeg",
                280,
                157
            ),
            Thumbnail::new(
                iri(
                    "https://tilvids.com/lazy-static/previews/ef6088ee-c83a-4fcf-8be2-58db95ca5135.jpg"
                ),
                "image/jpeg",
                850,
                480
            ),
        ]
    );
    assert_eq!(
        s.category,
        Some(Label::new("15", Some("Science & Technology".into())))
    );
    assert_eq!(
        s.licence,
        Some(Label::new("2", Some("Attribution - Share Alike".into())))
    );
    assert_eq!(s.language, Some(Label::new("en", Some("English".into()))));
    assert_eq!(s.captions, []);
    assert_eq!(s.tags, Vec::<String>::new());
    assert!(!s.sensitive);
    assert_eq!(s.sensitive_summary, None);
    assert_eq!(s.comments_policy, CommentsPolicy::Enabled);
    assert!(s.download_enabled);
    assert!(s.wait_transcoding);
    assert_eq!(s.state, VideoState::Published);
    assert!(!s.is_live && !s.live_save_replay && !s.permanent_live);
    assert_eq!(s.latency_mode, None);
    assert_eq!(s.views, Some(360));
    assert_eq!(s.aspect_ratio, Some(1.7778));
    assert_eq!(s.published.as_str(), "2025-02-01T11:59:45.094Z");
    assert_eq!(
        s.updated.as_ref().unwrap().as_str(),
        "2025-02-04T09:00:50.396Z"
    );
    assert_eq!(
        s.originally_published_at.as_ref().unwrap().as_str(),
        "2025-02-01T11:39:50.000Z"
    );
    assert_eq!(
        s.account().unwrap(),
        "https://tilvids.com/accounts/thelinuxexperiment"
    );
    assert_eq!(
        s.channel().unwrap(),
        "https://tilvids.com/video-channels/thelinuxexperiment_channel"
    );
    assert_eq!(s.attributed_to[0].kind, Some(ActorKind::Person));
    assert_eq!(s.attributed_to[1].kind, Some(ActorKind::Group));
    assert_eq!(s.to, iris(&[activitypub_core::PUBLIC]));
    assert_eq!(
        s.cc,
        iris(&["https://tilvids.com/accounts/thelinuxexperiment/followers"])
    );
    assert!(s.is_public());
    assert_eq!(s.likes.unwrap(), format!("{watch}/likes").as_str());
    assert_eq!(s.dislikes.unwrap(), format!("{watch}/dislikes").as_str());
    assert_eq!(s.shares.unwrap(), format!("{watch}/announces").as_str());
    assert_eq!(s.comments.unwrap(), format!("{watch}/comments").as_str());
    assert_eq!(s.chapters.unwrap(), format!("{watch}/chapters").as_str());
    assert!(
        s.support
            .unwrap()
            .starts_with("Support the channel on Patreon")
    );
}

#[test]
fn framatube_create_video_reads_files_torrents_and_hls() {
    let s = summary("peertube/create-video.json");
    assert_eq!(s.uuid, "6050732a-8a7a-43d4-a6cd-809525a1d206");
    assert_eq!(s.name, "Déframasoftisons Internet [Framasoft]");
    assert_eq!(s.duration_secs, 3622);
    assert_eq!(s.views, Some(154));
    // No `commentsPolicy` (PeerTube before 6.2): the policy comes from `commentsEnabled`.
    assert_eq!(s.comments_policy, CommentsPolicy::Enabled);
    assert!(!s.wait_transcoding);
    assert!(!s.is_live, "no isLiveBroadcast: PeerTube's default");
    assert_eq!(s.licence, None);
    assert_eq!(s.language, None);
    assert_eq!(s.support, None);
    assert_eq!(s.content.as_deref().map(|c| c.chars().count()), Some(333));
    assert_eq!(
        s.tags,
        ["déframasoftisons", "EPN23", "framaconf", "Framasoft", "pyg"]
    );
    let files: Vec<_> = s
        .files
        .iter()
        .map(|f| (f.height, f.width, f.size, f.fps))
        .collect();
    assert_eq!(
        files,
        [
            (1080, None, 1_157_359_410, Some(25)),
            (720, None, 497_100_839, Some(25)),
            (480, None, 250_095_131, Some(25)),
            (360, None, 171_357_733, Some(25)),
            (240, None, 113_038_439, Some(25)),
        ]
    );
    let f = &s.files[0];
    assert_eq!(
        f.href,
        "https://framatube.org/static/webseed/6050732a-8a7a-43d4-a6cd-809525a1d206-1080.mp4"
    );
    assert_eq!(
        f.metadata_url.as_ref().unwrap(),
        "https://framatube.org/api/v1/videos/6050732a-8a7a-43d4-a6cd-809525a1d206/metadata/1309939"
    );
    assert_eq!(
        f.torrent_url.as_ref().unwrap(),
        "https://framatube.org/static/torrents/6050732a-8a7a-43d4-a6cd-809525a1d206-1080.torrent"
    );
    assert!(f.magnet_uri.is_some());
    assert_eq!(f.streams, None, "no hints before PeerTube 7.1");
    assert_eq!(s.hls.len(), 1);
    assert_eq!(s.hls[0].infohashes.len(), 5);
    let sizes: Vec<_> = s.hls[0].files.iter().map(|f| (f.height, f.size)).collect();
    assert_eq!(
        sizes,
        [
            (1080, 1_156_777_472),
            (720, 496_533_741),
            (480, 249_562_889),
            (360, 170_836_415),
            (240, 112_529_249)
        ]
    );
    assert_eq!(s.all_files().count(), 10);
    assert_eq!(
        s.thumbnails
            .iter()
            .map(|t| (t.width, t.height))
            .collect::<Vec<_>>(),
        [(223, 122), (850, 480)]
    );
    assert_eq!(
        s.originally_published_at.unwrap().as_str(),
        "2019-11-30T23:00:00.000Z"
    );
}

#[test]
fn update_video_reads_its_embedded_video() {
    let s = summary("peertube/update-video.json");
    assert_eq!(
        s.id,
        "http://peertube.test/videos/watch/717c9d87-c912-4943-a392-49fadf2f235d"
    );
    assert_eq!(s.name, "terre");
    assert_eq!(s.duration_secs, 31);
    assert_eq!(s.views, Some(0));
    assert_eq!(s.originally_published_at, None, "null is no date");
    assert_eq!(s.support, None);
    assert_eq!(s.hls.len(), 1);
    let f = &s.hls[0].files[0];
    assert_eq!(
        (f.height, f.width, f.size, f.fps),
        (270, Some(480), 653_210, Some(30))
    );
    assert_eq!(s.account().unwrap(), "http://peertube.test/accounts/root");
    assert_eq!(
        s.channel().unwrap(),
        "http://peertube.test/video-channels/root_channel"
    );
    assert_eq!(s.updated.unwrap().as_str(), "2024-05-15T12:40:45.399Z");
}

#[test]
fn hls_captions_chapters_video_reads_captions_and_sensitivity() {
    let s = summary("peertube/video-hls-captions-chapters.json");
    assert_eq!(s.name, "Titre de la vidéo");
    assert!(s.sensitive);
    assert_eq!(s.tags, ["etiquette1", "etiquette2"]);
    assert_eq!(
        s.category,
        Some(Label::new("11", Some("News & Politics".into())))
    );
    assert_eq!(s.licence, Some(Label::new("1", Some("Attribution".into()))));
    assert_eq!(s.language, Some(Label::new("fr", Some("French".into()))));
    assert_eq!(s.support.as_deref(), Some("Soutenez la chaîne"));
    assert_eq!(
        s.captions,
        [Caption::new(
            Label::new("ab", Some("Abkhazian".into())),
            iri(
                "http://peertube.test/lazy-static/video-captions/a2beedfa-5334-4bb9-98c3-04b701ea1e71-ab.vtt"
            )
        )]
    );
    let ladder: Vec<_> = s.hls[0]
        .files
        .iter()
        .map(|f| (f.height, f.width, f.size, f.fps))
        .collect();
    assert_eq!(
        ladder,
        [
            (2160, Some(3840), 5_648_268, Some(50)),
            (1440, Some(2560), 3_517_621, Some(50)),
            (1080, Some(1920), 2_074_477, Some(50)),
            (720, Some(1280), 943_692, Some(50)),
            (480, Some(854), 460_605, Some(25)),
            (360, Some(640), 257_495, Some(25)),
            (240, Some(426), 113_028, Some(25)),
            (144, Some(256), 42_818, Some(25)),
        ]
    );
    assert_eq!(s.hls[0].infohashes.len(), 8);
    assert_eq!(
        s.chapters.unwrap(),
        "http://peertube.test/videos/watch/717c9d87-c912-4943-a392-49fadf2f235d/chapters"
    );
    assert_eq!(s.published.as_str(), "2024-06-06T13:06:05.060Z");
}

#[test]
fn framatube_webseed_video_reads_seventeen_captions() {
    let s = summary("peertube/video-webseed-torrent-framatube.json");
    assert_eq!(s.name, "What is PeerTube?");
    assert_eq!(s.duration_secs, 113);
    assert_eq!(s.views, Some(53137));
    assert_eq!(s.tags, ["framasoft", "peertube"]);
    assert_eq!(s.hls, []);
    let files: Vec<_> = s.files.iter().map(|f| (f.height, f.size, f.fps)).collect();
    assert_eq!(
        files,
        [
            (1080, 14_689_568, Some(24)),
            (720, 8_365_049, Some(24)),
            (480, 5_650_553, Some(24)),
            (360, 4_524_751, Some(24)),
            (240, 3_452_697, Some(24)),
        ]
    );
    let languages: Vec<_> = s
        .captions
        .iter()
        .map(|c| c.language.identifier.as_str())
        .collect();
    assert_eq!(
        languages,
        [
            "ca", "cs", "de", "en", "es", "eu", "fr", "gl", "hu", "it", "lt", "nl", "pl", "pt",
            "ru", "sv", "zh"
        ]
    );
    assert_eq!(
        s.captions[3].url,
        "https://framatube.org/static/video-captions/9c9de5e8-0a1e-484a-b099-e80766180a6d-en.vtt"
    );
    assert_eq!(s.published.as_str(), "2018-10-01T10:52:46.396Z");
}

#[test]
fn create_cachefile_reads_into_its_summary() {
    let (_, object) = fixture("peertube/create-cachefile.json");
    let create = object.as_activity().unwrap();
    let Some(AnyObject::CacheFile(cache)) = create.embedded_object() else {
        panic!("a CacheFile")
    };
    let s = CacheFileSummary::read(cache).unwrap();
    assert_eq!(
        s.id,
        "https://peertube.behostings.net/redundancy/videos/d50af361-1805-4d67-92e7-20eec0c30009/1080-30"
    );
    assert_eq!(
        s.video,
        "https://video.blender.org/videos/watch/d50af361-1805-4d67-92e7-20eec0c30009"
    );
    assert_eq!(s.expires.unwrap().as_str(), "2026-09-19T12:32:16.031Z");
    let CacheFileUrl::File(file) = &s.url else {
        panic!("a file copy")
    };
    assert_eq!(
        file.href,
        "https://peertube.behostings.net/static/redundancy/fdb8a1aa-3ac1-41a9-aadf-5610e86f4653-1080.mp4"
    );
    assert_eq!(file.media_type, "video/mp4");
    assert_eq!(
        (file.height, file.size, file.fps),
        (1080, 31_191_786, Some(30))
    );
    assert_eq!(s.to, iris(&["https://video.blender.org/accounts/blender"]));
    assert!(s.cc.is_empty());
    assert_eq!(s.dropped, []);
}

#[test]
fn view_reads_into_its_summary() {
    let (_, object) = fixture("peertube/view-video.json");
    let s = ViewSummary::read(object.as_activity().unwrap()).unwrap();
    assert_eq!(
        s.id,
        "http://peertube.test/accounts/peertube/views/videos/1/CBmE6B8qR3wmPvfXxlnzYLZj2aGxHbuP-717c9d87-c912-4943-a392-49fadf2f235d"
    );
    assert_eq!(s.actor, "http://peertube.test/accounts/peertube");
    assert_eq!(
        s.video,
        "http://peertube.test/videos/watch/717c9d87-c912-4943-a392-49fadf2f235d"
    );
    assert_eq!(s.expires.unwrap().as_str(), "2024-05-15T11:17:56.017Z");
    assert_eq!(s.viewers, None);
    assert_eq!(
        s.to,
        iris(&[
            activitypub_core::PUBLIC,
            "http://peertube.test/video-channels/root_channel/followers",
            "http://peertube.test/accounts/peertube/followers",
            "http://peertube.test/accounts/root/followers",
        ])
    );
    assert_eq!(s.dropped, []);
}

/// Every file of `fixtures/peertube/` goes through the reader of its kind; the kinds that have
/// none are named, so a new fixture fails here until it is handled.
#[test]
fn every_peertube_fixture_reads() {
    let dir = fixtures_dir().join("peertube");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let watch = "http://peertube.test/videos/watch/717c9d87-c912-4943-a392-49fadf2f235d";
    for name in names {
        let relative = format!("peertube/{name}");
        let (_, object) = fixture(&relative);
        match name.as_str() {
            "video.json"
            | "create-video.json"
            | "update-video.json"
            | "video-hls-captions-chapters.json"
            | "video-webseed-torrent-framatube.json" => {
                summary(&relative);
            }
            "create-cachefile.json" => {
                let a = object.as_activity().unwrap();
                let Some(AnyObject::CacheFile(c)) = a.embedded_object() else {
                    panic!("{name}")
                };
                CacheFileSummary::read(c).unwrap();
            }
            "view-video.json" => {
                ViewSummary::read(object.as_activity().unwrap()).unwrap();
            }
            // Activities about a video by id: the plain activity model is what reads them.
            "delete-video.json" | "announce-video-by-instance-actor.json" => {
                let a = object.as_activity().unwrap();
                assert_eq!(a.object_id().unwrap(), watch, "{name}");
            }
            "announce-video.json" => {
                let a = object.as_activity().unwrap();
                assert_eq!(a.kind, ActivityType::Announce);
                assert_eq!(
                    a.object_id().unwrap(),
                    "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1"
                );
            }
            "instance-outbox-page.json" => {
                let page = object.as_collection().unwrap();
                let announce = page.all_items()[0].as_object().unwrap();
                assert_eq!(announce.as_activity().unwrap().object_id().unwrap(), watch);
            }
            "comment-note.json" => {
                // A comment on a video, answering a note of another server.
                let note = object.as_object().unwrap();
                assert_eq!(
                    note.props.id.as_ref().unwrap(),
                    "https://video.antopie.org/videos/watch/4294a720-f263-4ea4-9392-cf9cea4d5277/comments/200873"
                );
                let replied = note.props.in_reply_to.as_ref().unwrap().first().unwrap();
                assert_eq!(
                    activitypub_core::reference_id(replied).unwrap(),
                    "https://bae.st/objects/87c1cbf5-542a-491d-af57-0414c8648381"
                );
            }
            // Not about videos: the actors, the outbox, an accepted follow.
            "account-person.json" | "channel-group.json" | "instance-application.json" => {
                assert!(object.as_actor().is_some(), "{name}");
            }
            "instance-outbox.json" => assert!(object.as_collection().is_some()),
            "accept-follow-instance.json" => {
                assert_eq!(object.as_activity().unwrap().kind, ActivityType::Accept);
            }
            other => panic!("fixture {other} is not handled by this test"),
        }
    }
}

// --- Writing --------------------------------------------------------------------------------

const UUID: &str = "3f0c1a9e-5b7d-4c2e-9a61-0b8d2e4f6a7c";

fn full_video() -> NewVideo {
    let base = format!("https://video.example/videos/watch/{UUID}");
    let at = |path: &str| iri(&format!("{base}{path}"));
    let file = |height: u64, width: u64, size: u64, kind: &str| {
        VideoFile::new(
            iri(&format!(
                "https://video.example/static/{kind}/{UUID}-{height}.mp4"
            )),
            "video/mp4",
            height,
            size,
        )
        .with_width(width)
        .with_fps(30)
        .with_streams(FileStreams::new(true, true))
        .with_metadata_url(iri(&format!(
            "https://video.example/api/v1/videos/{UUID}/metadata/{height}"
        )))
        .with_torrent_url(iri(&format!(
            "https://video.example/torrents/{UUID}-{height}.torrent"
        )))
        .with_magnet_uri(iri(&format!("magnet:?xt=urn:btih:{:040}&dn=a", height)))
    };
    NewVideo::new(
        iri(&base),
        UUID,
        "A walk in the woods",
        1145,
        ts("2025-02-01T11:59:45.094Z"),
        iri(&format!("https://video.example/w/{UUID}")),
        iri("https://video.example/accounts/alice"),
        iri("https://video.example/video-channels/alice_channel"),
        VideoCollections::new(
            at("/likes"),
            at("/dislikes"),
            at("/announces"),
            at("/comments"),
        ),
    )
    .with_updated(ts("2025-02-04T09:00:50.396Z"))
    .with_audience(
        iris(&[activitypub_core::PUBLIC]),
        iris(&["https://video.example/accounts/alice/followers"]),
    )
    .with_content("Trees, *mostly*.")
    .with_category(Label::new("15", Some("Science & Technology".into())))
    .with_licence(Label::new("2", Some("Attribution - Share Alike".into())))
    .with_language(Label::new("en", Some("English".into())))
    .with_views(360)
    .with_wait_transcoding(true)
    .with_originally_published_at(ts("2025-02-01T11:39:50.000Z"))
    .with_tag("trees")
    .with_tag("walking")
    .with_support("Buy me a coffee")
    .with_caption(Caption::new(
        Label::new("fr", Some("French".into())),
        iri(&format!("https://video.example/captions/{UUID}-fr.vtt")),
    ))
    .with_thumbnail(Thumbnail::new(
        iri("https://video.example/thumbnails/a.jpg"),
        "image/jpeg",
        280,
        157,
    ))
    .with_thumbnail(Thumbnail::new(
        iri("https://video.example/previews/a.jpg"),
        "image/jpeg",
        850,
        480,
    ))
    .with_file(file(720, 1280, 120_000_000, "web-videos").with_format(FileFormat::WebVideo))
    .with_hls(
        HlsPlaylist::new(iri(&format!(
            "https://video.example/static/hls/{UUID}/master.m3u8"
        )))
        .with_infohash("bade027756842ecef7a1fb7b437dcaa52eb72350")
        .with_segments_sha256_url(iri(&format!(
            "https://video.example/static/hls/{UUID}/segments-sha256.json"
        )))
        .with_file(file(1080, 1920, 245_864_545, "hls").with_format(FileFormat::Fragmented))
        .with_file(file(360, 640, 62_546_436, "hls").with_format(FileFormat::Fragmented)),
    )
    .with_aspect_ratio(1.7778)
    .with_chapters(at("/chapters"))
}

fn written(video: &NewVideo) -> Value {
    AnyObject::from(video.build().unwrap()).to_value()
}

fn read_back(value: &Value) -> VideoSummary {
    let object = AnyObject::from_slice(&serde_json::to_vec(value).unwrap()).unwrap();
    VideoSummary::read(as_video(&object).expect("a Video")).unwrap()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The members of `object` and the JSON type of each.
fn shape(object: &Value) -> BTreeMap<String, &'static str> {
    object
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), kind(v)))
        .collect()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn written_video_has_the_members_and_shapes_of_a_peertube_video() {
    let ours = written(&full_video());
    let (theirs, _) = fixture("peertube/video.json");
    let (ours_shape, theirs_shape) = (shape(&ours), shape(&theirs));

    // Every member the issue names is there.
    for key in [
        "@context",
        "type",
        "id",
        "name",
        "duration",
        "uuid",
        "category",
        "licence",
        "language",
        "views",
        "sensitive",
        "waitTranscoding",
        "state",
        "commentsEnabled",
        "commentsPolicy",
        "downloadEnabled",
        "published",
        "originallyPublishedAt",
        "updated",
        "tag",
        "mediaType",
        "content",
        "support",
        "subtitleLanguage",
        "icon",
        "url",
        "likes",
        "dislikes",
        "shares",
        "comments",
        "attributedTo",
        "isLiveBroadcast",
        "to",
        "cc",
        "summary",
    ] {
        assert!(ours_shape.contains_key(key), "{key} is missing");
    }
    // The same members as the tilvids.com video, with the same JSON types, but `summary`
    // (PeerTube 7.1+ writes it, `null` unless sensitive; the fixture is 7.0) and the storyboard
    // `preview` (not made by this module).
    let only_ours: Vec<_> = ours_shape
        .keys()
        .filter(|k| !theirs_shape.contains_key(*k))
        .collect();
    let only_theirs: Vec<_> = theirs_shape
        .keys()
        .filter(|k| !ours_shape.contains_key(*k))
        .collect();
    assert_eq!(only_ours, ["summary"]);
    assert_eq!(only_theirs, ["preview"]);
    for (key, ty) in &ours_shape {
        if let Some(theirs_ty) = theirs_shape.get(key) {
            assert_eq!(ty, theirs_ty, "type of {key}");
        }
    }
    assert_eq!(ours["summary"], Value::Null);
    assert_eq!(ours["canReply"], Value::Null);
    assert_eq!(ours["duration"], "PT1145S");
    assert_eq!(ours["mediaType"], "text/markdown");
    // PeerTube's own `@context`, exactly.
    assert_eq!(ours["@context"], theirs["@context"]);
    assert_eq!(ours["@context"], context::video().0);

    // Nested shapes.
    assert_eq!(shape(&ours["category"]), shape(&theirs["category"]));
    assert_eq!(shape(&ours["icon"][0]), shape(&theirs["icon"][0]));
    assert_eq!(
        shape(&ours["attributedTo"][0]),
        shape(&theirs["attributedTo"][0])
    );
    assert_eq!(ours["attributedTo"][0]["type"], "Person");
    assert_eq!(ours["attributedTo"][1]["type"], "Group");
    assert_eq!(shape(&ours["url"][0]), shape(&theirs["url"][0]));
    let (our_hls, their_hls) = (&ours["url"][5], &theirs["url"][1]);
    assert_eq!(our_hls["mediaType"], "application/x-mpegURL");
    assert_eq!(shape(our_hls), shape(their_hls));
    // In the playlist's `tag`: infohash, sha256 link, then per file the file, its metadata,
    // torrent and magnet links, as PeerTube writes them.
    for i in 0..6 {
        assert_eq!(
            shape(&our_hls["tag"][i]),
            shape(&their_hls["tag"][i + 2]),
            "tag[{i}]"
        );
        assert_eq!(our_hls["tag"][i]["type"], their_hls["tag"][i + 2]["type"]);
        assert_eq!(
            our_hls["tag"][i]["mediaType"],
            their_hls["tag"][i + 2]["mediaType"]
        );
    }
    assert_eq!(our_hls["tag"][3]["rel"], json!(["metadata", "video/mp4"]));
    assert_eq!(
        our_hls["tag"][2]["attachment"],
        json!([
            {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "audio"},
            {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "video"},
            {"type": "PropertyValue", "name": "peertube_format_flag", "value": "fragmented"}
        ])
    );
    // A progressive file link as framatube writes one (which has no width), plus `width`.
    let (our_file, their_file) = (
        &ours["url"][1],
        &fixture("peertube/create-video.json").0["object"]["url"][1],
    );
    let mut expected = keys(their_file);
    expected.extend(["width".to_owned(), "attachment".to_owned()]);
    assert_eq!(keys(our_file), expected);
}

#[test]
fn written_video_is_what_mastodon_needs_to_show_it() {
    let ours = written(&full_video());
    // Mastodon shows a Video as `<h2>name</h2>`, `summary` when present, and a link to the first
    // `url` entry whose `mimeType` is absent or text/html: the HTML page must come first.
    assert_eq!(ours["name"], "A walk in the woods");
    assert_eq!(ours["url"][0]["mediaType"], "text/html");
    assert_eq!(
        ours["url"][0]["href"],
        format!("https://video.example/w/{UUID}")
    );
    assert!(ours["url"][0].get("mimeType").is_none());
    assert!(
        ours["url"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l.get("mimeType").is_none())
    );
    // When it fetches the video, the first `attributedTo` is the account that posted it.
    assert_eq!(
        ours["attributedTo"][0]["id"],
        "https://video.example/accounts/alice"
    );
    assert_eq!(ours["to"], json!([activitypub_core::PUBLIC]));
    assert_eq!(ours["published"], "2025-02-01T11:59:45.094Z");
    assert_eq!(ours["sensitive"], false);
    // A sensitive video says why in `summary`, which Mastodon shows under the title.
    let sensitive = written(&full_video().sensitive(Some("Spiders".into())));
    assert_eq!(sensitive["summary"], "Spiders");
    assert_eq!(sensitive["sensitive"], true);
}

#[test]
fn written_video_reads_back_into_the_same_values() {
    let new = full_video();
    let s = read_back(&written(&new));
    assert_eq!(s.dropped, []);
    assert_eq!(s.id, new.id);
    assert_eq!(s.uuid, new.uuid);
    assert_eq!(s.name, new.name);
    assert_eq!(s.duration_secs, new.duration_secs);
    assert_eq!(s.content, new.content);
    assert_eq!(s.content_type, Some(ContentType::Markdown));
    assert_eq!(s.page_url.as_ref(), Some(&new.page_url));
    assert_eq!(s.files, new.files);
    assert_eq!(s.hls, new.hls.clone().into_iter().collect::<Vec<_>>());
    assert_eq!(s.thumbnails, new.thumbnails);
    assert_eq!(s.category, new.category);
    assert_eq!(s.licence, new.licence);
    assert_eq!(s.language, new.language);
    assert_eq!(s.captions, new.captions);
    assert_eq!(s.tags, new.tags);
    assert_eq!(s.sensitive, new.sensitive);
    assert_eq!(s.comments_policy, new.comments_policy);
    assert_eq!(s.download_enabled, new.download_enabled);
    assert_eq!(s.wait_transcoding, new.wait_transcoding);
    assert_eq!(s.state, new.state);
    assert!(!s.is_live);
    assert_eq!(s.views, Some(new.views));
    assert_eq!(s.aspect_ratio, new.aspect_ratio);
    assert_eq!(s.published, new.published);
    assert_eq!(s.updated, new.updated);
    assert_eq!(s.originally_published_at, new.originally_published_at);
    assert_eq!(s.account(), Some(&new.account));
    assert_eq!(s.channel(), Some(&new.channel));
    assert_eq!(s.to, new.to);
    assert_eq!(s.cc, new.cc);
    assert_eq!(s.likes.as_ref(), Some(&new.collections.likes));
    assert_eq!(s.dislikes.as_ref(), Some(&new.collections.dislikes));
    assert_eq!(s.shares.as_ref(), Some(&new.collections.shares));
    assert_eq!(s.comments.as_ref(), Some(&new.collections.comments));
    assert_eq!(s.chapters, new.chapters);
    assert_eq!(s.support, new.support);

    // A live, comments held for approval, a caption with its HLS playlist, the least a video
    // has: each reads back too.
    let live = NewVideo::new(
        iri("https://video.example/videos/watch/live"),
        UUID,
        "Live now",
        0,
        ts("2025-03-01T10:00:00Z"),
        iri("https://video.example/w/live"),
        iri("https://video.example/accounts/alice"),
        iri("https://video.example/video-channels/alice_channel"),
        VideoCollections::new(
            iri("https://video.example/l"),
            iri("https://video.example/d"),
            iri("https://video.example/s"),
            iri("https://video.example/c"),
        ),
    )
    .with_live(LiveSettings::new().with_save_replay(true))
    .with_state(VideoState::WaitingForLive)
    .with_comments_policy(CommentsPolicy::RequiresApproval)
    .with_caption(
        Caption::new(
            Label::new("en", None),
            iri("https://video.example/c/en.vtt"),
        )
        .with_playlist_url(iri("https://video.example/c/en.m3u8"))
        .automatically_generated(),
    );
    let value = written(&live);
    assert_eq!(value["canReply"], activitypub_core::PUBLIC);
    assert_eq!(value["commentsEnabled"], true);
    assert_eq!(value["liveSaveReplay"], true);
    assert_eq!(value["content"], Value::Null);
    assert_eq!(value["originallyPublishedAt"], Value::Null);
    let s = read_back(&value);
    assert!(s.is_live && s.live_save_replay && !s.permanent_live);
    assert_eq!(s.latency_mode, Some(1));
    assert_eq!(s.state, VideoState::WaitingForLive);
    assert_eq!(s.comments_policy, CommentsPolicy::RequiresApproval);
    assert_eq!(s.captions, live.captions);
    assert_eq!(s.updated.as_ref(), Some(&live.published));
    assert_eq!(s.dropped, []);
}

#[test]
fn a_written_video_wraps_in_a_create_like_peertube_s() {
    let video = full_video().build().unwrap();
    let create = wrap(
        ActivityType::Create,
        iri(&format!(
            "https://video.example/videos/watch/{UUID}/activity"
        )),
        iri("https://video.example/accounts/alice"),
        video,
    );
    let ours = AnyObject::from(create).to_value();
    let (theirs, _) = fixture("peertube/create-video.json");
    assert_eq!(keys(&ours), keys(&theirs));
    assert!(
        ours["object"].get("@context").is_none(),
        "the context is written once, on top"
    );
    assert_eq!(ours["@context"], context::video().0);
    assert_eq!(ours["to"], ours["object"]["to"]);
    assert_eq!(ours["cc"], ours["object"]["cc"]);
    let object = AnyObject::from_value(ours).unwrap();
    let s = VideoSummary::read(video_of(&object)).unwrap();
    assert_eq!(s.name, "A walk in the woods");
}

#[test]
fn written_cache_file_has_peertube_s_shape_and_reads_back() {
    let file = VideoFile::new(
        iri("https://mirror.example/static/redundancy/abc-1080.mp4"),
        "video/mp4",
        1080,
        31_191_786,
    )
    .with_fps(30);
    let new = NewCacheFile::new(
        iri(
            "https://mirror.example/redundancy/videos/d50af361-1805-4d67-92e7-20eec0c30009/1080-30",
        ),
        iri("https://video.blender.org/videos/watch/d50af361-1805-4d67-92e7-20eec0c30009"),
        CacheFileUrl::File(file.clone()),
        Some(ts("2026-09-19T12:32:16.031Z")),
        iris(&["https://video.blender.org/accounts/blender"]),
    );
    let create = wrap(
        ActivityType::Create,
        iri(
            "https://mirror.example/redundancy/videos/d50af361-1805-4d67-92e7-20eec0c30009/1080-30/activity",
        ),
        iri("https://mirror.example/accounts/peertube"),
        new.build().unwrap(),
    );
    let ours = AnyObject::from(create).to_value();
    let (theirs, _) = fixture("peertube/create-cachefile.json");
    let mut expected_top = keys(&theirs);
    expected_top.remove("signature");
    assert_eq!(keys(&ours), expected_top);
    assert_eq!(shape(&ours["object"]), shape(&theirs["object"]));
    assert_eq!(
        shape(&ours["object"]["url"]),
        shape(&theirs["object"]["url"])
    );
    // PeerTube's terms of the fixture are all in ours (which adds `size` and `fps`, as PeerTube
    // writes now).
    let theirs_terms = theirs["@context"][3].as_object().unwrap();
    let ours_terms = ours["@context"][3].as_object().unwrap();
    assert!(
        theirs_terms
            .iter()
            .all(|(k, v)| ours_terms.get(k) == Some(v))
    );

    let object = AnyObject::from_value(ours).unwrap();
    let Some(AnyObject::CacheFile(cache)) = object.as_activity().unwrap().embedded_object() else {
        panic!("a CacheFile")
    };
    let s = CacheFileSummary::read(cache).unwrap();
    assert_eq!(s.url, CacheFileUrl::File(file));
    assert_eq!(s.video, new.video);
    assert_eq!(s.expires, new.expires);
    assert_eq!(s.to, new.to);

    // A copy of the HLS playlist, kept until removed (`expires: null`).
    let hls = NewCacheFile::new(
        iri("https://mirror.example/redundancy/streaming-playlists/hls/x"),
        iri("https://video.blender.org/videos/watch/d50af361-1805-4d67-92e7-20eec0c30009"),
        CacheFileUrl::Playlist(iri("https://mirror.example/static/hls/x/master.m3u8")),
        None,
        Vec::new(),
    )
    .build()
    .unwrap();
    let value = AnyObject::from(hls).to_value();
    assert_eq!(value["expires"], Value::Null);
    let AnyObject::CacheFile(cache) = AnyObject::from_value(value).unwrap() else {
        panic!()
    };
    let s = CacheFileSummary::read(&cache).unwrap();
    assert_eq!(
        s.url,
        CacheFileUrl::Playlist(iri("https://mirror.example/static/hls/x/master.m3u8"))
    );
    assert_eq!(s.expires, None);
    assert_eq!(s.dropped, []);
}

#[test]
fn written_view_has_peertube_s_shape_and_reads_back() {
    let (theirs, _) = fixture("peertube/view-video.json");
    let to = iris(&[
        activitypub_core::PUBLIC,
        "https://video.example/video-channels/alice_channel/followers",
    ]);
    let plain = NewView::new(
        iri("https://viewer.example/accounts/peertube/views/videos/1/abc"),
        iri("https://viewer.example/accounts/peertube"),
        iri("https://video.example/videos/watch/x"),
    )
    .with_audience(to.clone(), Vec::new())
    .build()
    .unwrap();
    let ours = AnyObject::from(plain).to_value();
    let mut expected = keys(&theirs);
    expected.remove("signature");
    expected.remove("expires");
    assert_eq!(keys(&ours), expected);
    assert_eq!(ours["@context"], theirs["@context"]);
    let s = ViewSummary::read(AnyObject::from_value(ours).unwrap().as_activity().unwrap()).unwrap();
    assert_eq!((s.expires, s.viewers, s.to), (None, None, to.clone()));

    // A live's viewer count: `expires` and `result`, as PeerTube's `buildViewActivity` writes.
    let live = NewView::new(
        iri("https://viewer.example/accounts/peertube/views/videos/1/def"),
        iri("https://viewer.example/accounts/peertube"),
        iri("https://video.example/videos/watch/x"),
    )
    .with_viewers(42, ts("2024-05-15T11:17:56.017Z"))
    .build()
    .unwrap();
    let ours = AnyObject::from(live).to_value();
    let mut expected = keys(&theirs);
    expected.remove("signature");
    expected.insert("result".to_owned());
    assert_eq!(keys(&ours), expected);
    assert_eq!(
        ours["result"],
        json!({"type": "InteractionCounter", "interactionType": "WatchAction", "userInteractionCount": 42})
    );
    let s = ViewSummary::read(AnyObject::from_value(ours).unwrap().as_activity().unwrap()).unwrap();
    assert_eq!(s.viewers, Some(42));
    assert_eq!(s.expires.unwrap().as_str(), "2024-05-15T11:17:56.017Z");
}

#[test]
fn written_playlist_and_elements_read_back() {
    let playlist_uuid = "9b3f7a2c-1d4e-4f6a-8b9c-0d1e2f3a4b5c";
    let id = iri(&format!(
        "https://video.example/video-playlists/{playlist_uuid}"
    ));
    let new = NewPlaylist::new(
        id.clone(),
        playlist_uuid,
        "Walks",
        ts("2025-01-01T00:00:00.000Z"),
    )
    .with_updated(ts("2025-01-02T00:00:00.000Z"))
    .with_content("Every walk")
    .with_thumbnail(Thumbnail::new(
        iri("https://video.example/thumbnails/playlist-a.jpg"),
        "image/jpeg",
        280,
        157,
    ))
    .with_channel(iri("https://video.example/video-channels/alice_channel"), 1);

    let collection = AnyObject::from(
        new.collection(2, Some(iri(&format!("{id}?page=1"))))
            .unwrap(),
    )
    .to_value();
    // The members `VideoPlaylistModel.toActivityPubObject` writes on the collection.
    let expected: BTreeSet<String> = [
        "@context",
        "id",
        "type",
        "totalItems",
        "first",
        "name",
        "content",
        "mediaType",
        "uuid",
        "videoChannelPosition",
        "published",
        "updated",
        "attributedTo",
        "icon",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(keys(&collection), expected);
    assert_eq!(collection["type"], "Playlist");
    assert_eq!(collection["icon"]["type"], "Image");
    let AnyObject::Playlist(read) = AnyObject::from_value(collection).unwrap() else {
        panic!("a Playlist")
    };
    let s = PlaylistSummary::read(&read).unwrap();
    assert_eq!(s.dropped, []);
    assert_eq!(
        (s.id.clone(), s.uuid.as_str(), s.name.as_str()),
        (id.clone(), playlist_uuid, "Walks")
    );
    assert_eq!(s.content.as_deref(), Some("Every walk"));
    assert_eq!(s.thumbnail, new.thumbnail);
    assert_eq!(s.total_items, Some(2));
    assert_eq!(s.channel_position, Some(1));
    assert_eq!(
        s.attributed_to,
        iris(&["https://video.example/video-channels/alice_channel"])
    );
    assert_eq!(s.first.unwrap(), format!("{id}?page=1").as_str());

    let elements = [
        iri(&format!("{id}/videos/1")),
        iri(&format!("{id}/videos/2")),
    ];
    let page = AnyObject::from(
        new.page(iri(&format!("{id}?page=1")), 2, &elements, None, None)
            .unwrap(),
    )
    .to_value();
    assert_eq!(page["partOf"], id.as_str());
    assert_eq!(page["type"], "Playlist");
    let AnyObject::Playlist(read) = AnyObject::from_value(page).unwrap() else {
        panic!()
    };
    let s = PlaylistSummary::read(&read).unwrap();
    assert_eq!(s.items, elements);
    assert_eq!(s.part_of.as_ref(), Some(&id));
    assert_eq!((s.next, s.prev), (None, None));

    let element = NewPlaylistElement::new(
        elements[0].clone(),
        iri(&format!("https://video.example/videos/watch/{UUID}")),
        1,
    )
    .with_start(10)
    .with_stop(95)
    .build()
    .unwrap();
    let value = element.to_value();
    assert_eq!(
        shape(&value).into_keys().collect::<Vec<_>>(),
        [
            "@context",
            "id",
            "position",
            "startTimestamp",
            "stopTimestamp",
            "type",
            "url"
        ]
    );
    assert_eq!(
        value["url"],
        format!("https://video.example/videos/watch/{UUID}")
    );
    let s = PlaylistElementSummary::read(&AnyObject::from_value(value).unwrap()).unwrap();
    assert_eq!(
        (s.position, s.start_secs, s.stop_secs),
        (1, Some(10), Some(95))
    );
    assert_eq!(
        s.video,
        format!("https://video.example/videos/watch/{UUID}").as_str()
    );
}

/// PeerTube's `sanitizeAndCheckVideoTorrentObject` (`custom-validators/activitypub/videos.ts`),
/// transcribed for the members it checks: `Err` names the check a video fails.
fn peertube_accepts(video: &Value) -> Result<(), &'static str> {
    fn url_ok(v: &Value) -> bool {
        v.as_str().is_some_and(|s| {
            s.len() <= 2000
                && Iri::parse(s)
                    .ok()
                    .and_then(|i| i.origin())
                    .is_some_and(|o| {
                        matches!(o.scheme(), "http" | "https") && o.host().contains('.')
                    })
        })
    }
    fn int_ok(v: &Value) -> bool {
        v.as_u64().is_some()
    }
    fn date_ok(v: &Value) -> bool {
        v.as_str().is_some_and(|s| Timestamp::parse(s).is_ok())
    }
    let exists = |key: &str| video.get(key).is_some_and(|v| !v.is_null());
    let list = |key: &str| {
        video
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if video["type"] != "Video" {
        return Err("type");
    }
    if !video["url"].is_array() {
        return Err("urls");
    }
    let attributed = list("attributedTo")
        .iter()
        .filter(|a| {
            url_ok(a)
                || (matches!(a["type"].as_str(), Some("Person" | "Group")) && url_ok(&a["id"]))
        })
        .count();
    if video
        .get("subtitleLanguage")
        .is_some_and(|v| !v.is_null() && !v.is_array())
    {
        return Err("captions");
    }
    let icons = list("icon")
        .iter()
        .filter(|i| {
            i["type"] == "Image"
                && url_ok(&i["url"])
                && limits::IMAGE_MEDIA_TYPES.contains(&i["mediaType"].as_str().unwrap_or_default())
                && int_ok(&i["width"])
                && int_ok(&i["height"])
        })
        .count();
    if icons == 0 {
        return Err("icons");
    }
    if video.get("preview").is_some_and(|p| !p.is_array()) {
        return Err("preview (storyboard)");
    }
    if exists("licence") && video["licence"]["identifier"].as_str().is_none() {
        return Err("licence");
    }
    if !url_ok(&video["id"]) {
        return Err("id");
    }
    let name = video["name"].as_str().map_or(0, |n| n.chars().count());
    if !(3..=120).contains(&name) {
        return Err("name");
    }
    let duration = video["duration"].as_str().unwrap_or_default();
    let digits: String = duration.chars().filter(char::is_ascii_digit).collect();
    if !(duration.starts_with("PT") && duration.ends_with('S') && digits.parse::<u64>().is_ok()) {
        return Err("duration");
    }
    let uuid = video["uuid"].as_str().unwrap_or_default();
    if uuid.len() != 36 || uuid.split('-').count() != 5 {
        return Err("uuid");
    }
    if exists("category")
        && video["category"]["identifier"]
            .as_str()
            .is_none_or(|c| c.parse::<u64>().is_err())
    {
        return Err("category");
    }
    if exists("language") && !video["language"]["identifier"].is_string() {
        return Err("language");
    }
    if !int_ok(&video["views"]) {
        return Err("views");
    }
    if !date_ok(&video["published"]) || !date_ok(&video["updated"]) {
        return Err("published/updated");
    }
    if exists("originallyPublishedAt") && !date_ok(&video["originallyPublishedAt"]) {
        return Err("originallyPublishedAt");
    }
    if exists("content") {
        let media_type_ok = matches!(
            video["mediaType"].as_str(),
            Some("text/markdown" | "text/html")
        );
        let length = video["content"].as_str().map(|c| c.chars().count());
        if !media_type_ok || length.is_none_or(|l| l < 3) {
            return Err("mediaType/content");
        }
    }
    if attributed == 0 {
        return Err("attributedTo");
    }
    Ok(())
}

#[test]
fn peertube_s_validator_accepts_what_we_write_and_what_peertube_writes() {
    for relative in [
        "peertube/video.json",
        "peertube/create-video.json",
        "peertube/update-video.json",
        "peertube/video-hls-captions-chapters.json",
        "peertube/video-webseed-torrent-framatube.json",
    ] {
        let (value, _) = fixture(relative);
        let video = if value["type"] == "Video" {
            &value
        } else {
            &value["object"]
        };
        assert_eq!(peertube_accepts(video), Ok(()), "{relative}");
    }
    assert_eq!(peertube_accepts(&written(&full_video())), Ok(()));
    let sensitive = full_video()
        .sensitive(Some("Spiders".into()))
        .with_comments_policy(CommentsPolicy::Disabled)
        .with_live(LiveSettings::new());
    assert_eq!(peertube_accepts(&written(&sensitive)), Ok(()));
    // The transcription refuses what PeerTube refuses.
    let mut no_icon = written(&full_video());
    no_icon["icon"] = json!([]);
    assert_eq!(peertube_accepts(&no_icon), Err("icons"));
}

// --- Absurd values ----------------------------------------------------------------------------

/// The tilvids.com video with `edit` applied to its JSON.
fn edited(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<VideoSummary, FieldError> {
    let (mut value, _) = fixture("peertube/video.json");
    edit(value.as_object_mut().unwrap());
    let object = AnyObject::from_value(value).unwrap();
    VideoSummary::read(as_video(&object).unwrap())
}

/// The HLS 1080p file link of the tilvids.com video.
fn hls_file(map: &mut Map<String, Value>) -> &mut Map<String, Value> {
    map.get_mut("url").unwrap()[1]["tag"][4]
        .as_object_mut()
        .unwrap()
}

fn dropped_problem(s: &VideoSummary, field: &str) -> Problem {
    s.dropped
        .iter()
        .find(|d| d.field == field)
        .unwrap_or_else(|| panic!("{field} not dropped: {:?}", s.dropped))
        .problem
        .clone()
}

#[test]
fn absurd_file_values_drop_the_file() {
    let cases: [(&str, Value, &str, Problem); 6] = [
        (
            "size",
            json!(1_000_000_000_000_000_000u64),
            "url[1].tag[4].size",
            Problem::TooLarge {
                value: 1_000_000_000_000_000_000,
                max: limits::MAX_FILE_SIZE,
            },
        ),
        (
            "size",
            json!(1e18),
            "url[1].tag[4].size",
            Problem::WrongType {
                expected: "a non-negative integer",
            },
        ),
        ("size", json!(-5), "url[1].tag[4].size", Problem::Negative),
        (
            "height",
            json!(100_000),
            "url[1].tag[4].height",
            Problem::TooLarge {
                value: 100_000,
                max: limits::MAX_DIMENSION,
            },
        ),
        (
            "href",
            json!("ftp://tilvids.com/a.mp4"),
            "url[1].tag[4].href",
            Problem::NotHttpUrl {
                value: "ftp://tilvids.com/a.mp4".into(),
            },
        ),
        (
            "href",
            json!("javascript:alert(1)"),
            "url[1].tag[4].href",
            Problem::NotHttpUrl {
                value: "javascript:alert(1)".into(),
            },
        ),
    ];
    for (key, value, field, problem) in cases {
        let s = edited(|m| {
            hls_file(m).insert(key.to_owned(), value.clone());
        })
        .unwrap();
        assert_eq!(dropped_problem(&s, field), problem, "{key} = {value}");
        let heights: Vec<_> = s.hls[0].files.iter().map(|f| f.height).collect();
        assert_eq!(
            heights,
            [360, 144],
            "{key} = {value}: the 1080p file is dropped"
        );
    }
    // A list of thousands of files is read up to the bound (each file is matched against every
    // sibling link: the work stays bounded).
    let s = edited(|m| {
        let file = hls_file(m).clone();
        let links = m.get_mut("url").unwrap().as_array_mut().unwrap();
        links.extend(std::iter::repeat_n(Value::Object(file), 3000));
    })
    .unwrap();
    assert_eq!(s.files.len() as u64, limits::MAX_FILES);
    assert_eq!(
        s.dropped,
        [FieldError::new(
            "url",
            Problem::TooLarge {
                value: 3000,
                max: limits::MAX_FILES
            }
        )]
    );
    let many = (0..=limits::MAX_FILES).fold(full_video(), |v, i| {
        v.with_file(VideoFile::new(
            iri(&format!("https://video.example/{i}.mp4")),
            "video/mp4",
            720,
            10,
        ))
    });
    assert_eq!(many.build().unwrap_err().field, "files");
    // An absurd frame rate is no frame rate; the file stays.
    let s = edited(|m| {
        hls_file(m).insert("fps".to_owned(), json!(-1));
    })
    .unwrap();
    assert_eq!(s.hls[0].files[0].fps, None);
    assert_eq!(s.hls[0].files[0].height, 1080);
}

#[test]
fn absurd_identity_values_refuse_the_video() {
    let cases: [(&str, Value, Problem); 8] = [
        (
            "duration",
            json!("-PT5S"),
            Problem::BadDuration {
                value: "-PT5S".into(),
            },
        ),
        (
            "duration",
            json!("PT999999999H"),
            Problem::TooLarge {
                value: 999_999_999 * 3600,
                max: limits::MAX_DURATION_SECS,
            },
        ),
        (
            "duration",
            json!("P1Y"),
            Problem::BadDuration {
                value: "P1Y".into(),
            },
        ),
        (
            "duration",
            json!(1145),
            Problem::WrongType {
                expected: "an ISO 8601 duration",
            },
        ),
        (
            "id",
            json!("ftp://tilvids.com/videos/1"),
            Problem::NotHttpUrl {
                value: "ftp://tilvids.com/videos/1".into(),
            },
        ),
        (
            "uuid",
            json!("not-a-uuid"),
            Problem::NotUuid {
                value: "not-a-uuid".into(),
            },
        ),
        ("name", json!("ab"), Problem::TooShort { chars: 2, min: 3 }),
        (
            "name",
            json!("x".repeat(121)),
            Problem::TooLong {
                chars: 121,
                max: 120,
            },
        ),
    ];
    for (key, value, problem) in cases {
        let error = edited(|m| {
            m.insert(key.to_owned(), value.clone());
        })
        .unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.problem),
            (key, problem),
            "{key} = {value}"
        );
    }
    let error = edited(|m| {
        m.insert("attributedTo".to_owned(), json!(["mailto:a@b.example"]));
    })
    .unwrap_err();
    assert_eq!(error.field, "attributedTo");
    let error = edited(|m| {
        m.remove("published");
    })
    .unwrap_err();
    assert_eq!(
        (error.field.as_str(), error.problem),
        ("published", Problem::Missing)
    );
    // A duration just under a year is fine; a fraction of a second is dropped.
    let s = edited(|m| {
        m.insert("duration".to_owned(), json!("PT1H2M3.9S"));
    })
    .unwrap();
    assert_eq!(s.duration_secs, 3723);
}

#[test]
fn absurd_optional_values_are_dropped() {
    let s = edited(|m| {
        m.insert("views".to_owned(), json!(-3));
        m.insert("aspectRatio".to_owned(), json!(-1.5));
        m.insert("content".to_owned(), json!("é".repeat(10_050)));
        m.insert("support".to_owned(), json!("s".repeat(1_001)));
        m.insert("likes".to_owned(), json!("javascript:alert(1)"));
        m.insert("commentsPolicy".to_owned(), json!("open"));
        m.insert("state".to_owned(), json!(-1));
        m.insert("category".to_owned(), json!({"identifier": 15}));
        let icon = &mut m.get_mut("icon").unwrap()[0];
        icon["width"] = json!(1_000_000);
        m.get_mut("tag").unwrap().as_array_mut().unwrap().extend([
            json!({"type": "Hashtag", "name": "x"}),
            json!({"type": "Hashtag", "name": "ok"}),
        ]);
    })
    .unwrap();
    assert_eq!(s.views, None);
    assert_eq!(dropped_problem(&s, "views"), Problem::Negative);
    assert_eq!(s.aspect_ratio, None);
    assert_eq!(dropped_problem(&s, "aspectRatio"), Problem::Negative);
    assert_eq!(
        s.content.as_deref().map(|c| c.chars().count()),
        Some(10_000)
    );
    assert_eq!(
        dropped_problem(&s, "content"),
        Problem::TooLong {
            chars: 10_050,
            max: 10_000
        }
    );
    assert_eq!(s.support, None);
    assert_eq!(s.likes, None);
    assert!(matches!(
        dropped_problem(&s, "likes"),
        Problem::NotHttpUrl { .. }
    ));
    // Older servers: no usable `commentsPolicy`, `commentsEnabled: true`.
    assert_eq!(s.comments_policy, CommentsPolicy::Enabled);
    assert_eq!(s.state, VideoState::Published);
    assert_eq!(dropped_problem(&s, "state"), Problem::Negative);
    assert_eq!(s.category, None);
    assert_eq!(s.thumbnails.len(), 1);
    assert_eq!(
        dropped_problem(&s, "icon[0].width"),
        Problem::TooLarge {
            value: 1_000_000,
            max: limits::MAX_DIMENSION
        }
    );
    assert_eq!(s.tags, ["ok"]);
    assert_eq!(
        dropped_problem(&s, "tag[0].name"),
        Problem::TooShort { chars: 1, min: 2 }
    );
}

#[test]
fn builders_refuse_what_readers_would_refuse() {
    let err = |video: NewVideo| video.build().unwrap_err();
    let file = |height, size| {
        VideoFile::new(
            iri("https://video.example/a.mp4"),
            "video/mp4",
            height,
            size,
        )
    };
    let e = err(full_video().with_file(file(720, 1_000_000_000_000_000_000)));
    assert_eq!(e.field, "files[1].size");
    assert!(matches!(e.problem, Problem::TooLarge { .. }));
    let e = err(full_video().with_file(file(100_000, 10)));
    assert_eq!(e.field, "files[1].height");
    let mut long = full_video();
    long.duration_secs = limits::MAX_DURATION_SECS + 1;
    assert_eq!(err(long).field, "duration");
    let mut bad_page = full_video();
    bad_page.page_url = iri("ftp://video.example/w/1");
    assert_eq!(err(bad_page).field, "url[0]");
    let mut bad_uuid = full_video();
    bad_uuid.uuid = "1234".into();
    assert_eq!(err(bad_uuid).field, "uuid");
    assert_eq!(err(full_video().with_tag("x")).field, "tag[2].name");
    // What PeerTube would refuse or ignore.
    assert_eq!(err(full_video().with_content("ok")).field, "content");
    assert_eq!(
        err(full_video().with_category(Label::new("music", None))).field,
        "category.identifier"
    );
    let quicktime = VideoFile::new(
        iri("https://video.example/a.mov"),
        "video/quicktime",
        720,
        10,
    );
    assert_eq!(
        err(full_video().with_file(quicktime)).field,
        "files[1].mediaType"
    );
    let svg = Thumbnail::new(iri("https://video.example/a.svg"), "image/svg+xml", 10, 10);
    assert_eq!(
        err(full_video().with_thumbnail(svg)).field,
        "icon[2].mediaType"
    );
    assert!(
        NewView::new(
            iri("https://a.example/v"),
            iri("https://a.example/a"),
            iri("https://b.example/v")
        )
        .with_viewers(limits::MAX_COUNT + 1, ts("2024-05-15T11:17:56.017Z"))
        .build()
        .is_err()
    );
    assert!(
        NewPlaylistElement::new(iri("https://a.example/e"), iri("https://a.example/v"), 0)
            .build()
            .is_err()
    );
}

// --- No input panics the readers ----------------------------------------------------------------

/// Arbitrary JSON values, a few levels deep, leaning on the shapes PeerTube uses.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "(https?|ftp|magnet):(//)?[a-z]{1,8}\\.example/[a-z0-9/.]{0,12}".prop_map(Value::String),
        "-?P(T[0-9]{1,12}[HMS]){1,3}".prop_map(Value::String),
        Just(json!("as:Public")),
        Just(json!("2024-01-02T03:04:05Z")),
        Just(json!("3f0c1a9e-5b7d-4c2e-9a61-0b8d2e4f6a7c")),
        prop::sample::select(vec![
            "Link",
            "Hashtag",
            "Image",
            "Infohash",
            "PropertyValue",
            "Person",
            "Group",
            "video/mp4",
            "application/x-mpegURL",
            "application/json",
            "text/html",
            "application/x-bittorrent",
            "image/jpeg",
            "metadata",
            "sha256",
            "text/vtt",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "id", "type", "name", "duration", "uuid", "url", "href", "mediaType", "mimeType",
            "height", "width", "size", "fps", "tag", "rel", "attachment", "value", "icon",
            "attributedTo", "views", "state", "commentsPolicy", "commentsEnabled", "category",
            "licence", "language", "identifier", "subtitleLanguage", "content", "support",
            "published", "updated", "originallyPublishedAt", "likes", "dislikes", "shares",
            "comments", "hasParts", "aspectRatio", "to", "cc", "sensitive", "summary",
            "isLiveBroadcast", "latencyMode", "object", "expires", "actor", "result",
            "userInteractionCount", "position", "startTimestamp", "orderedItems", "totalItems",
            "partOf", "first", "videoChannelPosition",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z_:@]{1,10}",
    ]
}

/// Runs every reader of the module on `value` read as `kind`.
fn read_everything(kind: &str, mut value: Value) {
    if let Some(map) = value.as_object_mut() {
        map.insert("type".to_owned(), Value::from(kind));
    }
    let Ok(object) = AnyObject::from_value(value) else {
        return;
    };
    match &object {
        AnyObject::Video(v) => {
            if let Ok(s) = VideoSummary::read(v) {
                // What a summary promises: the bounds hold.
                assert!(s.duration_secs <= limits::MAX_DURATION_SECS);
                assert!(
                    s.all_files()
                        .all(|f| f.size <= limits::MAX_FILE_SIZE
                            && f.height <= limits::MAX_DIMENSION)
                );
                assert!(s.views.is_none_or(|v| v <= limits::MAX_COUNT));
                let _ = (s.account(), s.channel(), s.is_public());
            }
        }
        AnyObject::CacheFile(c) => {
            let _ = CacheFileSummary::read(c);
        }
        AnyObject::Playlist(p) => {
            let _ = PlaylistSummary::read(p);
        }
        AnyObject::Activity(a) => {
            let _ = ViewSummary::read(a);
        }
        other => {
            let _ = PlaylistElementSummary::read(other);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn readers_never_panic_on_arbitrary_documents(
        kind in prop::sample::select(vec!["Video", "CacheFile", "Playlist", "View", "PlaylistElement"]),
        value in any_json(),
    ) {
        read_everything(kind, value);
    }

    /// The real video with one member replaced by anything, or one nested value replaced.
    #[test]
    fn video_reader_never_panics_on_a_mutated_real_video(
        key in member_name(),
        replacement in any_json(),
        nested in any::<bool>(),
    ) {
        let (mut value, _) = fixture("peertube/video.json");
        let map = value.as_object_mut().unwrap();
        if nested {
            let file = hls_file(map);
            file.insert(key, replacement);
        } else {
            map.insert(key, replacement);
        }
        read_everything("Video", value);
    }
}

#[test]
fn hls_mirrors_are_written_in_the_playlist_tag_and_read_back_apart_from_files() {
    let mirror = iri(&format!(
        "https://mirror.example/static/redundancy/hls/{UUID}/master.m3u8"
    ));
    let mut video = full_video();
    let hls = video.hls.take().unwrap().with_mirror(mirror.clone());
    video = video.with_hls(hls);
    let value = written(&video);
    let playlist = value["url"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["mediaType"] == "application/x-mpegURL")
        .unwrap();
    let tag = playlist["tag"].as_array().unwrap();
    let copy = tag.iter().find(|t| t["href"] == mirror.as_str()).unwrap();
    assert_eq!(copy["rel"], serde_json::json!(["redundancy"]));
    assert_eq!(copy["mediaType"], "application/x-mpegURL");
    let back = read_back(&value);
    assert_eq!(back.hls[0].mirrors, vec![mirror]);
    assert_eq!(
        back.hls[0].files.len(),
        2,
        "a mirror is no file of the playlist"
    );
    assert!(back.dropped.is_empty(), "{:?}", back.dropped);
}

#[test]
fn a_cachefile_is_believed_only_from_the_server_of_its_copy() {
    let (_, object) = fixture("peertube/create-cachefile.json");
    let create = object.as_activity().unwrap();
    let Some(AnyObject::CacheFile(cache)) = create.embedded_object() else {
        panic!("a CacheFile")
    };
    let s = CacheFileSummary::read(cache).unwrap();
    let sender = iri("https://peertube.behostings.net/accounts/peertube");
    s.check_announcer(&sender).unwrap();
    let other = iri("https://elsewhere.example/accounts/peertube");
    let refused = s.check_announcer(&other).unwrap_err();
    assert!(
        refused.to_string().contains("is not on the server of"),
        "{refused}"
    );
    // A copy said to be on another server than the CacheFile's.
    let mut moved = s.clone();
    moved.url = CacheFileUrl::Playlist(iri("https://elsewhere.example/static/redundancy/hls/x"));
    assert!(matches!(
        moved.check_announcer(&sender),
        Err(activitypub_core::ext::peertube::CacheFileRefusal::CopyElsewhere { .. })
    ));
    // A copy of the sender's own video is no mirror.
    let mut own = s.clone();
    own.video = iri("https://peertube.behostings.net/videos/watch/x");
    assert!(matches!(
        own.check_announcer(&sender),
        Err(activitypub_core::ext::peertube::CacheFileRefusal::OwnVideo { .. })
    ));
}

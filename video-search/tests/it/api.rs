//! PeerTube's search API: the fixtures of real answers read and write back the same, our
//! answers for the same documents carry the same members, and queries read as PeerTube's
//! client and instances send them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::macros::datetime;
use video_search::api::{
    self, ApiContext, ApiError, BooleanBoth, JsDate, Redundancy, ResultList, SHORT_UUID_LEN,
    STREAMING_PLAYLIST_HLS, Video, VideoChannel, VideoChannelsSearchQuery, VideoDetails, VideoFile,
    VideoPlaylist, VideoPlaylistsSearchQuery, VideoStreamingPlaylist, VideosSearchQuery,
    resolution_label, short_to_uuid, uuid_to_short,
};
use video_search::{Hit, Sensitive, Sort, SortKey, VideoQuery};

use crate::support::{index, video};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/peertube-rest");

fn fixture(name: &str) -> Value {
    let bytes = std::fs::read(format!("{DIR}/{name}")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Equality of JSON values with numbers compared as numbers (`1` and `1.0` are one).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Every member of `expected` is in `actual` with the same value, except the paths in `skip`
/// (`name` or `parent.name`).
fn covers(expected: &Value, actual: &Value, path: &str, skip: &[&str]) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let tail = here.rsplit('.').take(2).collect::<Vec<_>>();
                let short = tail.iter().rev().cloned().collect::<Vec<_>>().join(".");
                if skip.contains(&k.as_str()) || skip.contains(&short.as_str()) {
                    continue;
                }
                let w = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{here} missing in {actual}"));
                covers(v, w, &here, skip);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{path}: lengths");
            for (v, w) in e.iter().zip(a) {
                covers(v, w, path, skip);
            }
        }
        _ => assert!(same(expected, actual), "{path}: {expected} != {actual}"),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> ResultList<T> {
    let original = fixture(name);
    let typed: ResultList<T> =
        serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert!(
        same(&original, &back),
        "{name} does not write back the same:\n{back}"
    );
    typed
}

#[test]
fn every_fixture_reads_and_writes_back_the_same() {
    let mut seen = 0;
    for entry in std::fs::read_dir(DIR).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.contains("search-videos") {
            round_trip::<Video>(&name);
        } else if name.contains("video-channels") {
            round_trip::<VideoChannel>(&name);
        } else if name.contains("video-playlists") {
            round_trip::<VideoPlaylist>(&name);
        } else {
            panic!("a fixture no test reads: {name}");
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
}

/// Indexes the fixture's videos, asks for each by its URL through the API, and checks that
/// our answer carries every member the original did, with the same value.
fn answer_like_the_fixture(name: &str, base: &str, ctx: &ApiContext, skip: &[&str]) {
    let original = fixture(name);
    let list: ResultList<Video> = serde_json::from_value(original.clone()).unwrap();
    let index = index();
    for v in &list.data {
        index.upsert_video(&v.to_document(base).unwrap()).unwrap();
    }
    index.commit().unwrap();
    for (v, expected) in list.data.iter().zip(original["data"].as_array().unwrap()) {
        let mut q = VideosSearchQuery::default();
        q.search = Some(v.url.clone());
        q.nsfw = Some(BooleanBoth::Both);
        let results = index
            .search_videos(&q.to_index_query(ctx).unwrap())
            .unwrap();
        let answer = serde_json::to_value(api::videos_response(&results, ctx)).unwrap();
        assert_eq!(answer["total"], 1, "{}", v.url);
        covers(expected, &answer["data"][0], "", skip);
    }
}

#[test]
fn our_answers_carry_what_sepiasearch_answers() {
    for name in [
        "sepiasearch-search-videos-kde-start0.json",
        "sepiasearch-search-videos-kde-start12.json",
    ] {
        // `score` is the engine's own; `avatar` is the pre-4.0 single avatar, always null.
        answer_like_the_fixture(
            name,
            "https://sepiasearch.org",
            &ApiContext::index(),
            &["score", "avatar"],
        );
    }
}

#[test]
fn our_answers_carry_what_a_peertube_instance_answers() {
    answer_like_the_fixture(
        "framatube-search-videos-fsf-start0.json",
        "https://framatube.org",
        &ApiContext::instance("framatube.org"),
        &[],
    );
}

#[test]
fn channel_and_playlist_answers_carry_the_same_members() {
    let ctx = ApiContext::instance("framatube.org");
    let base = "https://framatube.org";
    let index = index();

    let original = fixture("framatube-account-video-channels-start0.json");
    let channels: ResultList<VideoChannel> = serde_json::from_value(original.clone()).unwrap();
    for c in &channels.data {
        index.upsert_channel(&c.to_document(base).unwrap()).unwrap();
    }
    let original_pl = fixture("framatube-channel-video-playlists.json");
    let playlists: ResultList<VideoPlaylist> = serde_json::from_value(original_pl.clone()).unwrap();
    for p in &playlists.data {
        index
            .upsert_playlist(&p.to_document(base).unwrap())
            .unwrap();
    }
    index.commit().unwrap();

    for (c, expected) in channels
        .data
        .iter()
        .zip(original["data"].as_array().unwrap())
    {
        let q =
            VideoChannelsSearchQuery::from_query_string(&format!("handles={}@{}", c.name, c.host))
                .unwrap();
        let results = index
            .search_channels(&q.to_index_query(&ctx).unwrap())
            .unwrap();
        let answer = serde_json::to_value(api::channels_response(&results, &ctx)).unwrap();
        assert_eq!(answer["total"], 1);
        // A search answer names the owner by an account summary; the counts and dates of a
        // full Account, and `hostRedundancyAllowed` (an admin setting), are not indexed.
        covers(
            expected,
            &answer["data"][0],
            "",
            &[
                "hostRedundancyAllowed",
                "ownerAccount.followingCount",
                "ownerAccount.followersCount",
                "ownerAccount.createdAt",
                "ownerAccount.updatedAt",
                "ownerAccount.description",
                "ownerAccount.userId",
            ],
        );
    }
    for (p, expected) in playlists
        .data
        .iter()
        .zip(original_pl["data"].as_array().unwrap())
    {
        let body = format!(r#"{{"uuids": ["{}"], "count": 5}}"#, p.short_uuid);
        let q = VideoPlaylistsSearchQuery::from_json(body.as_bytes()).unwrap();
        let results = index
            .search_playlists(&q.to_index_query(&ctx).unwrap())
            .unwrap();
        let answer = serde_json::to_value(api::playlists_response(&results, &ctx)).unwrap();
        assert_eq!(answer["total"], 1);
        covers(expected, &answer["data"][0], "", &[]);
    }
}

#[test]
fn a_query_string_exactly_as_peertubes_client_sends_it() {
    // SearchService.searchVideos: start/count, search, then AdvancedSearch.toVideosAPIObject
    // through RestService.addObjectParams (arrays as repeated keys, Angular's encoding keeps
    // ':' and ','), then VideoService.buildNSFWParams.
    let qs = "start=0&count=10&search=kde%20gear&startDate=2021-01-01T00:00:00.000Z\
              &languageOneOf=en&languageOneOf=fr&categoryOneOf=15&durationMin=60\
              &durationMax=1200&sort=-publishedAt&searchTarget=local&isLive=false\
              &nsfw=false&nsfwFlagsExcluded=0&nsfwFlagsIncluded=0";
    let q = VideosSearchQuery::from_query_string(qs).unwrap();
    assert_eq!(q.search.as_deref(), Some("kde gear"));
    assert_eq!(q.language_one_of, ["en", "fr"]);
    assert_eq!(q.category_one_of, [15]);
    assert_eq!(q.nsfw, Some(BooleanBoth::False));
    assert_eq!(q.search_target.as_deref(), Some("local"));

    let index_query = q
        .to_index_query(&ApiContext::instance("tube.example"))
        .unwrap();
    let mut expected = VideoQuery::new("kde gear");
    expected.languages = vec!["en".into(), "fr".into()];
    expected.categories = vec![15];
    expected.duration_min = Some(60);
    expected.duration_max = Some(1200);
    expected.published_after = Some(datetime!(2021-01-01 00:00 UTC));
    expected.is_live = Some(false);
    expected.sensitive = Sensitive::Exclude;
    expected.sort = Sort::new(SortKey::PublishedAt, true);
    expected.page = video_search::Page::new(0, 10);
    assert_eq!(index_query, expected);
}

#[test]
fn bracketed_arrays_single_values_and_plus_signs() {
    let q = VideosSearchQuery::from_query_string(
        "?languageOneOf[]=de&tagsAllOf[]=a&tagsAllOf[]=b&tagsOneOf=x&search=a+b&host=Tube.example",
    )
    .unwrap();
    assert_eq!(q.language_one_of, ["de"]);
    assert_eq!(q.tags_all_of, ["a", "b"]);
    assert_eq!(q.tags_one_of, ["x"]);
    assert_eq!(q.search.as_deref(), Some("a b"));
    assert_eq!(q.host, ["Tube.example"]);
}

#[test]
fn a_json_body_as_a_peertube_instance_posts_it_to_its_index() {
    // searchVideosIndex: the sanitized query (numbers and booleans typed) plus the blocklists.
    let body = br#"{"start":0,"count":20,"sort":"-match","search":"linux","nsfw":"both",
        "isLive":false,"languageOneOf":["en"],"searchTarget":"search-index",
        "blockedHosts":["bad.example"],"blockedAccounts":["troll@worse.example"],
        "includeScheduledLive":true,"hasHLSFiles":true}"#;
    let q = VideosSearchQuery::from_json(body).unwrap();
    let iq = q.to_index_query(&ApiContext::index()).unwrap();
    assert_eq!(iq.text, "linux");
    assert_eq!(iq.page, video_search::Page::new(0, 20));
    assert_eq!(iq.sensitive, Sensitive::Include);
    assert_eq!(iq.exclude_hosts, ["bad.example"]);
    assert_eq!(iq.exclude_accounts, ["troll@worse.example"]);
    assert_eq!(iq.is_live, Some(false));
    // Strings where numbers are meant are read too, as PeerTube's validators do.
    let q =
        VideosSearchQuery::from_json(br#"{"start":"5","count":"7","durationMin":"3"}"#).unwrap();
    assert_eq!(
        (q.start, q.count, q.duration_min),
        (Some(5), Some(7), Some(3))
    );
}

#[test]
fn blocked_hosts_and_accounts_are_left_out_of_answers() {
    let index = index();
    index
        .upsert_video(&video("a", "good.example", "linux talk", None))
        .unwrap();
    index
        .upsert_video(&video("b", "bad.example", "linux talk", None))
        .unwrap();
    let mut c = video("c", "good.example", "linux talk", None);
    c.account = crate::support::actor("troll", "good.example", "accounts");
    index.upsert_video(&c).unwrap();
    index.commit().unwrap();
    let q = VideosSearchQuery::from_json(
        br#"{"search":"linux","blockedHosts":["bad.example"],"blockedAccounts":["troll@good.example"]}"#,
    )
    .unwrap();
    let r = index
        .search_videos(&q.to_index_query(&ApiContext::index()).unwrap())
        .unwrap();
    assert_eq!(r.total, 1);
    assert!(r.hits[0].document.id.ends_with("/a"));
}

#[test]
fn is_local_on_an_instance_and_on_an_index() {
    let index = index();
    index
        .upsert_video(&video("here", "tube.example", "talk", None))
        .unwrap();
    index
        .upsert_video(&video("there", "other.example", "talk", None))
        .unwrap();
    index.commit().unwrap();
    let run = |qs: &str, ctx: &ApiContext| {
        let q = VideosSearchQuery::from_query_string(qs).unwrap();
        index
            .search_videos(&q.to_index_query(ctx).unwrap())
            .unwrap()
            .total
    };
    let instance = ApiContext::instance("tube.example");
    assert_eq!(run("search=talk&isLocal=true", &instance), 1);
    assert_eq!(run("search=talk&isLocal=false", &instance), 1);
    assert_eq!(
        run("search=talk&isLocal=true&host=other.example", &instance),
        0
    );
    assert_eq!(run("search=talk", &instance), 2);
    assert_eq!(run("search=talk&isLocal=true", &ApiContext::index()), 0);
    assert_eq!(
        run(
            "search=talk&host=other.example&host=tube.example",
            &instance
        ),
        2
    );
}

#[test]
fn refusals() {
    let sort = VideosSearchQuery::from_query_string("sort=-hot").unwrap();
    assert!(matches!(
        sort.to_index_query(&ApiContext::index()),
        Err(ApiError::Sort { .. })
    ));
    let views = VideoChannelsSearchQuery::from_query_string("sort=-views").unwrap();
    assert!(
        views.to_index_query(&ApiContext::index()).is_err(),
        "channels have no views sort"
    );
    for bad in [
        "startDate=yesterday",
        "count=-1",
        "count=ten",
        "nsfw=maybe",
        "isLive=perhaps",
        "categoryOneOf=x",
        "search=a&search=b",
    ] {
        assert!(
            matches!(
                VideosSearchQuery::from_query_string(bad),
                Err(ApiError::Json(_))
            ),
            "{bad}"
        );
    }
    let huge = "languageOneOf=en&".repeat(1000);
    assert!(matches!(
        VideosSearchQuery::from_query_string(&huge),
        Err(ApiError::QueryTooLarge)
    ));
    assert!(VideosSearchQuery::from_json(b"{").is_err());
    // Empty values are absent values.
    let empty = VideosSearchQuery::from_query_string("search=&languageOneOf=&start=").unwrap();
    assert_eq!(empty, VideosSearchQuery::default());
}

#[test]
fn an_answer_has_absolute_urls_and_peertube_dates() {
    let mut v = video("z", "tube.example", "Title", Some("en"));
    v.thumbnail_url = Some("https://tube.example/lazy-static/thumbnails/z.jpg".into());
    v.preview_url = Some("https://tube.example/lazy-static/previews/z.jpg".into());
    v.embed_url = Some("https://tube.example/videos/embed/short-z".into());
    v.short_uuid = Some("short-z".into());
    v.description = Some("word ".repeat(100));
    v.channel.avatars = vec![
        video_search::Image::new("https://tube.example/lazy-static/avatars/c.png").with_width(48),
    ];
    v.published_at = datetime!(1970-01-01 00:00 UTC);
    let answer = api::video(&hit(v), &ApiContext::index());
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["thumbnailPath"], "/lazy-static/thumbnails/z.jpg");
    assert_eq!(
        json["thumbnailUrl"],
        "https://tube.example/lazy-static/thumbnails/z.jpg"
    );
    assert_eq!(
        json["previewUrl"],
        "https://tube.example/lazy-static/previews/z.jpg"
    );
    assert_eq!(json["embedPath"], "/videos/embed/short-z");
    assert_eq!(
        json["embedUrl"],
        "https://tube.example/videos/embed/short-z"
    );
    assert_eq!(json["publishedAt"], "1970-01-01T00:00:00.000Z");
    assert_eq!(json["url"], "https://tube.example/videos/watch/z");
    assert_eq!(
        json["channel"]["avatars"][0]["path"],
        "/lazy-static/avatars/c.png"
    );
    assert_eq!(
        json["channel"]["avatars"][0]["fileUrl"],
        "https://tube.example/lazy-static/avatars/c.png"
    );
    assert_eq!(
        json["language"],
        serde_json::json!({"id": "en", "label": "en"})
    );
    assert_eq!(
        json["category"],
        serde_json::json!({"id": null, "label": "Unknown"})
    );
    let truncated = json["truncatedDescription"].as_str().unwrap();
    assert!(
        truncated.chars().count() <= 250 && truncated.ends_with("word..."),
        "{truncated}"
    );
    assert!(json["id"].as_i64().unwrap() < (1 << 53));
    assert_eq!(
        JsDate::parse("2018-05-16T13:18:30.986Z")
            .unwrap()
            .to_string(),
        "2018-05-16T13:18:30.986Z"
    );
}

fn hit<D>(document: D) -> Hit<D> {
    Hit::new(None, document)
}

#[test]
fn a_query_written_as_json_reads_back_the_same() {
    // What an instance would POST to an external index.
    let q = VideosSearchQuery::from_query_string(
        "search=linux&start=15&count=15&sort=-views&nsfw=both&isLive=true&languageOneOf=en\
         &languageOneOf=_unknown&categoryOneOf=15&tagsOneOf=kde&host=a.example\
         &startDate=2021-01-01&durationMax=600&uuids=abc&blockedHosts=bad.example",
    )
    .unwrap();
    let json = serde_json::to_vec(&q).unwrap();
    assert_eq!(VideosSearchQuery::from_json(&json).unwrap(), q);
    let value: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        value["host"], "a.example",
        "one host is written as PeerTube's single value"
    );
    assert_eq!(value["startDate"], "2021-01-01T00:00:00.000Z");
}

#[test]
fn short_uuids_are_peertube_s_both_ways() {
    let mut seen = 0;
    for name in [
        "framatube-search-videos-fsf-start0.json",
        "sepiasearch-search-videos-kde-start0.json",
        "sepiasearch-search-videos-kde-start12.json",
    ] {
        for video in fixture(name)["data"].as_array().unwrap() {
            let (uuid, short) = (
                video["uuid"].as_str().unwrap(),
                video["shortUUID"].as_str().unwrap(),
            );
            assert_eq!(uuid_to_short(uuid).as_deref(), Some(short), "{uuid}");
            assert_eq!(short_to_uuid(short).as_deref(), Some(uuid), "{short}");
            seen += 1;
        }
    }
    assert!(seen > 20, "{seen}");
    // A short one is padded with the alphabet's first digit, as PeerTube pads it.
    let zero = "00000000-0000-4000-8000-000000000000";
    let short = uuid_to_short(zero).unwrap();
    assert_eq!(short.len(), SHORT_UUID_LEN);
    assert_eq!(short_to_uuid(&short).as_deref(), Some(zero));
    for bad in [
        "",
        "not-a-uuid",
        "kmtJJ4jnGmKD6v9JV99Wf0",
        "zzzzzzzzzzzzzzzzzzzzzz",
    ] {
        assert_eq!(short_to_uuid(bad), None, "{bad}");
        assert_eq!(uuid_to_short(bad), None, "{bad}");
    }
}

#[test]
fn video_details_carry_a_video_s_members_and_read_back_the_same() {
    let real = &fixture("framatube-search-videos-fsf-start0.json")["data"][0];
    let video: Video = serde_json::from_value(real.clone()).unwrap();
    let mut details = VideoDetails::new(video);
    let mut file = VideoFile::new(7, "https://tube.example/f-720.mp4", 720, 1234, 30);
    file.playlist_url = Some("https://tube.example/720.m3u8".into());
    let mut playlist = VideoStreamingPlaylist::hls(3, "https://tube.example/master.m3u8");
    playlist.files.push(file.clone());
    playlist.redundancies.push(Redundancy::new(
        "https://mirror.example/static/redundancy/hls/x",
    ));
    details.streaming_playlists.push(playlist);
    details.files.push(file);
    let written = serde_json::to_value(&details).unwrap();
    // Every member of the real Video is there, beside the details'.
    for key in real.as_object().unwrap().keys() {
        assert!(written.get(key).is_some(), "{key}");
    }
    assert_eq!(
        written["streamingPlaylists"][0]["type"],
        STREAMING_PLAYLIST_HLS
    );
    assert_eq!(
        written["streamingPlaylists"][0]["redundancies"][0]["baseUrl"],
        "https://mirror.example/static/redundancy/hls/x"
    );
    assert_eq!(written["files"][0]["resolution"]["label"], "720p");
    assert_eq!(
        written["files"][0]["fileDownloadUrl"],
        "https://tube.example/f-720.mp4"
    );
    assert!(written["files"][0]["torrentUrl"].is_null());
    assert_eq!(written["state"]["label"], "Published");
    let read: VideoDetails = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(read, details);
    assert_eq!(resolution_label(0), "Audio only");
}

//! The index: folding, stemming, ranking, filters, sorts, pagination, writes and bounds.

use std::time::{Duration, Instant};

use time::macros::datetime;
use video_search::{
    ChannelDocument, ChannelQuery, Constant, IndexConfig, Kind, Limits, Page, PlaylistDocument,
    PlaylistQuery, SearchIndex, Sensitive, Sort, SortKey, VideoDocument, VideoQuery,
};

use crate::support::{T0, actor, index, index_with, video};

/// The keys (last path segment of the id) of a video search's hits, in order.
fn keys(index: &SearchIndex, query: &VideoQuery) -> Vec<String> {
    index
        .search_videos(query)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.document.id.rsplit('/').next().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn text(t: &str) -> VideoQuery {
    VideoQuery::new(t)
}

#[test]
fn accents_and_case_fold_both_ways() {
    let index = index_with(&[
        video("fr1", "a.example", "L'Électricité expliquée", Some("fr")),
        video("de1", "a.example", "Straßenbahn in Zürich", Some("de")),
        video("x1", "a.example", "ÉCOLE Ñandú", None),
        video("other", "a.example", "Something else", Some("en")),
    ]);
    assert_eq!(keys(&index, &text("electricite")), ["fr1"]);
    assert_eq!(keys(&index, &text("ÉLECTRICITÉ")), ["fr1"]);
    assert_eq!(keys(&index, &text("zurich")), ["de1"]);
    assert_eq!(keys(&index, &text("strassenbahn")), ["de1"]);
    assert_eq!(keys(&index, &text("ecole nandu")), ["x1"]);
    assert_eq!(keys(&index, &text("École")), ["x1"]);
}

#[test]
fn stemming_follows_each_documents_language() {
    let index = index_with(&[
        video(
            "en",
            "a.example",
            "Running through the mountains",
            Some("en"),
        ),
        video("fr", "a.example", "Les chanteuses françaises", Some("fr")),
        video("de", "a.example", "Die schönsten Häuser", Some("de")),
        video("es", "a.example", "Canciones populares", Some("es")),
        video("it", "a.example", "Le montagne italiane", Some("it")),
        video("pt", "a.example", "As cidades brasileiras", Some("pt-BR")),
        video("none", "a.example", "runs without a language", None),
    ]);
    // The unlabelled video holds "runs" itself, so it comes first; the English one by its stem.
    assert_eq!(keys(&index, &text("runs")), ["none", "en"]);
    assert_eq!(keys(&index, &text("run")), ["en"]);
    assert_eq!(keys(&index, &text("mountain")), ["en"]);
    assert_eq!(keys(&index, &text("chanteuse française")), ["fr"]);
    assert_eq!(
        keys(&index, &text("haus")),
        ["de"],
        "folded, then stemmed: häuser → hauser → haus"
    );
    assert_eq!(keys(&index, &text("schönste")), ["de"]);
    assert_eq!(keys(&index, &text("canción")), ["es"]);
    assert_eq!(keys(&index, &text("montagna italiana")), ["it"]);
    assert_eq!(keys(&index, &text("cidade brasileira")), ["pt"]);
}

#[test]
fn a_default_language_stems_documents_without_one() {
    let mut config = IndexConfig::default();
    config.default_language = Some("en".into());
    let index = SearchIndex::in_memory(config).unwrap();
    index
        .upsert_video(&video("none", "a.example", "runs without a language", None))
        .unwrap();
    index.commit().unwrap();
    assert_eq!(keys(&index, &text("run")), ["none"]);
}

#[test]
fn name_outranks_tags_outrank_description() {
    let mut in_desc = video("desc", "a.example", "Weekly show", Some("en"));
    in_desc.description = Some("This week: the kernel, compiled.".into());
    let mut in_tags = video("tags", "a.example", "Weekly notes", Some("en"));
    in_tags.tags = vec!["kernel".into()];
    let in_name = video("name", "a.example", "The kernel explained", Some("en"));
    let index = index_with(&[in_desc, in_tags, in_name]);
    assert_eq!(keys(&index, &text("kernel")), ["name", "tags", "desc"]);
}

#[test]
fn exact_form_outranks_a_stemmed_one() {
    let index = index_with(&[
        video("stem", "a.example", "Runner stories", Some("en")),
        video("runs", "a.example", "Runs stories", Some("en")),
    ]);
    let hits = keys(&index, &text("runs"));
    assert_eq!(hits.first().map(String::as_str), Some("runs"));
}

#[test]
fn every_word_must_match_and_phrases_keep_order() {
    let index = index_with(&[
        video("a", "a.example", "free software foundation", Some("en")),
        video("b", "a.example", "software is free", Some("en")),
        video("c", "a.example", "free beer", Some("en")),
    ]);
    assert_eq!(sorted(keys(&index, &text("free software"))), ["a", "b"]);
    assert_eq!(keys(&index, &text("\"free software\"")), ["a"]);
    assert_eq!(
        keys(&index, &text("\"free software")),
        ["a"],
        "an open quote runs to the end"
    );
}

#[test]
fn channel_names_are_searchable() {
    let mut v = video("a", "a.example", "Episode 12", Some("en"));
    v.channel.display_name = "Blender Studio".into();
    let index = index_with(&[v, video("b", "a.example", "Episode 13", Some("en"))]);
    assert_eq!(keys(&index, &text("blender episode")), ["a"]);
}

fn catalogue() -> Vec<VideoDocument> {
    let mut out = Vec::new();
    for (i, (host, lang, nsfw, live, duration, views, likes, day)) in [
        ("a.example", Some("en"), false, false, 30, 10, 1, 1),
        ("a.example", Some("fr"), true, false, 600, 500, 50, 2),
        ("b.example", Some("en"), false, true, 0, 90, 9, 3),
        ("b.example", None, false, false, 3600, 5, 0, 4),
        ("c.example", Some("de"), true, false, 120, 1000, 2, 5),
    ]
    .into_iter()
    .enumerate()
    {
        let mut v = video(&format!("v{i}"), host, &format!("cooking show {i}"), lang);
        v.nsfw = nsfw;
        v.is_live = live;
        v.duration = duration;
        v.views = views;
        v.likes = likes;
        v.published_at = T0 + time::Duration::days(day);
        v.channel = actor(&format!("chan{}", i % 2), host, "video-channels");
        v.account = actor(&format!("acct{}", i % 2), host, "accounts");
        v.category = Some(Constant::new(10 + (i as u32 % 2), "cat"));
        v.licence = Some(Constant::new(1 + (i as u32 % 3), "lic"));
        v.tags = vec![format!("Tag{}", i % 2), "Cuisine".into()];
        if i == 2 {
            v.originally_published_at = Some(datetime!(2010-06-01 00:00 UTC));
        }
        out.push(v);
    }
    out
}

fn all(q: VideoQuery) -> VideoQuery {
    let mut q = q;
    q.sensitive = Sensitive::Include;
    q
}

#[test]
fn filters() {
    let index = index_with(&catalogue());
    let q = |f: &dyn Fn(&mut VideoQuery)| {
        let mut q = all(text("cooking"));
        f(&mut q);
        sorted(keys(&index, &q))
    };
    assert_eq!(q(&|_| {}), ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(q(&|q| q.languages = vec!["en".into()]), ["v0", "v2"]);
    assert_eq!(
        q(&|q| q.languages = vec!["fr".into(), "de".into()]),
        ["v1", "v4"]
    );
    assert_eq!(q(&|q| q.languages = vec!["_unknown".into()]), ["v3"]);
    assert_eq!(q(&|q| q.sensitive = Sensitive::Exclude), ["v0", "v2", "v3"]);
    assert_eq!(q(&|q| q.sensitive = Sensitive::Only), ["v1", "v4"]);
    assert_eq!(q(&|q| q.duration_min = Some(120)), ["v1", "v3", "v4"]);
    assert_eq!(q(&|q| q.duration_max = Some(120)), ["v0", "v2", "v4"]);
    assert_eq!(
        q(&|q| {
            q.duration_min = Some(100);
            q.duration_max = Some(1000);
        }),
        ["v1", "v4"]
    );
    assert_eq!(
        q(&|q| q.published_after = Some(T0 + time::Duration::days(4))),
        ["v3", "v4"]
    );
    assert_eq!(
        q(&|q| q.published_before = Some(T0 + time::Duration::days(2))),
        ["v0", "v1"]
    );
    assert_eq!(
        q(&|q| q.originally_published_before = Some(datetime!(2011-01-01 00:00 UTC))),
        ["v2"]
    );
    assert_eq!(q(&|q| q.hosts = vec!["B.example".into()]), ["v2", "v3"]);
    assert_eq!(
        q(&|q| q.hosts = vec!["a.example".into(), "c.example".into()]),
        ["v0", "v1", "v4"]
    );
    assert_eq!(
        q(&|q| q.exclude_hosts = vec!["a.example".into()]),
        ["v2", "v3", "v4"]
    );
    assert_eq!(q(&|q| q.channels = vec!["chan1@b.example".into()]), ["v3"]);
    assert_eq!(
        q(&|q| q.channels = vec!["https://a.example/video-channels/chan0".into()]),
        ["v0"]
    );
    assert_eq!(q(&|q| q.accounts = vec!["acct0@a.example".into()]), ["v0"]);
    assert_eq!(q(&|q| q.accounts = vec!["@acct0@A.Example".into()]), ["v0"]);
    assert_eq!(
        q(&|q| q.accounts = vec!["chan0@a.example".into()]),
        Vec::<String>::new(),
        "a channel is not an account"
    );
    assert_eq!(
        q(&|q| q.exclude_accounts = vec!["chan1@b.example".into()]).len(),
        5,
        "blocking an account name never hides a channel of that name"
    );
    assert_eq!(
        q(&|q| q.exclude_accounts = vec!["acct1@b.example".into()]),
        ["v0", "v1", "v2", "v4"]
    );
    assert_eq!(q(&|q| q.is_live = Some(true)), ["v2"]);
    assert_eq!(q(&|q| q.is_live = Some(false)), ["v0", "v1", "v3", "v4"]);
    assert_eq!(q(&|q| q.categories = vec![11]), ["v1", "v3"]);
    assert_eq!(q(&|q| q.licences = vec![1, 3]), ["v0", "v2", "v3"]);
    assert_eq!(q(&|q| q.tags_one_of = vec!["tag1".into()]), ["v1", "v3"]);
    assert_eq!(
        q(&|q| q.tags_all_of = vec!["tag0".into(), "cuisine".into()]),
        ["v0", "v2", "v4"]
    );
    assert_eq!(
        q(&|q| q.tags_all_of = vec!["tag0".into(), "tag1".into()]),
        Vec::<String>::new()
    );
    assert_eq!(q(&|q| q.uuids = vec!["uuid-v4".into()]), ["v4"]);
}

#[test]
fn sorts() {
    let index = index_with(&catalogue());
    let by = |sort: &str| {
        let mut q = all(text(""));
        q.sort = Sort::parse(sort).unwrap();
        keys(&index, &q)
    };
    assert_eq!(by("-publishedAt"), ["v4", "v3", "v2", "v1", "v0"]);
    assert_eq!(by("publishedAt"), ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(by("-views"), ["v4", "v1", "v2", "v0", "v3"]);
    assert_eq!(by("-likes"), ["v1", "v2", "v4", "v0", "v3"]);
    assert_eq!(by("-duration"), ["v3", "v1", "v4", "v0", "v2"]);
    assert_eq!(by("name"), ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(by("-name"), ["v4", "v3", "v2", "v1", "v0"]);
    assert_eq!(
        by("-match"),
        by("-publishedAt"),
        "without text, relevance is the newest"
    );
    assert_eq!(Sort::parse("-hotness"), None);
    assert_eq!(
        Sort::parse("-match"),
        Some(Sort::new(SortKey::Relevance, true))
    );
}

#[test]
fn pagination_and_count_cap() {
    let videos: Vec<_> = (0..30)
        .map(|i| {
            let mut v = video(&format!("p{i:02}"), "a.example", "page test", Some("en"));
            v.views = i;
            v
        })
        .collect();
    let mut limits = Limits::default();
    limits.max_count = 10;
    limits.max_window = 25;
    let mut config = IndexConfig::default();
    config.limits = limits;
    let index = SearchIndex::in_memory(config).unwrap();
    for v in &videos {
        index.upsert_video(v).unwrap();
    }
    index.commit().unwrap();
    let page = |start, count| {
        let mut q = text("page");
        q.sort = Sort::parse("-views").unwrap();
        q.page = Page::new(start, count);
        let r = index.search_videos(&q).unwrap();
        (
            r.total,
            r.hits
                .into_iter()
                .map(|h| h.document.views)
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(page(0, 3), (30, vec![29, 28, 27]));
    assert_eq!(page(3, 3), (30, vec![26, 25, 24]));
    assert_eq!(page(0, 1000).1.len(), 10, "count is capped");
    assert_eq!(
        page(20, 10),
        (30, vec![9, 8, 7, 6, 5]),
        "the window ends at 25"
    );
    assert_eq!(page(25, 10), (30, vec![]));
    assert_eq!(page(usize::MAX, 10), (30, vec![]));
    assert_eq!(page(0, 0), (30, vec![]));
}

#[test]
fn updates_and_deletes_are_visible_after_commit() {
    let index = index();
    let mut v = video("u", "a.example", "Original title", Some("en"));
    index.upsert_video(&v).unwrap();
    assert!(
        keys(&index, &text("original")).is_empty(),
        "not before the commit"
    );
    index.commit().unwrap();
    assert_eq!(keys(&index, &text("original")), ["u"]);

    v.name = "Renamed title".into();
    index.upsert_video(&v).unwrap();
    index.commit().unwrap();
    assert!(keys(&index, &text("original")).is_empty());
    assert_eq!(keys(&index, &text("renamed")), ["u"]);
    assert_eq!(index.count(Kind::Video).unwrap(), 1, "the upsert replaced");

    index.delete(&v.id).unwrap();
    assert_eq!(
        keys(&index, &text("renamed")),
        ["u"],
        "still there before the commit"
    );
    index.commit().unwrap();
    assert!(keys(&index, &text("renamed")).is_empty());
    assert_eq!(index.count(Kind::Video).unwrap(), 0);
}

#[test]
fn commit_due_commits_at_most_once_per_interval() {
    let mut config = IndexConfig::default();
    config.commit_interval = Duration::from_millis(500);
    let index = SearchIndex::in_memory(config).unwrap();
    let t = Instant::now();
    assert!(!index.commit_due(t).unwrap(), "nothing to commit");
    index
        .upsert_video(&video("a", "a.example", "first", None))
        .unwrap();
    assert!(index.has_pending_changes());
    assert!(
        index.commit_due(t).unwrap(),
        "the first change commits at once"
    );
    assert_eq!(keys(&index, &text("first")), ["a"]);
    index
        .upsert_video(&video("b", "a.example", "second", None))
        .unwrap();
    assert!(!index.commit_due(t + Duration::from_millis(100)).unwrap());
    assert!(keys(&index, &text("second")).is_empty());
    assert!(index.commit_due(t + Duration::from_millis(500)).unwrap());
    assert_eq!(keys(&index, &text("second")), ["b"]);
    assert!(!index.has_pending_changes());
}

#[test]
fn delete_host_removes_videos_channels_and_playlists_of_that_host() {
    let index = index();
    index
        .upsert_video(&video("a", "bad.example", "show", None))
        .unwrap();
    index
        .upsert_video(&video("b", "Good.example", "show", None))
        .unwrap();
    index
        .upsert_channel(&ChannelDocument::new(
            "https://bad.example/video-channels/c",
            "c",
            "show channel",
            "bad.example",
            T0,
            actor("o", "bad.example", "accounts"),
        ))
        .unwrap();
    index
        .upsert_playlist(&PlaylistDocument::new(
            "https://bad.example/video-playlists/p",
            "p-uuid",
            "show playlist",
            "bad.example",
            T0,
            actor("o", "bad.example", "accounts"),
        ))
        .unwrap();
    index.commit().unwrap();
    assert_eq!(index.count(Kind::Channel).unwrap(), 1);
    assert_eq!(index.count(Kind::Playlist).unwrap(), 1);
    index.delete_host("BAD.example").unwrap();
    index.commit().unwrap();
    assert_eq!(keys(&index, &text("show")), ["b"]);
    assert_eq!(index.count(Kind::Video).unwrap(), 1);
    assert_eq!(index.count(Kind::Channel).unwrap(), 0);
    assert_eq!(index.count(Kind::Playlist).unwrap(), 0);
}

#[test]
fn channels_and_playlists_are_searched_apart_from_videos() {
    let index = index();
    index
        .upsert_video(&video("v", "a.example", "Blender tips", None))
        .unwrap();
    let mut c = ChannelDocument::new(
        "https://a.example/video-channels/blender",
        "blender",
        "Blender Studio",
        "a.example",
        T0,
        actor("o", "a.example", "accounts"),
    );
    c.description = Some("Open movies".into());
    index.upsert_channel(&c).unwrap();
    let mut p = PlaylistDocument::new(
        "https://a.example/video-playlists/p",
        "p-uuid",
        "Blender tutorials",
        "a.example",
        T0,
        actor("o", "a.example", "accounts"),
    );
    p.short_uuid = Some("short".into());
    index.upsert_playlist(&p).unwrap();
    index.commit().unwrap();

    let channels = index
        .search_channels(&ChannelQuery::new("blender"))
        .unwrap();
    assert_eq!(channels.total, 1);
    assert_eq!(channels.hits[0].document, c);
    let mut by_handle = ChannelQuery::new("");
    by_handle.handles = vec!["blender@a.example".into()];
    assert_eq!(index.search_channels(&by_handle).unwrap().total, 1);
    let movies = index.search_channels(&ChannelQuery::new("MOVIES")).unwrap();
    assert_eq!(movies.total, 1, "description, folded");
    let stem = index.search_channels(&ChannelQuery::new("movie")).unwrap();
    assert_eq!(stem.total, 0, "no language, no default: unstemmed");

    let playlists = index
        .search_playlists(&PlaylistQuery::new("Tutorials"))
        .unwrap();
    assert_eq!(playlists.total, 1);
    assert_eq!(playlists.hits[0].document, p);
    let mut by_uuid = PlaylistQuery::new("");
    by_uuid.uuids = vec!["short".into()];
    assert_eq!(index.search_playlists(&by_uuid).unwrap().total, 1);
    assert_eq!(index.search_videos(&text("blender")).unwrap().total, 1);
}

#[test]
fn hostile_text_is_words_and_never_an_error() {
    let index = index_with(&[video(
        "a",
        "a.example",
        "rust: the book (2nd ed.)",
        Some("en"),
    )]);
    for q in [
        "rust:",
        "title:rust",
        "rust AND",
        "(rust",
        "rust)",
        "+rust -",
        "\"",
        "\"\"",
        "rust*",
        "[rust TO book]",
        "rust^2",
        "~",
        "\\",
        "rust~2",
        "\u{0}",
        "🦀 rust",
        "",
        "   ",
    ] {
        let r = index.search_videos(&text(q));
        assert!(r.is_ok(), "{q:?}: {r:?}");
    }
    assert_eq!(keys(&index, &text("rust: (book)")), ["a"]);
    assert_eq!(
        keys(&index, &text("title:rust")),
        Vec::<String>::new(),
        "'title' is a word"
    );
}

#[test]
fn long_text_and_many_terms_are_bounded() {
    let index = index_with(&[video("a", "a.example", "alpha beta", Some("en"))]);
    // Two matching words then hundreds that match nothing: only the first max_terms count,
    // so the query still costs a bounded amount (and here, finds nothing).
    let long = format!("alpha beta {}", "zzz ".repeat(10_000));
    let r = index.search_videos(&text(&long)).unwrap();
    assert_eq!(r.total, 0);
    // Past the character bound, words are ignored.
    let padded = format!("alpha {} nothingmatches", "beta ".repeat(100));
    assert_eq!(keys(&index, &text(&padded)), ["a"]);
    let mut many_filters = text("alpha");
    many_filters.hosts = (0..100_000).map(|i| format!("h{i}.example")).collect();
    assert!(index.search_videos(&many_filters).is_ok());
}

#[test]
fn an_index_on_disk_reopens_with_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap();
        index
            .upsert_video(&video("d", "a.example", "persisted", None))
            .unwrap();
        index.commit().unwrap();
    }
    let index = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap();
    assert_eq!(keys(&index, &text("persisted")), ["d"]);
}

#[test]
fn a_marker_is_recorded_with_the_commit_and_read_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap();
        assert_eq!(index.committed_marker().unwrap(), None);
        index
            .upsert_video(&video("m", "a.example", "marked", None))
            .unwrap();
        index.set_marker(41);
        // Not committed yet: the last commit's marker (none) is what counts.
        assert_eq!(index.committed_marker().unwrap(), None);
        index.commit().unwrap();
        assert_eq!(index.committed_marker().unwrap(), Some(41));
        // A marker alone is a change to commit.
        index.set_marker(42);
        assert!(index.has_pending_changes());
        index.commit().unwrap();
        assert!(!index.has_pending_changes());
        // Set and not committed when the index goes: lost with the changes it covers.
        index.set_marker(43);
    }
    let index = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap();
    assert_eq!(index.committed_marker().unwrap(), Some(42));
    assert_eq!(keys(&index, &text("marked")), ["m"]);
    // The marker stays until set again: a later commit records it too.
    index.delete("m").unwrap();
    index.commit().unwrap();
    assert_eq!(index.committed_marker().unwrap(), Some(42));
}

#[test]
fn the_index_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<SearchIndex>();
    let index = std::sync::Arc::new(index_with(&[video("a", "a.example", "shared", None)]));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let index = index.clone();
            std::thread::spawn(move || keys(&index, &text("shared")))
        })
        .collect();
    index
        .upsert_video(&video("b", "a.example", "shared too", None))
        .unwrap();
    for r in readers {
        assert!(!r.join().unwrap().is_empty());
    }
    index.commit().unwrap();
    assert_eq!(keys(&index, &text("shared")).len(), 2);
}

#[test]
fn merging_segments_keeps_every_document() {
    let index = index();
    for i in 0..5 {
        index
            .upsert_video(&video(&format!("m{i}"), "a.example", "merge me", None))
            .unwrap();
        index.commit().unwrap();
    }
    index.delete("https://a.example/videos/watch/m0").unwrap();
    assert!(index.segment_count() >= 2);
    index.merge_segments().unwrap();
    assert_eq!(index.segment_count(), 1);
    assert_eq!(
        sorted(keys(&index, &text("merge"))),
        ["m1", "m2", "m3", "m4"]
    );
}

#[test]
fn an_index_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = tantivy::schema::Schema::builder();
    schema.add_text_field("title", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), schema.build()).unwrap();
    let error = SearchIndex::open_in_dir(dir.path(), IndexConfig::default()).unwrap_err();
    assert!(
        matches!(error, video_search::IndexError::LayoutChanged { .. }),
        "{error:?}"
    );
}

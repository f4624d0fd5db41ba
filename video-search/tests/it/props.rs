//! Properties: no typed text and no query string is an error of the index or a panic.

use std::sync::OnceLock;

use proptest::prelude::*;
use video_search::api::{ApiContext, VideosSearchQuery};
use video_search::{SearchIndex, VideoQuery};

use crate::support::{index_with, video};

fn shared() -> &'static SearchIndex {
    static INDEX: OnceLock<SearchIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        index_with(&[
            video(
                "a",
                "a.example",
                "L'électricité \"libre\" (2nd ed.)",
                Some("fr"),
            ),
            video("b", "b.example", "Running: the kernel + more", Some("en")),
        ])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_searches(text in any::<String>()) {
        let r = shared().search_videos(&VideoQuery::new(text));
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn any_syntaxy_text_searches(text in "[\"():*+~^\\[\\]{}!\\-\\\\ a-zé]{0,300}") {
        let r = shared().search_videos(&VideoQuery::new(text));
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn any_query_string_reads_or_is_refused(qs in "[a-zA-Z\\[\\]=&%+0-9._-]{0,200}") {
        // Either a query or an ApiError; then the index answers it.
        if let Ok(q) = VideosSearchQuery::from_query_string(&qs)
            && let Ok(iq) = q.to_index_query(&ApiContext::index())
        {
            prop_assert!(shared().search_videos(&iq).is_ok());
        }
    }
}

//! The pod on PostgreSQL: its main flows (people and sessions, posts to the public and to
//! aspects with their privacy, comments, mentions and notifications, tags, photos and profile
//! images, the stream's pages, export and import of an archive (with comments and likes),
//! comments passed on in a limited thread (and their edits and deletions), a `Move` retried to
//! followers unreachable at the import), each the same test as on SQLite, with every pod it
//! starts on a fresh PostgreSQL database (`support::on_postgres`).
//! `scripts/test` runs the tests under `scripts/with-postgres`, which sets
//! `FEDERATION_QUEUE_PG_URL`; in CI a missing server fails them.

use std::future::Future;

use crate::support::{on_postgres, postgres_url};

/// Runs `flow` on PostgreSQL, when there is a server.
async fn check(flow: impl Future<Output = ()>) {
    if let Some(server) = postgres_url() {
        on_postgres(&server, flow).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_to_an_aspect_is_read_by_its_members_only() {
    check(crate::aspects::aspect_privacy()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_elsewhere_reaches_and_notifies() {
    check(crate::mentions::mention_elsewhere()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn likes_reshares_comments_and_follows_notify() {
    check(crate::mentions::reactions_notify()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_page_shows_public_posts_only() {
    check(crate::tags::tag_page()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_followed_tag_brings_posts_into_the_stream() {
    check(crate::tags::followed_tag()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_is_uploaded_with_a_post() {
    check(crate::photos::photo_upload()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_images_are_taken_and_served() {
    check(crate::profile::profile_images()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_pages_back_through_every_post_once() {
    check(crate::stream::stream_pages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_shows_each_source_and_nothing_else() {
    check(crate::stream::stream_sources()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_shows_followers_posts_of_every_remote_follow() {
    check(crate::stream::remote_followers_posts()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_is_exported_and_imported() {
    check(crate::archive::archive_import()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_archives_are_refused_with_nothing_stored() {
    check(crate::archive::bad_archives()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_posts_collections_are_as_private_as_the_post() {
    check(crate::collections::post_collections()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tags_collection_and_page_are_paged() {
    check(crate::collections::tag_paging()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_on_a_limited_post_reaches_all_its_readers() {
    check(crate::threads::limited_thread()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_deletions_of_a_comment_in_a_limited_thread_reach_all_its_readers() {
    check(crate::threads::edited_thread()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_and_likes_come_back_with_an_import() {
    check(crate::archive::comments_and_likes_import()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_to_followers_unreachable_at_the_import_is_retried() {
    check(crate::moving::move_retries()).await;
}

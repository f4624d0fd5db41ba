//! The demo runs to its end.

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs() {
    crate::support::init_logging();
    let dir = tempfile::tempdir().unwrap();
    pod::demo::run(dir.path(), true).await.unwrap();
}

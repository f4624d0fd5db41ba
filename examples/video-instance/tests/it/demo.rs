//! The demo runs to its end: each of its steps waits for what it prints.

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_through() -> anyhow::Result<()> {
    crate::support::init_logging();
    let dir = tempfile::tempdir()?;
    video_instance::demo::run(dir.path(), true).await?;
    // Both instances left their databases and the uploaded file behind.
    assert!(dir.path().join("alpha.sqlite").exists());
    assert!(dir.path().join("beta.sqlite").exists());
    Ok(())
}

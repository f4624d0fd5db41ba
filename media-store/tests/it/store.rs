//! Committing, metadata, removal, crash leftovers, keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use media_store::{Key, Limits, MediaStore, UploadError};

use crate::support::{assert_empty, chunks, data, files_under, sha256_hex, store};

#[tokio::test]
async fn commit_replaces_a_file_atomically() {
    let (_dir, store) = store().await;
    let key = Key::new("videos/v/720.mp4").unwrap();
    let len = 4 << 20;
    let versions = [vec![b'a'; len], vec![b'b'; len]];
    let path = store.path_of(&key);
    let stop = Arc::new(AtomicBool::new(false));
    // A reader reading the key over and over, on a thread of its own.
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(bytes) = std::fs::read(&path) {
                    assert_eq!(bytes.len(), len, "a partial file under the key");
                    assert!(bytes.iter().all(|&b| b == bytes[0]), "two versions mixed");
                    seen += 1;
                }
            }
            seen
        })
    };
    for round in 0..12 {
        let version = &versions[round % 2];
        let staged = store
            .stage(chunks(version, Arc::default()), None, &Limits::new(1 << 30))
            .await
            .unwrap();
        let metadata = staged.commit(&key).await.unwrap();
        assert_eq!(metadata.sha256.to_hex(), sha256_hex(version));
        assert_eq!(store.metadata(&key).await.unwrap(), Some(metadata));
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(files_under(&store.root().join("tmp")), Vec::<String>::new());
}

#[tokio::test]
async fn metadata_comes_from_the_sidecar_and_survives_its_loss() {
    let (_dir, store) = store().await;
    let key = Key::new("a/b.webm").unwrap();
    assert_eq!(store.metadata(&key).await.unwrap(), None);
    let body = data(100_000, 7);
    let staged = store
        .stage(chunks(&body, Arc::default()), None, &Limits::new(1 << 20))
        .await
        .unwrap();
    let committed = staged.commit(&key).await.unwrap();
    let sidecar = store.root().join("meta/a/b.webm");
    assert!(
        std::fs::read_to_string(&sidecar)
            .unwrap()
            .contains(&sha256_hex(&body))
    );
    // A fresh handle (no cache) reads the sidecar.
    let reopened = MediaStore::open(store.root()).await.unwrap();
    let metadata = reopened.metadata(&key).await.unwrap().unwrap();
    assert_eq!(metadata, committed);
    assert!(metadata.modified.elapsed().unwrap() < Duration::from_secs(600));
    // A lost or stale sidecar is rebuilt from the file.
    std::fs::write(&sidecar, format!("sha256 {}\nsize 1\n", "0".repeat(64))).unwrap();
    let reopened = MediaStore::open(store.root()).await.unwrap();
    assert_eq!(
        reopened
            .metadata(&key)
            .await
            .unwrap()
            .unwrap()
            .sha256
            .to_hex(),
        sha256_hex(&body)
    );
    std::fs::remove_file(&sidecar).unwrap();
    let reopened = MediaStore::open(store.root()).await.unwrap();
    assert_eq!(
        reopened
            .metadata(&key)
            .await
            .unwrap()
            .unwrap()
            .sha256
            .to_hex(),
        sha256_hex(&body)
    );
    assert!(sidecar.exists());
}

#[tokio::test]
async fn remove_removes_the_file_and_its_sidecar() {
    let (_dir, store) = store().await;
    let key = Key::new("x/y").unwrap();
    let staged = store
        .stage(chunks(b"hello", Arc::default()), None, &Limits::new(10))
        .await
        .unwrap();
    staged.commit(&key).await.unwrap();
    assert!(store.remove(&key).await.unwrap());
    assert!(!store.remove(&key).await.unwrap());
    assert_eq!(store.metadata(&key).await.unwrap(), None);
    assert_empty(&store);
}

#[tokio::test]
async fn store_file_copies_under_the_same_limits() {
    let (dir, store) = store().await;
    let source = dir.path().join("thumb.jpg");
    let body = data(2_500_000, 8);
    std::fs::write(&source, &body).unwrap();
    let key = Key::new("thumbs/1.jpg").unwrap();
    let metadata = store
        .store_file(&key, &source, &Limits::new(3_000_000))
        .await
        .unwrap();
    assert_eq!(metadata.sha256.to_hex(), sha256_hex(&body));
    assert_eq!(std::fs::read(store.path_of(&key)).unwrap(), body);
    let error = store
        .store_file(
            &Key::new("thumbs/2.jpg").unwrap(),
            &source,
            &Limits::new(1_000_000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, UploadError::DeclaredTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(
        files_under(&store.root().join("data")),
        vec!["thumbs/1.jpg".to_owned()]
    );
}

#[tokio::test]
async fn open_removes_temporary_files_no_process_holds() {
    let (_dir, store) = store().await;
    // One left by a crash, one being written by a live store.
    let orphan = store.root().join("tmp/0123456789abcdef.part");
    std::fs::write(&orphan, b"half an upload").unwrap();
    let live = store
        .stage(
            chunks(b"in progress", Arc::default()),
            None,
            &Limits::new(100),
        )
        .await
        .unwrap();
    let _other = MediaStore::open(store.root()).await.unwrap();
    assert!(!orphan.exists());
    assert!(live.path().exists());
    drop(live);
    assert_empty(&store);
}

#[test]
fn keys_that_leave_the_store_are_refused() {
    for key in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a/./b",
        ".meta",
        "a\\b",
        "a//b",
        "",
        "tmp/../data",
    ] {
        assert!(Key::new(key).is_err(), "{key:?}");
    }
    let key = Key::new("videos/v/720.mp4").unwrap();
    assert_eq!(key.as_str(), "videos/v/720.mp4");
}

#[tokio::test]
async fn a_key_cannot_reach_outside_through_the_service() {
    let (dir, store) = store().await;
    std::fs::write(dir.path().join("secret"), b"secret").unwrap();
    let server = crate::support::Server::start(store.clone(), 100).await;
    let client = reqwest::Client::new();
    for path in [
        "/media/..%2Fsecret",
        "/media/%2e%2e/%2e%2e/secret",
        "/media/.%2E/meta/x",
        "/media//etc/passwd",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // A symbolic link planted in data/ does not lead out of it either.
    std::os::unix::fs::symlink(dir.path().join("secret"), store.root().join("data/link")).unwrap();
    let response = client.get(server.url("/media/link")).send().await.unwrap();
    assert_ne!(response.status(), 200);
    assert!(!response.text().await.unwrap().contains("secret"));
}

//! Staging bodies: limits, declared lengths, broken and stalled streams.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use media_store::{Key, Limits, UploadError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Server, assert_empty, chunks, data, sha256_hex, store};

#[tokio::test]
async fn a_body_within_the_limit_is_staged_with_its_size_and_sha256() {
    let (_dir, store) = store().await;
    let body = data(3 << 20 | 12_345, 1);
    let pulled = Arc::new(AtomicUsize::new(0));
    let staged = store
        .stage(
            chunks(&body, pulled.clone()),
            Some(body.len() as u64),
            &Limits::new(4 << 20),
        )
        .await
        .unwrap();
    assert_eq!(staged.size(), body.len() as u64);
    assert_eq!(staged.sha256().to_hex(), sha256_hex(&body));
    assert_eq!(std::fs::read(staged.path()).unwrap(), body);
    assert!(staged.path().starts_with(store.root().join("tmp")));
    // Checked by another implementation too: coreutils' sha256sum on the committed file.
    let key = Key::new("videos/a/original.mp4").unwrap();
    let metadata = staged.commit(&key).await.unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(store.path_of(&key))
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        printed.split_whitespace().next(),
        Some(metadata.sha256.to_hex().as_str())
    );
    assert_eq!(metadata.size, body.len() as u64);
    assert_eq!(std::fs::read(store.path_of(&key)).unwrap(), body);
}

#[tokio::test]
async fn an_empty_body_is_staged() {
    let (_dir, store) = store().await;
    let staged = store
        .stage(
            futures::stream::empty::<Result<Bytes, io::Error>>(),
            Some(0),
            &Limits::new(10),
        )
        .await
        .unwrap();
    assert_eq!(staged.size(), 0);
    assert_eq!(staged.sha256().to_hex(), sha256_hex(b""));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_at_once_and_the_rest_not_read() {
    let (_dir, store) = store().await;
    let pulled = Arc::new(AtomicUsize::new(0));
    let pieces: Vec<Bytes> = (0..100).map(|_| Bytes::from(vec![7u8; 4096])).collect();
    let counter = pulled.clone();
    let stream = futures::stream::iter(pieces).map(move |p| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, io::Error>(p)
    });
    let error = store
        .stage(stream, None, &Limits::new(10_000))
        .await
        .unwrap_err();
    assert!(
        matches!(error, UploadError::TooLarge { limit: 10_000 }),
        "{error:?}"
    );
    // 4096, 8192, 12288: the third chunk passes the limit, and nothing more is pulled.
    assert_eq!(pulled.load(Ordering::SeqCst), 3);
    assert_empty(&store);

    // A declared length over the limit is refused before anything is read.
    let pulled = Arc::new(AtomicUsize::new(0));
    let error = store
        .stage(
            chunks(&[1; 100], pulled.clone()),
            Some(20_000),
            &Limits::new(10_000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            UploadError::DeclaredTooLarge {
                declared: 20_000,
                limit: 10_000
            }
        ),
        "{error:?}"
    );
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert_eq!(error.status(), 413);
    assert_empty(&store);
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let (_dir, store) = store().await;
    let body = data(10_000, 2);
    let staged = store
        .stage(chunks(&body, Arc::default()), None, &Limits::new(10_000))
        .await
        .unwrap();
    assert_eq!(staged.size(), 10_000);
}

#[tokio::test]
async fn bodies_shorter_or_longer_than_declared_are_refused() {
    let (_dir, store) = store().await;
    let body = data(50_000, 3);
    let error = store
        .stage(
            chunks(&body, Arc::default()),
            Some(50_001),
            &Limits::new(1 << 20),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            UploadError::Truncated {
                declared: 50_001,
                received: 50_000
            }
        ),
        "{error:?}"
    );
    assert_empty(&store);
    let pulled = Arc::new(AtomicUsize::new(0));
    let error = store
        .stage(
            chunks(&body, pulled.clone()),
            Some(49_999),
            &Limits::new(1 << 20),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, UploadError::Overlong { declared: 49_999 }),
        "{error:?}"
    );
    assert_eq!(error.status(), 400);
    assert_empty(&store);
}

#[tokio::test]
async fn a_stream_that_fails_midway_leaves_nothing() {
    let (_dir, store) = store().await;
    // More than one write buffer goes to disk before the failure.
    let good = futures::stream::iter((0..40).map(|_| Ok(Bytes::from(vec![1u8; 64 * 1024]))));
    let bad = futures::stream::iter([Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "peer went away",
    ))]);
    let error = store
        .stage(good.chain(bad), None, &Limits::new(1 << 30))
        .await
        .unwrap_err();
    let UploadError::Body(source) = &error else {
        panic!("{error:?}")
    };
    assert!(source.to_string().contains("peer went away"));
    assert_empty(&store);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_stream_hits_the_stall_limit() {
    let (_dir, store) = store().await;
    let start = tokio::time::Instant::now();
    let first = futures::stream::iter([Ok::<_, io::Error>(Bytes::from_static(b"some bytes"))]);
    let stream = first.chain(futures::stream::pending());
    let limits = Limits::new(1 << 20).with_stall_time(Duration::from_secs(30));
    let error = store.stage(stream, None, &limits).await.unwrap_err();
    assert!(
        matches!(error, UploadError::Stalled { limit } if limit == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(error.status(), 408);
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert_empty(&store);
}

#[tokio::test(start_paused = true)]
async fn a_slow_stream_hits_the_total_limit_though_it_never_stalls() {
    let (_dir, store) = store().await;
    // A chunk every 10 s (tokio's paused clock), forever.
    let stream = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Some((Ok::<_, io::Error>(Bytes::from_static(b"drip")), ()))
    });
    let limits = Limits::new(1 << 20)
        .with_stall_time(Duration::from_secs(30))
        .with_total_time(Duration::from_secs(95));
    let error = store.stage(stream, None, &limits).await.unwrap_err();
    assert!(
        matches!(error, UploadError::TimedOut { limit } if limit == Duration::from_secs(95)),
        "{error:?}"
    );
    assert_empty(&store);
}

#[tokio::test]
async fn dropping_a_staged_file_removes_it() {
    let (_dir, store) = store().await;
    let staged = store
        .stage(
            chunks(&data(5000, 4), Arc::default()),
            None,
            &Limits::new(1 << 20),
        )
        .await
        .unwrap();
    let path = staged.path().to_owned();
    assert!(path.exists());
    drop(staged);
    assert!(!path.exists());
    assert_empty(&store);
}

#[tokio::test]
async fn an_http_upload_is_stored_and_a_lying_client_leaves_nothing() {
    let (_dir, store) = store().await;
    let server = Server::start(store.clone(), 1 << 20).await;
    let client = reqwest::Client::new();
    let body = data(700_000, 5);
    let response = client
        .put(server.url("/upload/photos/p1.jpg"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.unwrap(), sha256_hex(&body));
    assert_eq!(
        std::fs::read(store.path_of(&Key::new("photos/p1.jpg").unwrap())).unwrap(),
        body
    );

    // Over the limit: 413, nothing stored.
    let big = data((1 << 20) + 1, 6);
    let response = client
        .put(server.url("/upload/photos/big.jpg"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // A client declaring 100000 bytes that sends 1000 and closes.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"PUT /upload/photos/short.jpg HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
    )
    .await
    .unwrap();
    tcp.write_all(&[9u8; 1000]).await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    // Nothing but the first file, whatever the server managed to answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tmp = crate::support::files_under(&store.root().join("tmp"));
        if tmp.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "temporary files left: {tmp:?}"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        crate::support::files_under(&store.root().join("data")),
        vec!["photos/p1.jpg".to_owned()]
    );
}

//! Serving over a real loopback HTTP server, checked with reqwest.

use std::sync::Arc;

use media_store::{Key, Limits, MediaStore};
use reqwest::header::{self, HeaderMap};

use crate::support::{Server, chunks, data, options, sha256_hex, store};

struct Fixture {
    _dir: tempfile::TempDir,
    _store: MediaStore,
    server: Server,
    client: reqwest::Client,
    body: Vec<u8>,
    etag: String,
    last_modified: String,
}

/// A store holding `video.mp4` (1.5 MB, so several reads) and `empty`.
async fn fixture() -> Fixture {
    let (dir, store) = store().await;
    let body = data(1_500_000 + 17, 42);
    for (key, content) in [("v/video.mp4", &body[..]), ("empty", &[][..])] {
        let staged = store
            .stage(chunks(content, Arc::default()), None, &Limits::new(1 << 30))
            .await
            .unwrap();
        staged.commit(&Key::new(key).unwrap()).await.unwrap();
    }
    let server = Server::start(store.clone(), 1 << 20).await;
    let client = reqwest::Client::new();
    let first = client
        .head(server.url("/media/v/video.mp4"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
    let last_modified = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    Fixture {
        _dir: dir,
        _store: store,
        server,
        client,
        body,
        etag,
        last_modified,
    }
}

impl Fixture {
    async fn get(&self, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        self.request(reqwest::Method::GET, "/media/v/video.mp4", headers)
            .await
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, HeaderMap, Vec<u8>) {
        let mut request = self.client.request(method, self.server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap().to_vec();
        (status, headers, body)
    }
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn get_sends_the_whole_file_with_validators() {
    let f = fixture().await;
    let (status, headers, body) = f.get(&[]).await;
    assert_eq!(status, 200);
    assert!(body == f.body, "body differs from the file");
    let len = f.body.len().to_string();
    assert_eq!(h(&headers, "content-length"), Some(len.as_str()));
    assert_eq!(h(&headers, "content-type"), Some("video/mp4"));
    assert_eq!(h(&headers, "cache-control"), Some("public, max-age=3600"));
    assert_eq!(h(&headers, "accept-ranges"), Some("bytes"));
    assert_eq!(h(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        h(&headers, "etag"),
        Some(format!("\"{}\"", sha256_hex(&f.body)).as_str())
    );
    let modified = httpdate::parse_http_date(h(&headers, "last-modified").unwrap()).unwrap();
    assert!(modified.elapsed().unwrap().as_secs() < 600);
    assert!(h(&headers, "date").is_some());
}

#[tokio::test]
async fn head_sends_the_headers_only() {
    let f = fixture().await;
    let (status, headers, body) = f
        .request(reqwest::Method::HEAD, "/media/v/video.mp4", &[])
        .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        h(&headers, "content-length"),
        Some(f.body.len().to_string().as_str())
    );
    assert_eq!(h(&headers, "etag"), Some(f.etag.as_str()));
    // Range is defined for GET only.
    let (status, _, body) = f
        .request(
            reqwest::Method::HEAD,
            "/media/v/video.mp4",
            &[("range", "bytes=0-9")],
        )
        .await;
    assert_eq!((status, body.len()), (200, 0));
}

#[tokio::test]
async fn each_single_range_form_gives_206() {
    let f = fixture().await;
    let len = f.body.len();
    let cases = [
        ("bytes=0-0", 0, 1),
        ("bytes=100-299999", 100, 300_000),
        ("bytes=1000000-", 1_000_000, len),
        ("bytes=-5000", len - 5000, len),
        ("bytes=-99999999", 0, len),
        // Past the end: clamped.
        (
            &*format!("bytes={}-{}", len - 10, len + 1000),
            len - 10,
            len,
        ),
    ];
    for (range, start, end) in cases {
        let (status, headers, body) = f.get(&[("range", range)]).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(
            h(&headers, "content-range"),
            Some(format!("bytes {start}-{}/{len}", end - 1).as_str()),
            "{range}"
        );
        assert_eq!(
            h(&headers, "content-length"),
            Some((end - start).to_string().as_str())
        );
        assert_eq!(h(&headers, "content-type"), Some("video/mp4"));
        assert!(body == f.body[start..end], "{range}: body differs");
    }
}

#[tokio::test]
async fn several_ranges_give_multipart_byteranges() {
    let f = fixture().await;
    let len = f.body.len();
    // Out of order and overlapping: two parts after coalescing.
    let (status, headers, body) = f
        .get(&[("range", "bytes=1000000-1000099, 0-9, 5-19")])
        .await;
    assert_eq!(status, 206);
    let content_type = h(&headers, "content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let mut expected = Vec::new();
    for (start, end) in [(0, 20), (1_000_000, 1_000_100)] {
        expected.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes {start}-{}/{len}\r\n\r\n", end - 1)
                .as_bytes(),
        );
        expected.extend_from_slice(&f.body[start..end]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert!(
        body == expected,
        "multipart body differs:\n{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        h(&headers, "content-length"),
        Some(expected.len().to_string().as_str())
    );
    // Adjacent ranges make one part.
    let (status, headers, body) = f.get(&[("range", "bytes=0-9,10-19")]).await;
    assert_eq!(status, 206);
    assert_eq!(
        h(&headers, "content-range"),
        Some(format!("bytes 0-19/{len}").as_str())
    );
    assert!(body == f.body[..20]);
}

#[tokio::test]
async fn unsatisfiable_and_malformed_ranges() {
    let f = fixture().await;
    let len = f.body.len();
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 5, len + 10),
        "bytes=-0".to_owned(),
    ] {
        let (status, headers, body) = f.get(&[("range", &range)]).await;
        assert_eq!(status, 416, "{range}");
        assert_eq!(
            h(&headers, "content-range"),
            Some(format!("bytes */{len}").as_str())
        );
        assert!(body.is_empty());
    }
    for range in ["bytes=5-1", "lines=1-2", "bytes=abc", "bytes"] {
        let (status, headers, body) = f.get(&[("range", range)]).await;
        assert_eq!(status, 200, "{range}");
        assert!(h(&headers, "content-range").is_none());
        assert_eq!(body.len(), len);
    }
}

#[tokio::test]
async fn conditional_requests() {
    let f = fixture().await;
    let (status, headers, body) = f.get(&[("if-none-match", &f.etag)]).await;
    assert_eq!((status, body.len()), (304, 0));
    assert_eq!(h(&headers, "etag"), Some(f.etag.as_str()));
    let (status, _, body) = f.get(&[("if-modified-since", &f.last_modified)]).await;
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, _) = f
        .get(&[("if-modified-since", "Thu, 01 Jan 1970 00:00:01 GMT")])
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = f.get(&[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, 200);
    let (status, _, _) = f.get(&[("if-match", "\"other\"")]).await;
    assert_eq!(status, 412);
    let (status, _, _) = f.get(&[("if-match", &f.etag)]).await;
    assert_eq!(status, 200);
    let (status, _, _) = f
        .get(&[("if-unmodified-since", "Thu, 01 Jan 1970 00:00:01 GMT")])
        .await;
    assert_eq!(status, 412);
}

#[tokio::test]
async fn if_range() {
    let f = fixture().await;
    let (status, _, body) = f
        .get(&[("range", "bytes=10-19"), ("if-range", &f.etag)])
        .await;
    assert_eq!(status, 206);
    assert!(body == f.body[10..20]);
    let (status, _, body) = f
        .get(&[("range", "bytes=10-19"), ("if-range", &f.last_modified)])
        .await;
    assert_eq!((status, body.len()), (206, 10));
    let (status, _, body) = f
        .get(&[
            ("range", "bytes=10-19"),
            ("if-range", "\"an older version\""),
        ])
        .await;
    assert_eq!(status, 200);
    assert!(body == f.body);
    let (status, _, _) = f
        .get(&[
            ("range", "bytes=10-19"),
            ("if-range", "Thu, 01 Jan 1970 00:00:01 GMT"),
        ])
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_zero_length_file() {
    let f = fixture().await;
    for range in [None, Some("bytes=0-"), Some("bytes=-1")] {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let (status, response, body) = f
            .request(reqwest::Method::GET, "/media/empty", &headers)
            .await;
        assert_eq!(status, 200, "{range:?}");
        assert_eq!(h(&response, "content-length"), Some("0"));
        assert_eq!(
            h(&response, "etag"),
            Some(format!("\"{}\"", sha256_hex(b"")).as_str())
        );
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn missing_files_and_other_methods() {
    let f = fixture().await;
    let (status, _, _) = f
        .request(reqwest::Method::GET, "/media/v/missing.mp4", &[])
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = f.request(reqwest::Method::GET, "/media/v", &[]).await;
    assert_eq!(status, 404);
    let (status, headers, _) = f
        .request(reqwest::Method::POST, "/media/v/video.mp4", &[])
        .await;
    assert_eq!(status, 405);
    assert_eq!(h(&headers, "allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn an_axum_handler_returns_the_response() {
    let f = fixture().await;
    let (status, headers, body) = f
        .request(
            reqwest::Method::GET,
            "/direct/v/video.mp4",
            &[("range", "bytes=-100")],
        )
        .await;
    assert_eq!(status, 206);
    assert_eq!(h(&headers, "etag"), Some(f.etag.as_str()));
    assert!(body == f.body[f.body.len() - 100..]);
    let (status, _, _) = f.request(reqwest::Method::GET, "/direct/v/none", &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_commit_through_another_handle_is_served_at_once() {
    // Two processes on one directory: each has its own in-memory digests.
    let (_dir, store) = store().await;
    let other = MediaStore::open(store.root()).await.unwrap();
    let key = Key::new("shared/file").unwrap();
    let mut last = String::new();
    for (round, content) in [&b"first version"[..], b"second", b"the third version"]
        .iter()
        .enumerate()
    {
        let writer = if round % 2 == 0 { &other } else { &store };
        let staged = writer
            .stage(chunks(content, Arc::default()), None, &Limits::new(100))
            .await
            .unwrap();
        staged.commit(&key).await.unwrap();
        let response = store
            .serve(
                &key,
                &http::Method::GET,
                &http::HeaderMap::new(),
                &options(),
            )
            .await
            .unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", sha256_hex(content)));
        assert_ne!(etag, last);
        last = etag;
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], *content);
    }
}

#[tokio::test]
async fn serve_from_a_handler() {
    // The function form, as an axum handler would call it.
    let (_dir, store) = store().await;
    let key = Key::new("p.jpg").unwrap();
    let staged = store
        .stage(
            chunks(b"0123456789", Arc::default()),
            None,
            &Limits::new(100),
        )
        .await
        .unwrap();
    staged.commit(&key).await.unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("range", "bytes=2-4".parse().unwrap());
    let response = store
        .serve(&key, &http::Method::GET, &headers, &options())
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"234");
    let missing = store
        .serve(
            &Key::new("q").unwrap(),
            &http::Method::GET,
            &headers,
            &options(),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn sendfile_connections_send_the_same_bytes() {
    let (_dir, store) = store().await;
    // 10 MB: many 256 KiB frames, and more than a socket buffer, so sendfile meets EAGAIN.
    let body = data(10_000_000 + 3, 9);
    let key = Key::new("big/file.bin").unwrap();
    let staged = store
        .stage(chunks(&body, Arc::default()), None, &Limits::new(1 << 30))
        .await
        .unwrap();
    staged.commit(&key).await.unwrap();
    let server = Server::start_sendfile(store.clone(), 1 << 20).await;
    let client = reqwest::Client::new();
    let len = body.len();
    for path in ["/media/big/file.bin", "/direct/big/file.bin"] {
        let whole = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(whole.status(), 200);
        assert!(
            whole.bytes().await.unwrap() == body,
            "{path}: whole body differs"
        );
        for (range, start, end) in [
            ("bytes=0-0", 0, 1),
            ("bytes=262143-786432", 262_143, 786_433),
            ("bytes=-1000", len - 1000, len),
        ] {
            let response = client
                .get(server.url(path))
                .header("range", range)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 206);
            assert!(
                response.bytes().await.unwrap() == body[start..end],
                "{path} {range}"
            );
        }
        let response = client
            .get(server.url(path))
            .header("range", "bytes=0-9,-10")
            .send()
            .await
            .unwrap();
        let boundary = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .rsplit('=')
            .next()
            .unwrap()
            .to_owned();
        let got = response.bytes().await.unwrap();
        let mut expected = Vec::new();
        for (start, end) in [(0, 10), (len - 10, len)] {
            expected.extend_from_slice(
                format!("\r\n--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes {start}-{}/{len}\r\n\r\n", end - 1).as_bytes(),
            );
            expected.extend_from_slice(&body[start..end]);
        }
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert!(got == expected, "{path}: multipart body differs");
    }
    // Many requests at once over kept-alive connections, random ranges.
    let mut tasks = Vec::new();
    for seed in 0..8u64 {
        let (client, url, body) = (
            client.clone(),
            server.url("/media/big/file.bin"),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            for _ in 0..20 {
                let start = rng.usize(..body.len());
                let end = (start + rng.usize(1..2_000_000)).min(body.len());
                let response = client
                    .get(&url)
                    .header("range", format!("bytes={start}-{}", end - 1))
                    .send()
                    .await
                    .unwrap();
                assert!(response.bytes().await.unwrap() == body[start..end]);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // The file's bytes went by sendfile (at least the two whole bodies).
    let sent = server.sendfile_bytes();
    assert!(sent >= 2 * len as u64, "{sent} bytes by sendfile");
}

//! The default transport on its own, against loopback servers: what it refuses before any
//! connection, TLS against a private root (and refused without it), its timeouts, the response
//! cap and connection reuse.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use federation_queue::{Refusal, ReqwestTransport, Transport, TransportConfig, TransportError};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A configuration with these connect, read and total timeouts.
fn timeouts(connect: Duration, read: Duration, total: Duration) -> TransportConfig {
    TransportConfig::new().with_timeouts(connect, read, total)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A transport for loopback servers, with `read` as its read timeout.
fn loopback(read: Duration) -> TransportConfig {
    timeouts(Duration::from_secs(5), read, Duration::from_secs(20))
        .with_danger_allow_private_addresses(true)
}

fn post(url: &str) -> Request<Bytes> {
    Request::post(url)
        .header(http::header::HOST, "inbox.test")
        .header(http::header::CONTENT_TYPE, "application/activity+json")
        .body(Bytes::from_static(br#"{"type":"Create"}"#))
        .unwrap()
}

/// What a loopback server saw: connections accepted, and each request's host, user agent
/// and body.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: std::sync::Mutex<Vec<(String, String, Bytes)>>,
}

/// Answers 202 with `X-Seen: yes`, recording what it got.
async fn answer(
    seen: Arc<Seen>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let host = header(http::header::HOST);
    let agent = header(http::header::USER_AGENT);
    let body = request.into_body().collect().await.unwrap().to_bytes();
    seen.requests.lock().unwrap().push((host, agent, body));
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header("x-seen", "yes")
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap())
}

/// An HTTP/1.1 server on loopback, with TLS when `tls` is given.
async fn server(tls: Option<TlsAcceptor>) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            state.connections.fetch_add(1, Ordering::SeqCst);
            let service = {
                let state = Arc::clone(&state);
                service_fn(move |request| answer(Arc::clone(&state), request))
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// A certificate authority and a server certificate it issued for `localhost`: the root's
/// DER and a TLS acceptor presenting the server certificate.
fn private_ca() -> (Vec<u8>, TlsAcceptor) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test root");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (ca.der().to_vec(), TlsAcceptor::from(Arc::new(config)))
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let (addr, seen) = server(None).await;
    let url = format!("http://localhost:{}/inbox", addr.port());
    let refused = ReqwestTransport::new(loopback(Duration::from_secs(5))).unwrap();
    match refused.send(post(&url)).await {
        Err(TransportError::Refused { url: got, reason }) => {
            assert_eq!(reason, Refusal::NotHttps);
            assert_eq!(got, url);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let other_scheme = refused.send(post("ftp://inbox.test/inbox")).await;
    assert!(
        matches!(
            other_scheme,
            Err(TransportError::Refused {
                reason: Refusal::NotHttps,
                ..
            })
        ),
        "{other_scheme:?}"
    );
    assert_eq!(seen.connections.load(Ordering::SeqCst), 0);

    let allowed =
        ReqwestTransport::new(loopback(Duration::from_secs(5)).with_danger_allow_http(true))
            .unwrap();
    let response = allowed.send(post(&url)).await.unwrap();
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert_eq!(response.headers["x-seen"], "yes");
    let requests = seen.requests.lock().unwrap();
    let (host, agent, body) = &requests[0];
    // The Host header the signer covered is the one sent; the user agent is the default.
    assert_eq!(host, "inbox.test");
    assert!(agent.starts_with("federation-queue/"), "{agent}");
    assert_eq!(&body[..], br#"{"type":"Create"}"#);
}

#[tokio::test]
async fn non_public_addresses_are_refused_before_connecting() {
    let (addr, seen) = server(None).await;
    // Private addresses are not allowed here.
    let transport =
        ReqwestTransport::new(timeouts(secs(5), secs(5), secs(10)).with_danger_allow_http(true))
            .unwrap();
    let port = addr.port();
    for (url, host, address) in [
        (
            format!("http://127.0.0.1:{port}/inbox"),
            "127.0.0.1",
            "127.0.0.1",
        ),
        (format!("https://[::1]:{port}/inbox"), "[::1]", "::1"),
        ("https://10.1.2.3/inbox".to_owned(), "10.1.2.3", "10.1.2.3"),
        (
            "https://[::ffff:192.168.0.1]/inbox".to_owned(),
            "[::ffff:192.168.0.1]",
            "::ffff:192.168.0.1",
        ),
    ] {
        match transport.send(post(&url)).await {
            Err(TransportError::Refused {
                reason:
                    Refusal::NonPublic {
                        host: h,
                        address: a,
                    },
                ..
            }) => {
                assert_eq!(h, host, "{url}");
                assert_eq!(a, address.parse::<IpAddr>().unwrap(), "{url}");
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
    // A name is checked on the addresses it resolves to.
    match transport
        .send(post(&format!("http://localhost:{port}/inbox")))
        .await
    {
        Err(TransportError::Refused {
            reason: Refusal::NonPublic { host, address },
            ..
        }) => {
            assert_eq!(host, "localhost");
            assert!(address.is_loopback(), "{address}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn tls_with_a_trusted_root_and_kept_alive() {
    let (root, acceptor) = private_ca();
    let (addr, seen) = server(Some(acceptor)).await;
    let transport = ReqwestTransport::new(
        loopback(Duration::from_secs(5))
            .with_extra_root_certificate(root)
            .with_user_agent("events.example (federation-queue)"),
    )
    .unwrap();
    let url = format!("https://localhost:{}/inbox", addr.port());
    for _ in 0..3 {
        let response = transport.send(post(&url)).await.unwrap();
        assert_eq!(response.status, StatusCode::ACCEPTED);
        assert_eq!(response.headers["x-seen"], "yes");
    }
    let requests = seen.requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    for (host, agent, body) in requests.iter() {
        assert_eq!(host, "inbox.test");
        assert_eq!(agent, "events.example (federation-queue)");
        assert_eq!(&body[..], br#"{"type":"Create"}"#);
    }
    // The three exchanges went over one connection.
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let (_, acceptor) = private_ca();
    let (addr, seen) = server(Some(acceptor)).await;
    let transport = ReqwestTransport::new(loopback(Duration::from_secs(5))).unwrap();
    let url = format!("https://localhost:{}/inbox", addr.port());
    let result = transport.send(post(&url)).await;
    match &result {
        Err(TransportError::Connect { source }) => {
            let mut chain = String::new();
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
            while let Some(c) = cause {
                chain.push_str(&c.to_string());
                chain.push_str(" / ");
                cause = c.source();
            }
            assert!(chain.contains("certificate"), "{chain}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert!(seen.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let transport =
        ReqwestTransport::new(loopback(Duration::from_secs(5)).with_danger_allow_http(true))
            .unwrap();
    let result = transport
        .send(post(&format!("http://127.0.0.1:{port}/inbox")))
        .await;
    assert!(
        matches!(result, Err(TransportError::Connect { .. })),
        "{result:?}"
    );
}

/// A server that accepts connections and never says anything.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// Sends to `url` and checks that the request times out well before 10 s (the tests' other
/// timeouts are 20 s and more).
async fn assert_cut_early(transport: &ReqwestTransport, url: &str) {
    let started = Instant::now();
    let result = transport.send(post(url)).await;
    assert!(matches!(result, Err(TransportError::Timeout)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_server_is_cut_by_the_read_timeout() {
    let addr = silent_server().await;
    let transport =
        ReqwestTransport::new(loopback(Duration::from_millis(300)).with_danger_allow_http(true))
            .unwrap();
    // Cut by the read timeout (0.3 s), well before the total one (20 s).
    assert_cut_early(
        &transport,
        &format!("http://127.0.0.1:{}/inbox", addr.port()),
    )
    .await;
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_by_the_connect_timeout() {
    let addr = silent_server().await;
    let transport = ReqwestTransport::new(
        timeouts(Duration::from_millis(300), secs(20), secs(30))
            .with_danger_allow_private_addresses(true),
    )
    .unwrap();
    // Cut by the connect timeout (0.3 s), well before the read and total ones (20 s, 30 s).
    assert_cut_early(
        &transport,
        &format!("https://localhost:{}/inbox", addr.port()),
    )
    .await;
}

/// A response body that never ends, counting the bytes handed to the connection.
struct Endless(Arc<AtomicUsize>);

static CHUNK: [u8; 16 * 1024] = [b'x'; 16 * 1024];

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.fetch_add(CHUNK.len(), Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK)))))
    }
}

/// Answers 200 with an endless body; gives the bytes it managed to send.
async fn endless_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            let service = service_fn(move |_request: Request<Incoming>| {
                let body = Endless(Arc::clone(&counter));
                async move { Ok::<_, Infallible>(Response::new(body)) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, sent)
}

#[tokio::test]
async fn an_endless_response_is_read_up_to_the_cap() {
    let (addr, sent) = endless_server().await;
    let transport = ReqwestTransport::new(
        loopback(Duration::from_secs(5))
            .with_danger_allow_http(true)
            .with_max_response_bytes(64 * 1024),
    )
    .unwrap();
    let started = Instant::now();
    let response = transport
        .send(post(&format!("http://127.0.0.1:{}/inbox", addr.port())))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    // Without the cap the read would have gone on until the total timeout (20 s).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The connection was dropped: the server stops sending soon after.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_drop = sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent.load(Ordering::SeqCst), after_drop);
}

#[tokio::test]
async fn a_response_that_stalls_midway_gives_its_status_after_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            // Read the whole request (it ends with its JSON body), then answer half.
            let mut request = Vec::new();
            while !request.ends_with(b"}") {
                let mut buf = [0_u8; 1024];
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 120\r\ncontent-length: 1000\r\n\r\npartial")
                .await;
            held.push(stream);
        }
    });
    let transport =
        ReqwestTransport::new(loopback(Duration::from_millis(300)).with_danger_allow_http(true))
            .unwrap();
    let started = Instant::now();
    let response = transport
        .send(post(&format!("http://127.0.0.1:{}/inbox", addr.port())))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers["retry-after"], "120");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

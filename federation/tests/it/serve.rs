//! `federation::serve` against hostile clients on loopback, with raw sockets and limits
//! shortened to seconds: slow and idle connections are closed by the time limits, a body
//! shorter than its `Content-Length` is not awaited forever, and neither they nor the
//! connection bound keep a normal request from being answered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use federation::serve::{Connector, PlainTcp, ServeConfig, Server, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

/// How many slow connections the tests hold.
const SLOW_CLIENTS: usize = 2_000;

/// How long a normal request may take to be answered while the slow ones are held.
const PROMPTLY: Duration = Duration::from_secs(2);

/// A server running [`serve`] on an OS-assigned loopback port.
struct TestServer {
    addr: SocketAddr,
    /// How many `POST /echo` requests reached their handler.
    started: Arc<AtomicUsize>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TestServer {
    async fn start(config: ServeConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let started = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(
            listener,
            routes(started.clone()),
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        TestServer {
            addr,
            started,
            stop,
            task,
        }
    }

    /// Waits until `n` `POST /echo` requests have reached their handler (their headers read).
    async fn started(&self, n: usize) {
        let started = self.started.clone();
        eventually(PROMPTLY, "the requests reach their handler", || {
            started.load(Ordering::SeqCst) >= n
        })
        .await;
    }

    /// Shuts the server down and waits (boundedly) for `serve` to return.
    async fn stop(self) {
        let _ = self.stop.send(());
        timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve did not return after the shutdown signal")
            .unwrap();
    }
}

/// `GET /` answers `ok`; `POST /echo` counts itself in `started`, reads the body and answers
/// its length; `GET /big` answers 32 MiB.
fn routes(started: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/echo",
            post(move |body: Body| async move {
                started.fetch_add(1, Ordering::SeqCst);
                match to_bytes(body, usize::MAX).await {
                    Ok(body) => body.len().to_string(),
                    Err(error) => error.to_string(),
                }
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 32 << 20] }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
}

/// The tests hold thousands of sockets, each a file descriptor on both ends.
fn raise_fd_limit() {
    let needed = 10_000;
    let limit = rlimit::increase_nofile_limit(needed).unwrap();
    assert!(
        limit >= needed,
        "these tests need {needed} file descriptors and the hard limit allows {limit}: \
         raise it (`ulimit -Hn`)"
    );
}

/// A request with `Connection: close`, and the whole response as text (within [`PROMPTLY`]).
/// What arrived before a reset counts (a refused connection is answered and reset).
async fn request(addr: SocketAddr, head: &str) -> String {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut response = Vec::new();
        if stream.write_all(head.as_bytes()).await.is_ok() {
            let _ = stream.read_to_end(&mut response).await;
        }
        String::from_utf8_lossy(&response).into_owned()
    };
    timeout(PROMPTLY, exchange)
        .await
        .expect("not answered promptly")
}

async fn normal_get(addr: SocketAddr) -> String {
    request(
        addr,
        "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await
}

/// A client that starts a request and then sends one more header byte every 100 ms, never
/// finishing its headers. Gives how long after connecting the server closed the connection
/// (`None`: still open after `give_up`), and counts the closed ones in `closed`.
async fn slow_client(
    addr: SocketAddr,
    closed: Arc<AtomicUsize>,
    give_up: Duration,
) -> JoinHandle<Option<Duration>> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    tokio::spawn(async move {
        let until_closed = async {
            if stream
                .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ")
                .await
                .is_err()
            {
                return;
            }
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    },
                    _ = tick.tick() => {
                        if stream.write_all(b"a").await.is_err() {
                            return;
                        }
                    }
                }
            }
        };
        let outcome = timeout(give_up, until_closed)
            .await
            .ok()
            .map(|()| start.elapsed());
        if outcome.is_some() {
            closed.fetch_add(1, Ordering::SeqCst);
        }
        outcome
    })
}

/// Opens [`SLOW_CLIENTS`] slow clients.
async fn slow_clients(
    addr: SocketAddr,
    give_up: Duration,
) -> (Vec<JoinHandle<Option<Duration>>>, Arc<AtomicUsize>) {
    let closed = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(SLOW_CLIENTS);
    for _ in 0..SLOW_CLIENTS {
        clients.push(slow_client(addr, closed.clone(), give_up).await);
    }
    (clients, closed)
}

/// Polls `condition` every 20 ms until it holds, failing after `within`.
async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_by_the_time_limits_while_others_are_answered() {
    raise_fd_limit();
    let header_limit = Duration::from_secs(3);
    let body_limit = Duration::from_secs(2);
    let server = TestServer::start(
        ServeConfig::new()
            .with_header_read_timeout(header_limit)
            .with_body_read_timeout(body_limit)
            .with_max_connections(SLOW_CLIENTS * 2),
    )
    .await;
    let (clients, closed) = slow_clients(server.addr, Duration::from_secs(15)).await;
    // A body shorter than its Content-Length.
    let mut short_body = TcpStream::connect(server.addr).await.unwrap();
    short_body
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let short_body_sent = Instant::now();

    // The slow connections are all held, and a normal request is answered.
    let response = normal_get(server.addr).await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
    assert!(response.ends_with("ok"), "{response}");
    assert_eq!(
        closed.load(Ordering::SeqCst),
        0,
        "slow connections were closed before their time"
    );

    // The short body is given up at its deadline: 408, and the connection closed.
    let mut answer = Vec::new();
    timeout(body_limit * 3, short_body.read_to_end(&mut answer))
        .await
        .expect("a body shorter than its Content-Length is still awaited")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 408 Request Timeout",
        "{answer}"
    );
    assert!(short_body_sent.elapsed() >= body_limit - Duration::from_millis(100));

    // Every slow connection is closed at its header deadline, however steadily it sends.
    for client in clients {
        let closed_after = client
            .await
            .unwrap()
            .expect("a slow connection is still open");
        assert!(
            closed_after >= header_limit - Duration::from_millis(100),
            "closed after {closed_after:?}, before the header limit"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_bound_waiting_connections_make_room() {
    raise_fd_limit();
    let bound = 50;
    let server = TestServer::start(
        ServeConfig::new()
            // Long limits: here the bound alone must keep the server answering.
            .with_header_read_timeout(Duration::from_secs(30))
            .with_max_connections(bound),
    )
    .await;
    let (clients, closed) = slow_clients(server.addr, Duration::from_secs(30)).await;
    // The newest connections evicted the oldest waiting ones; a normal request evicts one more.
    let response = normal_get(server.addr).await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
    eventually(
        Duration::from_secs(10),
        "the evicted connections are closed",
        || closed.load(Ordering::SeqCst) >= SLOW_CLIENTS - bound,
    )
    .await;
    assert!(closed.load(Ordering::SeqCst) <= SLOW_CLIENTS);
    for client in clients {
        client.abort();
    }
    server.stop().await;
}

#[tokio::test]
async fn at_the_bound_with_every_connection_busy_a_newcomer_is_refused_at_once() {
    let body_limit = Duration::from_secs(2);
    let server = TestServer::start(
        ServeConfig::new()
            .with_body_read_timeout(body_limit)
            .with_max_connections(2),
    )
    .await;
    // Two requests under way (their bodies still coming).
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n01234")
            .await
            .unwrap();
        busy.push(stream);
    }
    // Both busy (their handlers are reading the bodies): a third is refused with 503.
    server.started(2).await;
    let response = normal_get(server.addr).await;
    assert_eq!(
        status_line(&response),
        "HTTP/1.1 503 Service Unavailable",
        "{response}"
    );
    // When the bodies' deadline passes, both are answered 408 and room is made.
    for mut stream in busy {
        let mut answer = Vec::new();
        timeout(body_limit * 3, stream.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"));
    }
    let response = normal_get(server.addr).await;
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK", "{response}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_limit() {
    let header_limit = Duration::from_secs(1);
    let idle_limit = Duration::from_secs(2);
    let server = TestServer::start(
        ServeConfig::new()
            .with_header_read_timeout(header_limit)
            .with_idle_timeout(idle_limit),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.ends_with(b"ok") {
        let n = timeout(PROMPTLY, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "closed before answering");
        response.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    // The connection stays open past the header limit (an idle connection is not a slow
    // request), and is closed at the idle limit.
    let n = timeout(idle_limit * 3, stream.read(&mut buf))
        .await
        .expect("an idle connection is kept forever")
        .unwrap_or(0);
    assert_eq!(n, 0, "unexpected bytes on an idle connection");
    let idle_for = answered.elapsed();
    assert!(
        idle_for > header_limit + Duration::from_millis(500),
        "closed after {idle_for:?}: the header limit was applied to an idle connection"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_its_response_is_cut_off() {
    let server = TestServer::start(
        ServeConfig::new()
            .with_write_timeout(Duration::from_secs(1))
            .with_max_connections(1),
    )
    .await;
    let mut reader = TcpStream::connect(server.addr).await.unwrap();
    reader
        .write_all(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = reader.read(&mut buf).await.unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
    // While the 32 MiB response waits for the client, the one connection is busy: a second
    // client is refused, until the write limit closes the first.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = normal_get(server.addr).await;
        if status_line(&response) == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while let Ok(Ok(n @ 1..)) = timeout(PROMPTLY, reader.read(&mut buf)).await {
        received += n;
    }
    assert!(received < 32 << 20, "the whole response was sent");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_answers_the_request_under_way_and_closes_the_idle_ones() {
    let server = TestServer::start(ServeConfig::new()).await;
    let addr = server.addr;
    // An idle kept-alive connection, and a request whose body is not all there yet.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = timeout(PROMPTLY, idle.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    let mut under_way = TcpStream::connect(addr).await.unwrap();
    under_way
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n01234")
        .await
        .unwrap();
    server.started(1).await;

    let TestServer { stop, task, .. } = server;
    stop.send(()).unwrap();
    // The idle connection is closed.
    let n = timeout(PROMPTLY, idle.read(&mut buf))
        .await
        .expect("the idle connection stays open after the shutdown")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // The request under way is answered once its body is complete, then serve returns.
    assert!(!task.is_finished());
    under_way.write_all(b"56789").await.unwrap();
    let mut answer = Vec::new();
    timeout(PROMPTLY, under_way.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("10"), "{answer}");
    timeout(PROMPTLY, task).await.unwrap().unwrap();
    // And nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_handler_sees_the_client_address() {
    let server = TestServer::start(ServeConfig::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    timeout(PROMPTLY, stream.read_to_end(&mut response))
        .await
        .expect("not answered promptly")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.ends_with(&local.to_string()),
        "the handler should see {local}: {response}"
    );
    server.stop().await;
}

/// Sends a `POST /echo` of `total` bytes in pieces of `piece` bytes every `every`, and gives the
/// status line of the answer (read within `give_up`).
async fn post_steadily(
    addr: SocketAddr,
    total: usize,
    piece: usize,
    every: Duration,
    give_up: Duration,
) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("POST /echo HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {total}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut sent = 0;
    let mut tick = tokio::time::interval(every);
    while sent < total {
        tick.tick().await;
        let n = piece.min(total - sent);
        if stream.write_all(&vec![b'x'; n]).await.is_err() {
            // Closed by the server: its answer is already there.
            break;
        }
        sent += n;
    }
    let mut answer = Vec::new();
    timeout(give_up, stream.read_to_end(&mut answer))
        .await
        .expect("no answer")
        .ok();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    status_line(&answer).to_owned()
}

#[tokio::test]
async fn a_body_that_keeps_coming_at_the_minimum_rate_outlasts_the_body_deadline() {
    let body_limit = Duration::from_secs(1);
    let server = TestServer::start(
        ServeConfig::new()
            .with_body_read_timeout(body_limit)
            .with_min_body_rate(4000),
    )
    .await;
    // 12,000 bytes at 5,000 bytes a second: 2.4 s, past the 1 s deadline, but each 4,000
    // bytes buy a second more.
    let steady = post_steadily(
        server.addr,
        12_000,
        1_000,
        Duration::from_millis(200),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(steady, "HTTP/1.1 200 OK");
    // The same body at 1,000 bytes a second falls behind: given up, 408.
    let trickle = post_steadily(
        server.addr,
        12_000,
        100,
        Duration::from_millis(100),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(trickle, "HTTP/1.1 408 Request Timeout");
    // With no minimum rate, the steady body is cut at the fixed deadline.
    let fixed = TestServer::start(
        ServeConfig::new()
            .with_body_read_timeout(body_limit)
            .with_min_body_rate(0),
    )
    .await;
    let cut = post_steadily(
        fixed.addr,
        12_000,
        1_000,
        Duration::from_millis(200),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(cut, "HTTP/1.1 408 Request Timeout");
}

/// A connector that counts the bytes written to each connection and numbers the connections,
/// each request carrying its connection's number.
#[derive(Clone, Default)]
struct Counting {
    written: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

#[derive(Clone, Copy)]
struct ConnectionNumber(usize);

struct CountingStream {
    stream: TcpStream,
    written: Arc<AtomicUsize>,
}

impl tokio::io::AsyncRead for CountingStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountingStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.stream).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = poll {
            this.written.fetch_add(n, Ordering::SeqCst);
        }
        poll
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Connector for Counting {
    type Io = CountingStream;
    type Extension = ConnectionNumber;

    fn connect(&self, stream: TcpStream) -> (CountingStream, Option<ConnectionNumber>) {
        let number = self.connections.fetch_add(1, Ordering::SeqCst);
        let stream = CountingStream {
            stream,
            written: self.written.clone(),
        };
        (stream, Some(ConnectionNumber(number)))
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` from a kept-alive connection; its body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return body.to_owned();
            }
        }
        let n = timeout(PROMPTLY, stream.read(&mut buf))
            .await
            .expect("not answered promptly")
            .unwrap();
        assert!(n > 0, "closed before the answer: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_connector_wraps_each_connection_and_its_value_reaches_the_requests() {
    let connector = Counting::default();
    let router = Router::new().route(
        "/number",
        get(
            |axum::Extension(ConnectionNumber(n)): axum::Extension<ConnectionNumber>| async move {
                n.to_string()
            },
        ),
    );
    let config = ServeConfig::new().with_idle_timeout(Duration::from_millis(300));
    let server = Server::new(router, config, connector.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let ask = b"GET /number HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(ask).await.unwrap();
    assert_eq!(read_response(&mut first).await, "0");
    first.write_all(ask).await.unwrap();
    assert_eq!(read_response(&mut first).await, "0", "the same connection");
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(ask).await.unwrap();
    assert_eq!(read_response(&mut second).await, "1", "another connection");
    assert!(
        connector.written.load(Ordering::SeqCst) > 3 * 38,
        "the answers went through the wrapped streams"
    );
    // The limits still hold on wrapped connections: an idle one is closed.
    let mut buf = [0u8; 16];
    let n = timeout(PROMPTLY, first.read(&mut buf))
        .await
        .expect("the idle connection is closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    stop.send(()).unwrap();
    timeout(PROMPTLY, task).await.unwrap().unwrap();
}

#[test]
fn one_server_on_two_runtimes_shares_the_connection_bound_and_stops_both() {
    let server = Server::new(
        routes(Arc::new(AtomicUsize::new(0))),
        ServeConfig::new().with_max_connections(2),
        PlainTcp,
    );
    // Two single-threaded runtimes, each on its own thread with its own listener.
    let mut stops = Vec::new();
    let mut threads = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        addrs.push(listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        let server = server.clone();
        threads.push(std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let listener = TcpListener::from_std(listener).unwrap();
                    server
                        .serve(listener, async move {
                            let _ = stopped.await;
                        })
                        .await;
                })
        }));
    }
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        // Two kept-alive connections of the first listener, idle after a request, fill the
        // bound...
        let mut waiting = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addrs[0]).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                .await
                .unwrap();
            assert_eq!(read_response(&mut stream).await, "ok");
            waiting.push(stream);
        }
        let first = &mut waiting[0];
        // ...and a request on the second listener makes room by closing the oldest of them.
        let answer = normal_get(addrs[1]).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        let mut buf = [0u8; 16];
        let n = timeout(PROMPTLY, first.read(&mut buf))
            .await
            .expect("the oldest waiting connection is closed")
            .unwrap_or(0);
        assert_eq!(n, 0);
    });
    for stop in stops {
        stop.send(()).unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    client.block_on(async {
        for addr in addrs {
            assert!(TcpStream::connect(addr).await.is_err());
        }
    });
}

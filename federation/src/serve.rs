//! Serving a router on a hostile network: time limits for slow clients, and a bound on
//! connections that slow and idle clients cannot fill to lock everyone else out.
//!
//! [`serve`] runs HTTP/1.1 (hyper) for an axum [`Router`] with these limits, each in
//! [`ServeConfig`]:
//!
//! - **Headers** ([`ServeConfig::header_read_timeout`], 10 s): from the moment a connection is
//!   accepted, or from the first byte of a following request on a kept-alive connection, the
//!   request's headers must be complete within this time, however steadily the bytes trickle
//!   in. Then the connection is closed.
//! - **Body** ([`ServeConfig::body_read_timeout`], 30 s, and [`ServeConfig::min_body_rate`],
//!   32 KiB/s): a deadline for the whole request body, counted from the end of the headers
//!   (not a pause between two pieces, which a client sending a byte at a time would never
//!   exceed), pushed back by one second for every `min_body_rate` bytes received: a large
//!   upload that keeps coming at that rate or faster is never cut, however long it takes, while
//!   a trickle is. A body shorter than its `Content-Length` is no longer awaited forever: the
//!   handler reading it gets a [`BodyTimeout`] error, the client `408 Request Timeout`, and the
//!   connection is closed.
//! - **Idle** ([`ServeConfig::idle_timeout`], 60 s): a kept-alive connection with no request
//!   under way is closed after this time.
//! - **Writing** ([`ServeConfig::write_timeout`], 30 s): a response that the client does not
//!   read (a write that cannot proceed for this long) closes the connection.
//! - **Connections** ([`ServeConfig::max_connections`], 512): at most this many at once. When a
//!   connection arrives at the bound, the connection that has been *waiting* longest (idle
//!   between requests, or still sending its headers) is closed to make room: a client that
//!   has not sent a request yet holds no work, and the newest connection is the one most
//!   likely to be a prompt client. Only when every connection has a request under way (which
//!   the body and write limits keep short) is the newcomer refused, at once, with
//!   `503 Service Unavailable` rather than left waiting in the listen queue. So thousands of
//!   slow connections cost an attacker connections that are closed as fast as they are
//!   opened, and a normal request still gets in.
//!
//! The limits count in the server's clock (tokio's), so a test may shorten them to
//! milliseconds. What a handler does once it has the request (a fetch, a database query) is
//! not limited here. Request bodies have no size limit here either: the routes that read one
//! set their own (the inbox's [`InboxConfig::max_body_bytes`](crate::inbox::InboxConfig), and
//! axum's extractors' default of 2 MB).
//!
//! Each request carries its client's address as axum's
//! [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo) (what
//! `into_make_service_with_connect_info` gives with `axum::serve`), for the routes that limit
//! per address (sign-in attempts).
//!
//! Graceful shutdown: when the `shutdown` future completes, the listener is closed, waiting
//! connections are closed, requests under way are answered (within the same limits), and
//! [`serve`] returns once every connection is closed.
//!
//! **Connections other than plain TCP streams.** [`Server`] is what [`serve`] runs, with a
//! [`Connector`]: a hook that wraps each accepted `TcpStream` before hyper reads it, and may
//! give a value that every request read from that connection carries in its extensions. A
//! file server plugs `sendfile(2)` in this way (media-store's `SendfileStream` and its
//! `Sendfile` handle) without this crate depending on it; [`PlainTcp`] is the stream as
//! accepted. The limits hold whatever the connector: they watch the wrapped stream.
//!
//! **Services other than a router.** [`Server::with_service`] serves any tower service of
//! axum requests, such as a router behind a front that answers some paths itself (an
//! instance's static files, without the router's matching and middleware); [`Server::new`]
//! serves a [`Router`].
//!
//! **Several listeners.** One [`Server`] may serve several listeners at once, each with its own
//! [`Server::serve`] call, typically one per single-threaded runtime with sockets bound to the
//! same port with `SO_REUSEPORT` (the kernel spreading the connections, as nginx's workers
//! do). The connection bound counts the connections of all of them together; each call
//! returns once its own connections are closed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, Sleep, sleep, sleep_until};
use tower::{Service, ServiceExt as _};
use tracing::{debug, warn};

/// The limits [`serve`] applies. The defaults suit a small server behind a reverse proxy or on
/// its own; every limit can be changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// How long a client has to send a request's headers: counted from the connection's
    /// acceptance for its first request, and from the first byte of each later one. Default
    /// 10 s.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body, counted from the end of its headers: a
    /// deadline for the whole body (30 s for the inbox's 1 MiB is about 35 KB/s at the
    /// slowest), pushed back as the body arrives (see [`ServeConfig::min_body_rate`]). Default
    /// 30 s.
    pub body_read_timeout: Duration,
    /// The slowest average rate, in bytes per second, at which a body may keep coming once
    /// [`ServeConfig::body_read_timeout`] has passed: each `min_body_rate` bytes received push
    /// the body's deadline back by one second, so an upload of any size at this rate or faster
    /// completes (2 GB at 32 KiB/s: about 18 hours), while a client sending a byte now and then
    /// is cut at the deadline. `0`: the deadline is never pushed back. Default 32 KiB/s
    /// (256 kbit/s).
    pub min_body_rate: u64,
    /// How long a kept-alive connection may wait for its next request. Default 60 s.
    pub idle_timeout: Duration,
    /// How long a response write may stay blocked (the client does not read). Default 30 s.
    pub write_timeout: Duration,
    /// How many connections at once (each holds a file descriptor: keep it under the process's
    /// limit, `ulimit -n`, with room for the database and outgoing requests). At the bound the
    /// connection waiting longest for a request is closed, or, when every connection has a
    /// request under way, the new one is refused with `503`. Default 512.
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            min_body_rate: 32 * 1024,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

impl ServeConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`ServeConfig::header_read_timeout`].
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::body_read_timeout`].
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::min_body_rate`] (bytes per second; `0` for a fixed deadline).
    pub fn with_min_body_rate(mut self, bytes_per_second: u64) -> Self {
        self.min_body_rate = bytes_per_second;
        self
    }

    /// Sets [`ServeConfig::idle_timeout`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::write_timeout`].
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::max_connections`] (at least 1).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }
}

/// The error a handler gets from the request body when the body did not arrive within
/// [`ServeConfig::body_read_timeout`] and the time its bytes bought at
/// [`ServeConfig::min_body_rate`]. The client is answered `408 Request Timeout` whatever the
/// handler answers.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body did not arrive in time: {received} bytes in {timeout:?} plus one second per {min_rate} bytes"
)]
#[non_exhaustive]
pub struct BodyTimeout {
    /// The limit before any byte arrived.
    pub timeout: Duration,
    /// The bytes received before it was given up.
    pub received: u64,
    /// The minimum rate, in bytes per second.
    pub min_rate: u64,
}

/// Serves `router` on `listener` under `config` until `shutdown` completes, then shuts down
/// gracefully (see the [module](self) documentation) and returns when every connection is
/// closed. Errors accepting connections (too many open files, say) are logged and retried.
pub async fn serve<F>(listener: TcpListener, router: Router, config: ServeConfig, shutdown: F)
where
    F: Future<Output = ()>,
{
    Server::new(router, config, PlainTcp)
        .serve(listener, shutdown)
        .await;
}

/// Wraps each accepted connection before hyper reads it (see the [module](self)
/// documentation): the wrapped stream, and a value each request read from it carries in its
/// extensions.
///
/// The wrapped stream must pass reads and writes through to the socket (the limits count on
/// them) and keep vectored writes if the socket's stream has them.
pub trait Connector: Clone + Send + Sync + 'static {
    /// The connection as hyper reads and writes it.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// What each request read from the connection carries in its extensions.
    type Extension: Clone + Send + Sync + 'static;

    /// Wraps a connection just accepted (`TCP_NODELAY` already set); `None`: its requests carry
    /// nothing more.
    fn connect(&self, stream: TcpStream) -> (Self::Io, Option<Self::Extension>);
}

/// The [`Connector`] that leaves the connection as accepted.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainTcp;

impl Connector for PlainTcp {
    type Io = TcpStream;
    type Extension = ();

    fn connect(&self, stream: TcpStream) -> (TcpStream, Option<()>) {
        (stream, None)
    }
}

/// A router (or another service, `S`) served under one [`ServeConfig`] with one
/// [`Connector`], on one listener or on several at once ([`Server::serve`] once per listener,
/// from any runtime), the connection bound counting them all together. Cheap to clone.
pub struct Server<C = PlainTcp, S = Router> {
    config: Arc<ServeConfig>,
    registry: Arc<Registry>,
    router: S,
    connector: C,
}

impl<C: Clone, S: Clone> Clone for Server<C, S> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            registry: self.registry.clone(),
            router: self.router.clone(),
            connector: self.connector.clone(),
        }
    }
}

impl<C, S> std::fmt::Debug for Server<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Server<C> {
    /// A server of `router` under `config`, its connections wrapped by `connector`.
    pub fn new(router: Router, config: ServeConfig, connector: C) -> Self {
        Self::with_service(router, config, connector)
    }
}

impl<C, S> Server<C, S>
where
    C: Connector,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    /// A server of `service` (each request's body an axum `Body`, under the body limits) under
    /// `config`, its connections wrapped by `connector`.
    pub fn with_service(service: S, config: ServeConfig, connector: C) -> Self {
        Self {
            config: Arc::new(config),
            registry: Arc::new(Registry::default()),
            router: service,
            connector,
        }
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down gracefully (see the
    /// [module](self) documentation) and returns when every connection this call accepted is
    /// closed. Errors accepting connections (too many open files, say) are logged and
    /// retried. The connections are served on the runtime this is polled on.
    pub async fn serve<F>(&self, listener: TcpListener, shutdown: F)
    where
        F: Future<Output = ()>,
    {
        let registry = &self.registry;
        let (stop, stopped) = watch::channel(false);
        // Every connection task holds a sender; `recv` answers `None` once all are gone.
        let (alive, mut all_closed) = mpsc::channel::<Infallible>(1);
        let mut builder = http1::Builder::new();
        // The header limit is applied here, per connection: hyper's would also count the time
        // a kept-alive connection waits for its next request.
        builder.keep_alive(true).header_read_timeout(None);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    // Most likely out of file descriptors: closing the connection waiting
                    // longest frees one; pause so as not to spin on the error.
                    warn!(%error, "cannot accept a connection");
                    registry.evict_oldest_waiting();
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = sleep(Duration::from_millis(50)) => continue,
                    }
                }
            };
            let Some((id, shared)) = registry.admit(self.config.max_connections) else {
                refuse(&stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (io, extension) = self.connector.connect(stream);
            let connection = Connection {
                id,
                peer,
                shared,
                registry: registry.clone(),
                config: self.config.clone(),
                router: self.router.clone(),
                stopped: stopped.clone(),
                _alive: alive.clone(),
            };
            tokio::spawn(connection.run(io, extension, builder.clone()));
        }
        drop(listener);
        let _ = stop.send(true);
        drop(alive);
        let _ = all_closed.recv().await;
    }
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Refuses a connection over the bound: `503` if the socket takes it at once, and closed.
fn refuse(stream: &TcpStream) {
    debug!("at the connection bound with every connection busy; refusing one");
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 10\r\n\
          content-length: 0\r\n\r\n",
    );
}

/// The open connections, for the bound.
#[derive(Default)]
struct Registry {
    connections: Mutex<HashMap<u64, Arc<Shared>>>,
    next_id: AtomicU64,
}

impl Registry {
    /// Registers a new connection: under the bound, or by evicting the connection waiting
    /// longest. `None` when every connection has a request under way.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Shared>)> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if connections.len() >= max.max(1) && !evict_oldest_waiting(&mut connections) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::new());
        connections.insert(id, shared.clone());
        Some((id, shared))
    }

    /// Closes the connection waiting longest for a request, if there is one.
    fn evict_oldest_waiting(&self) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        evict_oldest_waiting(&mut connections);
    }

    fn remove(&self, id: u64) {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// Evicts (and unregisters) the connection of `connections` waiting longest; `false` if none
/// is waiting.
fn evict_oldest_waiting(connections: &mut HashMap<u64, Arc<Shared>>) -> bool {
    let oldest = connections
        .iter()
        .filter_map(|(id, shared)| shared.waiting_since().map(|since| (since, *id)))
        .min();
    match oldest.and_then(|(_, id)| connections.remove(&id)) {
        Some(shared) => {
            shared.evict();
            true
        }
        None => false,
    }
}

/// What a connection is doing, as far as its limits go.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Receiving a request's headers, since `since` (the acceptance, or the request's first
    /// byte).
    Headers { since: Instant },
    /// A request under way: from its headers to the end of its response.
    Busy,
    /// Between requests, since `since`.
    Idle { since: Instant },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Since when a write has been waiting for the client to read.
    write_blocked_since: Option<Instant>,
}

/// The state of one connection, shared by its socket, its service and its watchdog.
///
/// The socket and the service only record what happens (a request's first byte, a response
/// sent, a write blocked): they never wake the watchdog, which would cost a poll of the
/// connection and a new timer for each request. The watchdog instead wakes at an *alarm* no
/// later than the connection's limit and no later than [`Shared::alarm`]'s look-ahead: any
/// limit a change sets after the alarm was armed then falls at or after it (see
/// [`Shared::alarm`]), so each limit is enforced on time all the same.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the watchdog on eviction.
    wake: Notify,
    evicted: AtomicBool,
}

impl Shared {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Headers {
                    since: Instant::now(),
                },
                write_blocked_since: None,
            }),
            wake: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Since when the connection has been waiting for a request (idle, or receiving headers).
    fn waiting_since(&self) -> Option<Instant> {
        match self.state().phase {
            Phase::Headers { since } | Phase::Idle { since } => Some(since),
            Phase::Busy => None,
        }
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Bytes arrived: on an idle connection, a new request starts (its header clock).
    fn received(&self) {
        let mut state = self.state();
        if let Phase::Idle { .. } = state.phase {
            state.phase = Phase::Headers {
                since: Instant::now(),
            };
        }
    }

    fn write_blocked(&self, blocked: bool) {
        let mut state = self.state();
        match (blocked, state.write_blocked_since) {
            (true, None) => state.write_blocked_since = Some(Instant::now()),
            (false, Some(_)) => state.write_blocked_since = None,
            _ => {}
        }
    }

    fn set_busy(&self) {
        self.state().phase = Phase::Busy;
    }

    fn set_idle(&self) {
        self.state().phase = Phase::Idle {
            since: Instant::now(),
        };
    }

    /// When the watchdog, checking at `now`, must check again: at the connection's next
    /// limit (`deadline`), and at the latest after the shortest of the limits, which no change
    /// can undercut: every limit a change sets is counted from the change (`Instant::now()`
    /// then, at or after `now`) and lasts at least that long, so it falls at or after the
    /// alarm. `None`: no alarm (no limit can be counted that far). A limit of zero is looked
    /// ahead as one millisecond (it is then enforced up to a millisecond late) rather than
    /// have the watchdog spin.
    fn alarm(
        now: Instant,
        deadline: Option<(Instant, &'static str)>,
        config: &ServeConfig,
    ) -> Option<Instant> {
        let shortest = config
            .header_read_timeout
            .min(config.idle_timeout)
            .min(config.write_timeout)
            .max(Duration::from_millis(1));
        let look_ahead = now.checked_add(shortest);
        match (deadline.map(|(at, _)| at), look_ahead) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next limit and what it is; `None`: no limit runs.
    fn deadline(&self, config: &ServeConfig) -> Option<(Instant, &'static str)> {
        let state = self.state();
        let phase = match state.phase {
            Phase::Headers { since } => since
                .checked_add(config.header_read_timeout)
                .map(|at| (at, "headers not received in time")),
            Phase::Idle { since } => since
                .checked_add(config.idle_timeout)
                .map(|at| (at, "idle for too long")),
            Phase::Busy => None,
        };
        let write = state.write_blocked_since.and_then(|since| {
            since
                .checked_add(config.write_timeout)
                .map(|at| (at, "the client does not read the response"))
        });
        match (phase, write) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// One accepted connection and what it needs.
struct Connection<S> {
    id: u64,
    /// The client's address, handed to the router as axum's `ConnectInfo<SocketAddr>`.
    peer: SocketAddr,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    config: Arc<ServeConfig>,
    router: S,
    stopped: watch::Receiver<bool>,
    _alive: mpsc::Sender<Infallible>,
}

impl<S> Drop for Connection<S> {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

impl<S> Connection<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    /// Serves the connection, closing it when a limit passes, on eviction, or (gracefully) on
    /// shutdown.
    async fn run<I, X>(mut self, stream: I, extension: Option<X>, builder: http1::Builder)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        X: Clone + Send + Sync + 'static,
    {
        let service = {
            let shared = self.shared.clone();
            let router = self.router.clone();
            let timeout = self.config.body_read_timeout;
            let rate = self.config.min_body_rate;
            let peer = self.peer;
            service_fn(move |mut request: http::Request<Incoming>| {
                if let Some(extension) = &extension {
                    request.extensions_mut().insert(extension.clone());
                }
                respond(request, peer, router.clone(), shared.clone(), timeout, rate)
            })
        };
        let io = TokioIo::new(TrackedIo {
            stream,
            shared: self.shared.clone(),
        });
        let connection = builder.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut stopping = false;
        loop {
            let woken = self.shared.wake.notified();
            if self.shared.is_evicted() {
                debug!("closing a waiting connection to make room for a new one");
                return;
            }
            if !stopping && *self.stopped.borrow() {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            let deadline = self.shared.deadline(&self.config);
            let now = Instant::now();
            if let Some((at, why)) = deadline
                && at <= now
            {
                debug!(why, "closing a connection");
                return;
            }
            let alarm = Shared::alarm(now, deadline, &self.config);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = sleep_until_some(alarm) => {}
                () = woken => {}
                changed = self.stopped.changed(), if !stopping => {
                    // The sender gone (`serve` dropped): shut down as well.
                    if changed.is_err() {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs `router` on one request, its body under the deadline; the response body marks the
/// connection idle when it is done.
async fn respond<S>(
    mut request: http::Request<Incoming>,
    peer: SocketAddr,
    router: S,
    shared: Arc<Shared>,
    timeout: Duration,
    min_rate: u64,
) -> Result<Response<TrackedBody>, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    shared.set_busy();
    request.extensions_mut().insert(ConnectInfo(peer));
    let expired = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let request = request.map(|body| {
        AxumBody::new(DeadlineBody {
            inner: body,
            start,
            deadline: start.checked_add(timeout),
            timeout,
            min_rate,
            received: 0,
            sleep: None,
            expired: expired.clone(),
        })
    });
    let Ok(mut response) = router.oneshot(request).await;
    if expired.load(Ordering::Acquire) {
        response = (
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time.\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response.map(|body| TrackedBody {
        inner: body,
        _idle: IdleWhenDone(shared),
    }))
}

/// The socket, telling its connection's [`Shared`] state what happens on it.
struct TrackedIo<I> {
    stream: I,
    shared: Arc<Shared>,
}

impl<I> TrackedIo<I> {
    fn track<T>(&self, poll: Poll<T>) -> Poll<T> {
        self.shared.write_blocked(poll.is_pending());
        poll
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for TrackedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && buf.filled().len() > before
        {
            this.shared.received();
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TrackedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.track(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.track(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.track(poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyTimeout`] once its deadline has passed; the deadline
/// moves back as bytes arrive ([`ServeConfig::min_body_rate`]).
struct DeadlineBody<B> {
    inner: B,
    /// When the headers were read.
    start: Instant,
    /// `None`: no deadline (a timeout too large to count).
    deadline: Option<Instant>,
    timeout: Duration,
    /// Bytes per second that each buy a second more (`0`: none).
    min_rate: u64,
    /// Bytes received so far.
    received: u64,
    /// Made the first time the body is not ready (most requests have a body already there).
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
                && let Some(data) = data
            {
                this.extend(data.len());
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err(Box::new(BodyTimeout {
            timeout: this.timeout,
            received: this.received,
            min_rate: this.min_rate,
        }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> DeadlineBody<B> {
    /// Counts `bytes` more received and pushes the deadline back by their share of time at the
    /// minimum rate.
    fn extend(&mut self, bytes: usize) {
        if self.min_rate == 0 {
            return;
        }
        self.received = self
            .received
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        self.deadline = self
            .timeout
            .checked_add(earned)
            .and_then(|allowed| self.start.checked_add(allowed));
        match (self.deadline, self.sleep.as_mut()) {
            (Some(deadline), Some(sleep)) => sleep.as_mut().reset(deadline),
            // No deadline any more (too far to count): no timer either.
            (None, Some(_)) => self.sleep = None,
            _ => {}
        }
    }
}

/// Marks its connection idle when dropped (with the response body, once it was sent).
struct IdleWhenDone(Arc<Shared>);

impl Drop for IdleWhenDone {
    fn drop(&mut self) {
        self.0.set_idle();
    }
}

/// A response body that marks its connection idle when done.
struct TrackedBody {
    inner: AxumBody,
    _idle: IdleWhenDone,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

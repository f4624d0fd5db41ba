//! A loopback inbox for tests and the soak harness: answers each request as scripted for its
//! `Host`, and counts what it received (by delivery id header, when present).

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How to answer one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    pub fn with_retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub host: String,
    pub delivery_id: Option<String>,
    pub signed: bool,
    pub date: Option<String>,
    pub body: Bytes,
    pub status: u16,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    default_reply: Option<Reply>,
    received: Vec<Received>,
    unique: HashSet<(String, String)>,
    total: u64,
    keep_requests: bool,
    /// Requests being answered now, and the most at once, per host.
    in_flight: HashMap<String, u64>,
    most_in_flight: HashMap<String, u64>,
}

/// The sink.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Sink {
    /// Starts a sink on an OS-assigned loopback port; it keeps every request it receives.
    pub async fn start() -> Sink {
        Sink::start_with(true).await
    }

    /// Starts a sink; `keep_requests: false` keeps only counts (for soak runs).
    pub async fn start_with(keep_requests: bool) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            keep_requests,
            ..State::default()
        }));
        let sink = Sink {
            addr,
            state: Arc::clone(&state),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&state), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        sink
    }

    /// The URL of an inbox on this sink for the fake host `host` (resolved to loopback by
    /// the caller's transport).
    pub fn inbox(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests for `host` with `replies`, in order.
    pub fn script(&self, host: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut state = self.state.lock().unwrap();
        state
            .scripts
            .entry(host.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers requests with no script with `reply` (default: 202).
    pub fn default_reply(&self, reply: Reply) {
        self.state.lock().unwrap().default_reply = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn received_for(&self, host: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.host == host)
            .collect()
    }

    /// The most requests for `host` this sink was answering at once.
    pub fn most_in_flight(&self, host: &str) -> u64 {
        let state = self.state.lock().unwrap();
        state.most_in_flight.get(host).copied().unwrap_or(0)
    }

    /// (total requests, unique (host, delivery id) pairs)
    pub fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap();
        (state.total, state.unique.len() as u64)
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header("host").unwrap_or_default();
    let delivery_id = header("x-delivery-id");
    let signed = request.headers().contains_key("signature");
    let date = header("date");
    {
        let mut state = state.lock().unwrap();
        let now = state.in_flight.entry(host.clone()).or_default();
        *now += 1;
        let now = *now;
        let most = state.most_in_flight.entry(host.clone()).or_default();
        *most = (*most).max(now);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let answered = host.clone();
    let reply = {
        let mut state = state.lock().unwrap();
        state.total += 1;
        let scripted = state.scripts.get_mut(&host).and_then(VecDeque::pop_front);
        let reply = scripted
            .or_else(|| state.default_reply.clone())
            .unwrap_or(Reply::status(202));
        if (200..300).contains(&reply.status)
            && let Some(id) = &delivery_id
        {
            state.unique.insert((host.clone(), id.clone()));
        }
        if state.keep_requests {
            state.received.push(Received {
                host,
                delivery_id,
                signed,
                date,
                body,
                status: reply.status,
                at: std::time::Instant::now(),
            });
        }
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if let Some(now) = state.lock().unwrap().in_flight.get_mut(&answered) {
        *now = now.saturating_sub(1);
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    if let Some(retry_after) = reply.retry_after {
        response
            .headers_mut()
            .insert("retry-after", retry_after.parse().unwrap());
    }
    Ok(response)
}

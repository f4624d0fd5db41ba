//! TCP plumbing for tests that run an instance as several processes: a round-robin load
//! balancer in front of them ([`balance`]), and a [`Gate`] in front of another server that holds
//! what is sent to it until it is opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A round-robin load balancer on `listener`: each connection goes to the next of `backends`
/// in turn, or, when that one refuses it (a process that died), to the next that accepts. It
/// runs on the current runtime until the runtime ends.
///
/// The answer counts the connections each backend took (in the order of `backends`). A
/// client that wants its requests spread opens a new connection per request (reqwest:
/// `pool_max_idle_per_host(0)`).
pub fn balance(listener: TcpListener, backends: Vec<SocketAddr>) -> Arc<Vec<AtomicUsize>> {
    let next = Arc::new(AtomicUsize::new(0));
    let served: Arc<Vec<AtomicUsize>> =
        Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
    let counts = served.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let first = next.fetch_add(1, Ordering::SeqCst);
            let (backends, served) = (backends.clone(), served.clone());
            tokio::spawn(async move {
                let turn = first % backends.len().max(1);
                let in_turn = backends.iter().zip(served.iter()).cycle().skip(turn);
                for (backend, count) in in_turn.take(backends.len()) {
                    if let Ok(mut upstream) = TcpStream::connect(backend).await {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        return;
                    }
                }
            });
        }
    });
    counts
}

/// A gate in front of a server: while closed, what a client sends waits in the gate (its
/// request is sent, its answer never comes); opened, everything held goes through, even what
/// a client that has died since had sent. It runs on the current runtime until the runtime
/// ends.
///
/// With it, a test can keep an instance's deliveries in flight (claimed, sent, not answered)
/// while it kills the process that sends them.
pub struct Gate {
    open: watch::Sender<bool>,
    held: Arc<AtomicUsize>,
    abandoned: Arc<AtomicUsize>,
}

impl Gate {
    /// A gate, open, taking connections on `listener` to the server at `upstream`.
    pub fn new(listener: TcpListener, upstream: SocketAddr) -> Self {
        let (open, opened) = watch::channel(true);
        let held = Arc::new(AtomicUsize::new(0));
        let abandoned = Arc::new(AtomicUsize::new(0));
        let (counting, hung_up) = (held.clone(), abandoned.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pass(
                    client,
                    upstream,
                    opened.clone(),
                    counting.clone(),
                    hung_up.clone(),
                ));
            }
        });
        Self {
            open,
            held,
            abandoned,
        }
    }

    /// Opens (`true`) or closes the gate.
    pub fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }

    /// How many requests wait in the gate now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// How many held requests were abandoned by their client while they waited (the client
    /// hung up: a process killed, a request given up).
    pub fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }
}

/// One connection through the gate.
async fn pass(
    client: TcpStream,
    upstream: SocketAddr,
    opened: watch::Receiver<bool>,
    held: Arc<AtomicUsize>,
    abandoned: Arc<AtomicUsize>,
) {
    let Ok(upstream) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
    });
    let mut buffer = vec![0_u8; 64 * 1024];
    let mut client_open = true;
    while client_open {
        let Ok(n) = client_read.read(&mut buffer).await else {
            break;
        };
        if n == 0 {
            break;
        }
        let mut chunk = buffer.get(..n).unwrap_or_default().to_vec();
        if !*opened.borrow() {
            held.fetch_add(1, Ordering::SeqCst);
            let mut waiting = opened.clone();
            loop {
                tokio::select! {
                    _ = waiting.wait_for(|open| *open) => break,
                    more = client_read.read(&mut buffer), if client_open => {
                        match more {
                            Ok(0) | Err(_) => {
                                client_open = false;
                                abandoned.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(n) => chunk.extend_from_slice(buffer.get(..n).unwrap_or_default()),
                        }
                    }
                }
            }
            held.fetch_sub(1, Ordering::SeqCst);
        }
        // What reached the gate reaches the server, even from a client that has died since:
        // it was sent.
        if upstream_write.write_all(&chunk).await.is_err() {
            break;
        }
    }
    if !client_open {
        // Let the server answer the abandoned request, to nobody.
        let _ = upstream_write.shutdown().await;
    }
    let _ = answers.await;
}

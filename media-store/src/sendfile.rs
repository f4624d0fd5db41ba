//! Zero-copy file responses over plain TCP: `sendfile(2)` from the file to the socket under
//! hyper, which itself only writes byte buffers.
//!
//! A connection accepted as a [`SendfileStream`] gives a [`Sendfile`] handle; the server puts
//! the handle in each request's extensions. A [`FileBody`](crate::FileBody) built for such a
//! request yields *placeholder* frames (slices of a private static buffer) and queues, in the
//! same order, the file range each stands for. When hyper writes a placeholder to the
//! connection, the stream recognises it by its address and calls `sendfile` for that range
//! instead: the bytes go from the page cache to the socket without being copied through user
//! space, as nginx's `sendfile on` does.
//!
//! The body must reach the connection untouched: a layer that reads or transforms response
//! bodies (compression) must skip these responses, or it would see the placeholders' zeros.
//! A placeholder met with no queued range is an I/O error, never zeros on the wire.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The longest placeholder frame, so the longest `sendfile` call (nginx's
/// `sendfile_max_chunk` is 2 MiB too).
pub(crate) const SENDFILE_CHUNK: usize = 2 << 20;

/// The memory placeholders point into; never read (so never even paged in) nor sent.
static PLACEHOLDER: [u8; SENDFILE_CHUNK] = [0; SENDFILE_CHUNK];

/// A TCP connection that sends the file ranges of [`FileBody`](crate::FileBody) responses with
/// `sendfile(2)`. Wrap it in hyper-util's `TokioIo` for hyper.
///
/// [`SendfileStream::new`] gives a [`Sendfile`] handle with the stream; the server puts the
/// handle in each request's extensions. A `FileBody` built for such a request (by
/// [`MediaStore::serve_request`](crate::MediaStore::serve_request) or the service) yields
/// *placeholder* frames (slices of a private static buffer) and queues, in the same order, the
/// file range each stands for. When hyper writes a placeholder, this stream recognises it by
/// its address and calls `sendfile` for that range instead: the bytes go from the page cache to
/// the socket without being copied through user space, as nginx's `sendfile on` does.
///
/// The body must reach the connection untouched: plain TCP (no TLS), hyper's default vectored
/// writes (never `http1::Builder::writev(false)`, which copies bodies into hyper's own buffer),
/// and no layer that reads or transforms response bodies (compression must skip media), or the
/// placeholders' zeros would be sent. A placeholder met with no queued range is an I/O error.
pub struct SendfileStream {
    stream: TcpStream,
    queue: Arc<Queue>,
}

/// The handle a request carries (in its extensions) so that file responses to it use
/// `sendfile` on its connection.
#[derive(Clone)]
pub struct Sendfile {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Sendfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sendfile").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Queue {
    segments: Mutex<VecDeque<Segment>>,
    sent: AtomicU64,
}

struct Segment {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
}

impl SendfileStream {
    /// Wraps an accepted connection; the handle goes into the requests read from it.
    pub fn new(stream: TcpStream) -> (Self, Sendfile) {
        let queue = Arc::new(Queue::default());
        (
            Self {
                stream,
                queue: queue.clone(),
            },
            Sendfile { queue },
        )
    }

    /// The connection.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends up to `len` bytes of the front segment.
    fn poll_send(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            let mut segments = self
                .queue
                .segments
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(front) = segments.front_mut() else {
                return Poll::Ready(Err(io::Error::other(
                    "sendfile: a placeholder with no file range queued",
                )));
            };
            if len as u64 > front.remaining {
                return Poll::Ready(Err(io::Error::other(
                    "sendfile: placeholder longer than its file range",
                )));
            }
            let mut offset = front.offset;
            let file = front.file.clone();
            let sent = self.stream.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.stream, &*file, Some(&mut offset), len)
                    .map_err(io::Error::from)
            });
            match sent {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
                Ok(sent) => {
                    self.queue.sent.fetch_add(sent as u64, Ordering::Relaxed);
                    front.offset += sent as u64;
                    front.remaining -= sent as u64;
                    if front.remaining == 0 {
                        segments.pop_front();
                    }
                    return Poll::Ready(Ok(sent));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl Sendfile {
    /// How many bytes this connection has sent by `sendfile` so far.
    pub fn bytes_sent(&self) -> u64 {
        self.queue.sent.load(Ordering::Relaxed)
    }

    /// Queues a range of `file` and returns the placeholder frame standing for it
    /// (`len` ≤ the placeholder's size).
    pub(crate) fn placeholder(&self, file: &Arc<File>, offset: u64, len: usize) -> Bytes {
        let len = len.min(SENDFILE_CHUNK);
        self.queue
            .segments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Segment {
                file: file.clone(),
                offset,
                remaining: len as u64,
            });
        Bytes::from_static(PLACEHOLDER.get(..len).unwrap_or_default())
    }
}

fn is_placeholder(slice: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr() as usize;
    let at = slice.as_ptr() as usize;
    !slice.is_empty() && at >= start && at < start + PLACEHOLDER.len()
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if is_placeholder(buf) {
            this.poll_send(cx, buf.len())
        } else {
            Pin::new(&mut this.stream).poll_write(cx, buf)
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Ordinary buffers up to the first placeholder go in one writev; a placeholder first
        // goes by sendfile. hyper calls again for the rest.
        let first = bufs.iter().position(|b| is_placeholder(b));
        match first {
            Some(0) => match bufs.first() {
                Some(buf) => this.poll_send(cx, buf.len()),
                None => Poll::Ready(Ok(0)),
            },
            Some(n) => Pin::new(&mut this.stream)
                .poll_write_vectored(cx, bufs.get(..n).unwrap_or_default()),
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

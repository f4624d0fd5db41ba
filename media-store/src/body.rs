//! The streaming body of a file response: positional reads into pooled buffers, tried first
//! from the page cache without blocking (`preadv2(RWF_NOWAIT)`), else on a blocking thread.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use rustix::io::{Errno, ReadWriteFlags};
use tokio::task::JoinHandle;

use crate::sendfile::Sendfile;

/// The size of one read, and of one frame of the body.
pub(crate) const READ_CHUNK: usize = 256 * 1024;
/// Buffers kept for reuse (4 MiB); more in use at once are allocated and freed.
const POOLED: usize = 16;

static POOL: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());
/// Cleared the first time the kernel or filesystem refuses `RWF_NOWAIT`.
static NOWAIT: AtomicBool = AtomicBool::new(true);

/// The body of a response from [`MediaStore::serve`](crate::MediaStore::serve): the bytes of
/// a file (the whole, one range, or the parts of a `multipart/byteranges`), read as the
/// connection takes them, in 256 KiB frames (or sent by `sendfile` in frames of up to 2 MiB,
/// see [`SendfileStream`](crate::SendfileStream)). Its size is known ([`Body::size_hint`] is
/// exact).
pub struct FileBody {
    file: Option<Arc<File>>,
    /// Set when the connection sends file ranges with `sendfile`.
    sendfile: Option<Sendfile>,
    pieces: VecDeque<Piece>,
    reading: Option<JoinHandle<io::Result<Bytes>>>,
    remaining: u64,
}

pub(crate) enum Piece {
    Bytes(Bytes),
    File { offset: u64, len: u64 },
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl FileBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self {
            file: None,
            sendfile: None,
            pieces: VecDeque::new(),
            reading: None,
            remaining: 0,
        }
    }

    pub(crate) fn new(file: File, pieces: Vec<Piece>, sendfile: Option<Sendfile>) -> Self {
        let remaining = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::File { len, .. } => *len,
            })
            .sum();
        Self {
            file: Some(Arc::new(file)),
            sendfile,
            pieces: pieces.into(),
            reading: None,
            remaining,
        }
    }

    fn emit(&mut self, bytes: Bytes) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(reading) = this.reading.as_mut() {
                let result = ready!(Pin::new(reading).poll(cx));
                this.reading = None;
                return match result {
                    Ok(Ok(bytes)) => this.emit(bytes),
                    Ok(Err(error)) => Poll::Ready(Some(Err(error))),
                    Err(join) => Poll::Ready(Some(Err(io::Error::other(join)))),
                };
            }
            let (offset, len) = match this.pieces.front_mut() {
                None => return Poll::Ready(None),
                Some(Piece::Bytes(bytes)) => {
                    let bytes = std::mem::take(bytes);
                    this.pieces.pop_front();
                    return this.emit(bytes);
                }
                Some(Piece::File { len: 0, .. }) => {
                    this.pieces.pop_front();
                    continue;
                }
                Some(Piece::File { offset, len }) => (offset, len),
            };
            let Some(file) = this.file.clone() else {
                return Poll::Ready(Some(Err(io::Error::other("file body without a file"))));
            };
            let want = usize::try_from(*len).unwrap_or(usize::MAX);
            if let Some(sendfile) = &this.sendfile {
                let frame = sendfile.placeholder(&file, *offset, want);
                *offset += frame.len() as u64;
                *len -= frame.len() as u64;
                return this.emit(frame);
            }
            let want = want.min(READ_CHUNK);
            let mut buffer = take_buffer();
            if NOWAIT.load(Ordering::Relaxed) {
                let Some(slice) = buffer.get_mut(..want) else {
                    return Poll::Ready(Some(Err(io::Error::other("read buffer too small"))));
                };
                match rustix::io::preadv2(
                    &*file,
                    &mut [IoSliceMut::new(slice)],
                    *offset,
                    ReadWriteFlags::NOWAIT,
                ) {
                    Ok(0) => return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into()))),
                    Ok(read) => {
                        *offset += read as u64;
                        *len -= read as u64;
                        return this.emit(Bytes::from_owner(Pooled {
                            buffer: Some(buffer),
                            len: read,
                        }));
                    }
                    // Not all in the page cache: read on a blocking thread.
                    Err(Errno::AGAIN) => {}
                    Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => {
                        NOWAIT.store(false, Ordering::Relaxed)
                    }
                    Err(Errno::INTR) => continue,
                    Err(error) => return Poll::Ready(Some(Err(error.into()))),
                }
            }
            let at = *offset;
            *offset += want as u64;
            *len -= want as u64;
            this.reading = Some(tokio::task::spawn_blocking(move || {
                let slice = buffer
                    .get_mut(..want)
                    .ok_or_else(|| io::Error::other("read buffer too small"))?;
                file.read_exact_at(slice, at)?;
                Ok(Bytes::from_owner(Pooled {
                    buffer: Some(buffer),
                    len: want,
                }))
            }));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.reading.is_none() && self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn take_buffer() -> Box<[u8]> {
    let pooled = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
    pooled.unwrap_or_else(|| vec![0u8; READ_CHUNK].into_boxed_slice())
}

/// A pooled buffer holding `len` bytes of a frame; back to the pool when the frame is dropped
/// (written to the socket), so serving allocates nothing per chunk once warm.
struct Pooled {
    buffer: Option<Box<[u8]>>,
    len: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buffer
            .as_deref()
            .and_then(|b| b.get(..self.len))
            .unwrap_or_default()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            if pool.len() < POOLED {
                pool.push(buffer);
            }
        }
    }
}

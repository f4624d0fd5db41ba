//! Streaming a body into a staged file: bounded memory, a byte limit, the declared length
//! checked, SHA-256 computed on the way, time limits from tokio's timers.

use std::fs::File;
use std::io::Write;
use std::mem;
use std::path::Path;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::{Stream, StreamExt};
use http::{HeaderMap, Request, header};
use http_body_util::BodyDataStream;
use ring::digest;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::error::{BoxError, StoreError, UploadError};
use crate::key::Key;
use crate::store::{MediaStore, Metadata, Sha256, Staged, TempFile};

/// The size of the buffers a body is gathered in before each write: two per upload in flight
/// (one filling while the other is written and hashed on a blocking thread).
const WRITE_BUFFER: usize = 1 << 20;

/// The limits of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most bytes accepted; the body is refused as soon as it passes them.
    pub max_bytes: u64,
    /// The longest the whole upload may take.
    pub total_time: Option<Duration>,
    /// The longest the body may go without sending data.
    pub stall_time: Option<Duration>,
}

impl Limits {
    /// A byte limit and no time limits.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            total_time: None,
            stall_time: None,
        }
    }

    /// Sets [`Limits::total_time`].
    pub fn with_total_time(mut self, limit: Duration) -> Self {
        self.total_time = Some(limit);
        self
    }

    /// Sets [`Limits::stall_time`].
    pub fn with_stall_time(mut self, limit: Duration) -> Self {
        self.stall_time = Some(limit);
        self
    }
}

/// The `Content-Length` of a request: `None` when absent, an error when it is not a single
/// decimal number (several equal values are accepted, as RFC 9110 §8.6 allows).
pub fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, UploadError> {
    let mut declared = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value
            .to_str()
            .map_err(|_| UploadError::InvalidContentLength)?
            .split(',')
        {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UploadError::InvalidContentLength);
            }
            let length: u64 = part
                .parse()
                .map_err(|_| UploadError::InvalidContentLength)?;
            if declared.is_some_and(|d| d != length) {
                return Err(UploadError::InvalidContentLength);
            }
            declared = Some(length);
        }
    }
    Ok(declared)
}

impl MediaStore {
    /// Stages a stream of chunks: a multipart field (axum's `Field`, `multer::Field`), a
    /// response body being fetched from another server, anything yielding
    /// `Result<Bytes, E>`. `declared` is the length the sender announced, if any: a stream
    /// shorter or longer than it is an error. See [`Limits`] for the rest.
    ///
    /// The chunks are gathered in a 1 MiB buffer and written (and hashed) on a blocking thread
    /// while the next buffer fills, so an upload holds about 2 MiB whatever its size. On any
    /// error the temporary file is removed, and the stream is dropped without being read
    /// further.
    pub async fn stage<S, E>(
        &self,
        stream: S,
        declared: Option<u64>,
        limits: &Limits,
    ) -> Result<Staged, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        if let Some(declared) = declared
            && declared > limits.max_bytes
        {
            return Err(UploadError::DeclaredTooLarge {
                declared,
                limit: limits.max_bytes,
            });
        }
        let deadline = limits
            .total_time
            .map(|limit| (Instant::now() + limit, limit));
        let inner = self.inner.clone();
        let temp = tokio::task::spawn_blocking(move || inner.create_temp())
            .await
            .map_err(StoreError::from)??;
        // Removes the file at once if this returns an error or is dropped, even while a write
        // on a blocking thread still holds it (that write then goes to an unlinked file).
        let mut unlink = Unlink(Some(temp.path.clone()));
        let mut writer = Writer::new(temp);
        let mut received: u64 = 0;
        let mut stream = std::pin::pin!(stream);
        loop {
            let next = next_chunk(stream.next(), deadline, limits.stall_time).await?;
            let chunk = match next {
                None => break,
                Some(Err(error)) => return Err(UploadError::Body(error.into())),
                Some(Ok(chunk)) => chunk,
            };
            received = received.saturating_add(chunk.len() as u64);
            if received > limits.max_bytes {
                return Err(UploadError::TooLarge {
                    limit: limits.max_bytes,
                });
            }
            if let Some(declared) = declared
                && received > declared
            {
                return Err(UploadError::Overlong { declared });
            }
            writer.push(&chunk, deadline).await?;
        }
        if let Some(declared) = declared
            && received < declared
        {
            return Err(UploadError::Truncated { declared, received });
        }
        let (temp, sha256) = writer.finish(deadline).await?;
        unlink.0 = None;
        Ok(Staged::new(self.clone(), temp, received, sha256))
    }

    /// Stages an HTTP body (axum's `Body`, hyper's `Incoming`, any [`http_body::Body`]) with
    /// its declared length; see [`MediaStore::stage`].
    pub async fn stage_body<B>(
        &self,
        body: B,
        declared: Option<u64>,
        limits: &Limits,
    ) -> Result<Staged, UploadError>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let stream = BodyDataStream::new(body)
            .map(|chunk| chunk.map(|mut data| data.copy_to_bytes(data.remaining())));
        self.stage(stream, declared, limits).await
    }

    /// Stages the body of a request, its length declared by its `Content-Length`; see
    /// [`MediaStore::stage`].
    pub async fn stage_request<B>(
        &self,
        request: Request<B>,
        limits: &Limits,
    ) -> Result<Staged, UploadError>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let declared = declared_length(request.headers())?;
        self.stage_body(request.into_body(), declared, limits).await
    }

    /// Stages a copy of a file the server made (a thumbnail, a transcoded version), under the
    /// same limits and hashing as an upload; its length at the start is the declared one, so a
    /// file that grows or shrinks during the copy is an error.
    pub async fn stage_file(&self, from: &Path, limits: &Limits) -> Result<Staged, UploadError> {
        let file = tokio::fs::File::open(from)
            .await
            .map_err(StoreError::io("open", from))?;
        let length = file
            .metadata()
            .await
            .map_err(StoreError::io("stat", from))?
            .len();
        let path = from.to_owned();
        let chunks = futures::stream::unfold(Some(file), move |file| {
            let path = path.clone();
            async move {
                let mut file = file?;
                let mut buf = Vec::with_capacity(WRITE_BUFFER);
                match (&mut file)
                    .take(WRITE_BUFFER as u64)
                    .read_to_end(&mut buf)
                    .await
                {
                    Ok(0) => None,
                    Ok(_) => Some((Ok(Bytes::from(buf)), Some(file))),
                    Err(e) => Some((Err(StoreError::io("read", path)(e)), None)),
                }
            }
        });
        self.stage(chunks, Some(length), limits).await
    }

    /// Stores a copy of the file at `from` under `key`: [`MediaStore::stage_file`] then
    /// [`Staged::commit`].
    pub async fn store_file(
        &self,
        key: &Key,
        from: &Path,
        limits: &Limits,
    ) -> Result<Metadata, UploadError> {
        let staged = self.stage_file(from, limits).await?;
        Ok(staged.commit(key).await?)
    }
}

struct Unlink(Option<std::path::PathBuf>);

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Waits for the next chunk within the time limits.
async fn next_chunk<F: Future>(
    next: F,
    deadline: Option<(Instant, Duration)>,
    stall: Option<Duration>,
) -> Result<F::Output, UploadError> {
    let stall_at = stall.map(|limit| (Instant::now() + limit, limit));
    let earliest = match (deadline, stall_at) {
        (Some(d), Some(s)) => Some(if s.0 < d.0 {
            (s.0, UploadError::Stalled { limit: s.1 })
        } else {
            (d.0, UploadError::TimedOut { limit: d.1 })
        }),
        (Some(d), None) => Some((d.0, UploadError::TimedOut { limit: d.1 })),
        (None, Some(s)) => Some((s.0, UploadError::Stalled { limit: s.1 })),
        (None, None) => None,
    };
    match earliest {
        None => Ok(next.await),
        Some((at, error)) => timeout_at(at, next).await.map_err(|_| error),
    }
}

/// The file and the running hash, moved to a blocking thread for each write.
struct Sink {
    temp: TempFile,
    hash: digest::Context,
}

type WriteTask = JoinHandle<(Sink, Vec<u8>, std::io::Result<()>)>;

/// Double-buffered writer: one buffer fills while the other is written and hashed.
struct Writer {
    filling: Vec<u8>,
    spare: Option<Vec<u8>>,
    state: State,
}

enum State {
    Idle(Box<Sink>),
    Writing(WriteTask),
    Broken,
}

impl Writer {
    fn new(temp: TempFile) -> Self {
        Self {
            filling: Vec::with_capacity(WRITE_BUFFER),
            spare: None,
            state: State::Idle(Box::new(Sink {
                temp,
                hash: digest::Context::new(&digest::SHA256),
            })),
        }
    }

    async fn push(
        &mut self,
        mut data: &[u8],
        deadline: Option<(Instant, Duration)>,
    ) -> Result<(), UploadError> {
        while !data.is_empty() {
            let room = WRITE_BUFFER - self.filling.len();
            let (now, later) = data.split_at(room.min(data.len()));
            self.filling.extend_from_slice(now);
            data = later;
            if self.filling.len() == WRITE_BUFFER {
                self.flush(deadline).await?;
            }
        }
        Ok(())
    }

    /// Waits for the write in flight and gets the sink back.
    async fn idle(&mut self, deadline: Option<(Instant, Duration)>) -> Result<Sink, UploadError> {
        match mem::replace(&mut self.state, State::Broken) {
            State::Idle(sink) => Ok(*sink),
            State::Writing(write) => {
                let finished = match deadline {
                    Some((at, limit)) => timeout_at(at, write)
                        .await
                        .map_err(|_| UploadError::TimedOut { limit })?,
                    None => write.await,
                };
                let (sink, mut buffer, result) = finished.map_err(StoreError::from)?;
                result.map_err(StoreError::io("write", &sink.temp.path))?;
                buffer.clear();
                self.spare = Some(buffer);
                Ok(sink)
            }
            State::Broken => Err(UploadError::Store(StoreError::Corrupt {
                path: std::path::PathBuf::new(),
                reason: "an earlier write failed",
            })),
        }
    }

    async fn flush(&mut self, deadline: Option<(Instant, Duration)>) -> Result<(), UploadError> {
        let mut sink = self.idle(deadline).await?;
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(WRITE_BUFFER));
        let full = mem::replace(&mut self.filling, next);
        self.state = State::Writing(tokio::task::spawn_blocking(move || {
            sink.hash.update(&full);
            let result = match sink.temp.file.as_mut() {
                Some(file) => write_all(file, &full),
                None => Err(std::io::Error::other("temporary file closed")),
            };
            (sink, full, result)
        }));
        Ok(())
    }

    async fn finish(
        mut self,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<(TempFile, Sha256), UploadError> {
        if !self.filling.is_empty() {
            self.flush(deadline).await?;
        }
        let sink = self.idle(deadline).await?;
        Ok((sink.temp, Sha256::from_digest(&sink.hash.finish())))
    }
}

fn write_all(mut file: &File, data: &[u8]) -> std::io::Result<()> {
    file.write_all(data)
}

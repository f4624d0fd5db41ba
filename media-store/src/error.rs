//! The errors of the store's operations.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use http::StatusCode;

/// An error any source of a body may give (`hyper`, `axum`, `multer`, a file).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A filesystem operation of the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error, with what the store was doing and on which path.
    #[error("media store: cannot {action} {path}: {source}")]
    Io {
        /// What the store was doing ("create", "rename", "fsync"...).
        action: &'static str,
        /// The path it was working on.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A blocking task of the store panicked or was cancelled (the runtime shutting down).
    #[error("media store: a blocking task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A sidecar or the store's layout holds something the store did not write.
    #[error("media store: {path} is not what the store wrote: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// Why a body was not staged. Nothing is left on disk after any of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The body passed the byte limit; the rest was not read.
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The declared `Content-Length` is over the byte limit; nothing was read.
    #[error("the declared length {declared} is larger than the limit of {limit} bytes")]
    DeclaredTooLarge {
        /// The declared length.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// The body ended before its declared length (the client lied, or the connection broke).
    #[error("the body ended after {received} of its declared {declared} bytes")]
    Truncated {
        /// The declared length.
        declared: u64,
        /// What arrived.
        received: u64,
    },
    /// The body went on past its declared length.
    #[error("the body is longer than its declared {declared} bytes")]
    Overlong {
        /// The declared length.
        declared: u64,
    },
    /// The `Content-Length` header is not one decimal number.
    #[error("the Content-Length header is not a valid length")]
    InvalidContentLength,
    /// The body's stream failed (a broken connection, a multipart parse error...).
    #[error("reading the body failed: {0}")]
    Body(#[source] BoxError),
    /// The whole upload took longer than its time limit.
    #[error("the upload took longer than {limit:?}")]
    TimedOut {
        /// The limit.
        limit: Duration,
    },
    /// No data arrived for longer than the stall limit.
    #[error("no data arrived for {limit:?}")]
    Stalled {
        /// The limit.
        limit: Duration,
    },
    /// Writing the file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UploadError {
    /// The status to answer an HTTP upload that failed so: `413` over the limit, `400` for a
    /// body that does not match its length or broke, `408` for time limits, `500` for the
    /// store's own failures.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } | Self::DeclaredTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Truncated { .. }
            | Self::Overlong { .. }
            | Self::InvalidContentLength
            | Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::TimedOut { .. } | Self::Stalled { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

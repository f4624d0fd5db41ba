//! Uploaded media on disk: bodies streamed to a file within a size limit with their SHA-256,
//! stored atomically, and served with ranges, ETags and conditional requests.
//!
//! - [`MediaStore::stage`] and its variants stream a body (a `Stream` of `Bytes`, an HTTP body,
//!   a request, a file) into a temporary file of the store, within [`Limits`], hashing it;
//!   the [`Staged`] file is committed under a [`Key`] atomically, or removed when dropped.
//! - [`MediaStore::serve`] answers `GET`/`HEAD` as nginx does for a static file; the pure rules
//!   are in [`range`] and [`conditional`]. [`SendfileStream`] lets file responses go out by
//!   `sendfile(2)` under hyper.
//!
//! See `docs/media-store.md` for the layout on disk, the multipart recipe and the benchmark.
//!
//! ```no_run
//! # async fn demo(store: media_store::MediaStore, body: axum::body::Body) -> Result<(), Box<dyn std::error::Error>> {
//! use media_store::{Key, Limits};
//! let staged = store.stage_body(body, Some(1234), &Limits::new(100 << 20)).await?;
//! // ...probe staged.path() here...
//! let key = Key::new(format!("videos/{}.mp4", staged.sha256()))?;
//! staged.commit(&key).await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "bench")]
pub mod bench;
mod body;
pub mod conditional;
mod error;
mod key;
pub mod range;
mod sendfile;
mod serve;
mod store;
mod upload;

pub use body::FileBody;
pub use error::{BoxError, StoreError, UploadError};
pub use key::{Key, KeyError, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, MAX_SEGMENTS};
pub use sendfile::{Sendfile, SendfileStream};
pub use serve::{MediaService, ServeError, ServeOptions};
pub use store::{MediaStore, Metadata, Sha256, Staged};
pub use upload::{Limits, declared_length};

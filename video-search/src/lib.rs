//! Full-text search over videos, channels and playlists (folding, stemming, filters, sorts),
//! and the JSON shapes of PeerTube's search API.
//!
//! [`SearchIndex`] is a tantivy index of [`VideoDocument`]s, [`ChannelDocument`]s and
//! [`PlaylistDocument`]s that the application upserts and deletes by ActivityPub id as its
//! database changes (the database stays the source of truth; the index can be rebuilt). It
//! answers [`VideoQuery`], [`ChannelQuery`] and [`PlaylistQuery`]. The [`api`] module reads
//! PeerTube's search queries (query string or JSON body) into those, and writes the answers in
//! PeerTube's REST shapes; it does no HTTP itself.

mod analysis;
pub mod api;
mod document;
mod index;
mod query;
mod text;

pub use analysis::{STEMMED_LANGUAGES, stemmer_index};
pub use document::{
    ActorSummary, ChannelDocument, Constant, Image, PlaylistDocument, VideoDocument,
};
pub use index::{Hit, IndexConfig, IndexError, Kind, Limits, SearchIndex, SearchResults};
pub use query::{ChannelQuery, Page, PlaylistQuery, Sensitive, Sort, SortKey, VideoQuery};

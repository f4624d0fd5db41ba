//! Types that extensions of the fediverse add: Mobilizon's events and members, PeerTube's videos,
//! cache files and playlists, and schema.org's `PropertyValue`.

pub mod mobilizon;
pub mod peertube;
pub mod schema;

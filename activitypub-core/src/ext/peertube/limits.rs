//! The bounds the readers and builders of this module apply.
//!
//! Where PeerTube has a bound (`CONSTRAINTS_FIELDS` in `server/core/initializers/constants.ts`)
//! the same one is used; where it has none (durations, file sizes, dimensions, counts), the bound
//! is far above anything real and far below what would overflow or mislead a consumer.

/// Longest URL accepted, in characters (PeerTube's `ACTORS.URL.max`).
pub const MAX_URL_CHARS: usize = 2_000;
/// Shortest video name, in characters (PeerTube's `VIDEOS.NAME.min`).
pub const MIN_NAME_CHARS: usize = 3;
/// Longest video name, in characters (PeerTube's `VIDEOS.NAME.max`).
pub const MAX_NAME_CHARS: usize = 120;
/// Shortest video description PeerTube accepts, in characters (`VIDEOS.DESCRIPTION.min`): it
/// refuses a whole video whose description is shorter, so the builder refuses one.
pub const MIN_DESCRIPTION_CHARS: usize = 3;
/// Longest video description kept, in characters; a longer one is cut there, as PeerTube does
/// (`VIDEOS.DESCRIPTION.max`).
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest `support` text kept, in characters (PeerTube's `VIDEOS.SUPPORT.max`).
pub const MAX_SUPPORT_CHARS: usize = 1_000;
/// Shortest tag, in characters (PeerTube's `VIDEOS.TAG.min`).
pub const MIN_TAG_CHARS: usize = 2;
/// Longest tag, in characters (PeerTube's `VIDEOS.TAG.max`).
pub const MAX_TAG_CHARS: usize = 30;
/// Longest identifier of a category, licence or language, in characters.
pub const MAX_IDENTIFIER_CHARS: usize = 100;
/// Longest display name of a category, licence, language or caption, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Longest video, in seconds: one year of 365 days (PeerTube sets no upper bound).
pub const MAX_DURATION_SECS: u64 = 365 * 24 * 60 * 60;
/// Largest file, in bytes: 1 TiB (PeerTube sets no upper bound).
pub const MAX_FILE_SIZE: u64 = 1 << 40;
/// Largest width or height of a file or an image, in pixels (16K video is 15360 x 8640).
pub const MAX_DIMENSION: u64 = 16_384;
/// Most files read from one list (the `url` of a video, the `tag` of an HLS playlist): PeerTube
/// writes one per resolution, a dozen at most.
pub const MAX_FILES: u64 = 100;
/// Highest frame rate, in frames per second.
pub const MAX_FPS: u64 = 1_000;
/// Largest view or viewer count.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Largest aspect ratio (width / height); the smallest is its inverse.
pub const MAX_ASPECT_RATIO: f64 = 100.0;
/// Shortest playlist name, in characters (PeerTube's `VIDEO_PLAYLISTS.NAME.min`).
pub const MIN_PLAYLIST_NAME_CHARS: usize = 1;
/// Longest playlist name, in characters (PeerTube's `VIDEO_PLAYLISTS.NAME.max`).
pub const MAX_PLAYLIST_NAME_CHARS: usize = 120;
/// Longest playlist description kept, in characters (PeerTube's
/// `VIDEO_PLAYLISTS.DESCRIPTION.max`); a longer one is cut.
pub const MAX_PLAYLIST_DESCRIPTION_CHARS: usize = 1_000;
/// Largest number of elements of a playlist, and largest position of an element.
pub const MAX_PLAYLIST_ITEMS: u64 = 1_000_000;
/// The media types of the video files PeerTube reads (`MIMETYPES.AP_VIDEO`); it ignores a file
/// of any other type, so the builder writes no other. The reader keeps any `video/*` or
/// `audio/*` file.
pub const VIDEO_MEDIA_TYPES: &[&str] = &["video/mp4", "video/webm", "video/ogg", "audio/mp4"];
/// The media types of the images PeerTube reads (`MIMETYPES.IMAGE`); the builder writes no other.
/// The reader keeps any `image/*`.
pub const IMAGE_MEDIA_TYPES: &[&str] = &[
    "image/jpeg",
    "image/jpg",
    "image/png",
    "image/webp",
    "image/gif",
];

//! The values a video is made of, shared by reading and writing: files, HLS playlists,
//! thumbnails, captions and labels.

use super::vocab::FileFormat;
use crate::Iri;

/// A name, category, licence or language: `{"identifier": "15", "name": "Science & Technology"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Label {
    /// The machine-readable identifier.
    pub identifier: String,
    /// The display name.
    pub name: Option<String>,
}

impl Label {
    /// A label `identifier` named `name`.
    pub fn new(identifier: impl Into<String>, name: Option<String>) -> Self {
        Self {
            identifier: identifier.into(),
            name,
        }
    }
}

/// A video file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VideoFile {
    /// `href`: where to download it.
    pub href: Iri,
    /// `mediaType` (`video/mp4`...).
    pub media_type: String,
    /// `height` in pixels (0 for an audio-only file): the resolution.
    pub height: u64,
    /// `width` in pixels.
    pub width: Option<u64>,
    /// `size` in bytes.
    pub size: u64,
    /// `fps`, when known.
    pub fps: Option<u64>,
    /// The streams it holds, from its `ffprobe_codec_type` hints (PeerTube 7.1+).
    pub streams: Option<FileStreams>,
    /// Its `peertube_format_flag` hints.
    pub formats: Vec<FileFormat>,
    /// The `metadata` link of the same resolution and frame rate (ffprobe's output, JSON).
    pub metadata_url: Option<Iri>,
    /// The `.torrent` link of the same resolution.
    pub torrent_url: Option<Iri>,
    /// The `magnet:` link of the same resolution.
    pub magnet_uri: Option<Iri>,
}

/// Which streams a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct FileStreams {
    /// It has an audio stream.
    pub audio: bool,
    /// It has a video stream.
    pub video: bool,
}

impl FileStreams {
    /// A file with these streams.
    pub fn new(audio: bool, video: bool) -> Self {
        Self { audio, video }
    }
}

/// The `rel` of a `Link` in an HLS playlist's `tag` naming a copy of it on another server
/// ([`HlsPlaylist::mirrors`]).
pub const MIRROR_REL: &str = "redundancy";

/// An HLS streaming playlist.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HlsPlaylist {
    /// `href`: the master playlist (`.m3u8`).
    pub href: Iri,
    /// The `sha256` link of its `tag`: the JSON of the SHA-256 of each segment.
    pub segments_sha256_url: Option<Iri>,
    /// The files of each resolution (fragmented MP4), from its `tag`.
    pub files: Vec<VideoFile>,
    /// The `Infohash` names of its `tag` (for P2P loading).
    pub infohashes: Vec<String>,
    /// Copies of the playlist on other servers (their master playlists), known to its origin
    /// from their `CacheFile`s: `Link`s of its `tag` with `rel: ["redundancy"]` and
    /// `mediaType: application/x-mpegURL`. PeerTube 7 does not write them (its REST API lists
    /// `streamingPlaylists[].redundancies[].baseUrl` instead) and skips them when it reads.
    pub mirrors: Vec<Iri>,
}

/// A thumbnail or preview image (`icon`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Thumbnail {
    /// `url`.
    pub url: Iri,
    /// `mediaType` (`image/jpeg`...).
    pub media_type: String,
    /// `width` in pixels.
    pub width: u64,
    /// `height` in pixels.
    pub height: u64,
}

/// A caption (`subtitleLanguage`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caption {
    /// Its language.
    pub language: Label,
    /// The WebVTT file.
    pub url: Iri,
    /// Its HLS playlist, when there is one (PeerTube 7.1+).
    pub playlist_url: Option<Iri>,
    /// `automaticallyGenerated`: made by speech recognition.
    pub automatically_generated: bool,
}

impl VideoFile {
    /// A file at `href` of type `media_type`, `height` pixels high, of `size` bytes.
    pub fn new(href: Iri, media_type: impl Into<String>, height: u64, size: u64) -> Self {
        Self {
            href,
            media_type: media_type.into(),
            height,
            width: None,
            size,
            fps: None,
            streams: None,
            formats: Vec::new(),
            metadata_url: None,
            torrent_url: None,
            magnet_uri: None,
        }
    }

    /// Sets the width in pixels.
    pub fn with_width(mut self, width: u64) -> Self {
        self.width = Some(width);
        self
    }

    /// Sets the frame rate.
    pub fn with_fps(mut self, fps: u64) -> Self {
        self.fps = Some(fps);
        self
    }

    /// Says which streams the file holds.
    pub fn with_streams(mut self, streams: FileStreams) -> Self {
        self.streams = Some(streams);
        self
    }

    /// Adds a format hint.
    pub fn with_format(mut self, format: FileFormat) -> Self {
        self.formats.push(format);
        self
    }

    /// Sets the URL of the file's metadata (ffprobe's output, JSON).
    pub fn with_metadata_url(mut self, url: Iri) -> Self {
        self.metadata_url = Some(url);
        self
    }

    /// Sets the URL of the file's `.torrent`.
    pub fn with_torrent_url(mut self, url: Iri) -> Self {
        self.torrent_url = Some(url);
        self
    }

    /// Sets the file's `magnet:` URI.
    pub fn with_magnet_uri(mut self, uri: Iri) -> Self {
        self.magnet_uri = Some(uri);
        self
    }
}

impl HlsPlaylist {
    /// A playlist whose master playlist is at `href`.
    pub fn new(href: Iri) -> Self {
        Self {
            href,
            segments_sha256_url: None,
            files: Vec::new(),
            infohashes: Vec::new(),
            mirrors: Vec::new(),
        }
    }

    /// Sets the URL of the segments' SHA-256 JSON.
    pub fn with_segments_sha256_url(mut self, url: Iri) -> Self {
        self.segments_sha256_url = Some(url);
        self
    }

    /// Adds the file of one resolution.
    pub fn with_file(mut self, file: VideoFile) -> Self {
        self.files.push(file);
        self
    }

    /// Adds an infohash.
    pub fn with_infohash(mut self, infohash: impl Into<String>) -> Self {
        self.infohashes.push(infohash.into());
        self
    }

    /// Adds a copy on another server (the URL of its master playlist).
    pub fn with_mirror(mut self, master: Iri) -> Self {
        self.mirrors.push(master);
        self
    }
}

impl Thumbnail {
    /// An image at `url` of type `media_type`, `width` x `height` pixels.
    pub fn new(url: Iri, media_type: impl Into<String>, width: u64, height: u64) -> Self {
        Self {
            url,
            media_type: media_type.into(),
            width,
            height,
        }
    }
}

impl Caption {
    /// Captions in `language`, the WebVTT file at `url`.
    pub fn new(language: Label, url: Iri) -> Self {
        Self {
            language,
            url,
            playlist_url: None,
            automatically_generated: false,
        }
    }

    /// Sets the URL of the captions' HLS playlist.
    pub fn with_playlist_url(mut self, url: Iri) -> Self {
        self.playlist_url = Some(url);
        self
    }

    /// Marks the captions as made by speech recognition.
    pub fn automatically_generated(mut self) -> Self {
        self.automatically_generated = true;
        self
    }
}

//! Recognises a video or audio container from its bytes (MP4, WebM, Matroska, Ogg) and reads its
//! duration, dimensions, frame rate and codecs, within bounds, without decoding.
//!
//! Uploaded files come from strangers, so everything read here is untrusted: the container is
//! recognised from the bytes (never the name), every size field is checked against its parent
//! and the file before anything is read or allocated, and the work is capped by [`Limits`]
//! (elements visited, nesting depth, bytes read, the largest piece read at once). A file that
//! breaks a rule is a typed [`ProbeError`] saying which box or element, at which offset, and
//! what was wrong; nothing here panics on input.
//!
//! [`sniff`] looks at the first bytes only; [`probe`] reads the structure from a
//! [`Read`] + [`Seek`] source of known length (an MP4's `moov` may sit at the end, so the
//! reader seeks past the media data rather than reading it). The crate does no I/O of its own
//! beyond that reader and reads no clock.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut file = std::fs::File::open("upload.bin")?;
//! let len = file.metadata()?.len();
//! let probe = media_probe::probe(&mut file, len)?;
//! println!("{} {:?}", probe.mime(), probe.duration);
//! if let Some(video) = probe.video() {
//!     println!("{} {}x{}", video.codec, video.width, video.height);
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{Read, Seek};
use std::time::Duration;

mod bytes;
mod error;
mod input;
mod mkv;
mod mp4;
mod ogg;
mod sniff;

pub use error::{Element, FirstBytes, Limit, LooksLike, ProbeError};
pub use sniff::{PREFIX_LEN, looks_like, sniff};

use input::Input;

/// A container format this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Container {
    /// ISO base media file format: MP4, M4A, 3GP, QuickTime `.mov`, fragmented MP4.
    Mp4,
    /// WebM (Matroska with the `webm` DocType).
    WebM,
    /// Matroska (`.mkv`, `.mka`).
    Matroska,
    /// Ogg (`.ogv`, `.ogg`, `.oga`, `.opus`).
    Ogg,
}

impl Container {
    /// The MIME type of a file in this container: `video/...` when it has a video track,
    /// `audio/...` otherwise.
    pub fn mime(self, has_video: bool) -> &'static str {
        match (self, has_video) {
            (Self::Mp4, true) => "video/mp4",
            (Self::Mp4, false) => "audio/mp4",
            (Self::WebM, true) => "video/webm",
            (Self::WebM, false) => "audio/webm",
            (Self::Matroska, true) => "video/x-matroska",
            (Self::Matroska, false) => "audio/x-matroska",
            (Self::Ogg, true) => "video/ogg",
            (Self::Ogg, false) => "audio/ogg",
        }
    }

    /// A short name: `mp4`, `webm`, `matroska` or `ogg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::WebM => "webm",
            Self::Matroska => "matroska",
            Self::Ogg => "ogg",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`probe`] found in a file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Probe {
    /// The container, recognised from the bytes.
    pub container: Container,
    /// The duration of the whole presentation, when the file says or the reader could work it
    /// out: MP4 `mvhd` (or the fragments' sample durations, or `mehd`), Matroska Segment Info
    /// Duration × TimecodeScale (or the last block's time when a live recording has none), the
    /// last granule position of each Ogg stream over its rate.
    pub duration: Option<Duration>,
    /// The tracks, in file order (at least one is audio or video).
    pub tracks: Vec<Track>,
    /// The file ends before its container says it does (a box, element or page runs past the
    /// end). The answer is what the part that is there says: durations may be those the
    /// headers claim for the whole file.
    pub truncated: bool,
}

impl Probe {
    /// The MIME type: `video/mp4`, `video/webm`, `video/x-matroska` or `video/ogg`, or the
    /// `audio/` one of the same container when there is no video track.
    pub fn mime(&self) -> &'static str {
        self.container.mime(self.video().is_some())
    }

    /// The first video track's details with its codec, if any.
    pub fn video(&self) -> Option<VideoTrack<'_>> {
        self.tracks.iter().find_map(|track| match &track.media {
            Media::Video(video) => Some(VideoTrack {
                track,
                codec: track.codec,
                width: video.width,
                height: video.height,
                frame_rate: video.frame_rate,
                rotation: video.rotation,
            }),
            _ => None,
        })
    }

    /// The first audio track, if any.
    pub fn audio(&self) -> Option<&Track> {
        self.tracks
            .iter()
            .find(|track| matches!(track.media, Media::Audio(_)))
    }
}

/// The first video track of a [`Probe`], with its details at hand.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct VideoTrack<'a> {
    /// The whole track.
    pub track: &'a Track,
    /// Its codec.
    pub codec: Codec,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second, when known.
    pub frame_rate: Option<FrameRate>,
    /// Clockwise turn for display, in degrees (see [`VideoInfo::rotation`]).
    pub rotation: u16,
}

/// One track (MP4 `trak`, Matroska TrackEntry, Ogg logical stream).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Track {
    /// The container's number for it: MP4 `track_ID`, Matroska TrackNumber, Ogg serial number.
    pub id: u64,
    /// The codec, by a stable short name.
    pub codec: Codec,
    /// The codec as the container names it: the MP4 sample entry's four characters (`avc1`,
    /// `hvc1`, `mp4a`...), the Matroska CodecID (`V_VP9`, `A_OPUS`...), or the Ogg stream's
    /// header magic (`\x80theora`, `OpusHead`...). Bytes outside printable ASCII are written as
    /// `\xNN`.
    pub codec_id: String,
    /// The track's own duration, when the container gives one (MP4 `mdhd` or fragments, the
    /// last granule position of an Ogg stream).
    pub duration: Option<Duration>,
    /// Video or audio details.
    pub media: Media,
}

impl Track {
    /// Whether this is a video, audio or other track.
    pub fn kind(&self) -> TrackKind {
        match self.media {
            Media::Video(_) => TrackKind::Video,
            Media::Audio(_) => TrackKind::Audio,
            Media::Other => TrackKind::Other,
        }
    }
}

/// The kind of a [`Track`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackKind {
    /// Pictures.
    Video,
    /// Sound.
    Audio,
    /// Subtitles, timecodes, metadata, hints, Ogg Skeleton...
    Other,
}

/// The kind of a [`Track`] with what this crate reads for it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Media {
    /// A video track.
    Video(VideoInfo),
    /// An audio track.
    Audio(AudioInfo),
    /// Anything else.
    Other,
}

/// What a video track says of its pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoInfo {
    /// Coded width in pixels (MP4 sample entry, Matroska PixelWidth, Theora picture width);
    /// 0 when the file does not say.
    pub width: u32,
    /// Coded height in pixels; 0 when the file does not say.
    pub height: u32,
    /// Frames per second, from the sample timing (MP4 `stts` or fragment sample durations over
    /// the `mdhd` timescale, Matroska DefaultDuration, the Theora header).
    pub frame_rate: Option<FrameRate>,
    /// How far the pictures are to be turned clockwise for display: 0, 90, 180 or 270 degrees
    /// (an MP4 track header's matrix, as phones record portrait video; 0 for the other
    /// containers and for matrices that are not a quarter turn). At 90 and 270 the displayed
    /// width is [`height`](Self::height).
    pub rotation: u16,
}

/// What an audio track says of its sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioInfo {
    /// Samples per second.
    pub sample_rate: Option<u32>,
    /// Number of channels.
    pub channels: Option<u16>,
}

/// A frame rate as a fraction in lowest terms, such as 30000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRate {
    /// Frames...
    pub num: u32,
    /// ...per this many seconds (never 0).
    pub den: u32,
}

impl FrameRate {
    /// `num/den` in lowest terms, or `None` when either is 0.
    pub fn new(num: u64, den: u64) -> Option<Self> {
        if num == 0 || den == 0 {
            return None;
        }
        let divisor = gcd(num, den);
        let (num, den) = (num / divisor, den / divisor);
        match (u32::try_from(num), u32::try_from(den)) {
            (Ok(num), Ok(den)) => Some(Self { num, den }),
            // A fraction too fine for 32 bits is kept to a millionth of a frame per second.
            _ => {
                let fps = num as f64 / den as f64;
                if !(fps.is_finite() && fps > 0.0 && fps < 4_000.0) {
                    return None;
                }
                Self::new((fps * 1_000_000.0).round() as u64, 1_000_000)
            }
        }
    }

    /// Frames per second as a float.
    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A codec, by a stable short name (the one ffmpeg uses, see [`Codec::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    Hevc,
    /// AV1.
    Av1,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
    /// Theora.
    Theora,
    /// MPEG-4 Part 2 (Xvid, DivX).
    Mpeg4,
    /// MPEG-1 or MPEG-2 video.
    Mpeg2,
    /// H.263.
    H263,
    /// Apple ProRes.
    Prores,
    /// Motion JPEG.
    Mjpeg,
    /// FFV1.
    Ffv1,
    /// AAC.
    Aac,
    /// Opus.
    Opus,
    /// Vorbis.
    Vorbis,
    /// MPEG-1/2 Audio Layer III.
    Mp3,
    /// FLAC.
    Flac,
    /// AC-3.
    Ac3,
    /// E-AC-3.
    Eac3,
    /// Apple Lossless.
    Alac,
    /// Uncompressed PCM of any layout.
    Pcm,
    /// Speex.
    Speex,
    /// A codec this crate does not name (see [`Track::codec_id`]).
    Unknown,
}

impl Codec {
    /// The short name: `h264`, `hevc`, `av1`, `vp8`, `vp9`, `theora`, `mpeg4`, `mpeg2video`,
    /// `h263`, `prores`, `mjpeg`, `ffv1`, `aac`, `opus`, `vorbis`, `mp3`, `flac`, `ac3`, `eac3`,
    /// `alac`, `pcm`, `speex`, or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::Hevc => "hevc",
            Self::Av1 => "av1",
            Self::Vp8 => "vp8",
            Self::Vp9 => "vp9",
            Self::Theora => "theora",
            Self::Mpeg4 => "mpeg4",
            Self::Mpeg2 => "mpeg2video",
            Self::H263 => "h263",
            Self::Prores => "prores",
            Self::Mjpeg => "mjpeg",
            Self::Ffv1 => "ffv1",
            Self::Aac => "aac",
            Self::Opus => "opus",
            Self::Vorbis => "vorbis",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Ac3 => "ac3",
            Self::Eac3 => "eac3",
            Self::Alac => "alac",
            Self::Pcm => "pcm",
            Self::Speex => "speex",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on the work [`probe_with`] does for one file. Past any of them the probe stops with
/// [`ProbeError::LimitExceeded`] (or [`ProbeError::TooDeep`], [`ProbeError::TooLarge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest nesting of boxes or elements looked into.
    pub max_depth: u32,
    /// Most boxes, elements and pages visited, headers included.
    pub max_elements: u64,
    /// Most bytes read from the source in all.
    pub max_bytes_read: u64,
    /// Largest single piece read into memory at once (an `stts` or `trun` table, a Matroska
    /// Tracks element, an Ogg page).
    pub max_element_bytes: u64,
    /// Most tracks.
    pub max_tracks: usize,
    /// How far back from the end an Ogg file is searched for each stream's last page.
    pub max_ogg_tail: u64,
}

impl Limits {
    /// Generous bounds for uploads of hours of video: depth 16, two million elements, 64 MiB
    /// read, 16 MiB at once, 64 tracks, the last 4 MiB of an Ogg file.
    pub const DEFAULT: Self = Self {
        max_depth: 16,
        max_elements: 2_000_000,
        max_bytes_read: 64 << 20,
        max_element_bytes: 16 << 20,
        max_tracks: 64,
        max_ogg_tail: 4 << 20,
    };

    /// Sets [`Limits::max_depth`].
    pub fn with_max_depth(mut self, max_depth: u32) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets [`Limits::max_elements`].
    pub fn with_max_elements(mut self, max_elements: u64) -> Self {
        self.max_elements = max_elements;
        self
    }

    /// Sets [`Limits::max_bytes_read`].
    pub fn with_max_bytes_read(mut self, max_bytes_read: u64) -> Self {
        self.max_bytes_read = max_bytes_read;
        self
    }

    /// Sets [`Limits::max_element_bytes`].
    pub fn with_max_element_bytes(mut self, max_element_bytes: u64) -> Self {
        self.max_element_bytes = max_element_bytes;
        self
    }

    /// Sets [`Limits::max_tracks`].
    pub fn with_max_tracks(mut self, max_tracks: usize) -> Self {
        self.max_tracks = max_tracks;
        self
    }

    /// Sets [`Limits::max_ogg_tail`].
    pub fn with_max_ogg_tail(mut self, max_ogg_tail: u64) -> Self {
        self.max_ogg_tail = max_ogg_tail;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Reads what a file is from `reader`, a source of `len` bytes (the file's length; the reader's
/// position does not matter), within [`Limits::DEFAULT`].
///
/// Reads headers only, seeking past media data; never reads the whole file.
pub fn probe<R: Read + Seek + ?Sized>(reader: &mut R, len: u64) -> Result<Probe, ProbeError> {
    probe_with(reader, len, &Limits::DEFAULT)
}

/// [`probe`] within the given limits.
pub fn probe_with<R: Read + Seek + ?Sized>(
    reader: &mut R,
    len: u64,
    limits: &Limits,
) -> Result<Probe, ProbeError> {
    let mut input = Input::new(reader, len, limits);
    let prefix = input.read_up_to(0, PREFIX_LEN, Element::File)?;
    let container = sniff(&prefix).ok_or_else(|| ProbeError::NotAVideo {
        looks_like: looks_like(&prefix),
        first_bytes: FirstBytes::new(&prefix),
    })?;
    let probe = match container {
        Container::Mp4 => mp4::probe(&mut input)?,
        Container::WebM | Container::Matroska => mkv::probe(&mut input)?,
        Container::Ogg => ogg::probe(&mut input)?,
    };
    if !probe
        .tracks
        .iter()
        .any(|track| track.kind() != TrackKind::Other)
    {
        return Err(ProbeError::NoMedia {
            container: probe.container,
        });
    }
    Ok(probe)
}

/// Writes `bytes` as text: printable ASCII as is, anything else as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_graphic() || byte == b' ' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A duration from `ticks` of a clock running at `rate` ticks per second; `None` for a zero rate
/// or a duration too long to be real (over a hundred years).
pub(crate) fn ticks_to_duration(ticks: u64, rate: u64) -> Option<Duration> {
    if rate == 0 {
        return None;
    }
    let secs = ticks / rate;
    if secs > 100 * 365 * 24 * 3600 {
        return None;
    }
    let rem = ticks % rate;
    // rem < rate, so rem * 1e9 fits in u128 and the quotient is under 1e9.
    let nanos = u128::from(rem) * 1_000_000_000 / u128::from(rate);
    Some(Duration::new(secs, u32::try_from(nanos).unwrap_or(0)))
}

//! What can go wrong, with where.

use std::fmt;
use std::io;

use crate::Container;

/// Why a file could not be probed. Each variant says where: which box, element or page, and at
/// which byte offset of the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The first bytes are not those of a container this crate reads.
    #[error(
        "not a video or audio file this server reads: it looks like {looks_like} (first bytes: {first_bytes})"
    )]
    NotAVideo {
        /// What the first bytes look like.
        looks_like: LooksLike,
        /// The first bytes (at most 16).
        first_bytes: FirstBytes,
    },
    /// The container is recognised but holds no audio or video track.
    #[error("the {container} file has no audio or video track")]
    NoMedia {
        /// The container.
        container: Container,
    },
    /// A part the container cannot do without is missing.
    #[error("the {container} file has no {element}")]
    Missing {
        /// The container.
        container: Container,
        /// What is missing.
        element: Element,
    },
    /// The file ends inside something that must be read.
    #[error(
        "the file is truncated: {element} at offset {offset} needs {needed} bytes, but the file ends at {file_len}"
    )]
    Truncated {
        /// What was being read.
        element: Element,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs from there.
        needed: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A size field that cannot be right.
    #[error("{element} at offset {offset} has size {size}, which {reason}")]
    BadSize {
        /// The box or element.
        element: Element,
        /// Where it starts.
        offset: u64,
        /// The size it claims.
        size: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Fields that cannot be read as the format says.
    #[error("{element} at offset {offset} is malformed: {reason}")]
    Malformed {
        /// The box, element or page.
        element: Element,
        /// Where it starts.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Nesting deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("{element} at offset {offset} is nested more than {limit} levels deep")]
    TooDeep {
        /// The box or element found too deep.
        element: Element,
        /// Where it starts.
        offset: u64,
        /// The limit.
        limit: u32,
    },
    /// A piece that would have to be read whole is larger than
    /// [`Limits::max_element_bytes`](crate::Limits::max_element_bytes).
    #[error("{element} at offset {offset} is {size} bytes, more than the {limit} read at once")]
    TooLarge {
        /// The box or element.
        element: Element,
        /// Where it starts.
        offset: u64,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// One of the [`Limits`](crate::Limits) on the whole probe was reached.
    #[error("gave up at {element} at offset {offset}: more than {value} {limit}")]
    LimitExceeded {
        /// Where the probe was.
        element: Element,
        /// At which offset.
        offset: u64,
        /// Which limit.
        limit: Limit,
        /// Its value.
        value: u64,
    },
    /// The reader failed.
    #[error("reading at offset {offset}: {source}")]
    Io {
        /// Where.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
}

/// Which of the [`Limits`](crate::Limits) was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_elements`](crate::Limits::max_elements).
    Elements,
    /// [`Limits::max_bytes_read`](crate::Limits::max_bytes_read).
    BytesRead,
    /// [`Limits::max_tracks`](crate::Limits::max_tracks).
    Tracks,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Elements => "boxes, elements or pages visited",
            Self::BytesRead => "bytes read",
            Self::Tracks => "tracks",
        })
    }
}

/// A place in a file, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Element {
    /// The file as a whole (its first bytes, its end).
    File,
    /// An ISO BMFF box, by its four-character type.
    Mp4Box([u8; 4]),
    /// An EBML element (Matroska, WebM), by its ID (marker bits kept, as the specification
    /// writes them: `0x1A45DFA3` for the EBML header).
    Ebml(u32),
    /// An Ogg page.
    OggPage,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => f.write_str("the file"),
            Self::Mp4Box(kind) => write!(f, "box '{}'", crate::escape(kind)),
            Self::Ebml(id) => match ebml_name(*id) {
                Some(name) => write!(f, "element {name} (0x{id:X})"),
                None => write!(f, "element 0x{id:X}"),
            },
            Self::OggPage => f.write_str("Ogg page"),
        }
    }
}

/// The names of the EBML elements this crate reads, for messages.
fn ebml_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0x1A45_DFA3 => "EBML",
        0x4282 => "DocType",
        0x1853_8067 => "Segment",
        0x1549_A966 => "Info",
        0x2A_D7B1 => "TimecodeScale",
        0x4489 => "Duration",
        0x1654_AE6B => "Tracks",
        0xAE => "TrackEntry",
        0xD7 => "TrackNumber",
        0x83 => "TrackType",
        0x86 => "CodecID",
        0x63A2 => "CodecPrivate",
        0x23_E383 => "DefaultDuration",
        0xE0 => "Video",
        0xB0 => "PixelWidth",
        0xBA => "PixelHeight",
        0xE1 => "Audio",
        0xB5 => "SamplingFrequency",
        0x9F => "Channels",
        0x1F43_B675 => "Cluster",
        0xE7 => "Timecode",
        0xA3 => "SimpleBlock",
        0xA0 => "BlockGroup",
        0xA1 => "Block",
        0x9B => "BlockDuration",
        0x114D_9B74 => "SeekHead",
        0x1C53_BB6B => "Cues",
        0x1254_C367 => "Tags",
        0xEC => "Void",
        _ => return None,
    })
}

/// What the first bytes of a file that is not a video look like, for [`ProbeError::NotAVideo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LooksLike {
    /// No bytes at all.
    Empty,
    /// A PNG image.
    Png,
    /// A JPEG image.
    Jpeg,
    /// A GIF image.
    Gif,
    /// A WebP image.
    Webp,
    /// A BMP image.
    Bmp,
    /// A TIFF image.
    Tiff,
    /// An ISO BMFF still image (HEIF, HEIC, AVIF).
    HeifImage,
    /// A PDF document.
    Pdf,
    /// A ZIP archive (or a document in one).
    Zip,
    /// A gzip stream.
    Gzip,
    /// An executable (ELF, PE, Mach-O).
    Executable,
    /// An AVI video (RIFF), not read here.
    Avi,
    /// A WAV audio file (RIFF), not read here.
    Wav,
    /// A Flash video, not read here.
    Flv,
    /// An MPEG transport stream, not read here.
    MpegTs,
    /// An MPEG program stream (VOB, `.mpg`), not read here.
    MpegPs,
    /// An ASF file (WMV, WMA), not read here.
    Asf,
    /// An MP3 file, not read here.
    Mp3,
    /// A bare FLAC file, not read here.
    Flac,
    /// An EBML document of another kind than Matroska or WebM.
    OtherEbml,
    /// HTML.
    Html,
    /// XML (or SVG).
    Xml,
    /// Other text.
    Text,
    /// Nothing this crate recognises.
    Unknown,
}

impl fmt::Display for LooksLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "an empty file",
            Self::Png => "a PNG image",
            Self::Jpeg => "a JPEG image",
            Self::Gif => "a GIF image",
            Self::Webp => "a WebP image",
            Self::Bmp => "a BMP image",
            Self::Tiff => "a TIFF image",
            Self::HeifImage => "a HEIF or AVIF image",
            Self::Pdf => "a PDF document",
            Self::Zip => "a ZIP archive",
            Self::Gzip => "gzip data",
            Self::Executable => "an executable",
            Self::Avi => "an AVI video",
            Self::Wav => "a WAV audio file",
            Self::Flv => "a Flash video",
            Self::MpegTs => "an MPEG transport stream",
            Self::MpegPs => "an MPEG program stream",
            Self::Asf => "an ASF (Windows Media) file",
            Self::Mp3 => "an MP3 file",
            Self::Flac => "a FLAC file",
            Self::OtherEbml => "an EBML document that is not Matroska or WebM",
            Self::Html => "an HTML document",
            Self::Xml => "an XML document",
            Self::Text => "text",
            Self::Unknown => "nothing known",
        })
    }
}

/// The first bytes of a file (at most 16), shown as hex in messages.
#[derive(Clone, PartialEq, Eq)]
pub struct FirstBytes {
    bytes: [u8; 16],
    len: u8,
}

impl FirstBytes {
    /// Keeps the first 16 bytes of `prefix`.
    pub fn new(prefix: &[u8]) -> Self {
        let mut bytes = [0; 16];
        let len = prefix.len().min(16);
        for (to, from) in bytes.iter_mut().zip(prefix) {
            *to = *from;
        }
        Self {
            bytes,
            // len <= 16.
            len: u8::try_from(len).unwrap_or(16),
        }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Display for FirstBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("none");
        }
        for (i, byte) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FirstBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FirstBytes({self})")
    }
}

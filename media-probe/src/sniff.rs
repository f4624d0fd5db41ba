//! Recognising a container, or naming what a file looks like, from its first bytes.

use crate::bytes::Bytes;
use crate::{Container, LooksLike};

/// How many first bytes [`sniff`] and [`looks_like`] look at; [`probe`](crate::probe) reads
/// this many.
pub const PREFIX_LEN: usize = 64;

/// The container of a file from its first bytes (the first [`PREFIX_LEN`] are enough; fewer may
/// do), or `None` when they are not those of MP4, WebM, Matroska or Ogg.
///
/// Cheap and partial: it checks the signature, not the structure ([`probe`](crate::probe) does
/// that). An EBML header whose DocType is not within `prefix` counts as Matroska; an ISO BMFF
/// file whose brand is a still image (HEIF, AVIF) is not a video.
pub fn sniff(prefix: &[u8]) -> Option<Container> {
    if prefix.starts_with(&EBML_MAGIC) {
        return match ebml_doctype(prefix) {
            Some(doctype) if doctype == b"webm" => Some(Container::WebM),
            Some(doctype) if doctype == b"matroska" => Some(Container::Matroska),
            Some(_) => None,
            None => Some(Container::Matroska),
        };
    }
    if prefix.starts_with(b"OggS") {
        return (prefix.len() < 5 || prefix.get(4) == Some(&0)).then_some(Container::Ogg);
    }
    let kind = prefix.get(4..8)?;
    if kind == b"ftyp" {
        let brand = prefix.get(8..12)?;
        return (!IMAGE_BRANDS.contains(&brand)).then_some(Container::Mp4);
    }
    // QuickTime files written before `ftyp` existed start with another top-level atom.
    let size = u32::from_be_bytes(prefix.get(..4)?.try_into().ok()?);
    let plausible_size = size == 0 || size == 1 || size >= 8;
    (plausible_size && QUICKTIME_FIRST_ATOMS.contains(&kind)).then_some(Container::Mp4)
}

/// What the first bytes of a file look like, for a message when [`sniff`] says `None`.
pub fn looks_like(prefix: &[u8]) -> LooksLike {
    let starts = |magic: &[u8]| prefix.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| {
        prefix
            .get(offset..offset + magic.len())
            .is_some_and(|bytes| bytes == magic)
    };
    if prefix.is_empty() {
        LooksLike::Empty
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        LooksLike::Png
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        LooksLike::Jpeg
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        LooksLike::Gif
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        LooksLike::Webp
    } else if starts(b"RIFF") && at(8, b"AVI ") {
        LooksLike::Avi
    } else if starts(b"RIFF") && at(8, b"WAVE") {
        LooksLike::Wav
    } else if starts(b"BM") && prefix.len() >= 14 && at(6, &[0, 0, 0, 0]) {
        LooksLike::Bmp
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        LooksLike::Tiff
    } else if at(4, b"ftyp") {
        LooksLike::HeifImage
    } else if starts(b"%PDF-") {
        LooksLike::Pdf
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        LooksLike::Zip
    } else if starts(&[0x1F, 0x8B]) {
        LooksLike::Gzip
    } else if starts(b"\x7fELF")
        || starts(b"MZ")
        || starts(&[0xCF, 0xFA, 0xED, 0xFE])
        || starts(&[0xCE, 0xFA, 0xED, 0xFE])
    {
        LooksLike::Executable
    } else if starts(b"FLV\x01") {
        LooksLike::Flv
    } else if starts(&[0x47]) && (prefix.len() < 189 || prefix.get(188) == Some(&0x47)) {
        LooksLike::MpegTs
    } else if starts(&[0, 0, 1, 0xBA]) || starts(&[0, 0, 1, 0xB3]) {
        LooksLike::MpegPs
    } else if starts(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        LooksLike::Asf
    } else if starts(b"ID3") || (prefix.len() >= 2 && starts(&[0xFF]) && at(1, &[0xFB])) {
        LooksLike::Mp3
    } else if starts(b"fLaC") {
        LooksLike::Flac
    } else if starts(&EBML_MAGIC) {
        LooksLike::OtherEbml
    } else {
        text_kind(prefix)
    }
}

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// Major brands of ISO BMFF still images.
const IMAGE_BRANDS: [&[u8]; 6] = [b"avif", b"heic", b"heix", b"mif1", b"heim", b"heis"];

/// Atoms an old QuickTime file may start with.
const QUICKTIME_FIRST_ATOMS: [&[u8]; 6] = [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"];

/// The DocType of an EBML header, when the header is within `prefix`.
fn ebml_doctype(prefix: &[u8]) -> Option<&[u8]> {
    let mut bytes = Bytes::new(prefix);
    bytes.skip(4)?;
    let (size, _) = vint(&mut bytes)?;
    let end = bytes.position().checked_add(usize::try_from(size).ok()?)?;
    let header = prefix.get(bytes.position()..end.min(prefix.len()))?;
    let mut fields = Bytes::new(header);
    while !fields.remaining().is_empty() {
        let id = element_id(&mut fields)?;
        let (size, _) = vint(&mut fields)?;
        let body = fields.take(usize::try_from(size).ok()?)?;
        if id == 0x4282 {
            return Some(body.split(|&b| b == 0).next().unwrap_or(body));
        }
    }
    None
}

/// An EBML variable-length integer with its marker removed, and its length.
pub(crate) fn vint(bytes: &mut Bytes<'_>) -> Option<(u64, usize)> {
    let first = bytes.u8()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut value = u64::from(first) & (0xFF >> len);
    for byte in bytes.take(len - 1)? {
        value = (value << 8) | u64::from(*byte);
    }
    Some((value, len))
}

/// An EBML element ID, marker kept (1 to 4 bytes).
pub(crate) fn element_id(bytes: &mut Bytes<'_>) -> Option<u32> {
    let first = bytes.u8()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let mut id = u32::from(first);
    for byte in bytes.take(len - 1)? {
        id = (id << 8) | u32::from(*byte);
    }
    Some(id)
}

fn text_kind(prefix: &[u8]) -> LooksLike {
    let text = prefix
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(prefix);
    // A UTF-8 sequence may be cut at the end of the prefix.
    let valid = match std::str::from_utf8(text) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none(),
    };
    let printable = text
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0C));
    if !(valid && printable) {
        return LooksLike::Unknown;
    }
    let start: Vec<u8> = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    if start.starts_with(b"<!doctype html") || start.starts_with(b"<html") {
        LooksLike::Html
    } else if start.starts_with(b"<?xml") || start.starts_with(b"<svg") {
        LooksLike::Xml
    } else {
        LooksLike::Text
    }
}

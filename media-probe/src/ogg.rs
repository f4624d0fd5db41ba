//! Ogg (RFC 3533) with the codecs' identification headers: Theora, Vorbis, Opus (RFC 7845),
//! FLAC, Speex.
//!
//! Every logical stream starts with a page flagged "beginning of stream" holding its
//! identification header, and these pages come first in the file. The duration comes from the
//! last page of each stream, found by searching back from the end for pages whose checksum
//! holds.

use std::io::{Read, Seek};
use std::time::Duration;

use crate::bytes::Bytes;
use crate::input::Input;
use crate::{
    AudioInfo, Codec, Container, Element, FrameRate, Limit, Media, Probe, ProbeError, Track,
    VideoInfo, escape, ticks_to_duration,
};

const PAGE_HEADER: usize = 27;
/// Header, 255 lacing values, 255 segments of 255 bytes.
const MAX_PAGE: usize = PAGE_HEADER + 255 + 255 * 255;
/// Identification headers are short; this much of a first packet is enough for all of them.
const ID_HEADER_BYTES: usize = 64;
/// The end of the file is searched back in windows this large.
const WINDOW: u64 = 64 * 1024;

const BOS: u8 = 0x02;

#[derive(Debug, Clone, Copy)]
struct PageHeader {
    flags: u8,
    granule: u64,
    serial: u32,
    segments: u8,
}

impl PageHeader {
    fn parse(data: &[u8]) -> Option<Self> {
        let mut bytes = Bytes::new(data);
        if bytes.take(4)? != b"OggS" || bytes.u8()? != 0 {
            return None;
        }
        let flags = bytes.u8()?;
        let granule = bytes.u64_le()?;
        let serial = bytes.u32_le()?;
        bytes.skip(8)?;
        let segments = bytes.u8()?;
        Some(Self {
            flags,
            granule,
            serial,
            segments,
        })
    }
}

/// What a stream's identification header says.
#[derive(Debug)]
struct Stream {
    serial: u32,
    codec: Codec,
    magic: Vec<u8>,
    media: Media,
    /// Granule positions per second, and what to take off first (Opus pre-skip).
    rate: u64,
    pre_skip: u64,
    /// Theora: the granule position is split at this bit.
    theora_shift: Option<u8>,
    /// Theora: frame duration as FRD/FRN.
    frame: Option<(u64, u64)>,
    /// Theora before 3.2.1 counts frames from zero.
    theora_from_zero: bool,
    last_granule: Option<u64>,
}

pub(crate) fn probe<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
) -> Result<Probe, ProbeError> {
    let file_len = input.len();
    let mut streams: Vec<Stream> = Vec::new();
    let mut offset = 0u64;
    // The beginning-of-stream pages, one per logical stream, all before any other page.
    loop {
        if offset >= file_len {
            break;
        }
        let (header, header_len) = read_page_header(input, offset)?;
        input.visit(Element::OggPage, offset)?;
        if header.flags & BOS == 0 {
            break;
        }
        if streams.len() >= input.limits.max_tracks {
            return Err(ProbeError::LimitExceeded {
                element: Element::OggPage,
                offset,
                limit: Limit::Tracks,
                value: input.limits.max_tracks as u64,
            });
        }
        let lacing = input.read_vec(
            offset + PAGE_HEADER as u64,
            u64::from(header.segments),
            Element::OggPage,
        )?;
        let body_len: u64 = lacing.iter().map(|&l| u64::from(l)).sum();
        // The first packet: lacing values up to the first one under 255.
        let packet_len: u64 = lacing
            .iter()
            .scan(false, |done, &l| {
                if *done {
                    return None;
                }
                *done = l < 255;
                Some(u64::from(l))
            })
            .sum();
        let body = offset + header_len;
        let packet = input.read_vec(
            body,
            packet_len.min(ID_HEADER_BYTES as u64),
            Element::OggPage,
        )?;
        if streams.iter().any(|stream| stream.serial == header.serial) {
            return Err(ProbeError::Malformed {
                element: Element::OggPage,
                offset,
                reason: "two streams start with the same serial number",
            });
        }
        streams.push(identify(header.serial, &packet));
        offset = body + body_len;
    }
    if streams.is_empty() {
        return Err(ProbeError::Malformed {
            element: Element::OggPage,
            offset: 0,
            reason: "the first page does not start a stream",
        });
    }

    let truncated = find_last_granules(input, &mut streams)?;

    let mut tracks = Vec::with_capacity(streams.len());
    for stream in streams {
        let duration = stream_duration(&stream);
        tracks.push(Track {
            id: u64::from(stream.serial),
            codec: stream.codec,
            codec_id: escape(&stream.magic),
            duration,
            media: stream.media,
        });
    }
    let duration = tracks
        .iter()
        .filter(|track| !matches!(track.media, Media::Other))
        .filter_map(|track| track.duration)
        .max();
    Ok(Probe {
        container: Container::Ogg,
        duration,
        tracks,
        truncated,
    })
}

/// A page header at `offset` and its length with the lacing values.
fn read_page_header<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    offset: u64,
) -> Result<(PageHeader, u64), ProbeError> {
    let mut data = [0; PAGE_HEADER];
    input.read_at(offset, &mut data, Element::OggPage)?;
    let header = PageHeader::parse(&data).ok_or(ProbeError::Malformed {
        element: Element::OggPage,
        offset,
        reason: "no Ogg page header (capture pattern 'OggS', version 0) where a page should start",
    })?;
    Ok((header, PAGE_HEADER as u64 + u64::from(header.segments)))
}

fn identify(serial: u32, packet: &[u8]) -> Stream {
    let mut stream = Stream {
        serial,
        codec: Codec::Unknown,
        magic: packet.get(..8).unwrap_or(packet).to_vec(),
        media: Media::Other,
        rate: 0,
        pre_skip: 0,
        theora_shift: None,
        frame: None,
        theora_from_zero: false,
        last_granule: None,
    };
    let mut bytes = Bytes::new(packet);
    if let Some(rest) = packet.strip_prefix(b"\x80theora") {
        stream.magic = b"\x80theora".to_vec();
        stream.codec = Codec::Theora;
        theora(&mut stream, rest);
    } else if let Some(rest) = packet.strip_prefix(b"\x01vorbis") {
        stream.magic = b"\x01vorbis".to_vec();
        stream.codec = Codec::Vorbis;
        let mut bytes = Bytes::new(rest);
        bytes.skip(4);
        let channels = bytes.u8();
        let rate = bytes.u32_le();
        stream.rate = u64::from(rate.unwrap_or(0));
        stream.media = audio(rate, channels.map(u16::from));
    } else if let Some(rest) = packet.strip_prefix(b"OpusHead") {
        stream.magic = b"OpusHead".to_vec();
        stream.codec = Codec::Opus;
        let mut bytes = Bytes::new(rest);
        bytes.skip(1);
        let channels = bytes.u8();
        stream.pre_skip = u64::from(bytes.u16_le().unwrap_or(0));
        // Opus granule positions count 48 kHz samples whatever the input's rate was.
        stream.rate = 48_000;
        stream.media = audio(Some(48_000), channels.map(u16::from));
    } else if let Some(rest) = packet.strip_prefix(b"\x7fFLAC") {
        stream.magic = b"\x7fFLAC".to_vec();
        stream.codec = Codec::Flac;
        // version (2), header count (2), "fLaC", metadata block header (4), then STREAMINFO:
        // block sizes (4), frame sizes (6), then 20 bits of rate, 3 of channels - 1.
        let mut bytes = Bytes::new(rest);
        bytes.skip(2 + 2 + 4 + 4 + 4 + 6);
        let packed = bytes.u32();
        let rate = packed.map(|p| p >> 12);
        let channels = packed.map(|p| ((p >> 9) & 0x07) as u16 + 1);
        stream.rate = u64::from(rate.unwrap_or(0));
        stream.media = audio(rate, channels);
    } else if packet.starts_with(b"Speex   ") {
        stream.codec = Codec::Speex;
        bytes.skip(36);
        let rate = bytes.u32_le();
        bytes.skip(8);
        let channels = bytes.u32_le().and_then(|c| u16::try_from(c).ok());
        stream.rate = u64::from(rate.unwrap_or(0));
        stream.media = audio(rate, channels);
    }
    stream
}

fn audio(rate: Option<u32>, channels: Option<u16>) -> Media {
    Media::Audio(AudioInfo {
        sample_rate: rate.filter(|&r| r > 0),
        channels: channels.filter(|&c| c > 0),
    })
}

/// The Theora identification header after its magic (Theora specification, section 6.2).
fn theora(stream: &mut Stream, rest: &[u8]) {
    let mut bytes = Bytes::new(rest);
    let version = (bytes.u8(), bytes.u8(), bytes.u8());
    // Frame width and height in macroblocks.
    bytes.skip(4);
    let width = bytes.u24();
    let height = bytes.u24();
    // Picture offsets.
    bytes.skip(2);
    let num = bytes.u32();
    let den = bytes.u32();
    // Pixel aspect (6), colour space (1), bitrate (3).
    bytes.skip(10);
    let packed = bytes.u16();
    let shift = packed.map(|p| ((p >> 5) & 0x1F) as u8);
    stream.theora_shift = shift;
    stream.theora_from_zero = match version {
        (Some(major), Some(minor), Some(revision)) => (major, minor, revision) < (3, 2, 1),
        _ => false,
    };
    let frame_rate = num
        .zip(den)
        .and_then(|(num, den)| FrameRate::new(u64::from(num), u64::from(den)));
    stream.frame = num
        .zip(den)
        .filter(|&(num, den)| num > 0 && den > 0)
        .map(|(num, den)| (u64::from(den), u64::from(num)));
    stream.media = Media::Video(VideoInfo {
        width: width.unwrap_or(0),
        height: height.unwrap_or(0),
        frame_rate,
        rotation: 0,
    });
}

fn stream_duration(stream: &Stream) -> Option<Duration> {
    let granule = stream.last_granule?;
    if let (Some(shift), Some((den, num))) = (stream.theora_shift, stream.frame) {
        let shift = u32::from(shift.min(63));
        let keyframe = granule >> shift;
        let offset = granule & ((1u64 << shift) - 1);
        let mut frames = keyframe.saturating_add(offset);
        if stream.theora_from_zero {
            frames = frames.saturating_add(1);
        }
        // frames × den / num seconds.
        return ticks_to_duration(frames.saturating_mul(den), num);
    }
    ticks_to_duration(granule.saturating_sub(stream.pre_skip), stream.rate)
}

/// Searches back from the end of the file for each stream's last page with a granule position.
/// Says whether the file ends inside a page.
fn find_last_granules<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    streams: &mut [Stream],
) -> Result<bool, ProbeError> {
    let file_len = input.len();
    let lowest = file_len.saturating_sub(input.limits.max_ogg_tail);
    let mut window_end = file_len;
    // Where the earliest complete page found so far starts: pages are searched only before it.
    let mut next_page = file_len;
    let mut truncated = None;
    while window_end > lowest {
        let window_start = window_end.saturating_sub(WINDOW).max(lowest);
        // Three more bytes so that a capture pattern across the window's end is found.
        let read_end = (window_end + 3).min(file_len);
        let data = input.read_vec(window_start, read_end - window_start, Element::OggPage)?;
        let mut candidates: Vec<usize> = data
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"OggS")
            .map(|(i, _)| i)
            .collect();
        candidates.reverse();
        for index in candidates {
            let offset = window_start + index as u64;
            if offset >= window_end || offset >= next_page {
                continue;
            }
            input.visit(Element::OggPage, offset)?;
            match checked_page(input, offset)? {
                PageCheck::Page(header, len) => {
                    if truncated.is_none() {
                        truncated = Some(offset + len < file_len && next_page == file_len);
                    }
                    next_page = offset;
                    if header.granule != u64::MAX
                        && let Some(stream) = streams
                            .iter_mut()
                            .find(|s| s.serial == header.serial && s.last_granule.is_none())
                    {
                        stream.last_granule = Some(header.granule);
                    }
                }
                PageCheck::PastEnd => {
                    if truncated.is_none() && next_page == file_len {
                        truncated = Some(true);
                    }
                }
                PageCheck::NotAPage => {}
            }
            if streams
                .iter()
                .all(|s| s.last_granule.is_some() || s.rate == 0 && s.frame.is_none())
            {
                return Ok(truncated.unwrap_or(false));
            }
        }
        window_end = window_start;
    }
    Ok(truncated.unwrap_or(false))
}

enum PageCheck {
    /// A page whose checksum holds, and its length.
    Page(PageHeader, u64),
    /// A page header whose page would run past the end of the file.
    PastEnd,
    /// The capture pattern by chance, inside some packet.
    NotAPage,
}

fn checked_page<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    offset: u64,
) -> Result<PageCheck, ProbeError> {
    let file_len = input.len();
    if file_len - offset < PAGE_HEADER as u64 {
        return Ok(PageCheck::PastEnd);
    }
    let mut head = [0; PAGE_HEADER];
    input.read_at(offset, &mut head, Element::OggPage)?;
    let Some(header) = PageHeader::parse(&head) else {
        return Ok(PageCheck::NotAPage);
    };
    let header_len = PAGE_HEADER as u64 + u64::from(header.segments);
    if offset + header_len > file_len {
        return Ok(PageCheck::PastEnd);
    }
    let lacing = input.read_vec(
        offset + PAGE_HEADER as u64,
        u64::from(header.segments),
        Element::OggPage,
    )?;
    let len = header_len + lacing.iter().map(|&l| u64::from(l)).sum::<u64>();
    if offset + len > file_len {
        return Ok(PageCheck::PastEnd);
    }
    // len <= MAX_PAGE by construction.
    let page = input.read_vec(offset, len.min(MAX_PAGE as u64), Element::OggPage)?;
    Ok(if crc_holds(&page) {
        PageCheck::Page(header, len)
    } else {
        PageCheck::NotAPage
    })
}

/// The Ogg CRC-32 (polynomial 0x04C11DB7, no reflection, zero start) over the page with its
/// checksum field taken as zero, compared with that field.
fn crc_holds(page: &[u8]) -> bool {
    let Some(stored) = page
        .get(22..26)
        .and_then(|b| Some(u32::from_le_bytes(b.try_into().ok()?)))
    else {
        return false;
    };
    let mut crc = 0u32;
    for (i, &byte) in page.iter().enumerate() {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        let index = ((crc >> 24) as u8 ^ byte) as usize;
        crc = (crc << 8) ^ CRC_TABLE.get(index).copied().unwrap_or(0);
    }
    crc == stored
}

// Indexing in a constant is checked when it is evaluated, at compile time.
#[allow(clippy::indexing_slicing)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

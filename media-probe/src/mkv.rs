//! Matroska and WebM: EBML (RFC 8794) and the Matroska elements (RFC 9559) that say what the
//! tracks are.
//!
//! The Segment's children are walked header by header, seeking past Clusters; Info and Tracks
//! are read whole (within `max_element_bytes`) and parsed in memory. When Info has no Duration
//! (a live recording, such as a browser's MediaRecorder writes), the last Cluster's blocks give
//! it; Clusters of unknown size are walked child by child to find where they end.

use std::io::{Read, Seek};
use std::time::Duration;

use crate::bytes::Bytes;
use crate::input::Input;
use crate::sniff::{element_id, vint};
use crate::{
    AudioInfo, Codec, Container, Element, FrameRate, Limit, LooksLike, Media, Probe, ProbeError,
    Track, VideoInfo, escape,
};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const DEFAULT_DURATION: u32 = 0x23_E383;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const AUDIO: u32 = 0xE1;
const SAMPLING_FREQUENCY: u32 = 0xB5;
const CHANNELS: u32 = 0x9F;
const CLUSTER: u32 = 0x1F43_B675;
const TIMECODE: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
const VOID: u32 = 0xEC;
const CRC32: u32 = 0xBF;

/// The Segment's children that end a Cluster of unknown size when they appear.
const LEVEL_1: [u32; 8] = [
    CLUSTER,
    0x114D_9B74, // SeekHead
    INFO,
    TRACKS,
    0x1C53_BB6B, // Cues
    0x1254_C367, // Tags
    0x1043_A770, // Chapters
    0x1941_A469, // Attachments
];

/// The EBML header is a handful of short fields.
const MAX_EBML_HEADER: u64 = 4096;

#[derive(Debug, Clone, Copy)]
struct Header {
    id: u32,
    offset: u64,
    header_len: u64,
    /// `None`: unknown size (all ones).
    size: Option<u64>,
}

impl Header {
    fn body(&self) -> u64 {
        self.offset + self.header_len
    }

    fn element(&self) -> Element {
        Element::Ebml(self.id)
    }
}

#[derive(Debug, Default)]
struct TrackEntry {
    number: u64,
    kind: u64,
    codec_id: Vec<u8>,
    /// The first bytes of CodecPrivate (enough for a BITMAPINFOHEADER or WAVEFORMATEX).
    codec_private: Vec<u8>,
    default_duration: Option<u64>,
    width: u64,
    height: u64,
    sampling_frequency: Option<f64>,
    channels: Option<u64>,
}

/// What the blocks of the Clusters walked say: where they end, for a duration when Info gives
/// none, and how the frames of video tracks without a DefaultDuration are spaced.
#[derive(Debug, Default)]
struct BlockEnds {
    /// The latest block start or end seen, in nanoseconds.
    latest_ns: Option<u128>,
    /// Video tracks without a DefaultDuration: number, blocks seen, earliest and latest start.
    spacing: Vec<Spacing>,
}

#[derive(Debug, Clone, Copy)]
struct Spacing {
    track: u64,
    blocks: u64,
    first_ns: u128,
    last_ns: u128,
}

pub(crate) fn probe<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
) -> Result<Probe, ProbeError> {
    let file_len = input.len();
    let ebml = read_header(input, 0)?;
    input.visit(ebml.element(), 0)?;
    let size = ebml.size.unwrap_or(u64::MAX);
    if size > MAX_EBML_HEADER {
        return Err(ProbeError::BadSize {
            element: ebml.element(),
            offset: 0,
            size,
            reason: "is too large for an EBML header",
        });
    }
    let data = input.read_vec(ebml.body(), size, ebml.element())?;
    let mut doctype = b"matroska".to_vec();
    for_each(input, &data, ebml.body(), 1, |_, id, body, _, _| {
        if id == DOC_TYPE {
            doctype = text(body);
        }
        Ok(())
    })?;
    let container = match doctype.as_slice() {
        b"webm" => Container::WebM,
        b"matroska" => Container::Matroska,
        _ => {
            return Err(ProbeError::NotAVideo {
                looks_like: LooksLike::OtherEbml,
                first_bytes: crate::FirstBytes::new(&input.read_up_to(0, 16, Element::File)?),
            });
        }
    };

    // The Segment, after anything else at the top level (Void elements).
    let mut offset = ebml.body() + size;
    let segment = loop {
        let header = read_header(input, offset)?;
        input.visit(header.element(), offset)?;
        if header.id == SEGMENT {
            break header;
        }
        let Some(size) = header.size else {
            return Err(malformed(
                &header,
                "an element of unknown size before the Segment",
            ));
        };
        offset = end_of(&header, size)?;
    };
    let mut truncated = false;
    let segment_end = match segment.size {
        None => file_len,
        Some(size) => {
            let end = end_of(&segment, size)?;
            if end > file_len {
                truncated = true;
            }
            end.min(file_len)
        }
    };

    let mut timecode_scale = 1_000_000u64;
    let mut duration: Option<f64> = None;
    let mut info_seen = false;
    let mut tracks: Option<Vec<TrackEntry>> = None;
    let mut last_cluster: Option<Header> = None;
    let mut ends = BlockEnds::default();
    // Video tracks without a DefaultDuration get a frame rate from the first Cluster's blocks.
    let mut first_cluster_seen = false;
    let mut offset = segment.body();
    while offset < segment_end {
        let header = match read_header(input, offset) {
            Ok(header) => header,
            Err(ProbeError::Truncated { .. }) => {
                truncated = true;
                break;
            }
            Err(error) => return Err(error),
        };
        input.visit(header.element(), offset)?;
        check_depth(input, header.element(), offset, 1)?;
        if header.id == CLUSTER {
            let spacing_wanted = !first_cluster_seen && watch_spacing(tracks.as_deref(), &mut ends);
            first_cluster_seen = true;
            if info_seen && duration.is_some() && tracks.is_some() && !spacing_wanted {
                break;
            }
            match header.size {
                Some(size) => {
                    if spacing_wanted {
                        let defaults = default_durations(tracks.as_deref());
                        let scale = timecode_scale;
                        match scan_cluster(input, &header, segment_end, scale, &defaults, &mut ends)
                        {
                            Ok(_) | Err(ProbeError::Truncated { .. }) => {}
                            Err(error) => return Err(error),
                        }
                    }
                    last_cluster = Some(header);
                    offset = end_of(&header, size)?;
                }
                None => {
                    let scale = timecode_scale;
                    let defaults = default_durations(tracks.as_deref());
                    offset =
                        scan_cluster(input, &header, segment_end, scale, &defaults, &mut ends)?;
                    last_cluster = None;
                }
            }
        } else {
            let Some(size) = header.size else {
                return Err(malformed(
                    &header,
                    "only a Segment or a Cluster may have an unknown size",
                ));
            };
            let end = end_of(&header, size)?;
            if end > segment_end {
                if !truncated && segment.size.is_some() {
                    return Err(ProbeError::BadSize {
                        element: header.element(),
                        offset,
                        size,
                        reason: "runs past the end of its Segment",
                    });
                }
                if matches!(header.id, INFO | TRACKS) {
                    return Err(ProbeError::Truncated {
                        element: header.element(),
                        offset,
                        needed: end - offset,
                        file_len,
                    });
                }
                truncated = true;
                break;
            }
            match header.id {
                INFO => {
                    let data = input.read_vec(header.body(), size, header.element())?;
                    (timecode_scale, duration) = read_info(input, &data, header.body())?;
                    info_seen = true;
                }
                TRACKS if tracks.is_none() => {
                    let data = input.read_vec(header.body(), size, header.element())?;
                    tracks = Some(read_tracks(input, &data, header.body())?);
                }
                _ => {}
            }
            offset = end;
        }
        if offset > segment_end {
            truncated = true;
        }
    }

    let Some(entries) = tracks else {
        return Err(ProbeError::Missing {
            container,
            element: Element::Ebml(TRACKS),
        });
    };
    let total = match duration {
        Some(ticks) => {
            let seconds = ticks * timecode_scale as f64 / 1e9;
            Some(
                Duration::try_from_secs_f64(seconds).map_err(|_| ProbeError::Malformed {
                    element: Element::Ebml(DURATION),
                    offset: segment.body(),
                    reason: "not a duration a file can have",
                })?,
            )
        }
        None => {
            if let Some(cluster) = last_cluster {
                let defaults = default_durations(Some(&entries));
                // Blocks past the end of a truncated file are simply not seen.
                match scan_cluster(
                    input,
                    &cluster,
                    segment_end,
                    timecode_scale,
                    &defaults,
                    &mut ends,
                ) {
                    Ok(_) | Err(ProbeError::Truncated { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            ends.latest_ns
                .and_then(|ns| u64::try_from(ns).ok())
                .map(Duration::from_nanos)
        }
    };
    Ok(Probe {
        container,
        duration: total,
        tracks: entries
            .into_iter()
            .map(|entry| {
                let spacing = ends.spacing.iter().find(|s| s.track == entry.number);
                track(entry, spacing)
            })
            .collect(),
        truncated,
    })
}

/// Starts noting the spacing of the blocks of video tracks without a DefaultDuration; says
/// whether there are any.
fn watch_spacing(tracks: Option<&[TrackEntry]>, ends: &mut BlockEnds) -> bool {
    ends.spacing = tracks
        .unwrap_or(&[])
        .iter()
        .filter(|entry| entry.kind == 1 && entry.default_duration.is_none())
        .map(|entry| Spacing {
            track: entry.number,
            blocks: 0,
            first_ns: u128::MAX,
            last_ns: 0,
        })
        .collect();
    !ends.spacing.is_empty()
}

/// The frame rate of blocks spaced as seen: the usual rate within 1 % nearest to it (block
/// times are usually whole milliseconds), else the measure to a thousandth of a frame.
fn rate_from_spacing(spacing: &Spacing) -> Option<FrameRate> {
    const USUAL: [(u64, u64); 13] = [
        (10, 1),
        (12, 1),
        (15, 1),
        (24000, 1001),
        (24, 1),
        (25, 1),
        (30000, 1001),
        (30, 1),
        (48, 1),
        (50, 1),
        (60000, 1001),
        (60, 1),
        (120, 1),
    ];
    let span = spacing.last_ns.checked_sub(spacing.first_ns)?;
    if spacing.blocks < 2 || span == 0 {
        return None;
    }
    let fps = (spacing.blocks - 1) as f64 * 1e9 / span as f64;
    let nearest = USUAL
        .iter()
        .map(|&(num, den)| (num, den, (num as f64 / den as f64 - fps).abs() / fps))
        .filter(|&(_, _, off)| off < 0.01)
        .min_by(|a, b| a.2.total_cmp(&b.2));
    match nearest {
        Some((num, den, _)) => FrameRate::new(num, den),
        None => FrameRate::new((fps * 1000.0).round() as u64, 1000),
    }
}

fn track(entry: TrackEntry, spacing: Option<&Spacing>) -> Track {
    let codec = codec(&entry.codec_id, &entry.codec_private);
    let media = match entry.kind {
        1 => Media::Video(VideoInfo {
            width: u32::try_from(entry.width).unwrap_or(0),
            height: u32::try_from(entry.height).unwrap_or(0),
            frame_rate: entry
                .default_duration
                .and_then(frame_rate)
                .or_else(|| spacing.and_then(rate_from_spacing)),
            rotation: 0,
        }),
        2 => Media::Audio(AudioInfo {
            sample_rate: if codec == Codec::Opus {
                // Opus always decodes at 48 kHz; the element may hold the input's rate.
                Some(48_000)
            } else {
                let rate = entry.sampling_frequency.unwrap_or(8000.0);
                (1.0..16_000_000.0).contains(&rate).then_some(rate as u32)
            },
            channels: u16::try_from(entry.channels.unwrap_or(1)).ok(),
        }),
        _ => Media::Other,
    };
    Track {
        id: entry.number,
        codec,
        codec_id: escape(&entry.codec_id),
        duration: None,
        media,
    }
}

/// The frame rate of a DefaultDuration (nanoseconds per frame). Muxers round the duration to a
/// nanosecond, so a rate of n/1 or n/1001 within that rounding is taken as exact.
fn frame_rate(nanos: u64) -> Option<FrameRate> {
    if nanos == 0 {
        return None;
    }
    for den in [1u64, 1001] {
        let num = (den as f64 * 1e9 / nanos as f64).round() as u64;
        if num == 0 {
            continue;
        }
        let exact = den as f64 * 1e9 / num as f64;
        if (exact - nanos as f64).abs() <= 1.0 {
            return FrameRate::new(num, den);
        }
    }
    FrameRate::new(1_000_000_000, nanos)
}

fn codec(codec_id: &[u8], private: &[u8]) -> Codec {
    match codec_id {
        b"V_MPEG4/ISO/AVC" => Codec::H264,
        b"V_MPEGH/ISO/HEVC" => Codec::Hevc,
        b"V_AV1" => Codec::Av1,
        b"V_VP8" => Codec::Vp8,
        b"V_VP9" => Codec::Vp9,
        b"V_THEORA" => Codec::Theora,
        b"V_MPEG4/ISO/SP" | b"V_MPEG4/ISO/ASP" | b"V_MPEG4/ISO/AP" | b"V_MPEG4/MS/V3" => {
            Codec::Mpeg4
        }
        b"V_MPEG1" | b"V_MPEG2" => Codec::Mpeg2,
        b"V_MJPEG" => Codec::Mjpeg,
        b"V_PRORES" => Codec::Prores,
        b"V_FFV1" => Codec::Ffv1,
        b"V_MS/VFW/FOURCC" => match private.get(16..20) {
            Some(b"FFV1") => Codec::Ffv1,
            Some(b"H264" | b"h264" | b"X264" | b"x264" | b"avc1") => Codec::H264,
            Some(b"HEVC" | b"hvc1" | b"hev1") => Codec::Hevc,
            Some(b"XVID" | b"xvid" | b"DIVX" | b"divx" | b"DX50" | b"FMP4" | b"MP4V") => {
                Codec::Mpeg4
            }
            Some(b"MJPG") => Codec::Mjpeg,
            Some(b"VP80") => Codec::Vp8,
            Some(b"VP90") => Codec::Vp9,
            Some(b"AV01") => Codec::Av1,
            _ => Codec::Unknown,
        },
        b"A_OPUS" => Codec::Opus,
        b"A_VORBIS" => Codec::Vorbis,
        b"A_MPEG/L3" => Codec::Mp3,
        b"A_FLAC" => Codec::Flac,
        b"A_AC3" => Codec::Ac3,
        b"A_EAC3" => Codec::Eac3,
        b"A_ALAC" => Codec::Alac,
        b"A_MS/ACM" => match private.get(..2) {
            Some([0x01, 0x00] | [0x03, 0x00] | [0xFE, 0xFF]) => Codec::Pcm,
            Some([0x55, 0x00]) => Codec::Mp3,
            Some([0xFF, 0x00]) => Codec::Aac,
            Some([0x00, 0x20]) => Codec::Ac3,
            _ => Codec::Unknown,
        },
        id if id.starts_with(b"A_AAC") => Codec::Aac,
        id if id.starts_with(b"A_PCM/") => Codec::Pcm,
        _ => Codec::Unknown,
    }
}

fn malformed(header: &Header, reason: &'static str) -> ProbeError {
    ProbeError::Malformed {
        element: header.element(),
        offset: header.offset,
        reason,
    }
}

fn end_of(header: &Header, size: u64) -> Result<u64, ProbeError> {
    header.body().checked_add(size).ok_or(ProbeError::BadSize {
        element: header.element(),
        offset: header.offset,
        size,
        reason: "runs past any possible file",
    })
}

/// An element's ID and size at `offset`.
fn read_header<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    offset: u64,
) -> Result<Header, ProbeError> {
    let available = input.len().saturating_sub(offset);
    if available < 2 {
        return Err(ProbeError::Truncated {
            element: Element::File,
            offset,
            needed: 2,
            file_len: input.len(),
        });
    }
    let data = input.read_up_to(offset, 12, Element::File)?;
    let mut bytes = Bytes::new(&data);
    let short = || ProbeError::Truncated {
        element: Element::File,
        offset,
        needed: 12,
        file_len: input.len(),
    };
    let first = *data.first().ok_or_else(short)?;
    if first == 0 || first.leading_zeros() >= 4 {
        return Err(ProbeError::Malformed {
            element: Element::File,
            offset,
            reason: "not an EBML element ID",
        });
    }
    let id = element_id(&mut bytes).ok_or_else(short)?;
    let size_first = *bytes.remaining().first().ok_or_else(short)?;
    if size_first == 0 {
        return Err(ProbeError::Malformed {
            element: Element::Ebml(id),
            offset,
            reason: "its size is not an EBML variable-length integer",
        });
    }
    let (size, len) = vint(&mut bytes).ok_or_else(short)?;
    Ok(Header {
        id,
        offset,
        header_len: bytes.position() as u64,
        size: (size != unknown_size(len)).then_some(size),
    })
}

/// The value that means "unknown size" for a size of `len` bytes (all value bits set).
fn unknown_size(len: usize) -> u64 {
    (1u64 << (7 * len.min(9) as u32).min(63)) - 1
}

/// Calls `each` with every element of `data` (the body of a master element that starts at
/// `base` in the file): its ID, body and offset.
fn for_each<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    data: &[u8],
    base: u64,
    depth: u32,
    mut each: impl FnMut(&mut Input<'_, R>, u32, &[u8], u64, u64) -> Result<(), ProbeError>,
) -> Result<(), ProbeError> {
    let mut bytes = Bytes::new(data);
    while !bytes.remaining().is_empty() {
        let offset = base + bytes.position() as u64;
        let malformed = |reason| ProbeError::Malformed {
            element: Element::File,
            offset,
            reason,
        };
        let id = element_id(&mut bytes).ok_or_else(|| malformed("not an EBML element ID"))?;
        let element = Element::Ebml(id);
        input.visit(element, offset)?;
        check_depth(input, element, offset, depth)?;
        let (size, len) = vint(&mut bytes).ok_or(ProbeError::Malformed {
            element,
            offset,
            reason: "its size is not an EBML variable-length integer",
        })?;
        if size == unknown_size(len) {
            return Err(ProbeError::Malformed {
                element,
                offset,
                reason: "an unknown size inside an element of known size",
            });
        }
        let body_offset = base + bytes.position() as u64;
        let body = usize::try_from(size)
            .ok()
            .and_then(|size| bytes.take(size))
            .ok_or(ProbeError::BadSize {
                element,
                offset,
                size,
                reason: "runs past the end of the element that contains it",
            })?;
        each(input, id, body, offset, body_offset)?;
    }
    Ok(())
}

fn check_depth<R: Read + Seek + ?Sized>(
    input: &Input<'_, R>,
    element: Element,
    offset: u64,
    depth: u32,
) -> Result<(), ProbeError> {
    if depth > input.limits.max_depth {
        return Err(ProbeError::TooDeep {
            element,
            offset,
            limit: input.limits.max_depth,
        });
    }
    Ok(())
}

/// An unsigned integer element (at most 8 bytes).
fn uint(body: &[u8], id: u32, offset: u64) -> Result<u64, ProbeError> {
    if body.len() > 8 {
        return Err(ProbeError::Malformed {
            element: Element::Ebml(id),
            offset,
            reason: "an integer longer than 8 bytes",
        });
    }
    Ok(body
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
}

/// A float element (0, 4 or 8 bytes).
fn float(body: &[u8], id: u32, offset: u64) -> Result<f64, ProbeError> {
    let mut bytes = Bytes::new(body);
    match body.len() {
        0 => Ok(0.0),
        4 => Ok(bytes
            .u32()
            .map(|bits| f64::from(f32::from_bits(bits)))
            .unwrap_or(0.0)),
        8 => Ok(bytes.f64().unwrap_or(0.0)),
        _ => Err(ProbeError::Malformed {
            element: Element::Ebml(id),
            offset,
            reason: "a float that is neither 4 nor 8 bytes",
        }),
    }
}

/// A string element up to its first NUL, at most 64 bytes kept.
fn text(body: &[u8]) -> Vec<u8> {
    let text = body.split(|&byte| byte == 0).next().unwrap_or(body);
    text.get(..64).unwrap_or(text).to_vec()
}

/// TimecodeScale and Duration from Info.
fn read_info<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    data: &[u8],
    base: u64,
) -> Result<(u64, Option<f64>), ProbeError> {
    let mut scale = 1_000_000;
    let mut duration = None;
    for_each(input, data, base, 2, |_, id, body, offset, _| {
        match id {
            TIMECODE_SCALE => {
                scale = uint(body, id, offset)?;
                if scale == 0 {
                    return Err(ProbeError::Malformed {
                        element: Element::Ebml(id),
                        offset,
                        reason: "a timecode scale of zero",
                    });
                }
            }
            DURATION => {
                let value = float(body, id, offset)?;
                if !(value.is_finite() && value >= 0.0) {
                    return Err(ProbeError::Malformed {
                        element: Element::Ebml(id),
                        offset,
                        reason: "not a duration a file can have",
                    });
                }
                duration = Some(value);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((scale, duration))
}

fn read_tracks<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    data: &[u8],
    base: u64,
) -> Result<Vec<TrackEntry>, ProbeError> {
    let mut entries = Vec::new();
    for_each(
        input,
        data,
        base,
        2,
        |input, id, body, offset, body_base| {
            if id != TRACK_ENTRY {
                return Ok(());
            }
            if entries.len() >= input.limits.max_tracks {
                return Err(ProbeError::LimitExceeded {
                    element: Element::Ebml(id),
                    offset,
                    limit: Limit::Tracks,
                    value: input.limits.max_tracks as u64,
                });
            }
            let mut entry = TrackEntry::default();
            for_each(
                input,
                body,
                body_base,
                3,
                |input, id, body, offset, body_base| {
                    match id {
                        TRACK_NUMBER => entry.number = uint(body, id, offset)?,
                        TRACK_TYPE => entry.kind = uint(body, id, offset)?,
                        CODEC_ID => entry.codec_id = text(body),
                        CODEC_PRIVATE => {
                            entry.codec_private = body.get(..32).unwrap_or(body).to_vec()
                        }
                        DEFAULT_DURATION => entry.default_duration = Some(uint(body, id, offset)?),
                        VIDEO => for_each(input, body, body_base, 4, |_, id, body, offset, _| {
                            match id {
                                PIXEL_WIDTH => entry.width = uint(body, id, offset)?,
                                PIXEL_HEIGHT => entry.height = uint(body, id, offset)?,
                                _ => {}
                            }
                            Ok(())
                        })?,
                        AUDIO => for_each(input, body, body_base, 4, |_, id, body, offset, _| {
                            match id {
                                SAMPLING_FREQUENCY => {
                                    entry.sampling_frequency = Some(float(body, id, offset)?);
                                }
                                CHANNELS => entry.channels = Some(uint(body, id, offset)?),
                                _ => {}
                            }
                            Ok(())
                        })?,
                        _ => {}
                    }
                    Ok(())
                },
            )?;
            entries.push(entry);
            Ok(())
        },
    )?;
    Ok(entries)
}

/// The DefaultDuration of each track, by number.
fn default_durations(tracks: Option<&[TrackEntry]>) -> Vec<(u64, u64)> {
    tracks
        .unwrap_or(&[])
        .iter()
        .filter_map(|entry| Some((entry.number, entry.default_duration?)))
        .collect()
}

/// Walks a Cluster's children, noting where its blocks end; returns where the Cluster ends (for
/// one of unknown size, where the next element of the Segment starts).
fn scan_cluster<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    cluster: &Header,
    segment_end: u64,
    scale: u64,
    defaults: &[(u64, u64)],
    ends: &mut BlockEnds,
) -> Result<u64, ProbeError> {
    let end = match cluster.size {
        Some(size) => end_of(cluster, size)?.min(segment_end),
        None => segment_end,
    };
    let mut cluster_time = 0u64;
    let mut offset = cluster.body();
    while offset < end {
        let header = match read_header(input, offset) {
            Ok(header) => header,
            Err(ProbeError::Truncated { .. }) if cluster.size.is_none() => return Ok(end),
            Err(error) => return Err(error),
        };
        if cluster.size.is_none() && (LEVEL_1.contains(&header.id) || header.id == EBML) {
            return Ok(offset);
        }
        input.visit(header.element(), offset)?;
        check_depth(input, header.element(), offset, 2)?;
        let Some(size) = header.size else {
            return Err(malformed(&header, "an unknown size inside a Cluster"));
        };
        let child_end = end_of(&header, size)?;
        if child_end > end {
            return Err(ProbeError::BadSize {
                element: header.element(),
                offset,
                size,
                reason: "runs past the end of its Cluster",
            });
        }
        match header.id {
            TIMECODE => {
                let data = input.read_vec(header.body(), size.min(9), header.element())?;
                cluster_time = uint(&data, header.id, offset)?;
            }
            SIMPLE_BLOCK => {
                block_end(
                    input,
                    &header,
                    size,
                    cluster_time,
                    scale,
                    defaults,
                    None,
                    ends,
                )?;
            }
            BLOCK_GROUP => {
                let mut block = None;
                let mut duration = None;
                let mut child = header.body();
                while child < child_end {
                    let inner = read_header(input, child)?;
                    input.visit(inner.element(), child)?;
                    check_depth(input, inner.element(), child, 3)?;
                    let Some(inner_size) = inner.size else {
                        return Err(malformed(&inner, "an unknown size inside a BlockGroup"));
                    };
                    let inner_end = end_of(&inner, inner_size)?;
                    if inner_end > child_end {
                        return Err(ProbeError::BadSize {
                            element: inner.element(),
                            offset: child,
                            size: inner_size,
                            reason: "runs past the end of its BlockGroup",
                        });
                    }
                    match inner.id {
                        BLOCK => block = Some((inner, inner_size)),
                        BLOCK_DURATION => {
                            let data =
                                input.read_vec(inner.body(), inner_size.min(9), inner.element())?;
                            duration = Some(uint(&data, inner.id, child)?);
                        }
                        _ => {}
                    }
                    child = inner_end;
                }
                if let Some((block, block_size)) = block {
                    block_end(
                        input,
                        &block,
                        block_size,
                        cluster_time,
                        scale,
                        defaults,
                        duration,
                        ends,
                    )?;
                }
            }
            VOID | CRC32 => {}
            _ => {}
        }
        offset = child_end;
    }
    Ok(end)
}

/// Notes where a block ends: the Cluster's time plus the block's relative time, plus its
/// BlockDuration or its track's DefaultDuration.
#[allow(clippy::too_many_arguments)]
fn block_end<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    block: &Header,
    size: u64,
    cluster_time: u64,
    scale: u64,
    defaults: &[(u64, u64)],
    duration: Option<u64>,
    ends: &mut BlockEnds,
) -> Result<(), ProbeError> {
    let data = input.read_vec(block.body(), size.min(11), block.element())?;
    let mut bytes = Bytes::new(&data);
    let (Some((track, _)), Some(relative)) = (vint(&mut bytes), bytes.u16()) else {
        return Err(malformed(block, "shorter than a block header"));
    };
    let relative = i128::from(relative as i16);
    let start_ticks = i128::from(cluster_time) + relative;
    let start_ns = u128::try_from(start_ticks.max(0)).unwrap_or(0) * u128::from(scale);
    let length_ns = match duration {
        Some(ticks) => u128::from(ticks) * u128::from(scale),
        None => defaults
            .iter()
            .find(|(number, _)| *number == track)
            .map(|(_, nanos)| u128::from(*nanos))
            .unwrap_or(0),
    };
    if let Some(spacing) = ends.spacing.iter_mut().find(|s| s.track == track) {
        spacing.blocks += 1;
        spacing.first_ns = spacing.first_ns.min(start_ns);
        spacing.last_ns = spacing.last_ns.max(start_ns);
    }
    let end = start_ns.saturating_add(length_ns);
    ends.latest_ns = Some(ends.latest_ns.map_or(end, |latest| latest.max(end)));
    Ok(())
}

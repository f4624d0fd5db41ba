//! ISO base media file format (ISO/IEC 14496-12): MP4, M4A, 3GP, QuickTime, fragmented MP4.
//!
//! The top level is walked box header by box header, seeking past `mdat`; `moov` is read where
//! it is (start or end) by descending into the few boxes that say what the tracks are, and each
//! `moof` after it adds its samples' durations to its tracks.

use std::io::{Read, Seek};
use std::time::Duration;

use crate::bytes::Bytes;
use crate::input::Input;
use crate::{
    AudioInfo, Codec, Container, Element, FrameRate, Limit, Media, Probe, ProbeError, Track,
    VideoInfo, escape, ticks_to_duration,
};

/// Fixed-field boxes (`mvhd`, `tkhd`, `mdhd`, `hdlr`, `tfhd`...) are read up to this many bytes.
const HEADER_BOX_BYTES: usize = 128;
/// The part of `stsd` read: its first sample entry with the boxes that say the codec.
const STSD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
struct BoxHeader {
    kind: [u8; 4],
    offset: u64,
    header_len: u64,
    /// The whole box, header included.
    size: u64,
}

impl BoxHeader {
    fn body(&self) -> u64 {
        self.offset + self.header_len
    }

    fn end(&self) -> u64 {
        self.offset + self.size
    }

    fn body_len(&self) -> u64 {
        self.size - self.header_len
    }

    fn element(&self) -> Element {
        Element::Mp4Box(self.kind)
    }
}

/// Sample timing of a track: totals and the most frequent sample duration.
#[derive(Debug, Default, Clone)]
struct Timing {
    samples: u64,
    ticks: u64,
    /// Up to eight distinct sample durations with their counts.
    deltas: Vec<(u32, u64)>,
}

impl Timing {
    fn add(&mut self, count: u64, delta: u32) {
        self.samples = self.samples.saturating_add(count);
        self.ticks = self
            .ticks
            .saturating_add(count.saturating_mul(u64::from(delta)));
        if let Some(entry) = self.deltas.iter_mut().find(|(d, _)| *d == delta) {
            entry.1 = entry.1.saturating_add(count);
        } else if self.deltas.len() < 8 {
            self.deltas.push((delta, count));
        }
    }

    /// Frames per second over `timescale`: the most frequent sample duration when nine samples
    /// in ten have it (a constant rate, perhaps with a different last sample), else the
    /// average.
    fn frame_rate(&self, timescale: u32) -> Option<FrameRate> {
        let timescale = u64::from(timescale);
        let (delta, count) = self.deltas.iter().max_by_key(|(_, count)| *count)?;
        if count.saturating_mul(10) >= self.samples.saturating_mul(9) {
            FrameRate::new(timescale, u64::from(*delta))
        } else {
            FrameRate::new(self.samples.saturating_mul(timescale), self.ticks)
        }
    }
}

#[derive(Debug, Default)]
struct TrackBoxes {
    id: u32,
    handler: [u8; 4],
    timescale: u32,
    duration: Option<u64>,
    tkhd_size: (u32, u32),
    rotation: u16,
    entry: Option<SampleEntry>,
    timing: Timing,
    /// Sample timing from movie fragments.
    fragments: Timing,
    trex_duration: u32,
}

#[derive(Debug, Default)]
struct SampleEntry {
    fourcc: [u8; 4],
    /// The original format of an encrypted entry (`sinf`/`frma`).
    original: Option<[u8; 4]>,
    width: u16,
    height: u16,
    channels: u16,
    sample_rate: u32,
    /// The MPEG-4 objectTypeIndication of an `esds`.
    object_type: Option<u8>,
}

#[derive(Debug, Default)]
struct Movie {
    timescale: u32,
    duration: Option<u64>,
    fragment_duration: Option<u64>,
    tracks: Vec<TrackBoxes>,
}

pub(crate) fn probe<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
) -> Result<Probe, ProbeError> {
    let file_len = input.len();
    let mut movie: Option<Movie> = None;
    let mut truncated = false;
    let mut offset = 0;
    while offset < file_len {
        if file_len - offset < 8 {
            // A few stray bytes after the last box.
            truncated = true;
            break;
        }
        let header = match read_header(input, offset, file_len, true) {
            Ok(header) => header,
            Err(ProbeError::Truncated { .. }) if movie.is_some() => {
                truncated = true;
                break;
            }
            Err(error) => return Err(error),
        };
        input.visit(header.element(), offset)?;
        let complete = header.end() <= file_len;
        match &header.kind {
            b"moov" if movie.is_none() => {
                if !complete {
                    return Err(truncated_box(&header, file_len));
                }
                movie = Some(read_moov(input, &header)?);
            }
            b"moof" if complete => {
                if let Some(movie) = movie.as_mut() {
                    read_moof(input, &header, movie)?;
                }
            }
            _ => {}
        }
        if !complete {
            truncated = true;
            break;
        }
        offset = header.end();
    }
    let Some(movie) = movie else {
        if truncated {
            return Err(ProbeError::Truncated {
                element: Element::Mp4Box(*b"moov"),
                offset: file_len,
                needed: 8,
                file_len,
            });
        }
        return Err(ProbeError::Missing {
            container: Container::Mp4,
            element: Element::Mp4Box(*b"moov"),
        });
    };
    Ok(finish(movie, truncated))
}

fn truncated_box(header: &BoxHeader, file_len: u64) -> ProbeError {
    ProbeError::Truncated {
        element: header.element(),
        offset: header.offset,
        needed: header.size,
        file_len,
    }
}

fn finish(movie: Movie, truncated: bool) -> Probe {
    let mut tracks = Vec::with_capacity(movie.tracks.len());
    let mut longest_fragmented: Option<Duration> = None;
    for boxes in movie.tracks {
        let fragmented = boxes.fragments.samples > 0;
        let timing = if fragmented {
            &boxes.fragments
        } else {
            &boxes.timing
        };
        let duration = if fragmented {
            ticks_to_duration(boxes.fragments.ticks, u64::from(boxes.timescale))
        } else {
            boxes
                .duration
                .and_then(|ticks| ticks_to_duration(ticks, u64::from(boxes.timescale)))
        };
        if fragmented {
            longest_fragmented = longest_fragmented.max(duration);
        }
        let entry = boxes.entry.unwrap_or_default();
        let format = entry.original.unwrap_or(entry.fourcc);
        let codec = codec(format, entry.object_type);
        let media = match &boxes.handler {
            b"vide" => {
                let (mut width, mut height) = (u32::from(entry.width), u32::from(entry.height));
                if width == 0 || height == 0 {
                    (width, height) = boxes.tkhd_size;
                }
                Media::Video(VideoInfo {
                    width,
                    height,
                    frame_rate: timing.frame_rate(boxes.timescale),
                    rotation: boxes.rotation,
                })
            }
            b"soun" => {
                let rate = if entry.sample_rate > 0 {
                    entry.sample_rate
                } else {
                    boxes.timescale
                };
                Media::Audio(AudioInfo {
                    sample_rate: (rate > 0).then_some(rate),
                    channels: (entry.channels > 0).then_some(entry.channels),
                })
            }
            _ => Media::Other,
        };
        tracks.push(Track {
            id: u64::from(boxes.id),
            codec,
            codec_id: escape(&entry.fourcc),
            duration,
            media,
        });
    }
    let duration = longest_fragmented
        .or_else(|| {
            movie
                .fragment_duration
                .and_then(|ticks| ticks_to_duration(ticks, u64::from(movie.timescale)))
        })
        .or_else(|| {
            movie
                .duration
                .filter(|&ticks| ticks > 0)
                .and_then(|ticks| ticks_to_duration(ticks, u64::from(movie.timescale)))
        })
        .or_else(|| tracks.iter().filter_map(|track| track.duration).max());
    Probe {
        container: Container::Mp4,
        duration,
        tracks,
        truncated,
    }
}

/// The codec of a sample entry's format.
fn codec(format: [u8; 4], object_type: Option<u8>) -> Codec {
    match &format {
        b"avc1" | b"avc2" | b"avc3" | b"avc4" => Codec::H264,
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => Codec::Hevc,
        b"av01" => Codec::Av1,
        b"vp08" => Codec::Vp8,
        b"vp09" => Codec::Vp9,
        b"mp4v" => match object_type {
            Some(0x60..=0x65) => Codec::Mpeg2,
            Some(0x6A) => Codec::Mpeg2,
            Some(0x6C) => Codec::Mjpeg,
            _ => Codec::Mpeg4,
        },
        b"s263" | b"h263" | b"H263" => Codec::H263,
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => Codec::Prores,
        b"jpeg" | b"mjpa" | b"mjpb" | b"mjp2" => Codec::Mjpeg,
        b"mp1v" | b"mp2v" | b"m1v " | b"m2v1" | b"xd54" | b"xd55" | b"xd59" | b"xd5a" | b"xd5b"
        | b"xd5c" | b"xd5d" | b"xd5e" | b"xd5f" | b"xdv1" | b"xdv2" => Codec::Mpeg2,
        b"FFV1" => Codec::Ffv1,
        b"mp4a" => match object_type {
            Some(0x69 | 0x6B) => Codec::Mp3,
            Some(0xA5) => Codec::Ac3,
            Some(0xA6) => Codec::Eac3,
            Some(0xDD) => Codec::Vorbis,
            Some(0xAD) => Codec::Opus,
            _ => Codec::Aac,
        },
        b".mp3" | b"ms\x00\x55" => Codec::Mp3,
        b"Opus" => Codec::Opus,
        b"fLaC" => Codec::Flac,
        b"ac-3" | b"sac3" => Codec::Ac3,
        b"ec-3" => Codec::Eac3,
        b"alac" => Codec::Alac,
        b"lpcm" | b"sowt" | b"twos" | b"in24" | b"in32" | b"fl32" | b"fl64" | b"raw " | b"NONE"
        | b"ipcm" | b"fpcm" => Codec::Pcm,
        _ => Codec::Unknown,
    }
}

/// Reads the header of the box at `offset`, which must end by `parent_end`. At the top level
/// (`top`) a box running past the end of the file is returned for the caller to decide; inside
/// another box it is an error.
fn read_header<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    offset: u64,
    parent_end: u64,
    top: bool,
) -> Result<BoxHeader, ProbeError> {
    let mut first = [0; 8];
    input.read_at(offset, &mut first, Element::File)?;
    let mut bytes = Bytes::new(&first);
    let (size32, kind) = match (bytes.u32(), bytes.fourcc()) {
        (Some(size), Some(kind)) => (size, kind),
        _ => return Err(malformed(Element::File, offset, "box header")),
    };
    let element = Element::Mp4Box(kind);
    let (size, header_len) = match size32 {
        0 => (parent_end - offset, 8),
        1 => {
            let mut large = [0; 8];
            input.read_at(offset + 8, &mut large, element)?;
            (u64::from_be_bytes(large), 16)
        }
        size => (u64::from(size), 8),
    };
    if size < header_len {
        return Err(ProbeError::BadSize {
            element,
            offset,
            size,
            reason: "is smaller than the box header",
        });
    }
    let Some(end) = offset.checked_add(size) else {
        return Err(ProbeError::BadSize {
            element,
            offset,
            size,
            reason: "runs past any possible file",
        });
    };
    if end > parent_end && !top {
        return Err(ProbeError::BadSize {
            element,
            offset,
            size,
            reason: "runs past the end of the box that contains it",
        });
    }
    Ok(BoxHeader {
        kind,
        offset,
        header_len,
        size,
    })
}

fn malformed(element: Element, offset: u64, reason: &'static str) -> ProbeError {
    ProbeError::Malformed {
        element,
        offset,
        reason,
    }
}

fn too_short(header: &BoxHeader) -> ProbeError {
    malformed(header.element(), header.offset, "shorter than its fields")
}

/// Calls `each` with every child box of `parent`, at nesting `depth`.
fn children<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    parent: &BoxHeader,
    skip: u64,
    depth: u32,
    mut each: impl FnMut(&mut Input<'_, R>, BoxHeader) -> Result<(), ProbeError>,
) -> Result<(), ProbeError> {
    let end = parent.end();
    let mut offset = parent.body() + skip;
    while offset < end {
        // QuickTime ends some atom lists with a 32-bit zero terminator.
        if end - offset < 8 {
            break;
        }
        let header = read_header(input, offset, end, false)?;
        input.visit(header.element(), offset)?;
        if depth > input.limits.max_depth {
            return Err(ProbeError::TooDeep {
                element: header.element(),
                offset,
                limit: input.limits.max_depth,
            });
        }
        each(input, header)?;
        offset = header.end();
    }
    Ok(())
}

/// The first bytes of a box's body (at most `max`).
fn body<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    header: &BoxHeader,
    max: usize,
) -> Result<Vec<u8>, ProbeError> {
    let len = header.body_len().min(max as u64);
    input.read_vec(header.body(), len, header.element())
}

fn read_moov<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    moov: &BoxHeader,
) -> Result<Movie, ProbeError> {
    let mut movie = Movie::default();
    let mut trex: Vec<(u32, u32)> = Vec::new();
    children(input, moov, 0, 1, |input, header| {
        match &header.kind {
            b"mvhd" => {
                let data = body(input, &header, HEADER_BOX_BYTES)?;
                let mut bytes = Bytes::new(&data);
                let version = bytes.u8().ok_or_else(|| too_short(&header))?;
                let fields = if version == 1 {
                    bytes.skip(3 + 16);
                    bytes.u32().zip(bytes.u64())
                } else {
                    bytes.skip(3 + 8);
                    bytes.u32().zip(bytes.u32().map(u64::from))
                };
                let (timescale, duration) = fields.ok_or_else(|| too_short(&header))?;
                movie.timescale = timescale;
                movie.duration = known(duration, version);
            }
            b"trak" => {
                if movie.tracks.len() >= input.limits.max_tracks {
                    return Err(ProbeError::LimitExceeded {
                        element: header.element(),
                        offset: header.offset,
                        limit: Limit::Tracks,
                        value: input.limits.max_tracks as u64,
                    });
                }
                movie.tracks.push(read_trak(input, &header)?);
            }
            b"mvex" => children(input, &header, 0, 2, |input, child| {
                match &child.kind {
                    b"mehd" => {
                        let data = body(input, &child, HEADER_BOX_BYTES)?;
                        let mut bytes = Bytes::new(&data);
                        let version = bytes.u8().ok_or_else(|| too_short(&child))?;
                        bytes.skip(3);
                        let duration = if version == 1 {
                            bytes.u64()
                        } else {
                            bytes.u32().map(u64::from)
                        };
                        movie.fragment_duration = duration.filter(|&d| d > 0);
                    }
                    b"trex" => {
                        let data = body(input, &child, HEADER_BOX_BYTES)?;
                        let mut bytes = Bytes::new(&data);
                        bytes.skip(4);
                        let track = bytes.u32();
                        bytes.skip(4);
                        let duration = bytes.u32();
                        let entry = track.zip(duration).ok_or_else(|| too_short(&child))?;
                        if trex.len() < input.limits.max_tracks {
                            trex.push(entry);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    for (id, duration) in trex {
        if let Some(track) = movie.tracks.iter_mut().find(|track| track.id == id) {
            track.trex_duration = duration;
        }
    }
    Ok(movie)
}

/// The clockwise quarter turn of a track header's matrix (a, b, c, d in 16.16 fixed point;
/// ISO/IEC 14496-12, 6.2.2): points (x, y) are displayed at (a·x + c·y, b·x + d·y), with y
/// downwards. Anything but a quarter turn (mirrors, scaling) counts as none.
fn rotation([a, b, c, d]: [i32; 4]) -> u16 {
    const ONE: i32 = 0x1_0000;
    const MINUS_ONE: i32 = -ONE;
    match (a, b, c, d) {
        (0, ONE, MINUS_ONE, 0) => 90,
        (MINUS_ONE, 0, 0, MINUS_ONE) => 180,
        (0, MINUS_ONE, ONE, 0) => 270,
        _ => 0,
    }
}

/// A duration field, `None` when it says "unknown" (all ones).
fn known(duration: u64, version: u8) -> Option<u64> {
    let unknown = if version == 1 {
        u64::MAX
    } else {
        u64::from(u32::MAX)
    };
    (duration != unknown).then_some(duration)
}

fn read_trak<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    trak: &BoxHeader,
) -> Result<TrackBoxes, ProbeError> {
    let mut track = TrackBoxes::default();
    children(input, trak, 0, 2, |input, header| {
        match &header.kind {
            b"tkhd" => {
                let data = body(input, &header, HEADER_BOX_BYTES)?;
                let mut bytes = Bytes::new(&data);
                let version = bytes.u8().ok_or_else(|| too_short(&header))?;
                bytes.skip(3);
                bytes.skip(if version == 1 { 16 } else { 8 });
                track.id = bytes.u32().ok_or_else(|| too_short(&header))?;
                // reserved, duration, reserved, layer, alternate group, volume, reserved;
                // then the matrix, then width and height in 16.16 fixed point.
                bytes.skip(4 + if version == 1 { 8 } else { 4 } + 8 + 2 + 2 + 2 + 2);
                let (a, b) = (bytes.u32(), bytes.u32());
                bytes.skip(4);
                let (c, d) = (bytes.u32(), bytes.u32());
                bytes.skip(16);
                if let (Some(a), Some(b), Some(c), Some(d)) = (a, b, c, d) {
                    track.rotation = rotation([a, b, c, d].map(|v| v as i32));
                }
                if let Some((width, height)) = bytes.u32().zip(bytes.u32()) {
                    track.tkhd_size = (width >> 16, height >> 16);
                }
            }
            b"mdia" => read_mdia(input, &header, &mut track)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(track)
}

fn read_mdia<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    mdia: &BoxHeader,
    track: &mut TrackBoxes,
) -> Result<(), ProbeError> {
    children(input, mdia, 0, 3, |input, header| {
        match &header.kind {
            b"mdhd" => {
                let data = body(input, &header, HEADER_BOX_BYTES)?;
                let mut bytes = Bytes::new(&data);
                let version = bytes.u8().ok_or_else(|| too_short(&header))?;
                let fields = if version == 1 {
                    bytes.skip(3 + 16);
                    bytes.u32().zip(bytes.u64())
                } else {
                    bytes.skip(3 + 8);
                    bytes.u32().zip(bytes.u32().map(u64::from))
                };
                let (timescale, duration) = fields.ok_or_else(|| too_short(&header))?;
                track.timescale = timescale;
                track.duration = known(duration, version);
            }
            b"hdlr" => {
                let data = body(input, &header, HEADER_BOX_BYTES)?;
                let mut bytes = Bytes::new(&data);
                bytes.skip(8);
                track.handler = bytes.fourcc().ok_or_else(|| too_short(&header))?;
            }
            b"minf" => children(input, &header, 0, 4, |input, minf_child| {
                if &minf_child.kind == b"stbl" {
                    read_stbl(input, &minf_child, track)?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })
}

fn read_stbl<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    stbl: &BoxHeader,
    track: &mut TrackBoxes,
) -> Result<(), ProbeError> {
    children(input, stbl, 0, 5, |input, header| {
        match &header.kind {
            b"stsd" => {
                let data = body(input, &header, STSD_BYTES)?;
                let audio = &track.handler == b"soun";
                track.entry = Some(sample_entry(&data, &header, audio)?);
            }
            b"stts" => read_stts(input, &header, &mut track.timing)?,
            _ => {}
        }
        Ok(())
    })
}

fn read_stts<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    stts: &BoxHeader,
    timing: &mut Timing,
) -> Result<(), ProbeError> {
    let data = input.read_vec(stts.body(), stts.body_len(), stts.element())?;
    let mut bytes = Bytes::new(&data);
    bytes.skip(4).ok_or_else(|| too_short(stts))?;
    let count = bytes.u32().ok_or_else(|| too_short(stts))?;
    if u64::from(count) * 8 > bytes.remaining().len() as u64 {
        return Err(malformed(
            stts.element(),
            stts.offset,
            "its entry count does not fit in the box",
        ));
    }
    for _ in 0..count {
        if let Some((samples, delta)) = bytes.u32().zip(bytes.u32()) {
            timing.add(u64::from(samples), delta);
        }
    }
    Ok(())
}

/// The first entry of an `stsd` (the only one that matters for what a track is).
fn sample_entry(data: &[u8], stsd: &BoxHeader, audio: bool) -> Result<SampleEntry, ProbeError> {
    let mut bytes = Bytes::new(data);
    bytes.skip(4).ok_or_else(|| too_short(stsd))?;
    let count = bytes.u32().ok_or_else(|| too_short(stsd))?;
    if count == 0 {
        return Ok(SampleEntry::default());
    }
    let size = bytes.u32().ok_or_else(|| too_short(stsd))?;
    let fourcc = bytes.fourcc().ok_or_else(|| too_short(stsd))?;
    let entry_offset = stsd.body() + 8;
    if size < 8 || u64::from(size) > stsd.body_len() - 8 {
        return Err(ProbeError::BadSize {
            element: Element::Mp4Box(fourcc),
            offset: entry_offset,
            size: u64::from(size),
            reason: "does not fit in its 'stsd'",
        });
    }
    // Within what was read (the first STSD_BYTES of the box).
    let available = bytes.remaining();
    let entry = available
        .get(..(size as usize - 8).min(available.len()))
        .unwrap_or(available);
    let mut entry_bytes = Bytes::new(entry);
    let mut sample = SampleEntry {
        fourcc,
        ..SampleEntry::default()
    };
    // reserved (6), data_reference_index (2)
    entry_bytes.skip(8);
    let children_start;
    if audio || is_audio_format(&fourcc) {
        let version = entry_bytes.u16().unwrap_or(0);
        entry_bytes.skip(6);
        sample.channels = entry_bytes.u16().unwrap_or(0);
        entry_bytes.skip(6);
        sample.sample_rate = entry_bytes.u32().unwrap_or(0) >> 16;
        match version {
            1 => {
                entry_bytes.skip(16);
            }
            2 => {
                entry_bytes.skip(4);
                let rate = entry_bytes.f64().unwrap_or(0.0);
                sample.channels = entry_bytes
                    .u32()
                    .and_then(|channels| u16::try_from(channels).ok())
                    .unwrap_or(0);
                sample.sample_rate = if (1.0..16_000_000.0).contains(&rate) {
                    rate as u32
                } else {
                    0
                };
                entry_bytes.skip(20);
            }
            _ => {}
        }
        children_start = entry_bytes.position();
    } else {
        // pre_defined, reserved, pre_defined[3]
        entry_bytes.skip(16);
        sample.width = entry_bytes.u16().unwrap_or(0);
        sample.height = entry_bytes.u16().unwrap_or(0);
        // resolutions, reserved, frame count, compressor name, depth, pre_defined
        entry_bytes.skip(50);
        children_start = entry_bytes.position();
    }
    let nested = entry.get(children_start..).unwrap_or(&[]);
    entry_boxes(nested, 0, &mut sample);
    Ok(sample)
}

fn is_audio_format(fourcc: &[u8; 4]) -> bool {
    matches!(
        fourcc,
        b"mp4a"
            | b"enca"
            | b".mp3"
            | b"ms\x00\x55"
            | b"Opus"
            | b"fLaC"
            | b"ac-3"
            | b"sac3"
            | b"ec-3"
            | b"alac"
            | b"lpcm"
            | b"sowt"
            | b"twos"
            | b"in24"
            | b"in32"
            | b"fl32"
            | b"fl64"
            | b"raw "
            | b"NONE"
            | b"ipcm"
            | b"fpcm"
            | b"samr"
            | b"sawb"
            | b"ulaw"
            | b"alaw"
    )
}

/// The boxes inside a sample entry that this crate reads (`esds`, QuickTime's `wave`, and
/// `sinf`/`frma` of an encrypted entry); whatever does not parse is left alone, since the entry
/// itself already says enough.
fn entry_boxes(data: &[u8], depth: u32, sample: &mut SampleEntry) {
    if depth > 3 {
        return;
    }
    let mut bytes = Bytes::new(data);
    while let (Some(size), Some(kind)) = (bytes.u32(), bytes.fourcc()) {
        let Some(len) = (size as usize).checked_sub(8) else {
            return;
        };
        let Some(content) = bytes.take(len) else {
            return;
        };
        match &kind {
            b"esds" => {
                if let Some((object_type, channels)) = esds(content) {
                    sample.object_type = Some(object_type);
                    if let Some(channels) = channels {
                        sample.channels = channels;
                    }
                }
            }
            b"wave" | b"sinf" => entry_boxes(content, depth + 1, sample),
            b"frma" => sample.original = Bytes::new(content).fourcc(),
            _ => {}
        }
    }
}

/// The objectTypeIndication of an `esds` box's DecoderConfigDescriptor (ISO/IEC 14496-1), and
/// for AAC the channel count of its AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1): the sample
/// entry's own channel count is often a fixed 2.
fn esds(content: &[u8]) -> Option<(u8, Option<u16>)> {
    let mut bytes = Bytes::new(content);
    bytes.skip(4)?;
    if bytes.u8()? != 0x03 {
        return None;
    }
    descriptor_len(&mut bytes)?;
    bytes.skip(2)?;
    let flags = bytes.u8()?;
    if flags & 0x80 != 0 {
        bytes.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let url_len = bytes.u8()?;
        bytes.skip(usize::from(url_len))?;
    }
    if flags & 0x20 != 0 {
        bytes.skip(2)?;
    }
    if bytes.u8()? != 0x04 {
        return None;
    }
    descriptor_len(&mut bytes)?;
    let object_type = bytes.u8()?;
    // streamType (1), bufferSizeDB (3), maxBitrate (4), avgBitrate (4)
    let channels = (|| {
        bytes.skip(12)?;
        if bytes.u8()? != 0x05 {
            return None;
        }
        let len = descriptor_len(&mut bytes)?;
        let config = bytes.take(usize::try_from(len).ok()?.min(8))?;
        aac_channels(config)
    })();
    Some((object_type, channels))
}

/// The channel count of an AAC AudioSpecificConfig, when it is in the configuration.
fn aac_channels(config: &[u8]) -> Option<u16> {
    let bits = config
        .iter()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    let total = 8 * config.len().min(8) as u32;
    let mut used = 0u32;
    let mut take = |n: u32| -> Option<u64> {
        used += n;
        let shift = total.checked_sub(used)?;
        let value = (bits >> shift) & ((1u64 << n) - 1);
        Some(value)
    };
    let object_type = take(5)?;
    if object_type == 31 {
        take(6)?;
    }
    if take(4)? == 0x0F {
        take(24)?;
    }
    match take(4)? {
        channels @ 1..=6 => u16::try_from(channels).ok(),
        7 => Some(8),
        _ => None,
    }
}

fn descriptor_len(bytes: &mut Bytes<'_>) -> Option<u32> {
    let mut len = 0u32;
    for _ in 0..4 {
        let byte = bytes.u8()?;
        len = (len << 7) | u32::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            return Some(len);
        }
    }
    Some(len)
}

/// Adds a movie fragment's sample durations to its tracks.
fn read_moof<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    moof: &BoxHeader,
    movie: &mut Movie,
) -> Result<(), ProbeError> {
    children(input, moof, 0, 1, |input, traf| {
        if &traf.kind != b"traf" {
            return Ok(());
        }
        let mut track_index = None;
        let mut default_duration = None;
        children(input, &traf, 0, 2, |input, header| {
            match &header.kind {
                b"tfhd" => {
                    let data = body(input, &header, HEADER_BOX_BYTES)?;
                    let mut bytes = Bytes::new(&data);
                    let flags = bytes.u32().ok_or_else(|| too_short(&header))? & 0x00FF_FFFF;
                    let id = bytes.u32().ok_or_else(|| too_short(&header))?;
                    track_index = movie.tracks.iter().position(|track| track.id == id);
                    if flags & 0x01 != 0 {
                        bytes.skip(8);
                    }
                    if flags & 0x02 != 0 {
                        bytes.skip(4);
                    }
                    if flags & 0x08 != 0 {
                        default_duration = Some(bytes.u32().ok_or_else(|| too_short(&header))?);
                    }
                }
                b"trun" => {
                    let Some(track) = track_index.and_then(|index| movie.tracks.get_mut(index))
                    else {
                        return Err(malformed(
                            header.element(),
                            header.offset,
                            "no 'tfhd' naming a track of the movie comes before it",
                        ));
                    };
                    let fallback = default_duration.unwrap_or(track.trex_duration);
                    read_trun(input, &header, fallback, &mut track.fragments)?;
                }
                _ => {}
            }
            Ok(())
        })
    })
}

fn read_trun<R: Read + Seek + ?Sized>(
    input: &mut Input<'_, R>,
    trun: &BoxHeader,
    default_duration: u32,
    timing: &mut Timing,
) -> Result<(), ProbeError> {
    let mut head = [0; 8];
    if trun.body_len() < 8 {
        return Err(too_short(trun));
    }
    input.read_at(trun.body(), &mut head, trun.element())?;
    let mut bytes = Bytes::new(&head);
    let (flags, count) = match (bytes.u32(), bytes.u32()) {
        (Some(flags), Some(count)) => (flags & 0x00FF_FFFF, count),
        _ => return Err(too_short(trun)),
    };
    if flags & 0x100 == 0 {
        timing.add(u64::from(count), default_duration);
        return Ok(());
    }
    let optional = 4 * (u64::from(flags & 0x01) + u64::from((flags >> 2) & 0x01));
    let per_sample = 4 * u64::from((flags >> 8) & 0x0F).count_ones() as u64;
    let table = trun.body_len() - 8;
    if optional + u64::from(count) * per_sample > table {
        return Err(malformed(
            trun.element(),
            trun.offset,
            "its sample count does not fit in the box",
        ));
    }
    let data = input.read_vec(
        trun.body() + 8 + optional,
        u64::from(count) * per_sample,
        trun.element(),
    )?;
    let stride = usize::try_from(per_sample).unwrap_or(4);
    for sample in data.chunks_exact(stride) {
        if let Some(duration) = Bytes::new(sample).u32() {
            timing.add(1, duration);
        }
    }
    Ok(())
}

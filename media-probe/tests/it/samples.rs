//! Every sample file scripts/media-samples made, against what the script asked ffmpeg for, and
//! cross-checked with what ffprobe said of it (NAME.ffprobe.json beside it).

use std::io::Cursor;

use media_probe::{Codec, Container, FrameRate, Media, TrackKind};

use crate::support::{data_dir, probe, read, sample, sample_names};

struct Video {
    codec: Codec,
    codec_id: &'static str,
    width: u32,
    height: u32,
    fps: (u32, u32),
}

struct Audio {
    codec: Codec,
    codec_id: &'static str,
    sample_rate: u32,
    channels: u16,
}

struct Expected {
    name: &'static str,
    container: Container,
    mime: &'static str,
    /// What the script asked for, in seconds; files differ by up to a frame or an audio packet
    /// (AAC's 1024 samples, priming).
    seconds: f64,
    video: Option<Video>,
    audio: Option<Audio>,
}

const fn video(
    codec: Codec,
    codec_id: &'static str,
    width: u32,
    height: u32,
    fps: (u32, u32),
) -> Option<Video> {
    Some(Video {
        codec,
        codec_id,
        width,
        height,
        fps,
    })
}

const fn audio(
    codec: Codec,
    codec_id: &'static str,
    sample_rate: u32,
    channels: u16,
) -> Option<Audio> {
    Some(Audio {
        codec,
        codec_id,
        sample_rate,
        channels,
    })
}

const EXPECTED: &[Expected] = &[
    Expected {
        name: "h264-aac-moov-end.mp4",
        container: Container::Mp4,
        mime: "video/mp4",
        seconds: 2.0,
        video: video(Codec::H264, "avc1", 160, 90, (30000, 1001)),
        audio: audio(Codec::Aac, "mp4a", 44100, 2),
    },
    Expected {
        name: "h264-aac-faststart.mp4",
        container: Container::Mp4,
        mime: "video/mp4",
        seconds: 1.5,
        video: video(Codec::H264, "avc1", 176, 144, (25, 1)),
        audio: audio(Codec::Aac, "mp4a", 22050, 1),
    },
    Expected {
        name: "h264-aac-fragmented.mp4",
        container: Container::Mp4,
        mime: "video/mp4",
        seconds: 2.0,
        video: video(Codec::H264, "avc1", 128, 72, (24, 1)),
        audio: audio(Codec::Aac, "mp4a", 48000, 2),
    },
    Expected {
        name: "hevc-aac.mov",
        container: Container::Mp4,
        mime: "video/mp4",
        seconds: 1.0,
        video: video(Codec::Hevc, "hvc1", 128, 96, (25, 1)),
        audio: audio(Codec::Aac, "mp4a", 48000, 2),
    },
    Expected {
        name: "av1.mp4",
        container: Container::Mp4,
        mime: "video/mp4",
        seconds: 1.0,
        video: video(Codec::Av1, "av01", 96, 64, (24, 1)),
        audio: None,
    },
    Expected {
        name: "aac.m4a",
        container: Container::Mp4,
        mime: "audio/mp4",
        seconds: 1.0,
        video: None,
        audio: audio(Codec::Aac, "mp4a", 44100, 2),
    },
    Expected {
        name: "vp8-vorbis.webm",
        container: Container::WebM,
        mime: "video/webm",
        seconds: 1.5,
        video: video(Codec::Vp8, "V_VP8", 160, 120, (25, 1)),
        audio: audio(Codec::Vorbis, "A_VORBIS", 44100, 2),
    },
    Expected {
        name: "vp9-opus.webm",
        container: Container::WebM,
        mime: "video/webm",
        seconds: 2.0,
        video: video(Codec::Vp9, "V_VP9", 192, 108, (30000, 1001)),
        audio: audio(Codec::Opus, "A_OPUS", 48000, 2),
    },
    Expected {
        name: "vp8-opus-live.webm",
        container: Container::WebM,
        mime: "video/webm",
        seconds: 1.0,
        video: video(Codec::Vp8, "V_VP8", 96, 96, (30, 1)),
        audio: audio(Codec::Opus, "A_OPUS", 48000, 1),
    },
    Expected {
        name: "h264-mp3.mkv",
        container: Container::Matroska,
        mime: "video/x-matroska",
        seconds: 1.5,
        video: video(Codec::H264, "V_MPEG4/ISO/AVC", 200, 120, (24000, 1001)),
        audio: audio(Codec::Mp3, "A_MPEG/L3", 44100, 2),
    },
    Expected {
        name: "ffv1-flac.mkv",
        container: Container::Matroska,
        mime: "video/x-matroska",
        seconds: 1.0,
        video: video(Codec::Ffv1, "V_MS/VFW/FOURCC", 32, 24, (10, 1)),
        audio: audio(Codec::Flac, "A_FLAC", 16000, 1),
    },
    Expected {
        name: "theora-vorbis.ogv",
        container: Container::Ogg,
        mime: "video/ogg",
        seconds: 2.0,
        video: video(Codec::Theora, "\\x80theora", 176, 100, (15, 1)),
        audio: audio(Codec::Vorbis, "\\x01vorbis", 44100, 2),
    },
    Expected {
        name: "opus.ogg",
        container: Container::Ogg,
        mime: "audio/ogg",
        seconds: 1.5,
        video: None,
        audio: audio(Codec::Opus, "OpusHead", 48000, 1),
    },
];

const TOLERANCE: f64 = 0.1;

#[test]
fn every_sample_has_expectations() {
    let expected: Vec<&str> = EXPECTED.iter().map(|e| e.name).collect();
    for name in sample_names() {
        assert!(
            expected.contains(&name.as_str()),
            "{name} has no expectations here"
        );
    }
    assert_eq!(
        sample_names().len(),
        EXPECTED.len(),
        "an expected sample is missing"
    );
}

#[test]
fn samples_read_as_made() {
    for expected in EXPECTED {
        let name = expected.name;
        let bytes = sample(name);
        let probe = probe(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(probe.container, expected.container, "{name}");
        assert_eq!(probe.mime(), expected.mime, "{name}");
        assert!(!probe.truncated, "{name}");
        let duration = probe
            .duration
            .unwrap_or_else(|| panic!("{name}: no duration"));
        assert!(
            (duration.as_secs_f64() - expected.seconds).abs() <= TOLERANCE,
            "{name}: duration {duration:?}, asked for {} s",
            expected.seconds
        );
        match &expected.video {
            Some(want) => {
                let got = probe.video().unwrap_or_else(|| panic!("{name}: no video"));
                assert_eq!(got.codec, want.codec, "{name}");
                assert_eq!(got.track.codec_id, want.codec_id, "{name}");
                assert_eq!((got.width, got.height), (want.width, want.height), "{name}");
                let rate = got
                    .frame_rate
                    .unwrap_or_else(|| panic!("{name}: no frame rate"));
                assert_eq!((rate.num, rate.den), want.fps, "{name}");
            }
            None => assert!(probe.video().is_none(), "{name}"),
        }
        let audio = probe.audio();
        match &expected.audio {
            Some(want) => {
                let track = audio.unwrap_or_else(|| panic!("{name}: no audio"));
                assert_eq!(track.codec, want.codec, "{name}");
                assert_eq!(track.codec_id, want.codec_id, "{name}");
                let Media::Audio(info) = track.media else {
                    panic!("{name}: audio track without audio details");
                };
                assert_eq!(info.sample_rate, Some(want.sample_rate), "{name}");
                assert_eq!(info.channels, Some(want.channels), "{name}");
            }
            None => assert!(audio.is_none(), "{name}"),
        }
        let kinds: Vec<TrackKind> = probe.tracks.iter().map(|t| t.kind()).collect();
        let want_kinds: Vec<TrackKind> = [
            expected.video.as_ref().map(|_| TrackKind::Video),
            expected.audio.as_ref().map(|_| TrackKind::Audio),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert_eq!(kinds, want_kinds, "{name}");
    }
}

/// What ffprobe said of each sample agrees with what this crate reads.
#[test]
fn samples_agree_with_ffprobe() {
    for expected in EXPECTED {
        let name = expected.name;
        let json: serde_json::Value =
            serde_json::from_slice(&read(&data_dir().join(format!("{name}.ffprobe.json"))))
                .unwrap_or_else(|error| panic!("{name}.ffprobe.json: {error}"));
        let probe = probe(&sample(name)).unwrap();
        if let Some(seconds) = json["format"]["duration"].as_str() {
            let seconds: f64 = seconds.parse().unwrap();
            let ours = probe.duration.unwrap().as_secs_f64();
            assert!(
                (ours - seconds).abs() < 0.01,
                "{name}: {ours} s here, ffprobe {seconds} s"
            );
        }
        let streams = json["streams"].as_array().unwrap();
        assert_eq!(streams.len(), probe.tracks.len(), "{name}");
        for (stream, track) in streams.iter().zip(&probe.tracks) {
            assert_eq!(
                stream["codec_name"].as_str(),
                Some(track.codec.as_str()),
                "{name}"
            );
            if expected.container == Container::Mp4 {
                assert_eq!(
                    stream["codec_tag_string"].as_str(),
                    Some(track.codec_id.as_str()),
                    "{name}"
                );
            }
            match &track.media {
                Media::Video(video) => {
                    assert_eq!(stream["codec_type"], "video", "{name}");
                    assert_eq!(
                        stream["width"].as_u64(),
                        Some(u64::from(video.width)),
                        "{name}"
                    );
                    assert_eq!(
                        stream["height"].as_u64(),
                        Some(u64::from(video.height)),
                        "{name}"
                    );
                    let rate = video.frame_rate.unwrap().to_string();
                    assert_eq!(
                        stream["r_frame_rate"].as_str(),
                        Some(rate.as_str()),
                        "{name}"
                    );
                }
                Media::Audio(audio) => {
                    assert_eq!(stream["codec_type"], "audio", "{name}");
                    let rate = stream["sample_rate"]
                        .as_str()
                        .unwrap()
                        .parse::<u32>()
                        .unwrap();
                    assert_eq!(audio.sample_rate, Some(rate), "{name}");
                    assert_eq!(
                        stream["channels"].as_u64(),
                        audio.channels.map(u64::from),
                        "{name}"
                    );
                }
                other => panic!("{name}: unexpected track {other:?}"),
            }
        }
    }
}

/// `sniff` on the first bytes names the container `probe` finds.
#[test]
fn sniff_agrees_with_probe() {
    for expected in EXPECTED {
        let bytes = sample(expected.name);
        let prefix = &bytes[..media_probe::PREFIX_LEN];
        assert_eq!(
            media_probe::sniff(prefix),
            Some(expected.container),
            "{}",
            expected.name
        );
    }
}

/// The moov at the end is reached by seeking past the media data, not by reading it: the bytes
/// read are a small part of the file.
#[test]
fn moov_at_the_end_is_reached_by_seeking() {
    struct Counting<R> {
        inner: R,
        read: usize,
    }
    impl<R: std::io::Read> std::io::Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n;
            Ok(n)
        }
    }
    impl<R: std::io::Seek> std::io::Seek for Counting<R> {
        fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }
    // Pad the media data to a megabyte so that reading it would show.
    let bytes = sample("h264-aac-moov-end.mp4");
    let padded = pad_mdat(&bytes, 1 << 20);
    let mut reader = Counting {
        inner: Cursor::new(&padded),
        read: 0,
    };
    let probe = media_probe::probe(&mut reader, padded.len() as u64).unwrap();
    assert_eq!(probe.video().unwrap().width, 160);
    assert!(
        reader.read < 64 * 1024,
        "read {} of {} bytes",
        reader.read,
        padded.len()
    );
}

/// The file with `extra` zero bytes added at the end of its `mdat` (the first box after
/// `ftyp`/`free`), its size and the chunk offsets after it left alone: only the layout matters
/// here, and the moov after it moves along.
fn pad_mdat(bytes: &[u8], extra: usize) -> Vec<u8> {
    let mut offset = 0;
    while offset + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        if &bytes[offset + 4..offset + 8] == b"mdat" {
            let mut out = bytes[..offset].to_vec();
            out.extend_from_slice(&u32::try_from(size + extra).unwrap().to_be_bytes());
            out.extend_from_slice(&bytes[offset + 4..offset + size]);
            out.resize(out.len() + extra, 0);
            out.extend_from_slice(&bytes[offset + size..]);
            return out;
        }
        offset += size;
    }
    panic!("no mdat");
}

/// A track header whose matrix turns the picture a quarter (as phones record portrait video)
/// reads as a rotation; the sample's own identity matrix as none. (Debian's ffmpeg 5.1 has no
/// option that writes such a matrix, so the test writes it into the sample.)
#[test]
fn rotation_from_the_track_header_matrix() {
    let bytes = sample("h264-aac-faststart.mp4");
    assert_eq!(rotation_of(&bytes), 0);
    let tkhd = bytes.windows(4).position(|w| w == b"tkhd").unwrap();
    // version/flags, times, track id, reserved, duration, reserved, layer, group, volume,
    // reserved (version 0): the matrix starts 40 bytes into the body.
    let matrix = tkhd + 4 + 40;
    for (values, degrees) in [
        ([0, 0x1_0000, -0x1_0000, 0], 90),
        ([-0x1_0000, 0, 0, -0x1_0000], 180),
        ([0, -0x1_0000, 0x1_0000, 0], 270),
        ([0x1_0000, 0, 0, -0x1_0000], 0),
    ] {
        let mut turned = bytes.clone();
        let [a, b, c, d]: [i32; 4] = values;
        turned[matrix..matrix + 4].copy_from_slice(&a.to_be_bytes());
        turned[matrix + 4..matrix + 8].copy_from_slice(&b.to_be_bytes());
        turned[matrix + 12..matrix + 16].copy_from_slice(&c.to_be_bytes());
        turned[matrix + 16..matrix + 20].copy_from_slice(&d.to_be_bytes());
        assert_eq!(rotation_of(&turned), degrees, "{values:?}");
    }
}

fn rotation_of(bytes: &[u8]) -> u16 {
    let probe = probe(bytes).unwrap();
    let video = probe.video().unwrap();
    assert_eq!((video.width, video.height), (176, 144));
    video.rotation
}

/// A Matroska video track without a DefaultDuration (as browsers' MediaRecorder writes them)
/// gets its frame rate from how the first Cluster's blocks are spaced. The test replaces each
/// sample's DefaultDuration (8 bytes) with a Void element of the same length.
#[test]
fn matroska_frame_rate_without_default_duration() {
    for (name, fps) in [
        ("vp9-opus.webm", (30000, 1001)),
        ("h264-mp3.mkv", (24000, 1001)),
        ("vp8-vorbis.webm", (25, 1)),
        ("vp8-opus-live.webm", (30, 1)),
    ] {
        let mut bytes = sample(name);
        let at = bytes
            .windows(4)
            .position(|w| w == [0x23, 0xE3, 0x83, 0x84])
            .unwrap();
        bytes[at..at + 8].copy_from_slice(&[0xEC, 0x86, 0, 0, 0, 0, 0, 0]);
        let probe = probe(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        let rate = probe
            .video()
            .unwrap()
            .frame_rate
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!((rate.num, rate.den), fps, "{name}");
    }
}

/// QuickTime files from before `ftyp` start with another atom: without its `ftyp`, a sample
/// starts with `moov` (faststart) or `free` then `mdat` (moov at the end), and reads the same.
#[test]
fn quicktime_without_ftyp() {
    for name in ["h264-aac-faststart.mp4", "h264-aac-moov-end.mp4"] {
        let bytes = sample(name);
        assert_eq!(&bytes[4..8], b"ftyp");
        let ftyp_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let stripped = &bytes[ftyp_len..];
        assert_eq!(media_probe::sniff(stripped), Some(Container::Mp4), "{name}");
        let whole = probe(&bytes).unwrap();
        let without = probe(stripped).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(without.tracks, whole.tracks, "{name}");
        assert_eq!(without.duration, whole.duration, "{name}");
    }
}

#[test]
fn frame_rate_fractions() {
    assert_eq!(
        FrameRate::new(60060, 2002),
        Some(FrameRate { num: 30, den: 1 })
    );
    assert_eq!(
        FrameRate::new(30000, 1001).unwrap().to_string(),
        "30000/1001"
    );
    assert_eq!(FrameRate::new(0, 1), None);
    assert_eq!(FrameRate::new(1, 0), None);
    assert!((FrameRate::new(24000, 1001).unwrap().as_f64() - 23.976).abs() < 0.001);
}

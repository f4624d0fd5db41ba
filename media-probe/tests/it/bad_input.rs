//! Input from strangers: truncated samples, random bytes, other kinds of files, absurd sizes,
//! boxes that contain themselves, deep nesting, and every limit reached. Each is a typed error
//! (or, for a cut file, an answer from the part that is there), never a panic.

use std::io::{self, Cursor, Read, Seek, SeekFrom};

use media_probe::{Container, Element, Limit, Limits, LooksLike, ProbeError};

use crate::support::{probe, probe_with, sample, sample_names};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Every sample cut at every length up to 256 bytes and then at about 400 points: an error, or
/// an answer in the same container naming codecs of the whole file.
#[test]
fn truncated_samples_are_errors_or_partial_answers() {
    for name in sample_names() {
        let bytes = sample(&name);
        let whole = probe(&bytes).unwrap();
        let step = (bytes.len() / 400).max(1);
        let cuts = (0..256.min(bytes.len())).chain((256..bytes.len()).step_by(step));
        let mut answers = 0;
        for cut in cuts {
            match probe(&bytes[..cut]) {
                Ok(partial) => {
                    answers += 1;
                    assert_eq!(partial.container, whole.container, "{name} cut at {cut}");
                    for track in &partial.tracks {
                        assert!(
                            whole.tracks.iter().any(|t| t.codec == track.codec),
                            "{name} cut at {cut}: {:?} is not in the whole file",
                            track.codec
                        );
                    }
                }
                Err(error) => {
                    assert!(!error.to_string().is_empty());
                    if cut == 0 {
                        assert!(matches!(
                            error,
                            ProbeError::NotAVideo {
                                looks_like: LooksLike::Empty,
                                ..
                            }
                        ));
                    }
                }
            }
        }
        // Files whose headers come first still answer when their end is missing.
        if name.contains("faststart") || name.ends_with(".webm") || name.ends_with(".mkv") {
            assert!(answers > 0, "{name}: no cut gave an answer");
        }
    }
}

/// A cut in the media data of a file whose moov comes first answers, and says it is truncated.
#[test]
fn a_cut_file_says_it_is_truncated() {
    for name in [
        "h264-aac-faststart.mp4",
        "vp9-opus.webm",
        "h264-mp3.mkv",
        "theora-vorbis.ogv",
    ] {
        let bytes = sample(name);
        let cut = &bytes[..bytes.len() - 1000];
        let partial = probe(cut).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(partial.truncated, "{name}");
        assert!(!probe(&bytes).unwrap().truncated, "{name}");
    }
}

/// Cut before its moov, an MP4 is a truncated file, saying which box.
#[test]
fn moov_at_the_end_cut_off() {
    let bytes = sample("h264-aac-moov-end.mp4");
    let moov = find(&bytes, b"moov") - 4;
    match probe(&bytes[..moov + 100]).unwrap_err() {
        ProbeError::Truncated {
            element, offset, ..
        } => {
            assert_eq!(element, Element::Mp4Box(*b"moov"));
            assert_eq!(offset, moov as u64);
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        probe(&bytes[..moov]).unwrap_err(),
        ProbeError::Missing { element: Element::Mp4Box(kind), .. } if &kind == b"moov"
    ));
}

#[test]
fn random_bytes_are_not_a_video() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..500 {
        let len = (rng.next() % 4096) as usize;
        let bytes = rng.bytes(len);
        let result = probe(&bytes);
        if media_probe::sniff(&bytes[..len.min(64)]).is_none() {
            assert!(
                matches!(result, Err(ProbeError::NotAVideo { .. })),
                "round {round}"
            );
        }
    }
}

/// Random bytes behind each container's signature: typed errors, never a panic.
#[test]
fn random_bytes_behind_a_signature() {
    let mut rng = Rng(42);
    let signatures: [&[u8]; 5] = [
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
        b"\x1a\x45\xdf\xa3\x84\x42\x82\x84webm",
        b"\x1a\x45\xdf\xa3",
        b"OggS\x00\x02",
        b"\x00\x00\x00\x08wide",
    ];
    for signature in signatures {
        for _ in 0..300 {
            let len = (rng.next() % 2048) as usize;
            let mut bytes = signature.to_vec();
            bytes.extend(rng.bytes(len));
            if let Err(error) = probe(&bytes) {
                assert!(!error.to_string().is_empty());
            }
        }
    }
}

/// The name of a file does not matter: a PNG or a text file called `.mp4` is what it is.
#[test]
fn other_files_renamed_mp4() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-probe-renamed");
    std::fs::create_dir_all(&dir).unwrap();
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89".to_vec();
    let cases: [(&str, Vec<u8>, LooksLike); 6] = [
        ("image.mp4", png, LooksLike::Png),
        (
            "notes.mp4",
            b"Shopping list:\n- eggs\n- milk\n".to_vec(),
            LooksLike::Text,
        ),
        (
            "page.mp4",
            b"<!DOCTYPE html><html><body>hi</body></html>".to_vec(),
            LooksLike::Html,
        ),
        (
            "photo.webm",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec(),
            LooksLike::Jpeg,
        ),
        (
            "movie.mkv",
            b"RIFF\x24\x00\x00\x00AVI LIST".to_vec(),
            LooksLike::Avi,
        ),
        ("empty.mp4", Vec::new(), LooksLike::Empty),
    ];
    for (file_name, bytes, looks) in cases {
        let path = dir.join(file_name);
        std::fs::write(&path, &bytes).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        match media_probe::probe(&mut file, bytes.len() as u64).unwrap_err() {
            ProbeError::NotAVideo {
                looks_like,
                first_bytes,
            } => {
                assert_eq!(looks_like, looks, "{file_name}");
                assert_eq!(first_bytes.as_bytes(), &bytes[..bytes.len().min(16)]);
            }
            other => panic!("{file_name}: {other}"),
        }
    }
    let error = probe(b"\x89PNG\r\n\x1a\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "not a video or audio file this server reads: it looks like a PNG image (first bytes: 89 50 4e 47 0d 0a 1a 0a)"
    );
}

/// An HEIF still image is ISO BMFF, but not a video.
#[test]
fn heif_image_is_not_a_video() {
    let bytes = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
    assert_eq!(media_probe::sniff(bytes), None);
    assert!(matches!(
        probe(bytes).unwrap_err(),
        ProbeError::NotAVideo {
            looks_like: LooksLike::HeifImage,
            ..
        }
    ));
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn ftyp() -> Vec<u8> {
    mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
}

#[test]
fn box_of_size_two_to_the_64_minus_one() {
    let mut bytes = ftyp();
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(b"moov");
    bytes.extend_from_slice(&u64::MAX.to_be_bytes());
    bytes.extend_from_slice(&[0; 64]);
    match probe(&bytes).unwrap_err() {
        ProbeError::BadSize {
            element,
            offset,
            size,
            ..
        } => {
            assert_eq!(element, Element::Mp4Box(*b"moov"));
            assert_eq!(offset, 28);
            assert_eq!(size, u64::MAX);
        }
        other => panic!("{other}"),
    }
    // The same inside a moov: a trak that claims 2^64-1 bytes.
    let mut trak = 1u32.to_be_bytes().to_vec();
    trak.extend_from_slice(b"trak");
    trak.extend_from_slice(&u64::MAX.to_be_bytes());
    let mut bytes = ftyp();
    bytes.extend(mp4_box(b"moov", &trak));
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::BadSize { element: Element::Mp4Box(kind), .. } if &kind == b"trak"
    ));
    // A large but possible size at the top level is a truncated file.
    let mut bytes = ftyp();
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(b"moov");
    bytes.extend_from_slice(&(1u64 << 40).to_be_bytes());
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::Truncated { element: Element::Mp4Box(kind), needed, .. } if &kind == b"moov" && needed == 1 << 40
    ));
}

/// A moov whose first child is a moov of the same size: the child runs past its parent.
#[test]
fn box_that_contains_itself() {
    let mut bytes = ftyp();
    let moov_at = bytes.len() as u64;
    let size = 32u32;
    bytes.extend_from_slice(&size.to_be_bytes());
    bytes.extend_from_slice(b"moov");
    bytes.extend_from_slice(&size.to_be_bytes());
    bytes.extend_from_slice(b"moov");
    bytes.extend_from_slice(&[0; 16]);
    match probe(&bytes).unwrap_err() {
        ProbeError::BadSize {
            element,
            offset,
            size,
            reason,
        } => {
            assert_eq!(element, Element::Mp4Box(*b"moov"));
            assert_eq!(offset, moov_at + 8);
            assert_eq!(size, 32);
            assert!(reason.contains("past the end of the box that contains it"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn box_smaller_than_its_header() {
    let mut bytes = ftyp();
    bytes.extend_from_slice(&4u32.to_be_bytes());
    bytes.extend_from_slice(b"free");
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::BadSize { size: 4, .. }
    ));
}

/// Millions of empty boxes stop at the element limit, saying where.
#[test]
fn many_tiny_boxes_reach_the_element_limit() {
    let mut bytes = ftyp();
    for _ in 0..10_000 {
        bytes.extend(mp4_box(b"free", b""));
    }
    let limits = Limits::DEFAULT.with_max_elements(1000);
    match probe_with(&bytes, &limits).unwrap_err() {
        ProbeError::LimitExceeded {
            limit,
            value,
            offset,
            ..
        } => {
            assert_eq!(limit, Limit::Elements);
            assert_eq!(value, 1000);
            assert_eq!(offset, 28 + 999 * 8);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn stts_count_larger_than_its_box() {
    let bytes = sample("h264-aac-faststart.mp4");
    let stts = find(&bytes, b"stts");
    let mut bad = bytes.clone();
    // entry_count, after the box type and version/flags.
    bad[stts + 8..stts + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    match probe(&bad).unwrap_err() {
        ProbeError::Malformed {
            element, offset, ..
        } => {
            assert_eq!(element, Element::Mp4Box(*b"stts"));
            assert_eq!(offset, (stts - 4) as u64);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn every_limit_is_a_typed_error() {
    for name in [
        "h264-aac-moov-end.mp4",
        "h264-aac-fragmented.mp4",
        "vp9-opus.webm",
        "theora-vorbis.ogv",
    ] {
        let bytes = sample(name);
        let error = probe_with(&bytes, &Limits::DEFAULT.with_max_tracks(1)).unwrap_err();
        assert!(
            matches!(
                error,
                ProbeError::LimitExceeded {
                    limit: Limit::Tracks,
                    value: 1,
                    ..
                }
            ),
            "{name}: {error}"
        );
        let error = probe_with(&bytes, &Limits::DEFAULT.with_max_bytes_read(100)).unwrap_err();
        assert!(
            matches!(
                error,
                ProbeError::LimitExceeded {
                    limit: Limit::BytesRead,
                    value: 100,
                    ..
                }
            ),
            "{name}: {error}"
        );
        let error = probe_with(&bytes, &Limits::DEFAULT.with_max_elements(2)).unwrap_err();
        assert!(
            matches!(
                error,
                ProbeError::LimitExceeded {
                    limit: Limit::Elements,
                    value: 2,
                    ..
                }
            ),
            "{name}: {error}"
        );
    }
    for name in ["h264-aac-moov-end.mp4", "vp9-opus.webm"] {
        let bytes = sample(name);
        let error = probe_with(&bytes, &Limits::DEFAULT.with_max_depth(1)).unwrap_err();
        assert!(
            matches!(error, ProbeError::TooDeep { limit: 1, .. }),
            "{name}: {error}"
        );
        let error = probe_with(&bytes, &Limits::DEFAULT.with_max_element_bytes(16)).unwrap_err();
        assert!(
            matches!(error, ProbeError::TooLarge { limit: 16, .. }),
            "{name}: {error}"
        );
    }
}

/// EBML pieces: an element ID and a size.
fn ebml(id: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.push(0x01);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

fn ebml_header(doctype: &[u8]) -> Vec<u8> {
    ebml(&[0x1A, 0x45, 0xDF, 0xA3], &ebml(&[0x42, 0x82], doctype))
}

/// Elements nested 100,000 deep, and a Segment of 2^56-2 bytes in a small file: typed errors,
/// no stack overflow, no allocation of the claimed size.
#[test]
fn ebml_deep_nesting_and_huge_sizes() {
    // 100,000 nested unknown elements (ID 0x4DBB) inside a TrackEntry.
    let mut inner = ebml(&[0x83], &[1]);
    for _ in 0..100_000 {
        let mut outer = vec![0x4D, 0xBB, 0x08];
        // A 5-byte size (0x08 marker): enough for this file.
        outer.extend_from_slice(&(inner.len() as u32).to_be_bytes());
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    let entry = ebml(&[0xAE], &inner);
    let tracks = ebml(&[0x16, 0x54, 0xAE, 0x6B], &entry);
    let mut bytes = ebml_header(b"webm");
    bytes.extend(ebml(&[0x18, 0x53, 0x80, 0x67], &tracks));
    let error = probe(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            ProbeError::TooLarge { .. } | ProbeError::NoMedia { .. }
        ),
        "{error}"
    );
    let error = probe_with(&bytes, &Limits::DEFAULT.with_max_element_bytes(u64::MAX)).unwrap_err();
    assert!(
        matches!(
            error,
            ProbeError::NoMedia {
                container: Container::WebM
            }
        ),
        "{error}"
    );

    // A Segment claiming 2^56-2 bytes, with Tracks claiming nearly as much.
    let mut bytes = ebml_header(b"matroska");
    bytes.extend_from_slice(&[
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    ]);
    bytes.extend_from_slice(&[
        0x16, 0x54, 0xAE, 0x6B, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
    ]);
    bytes.extend_from_slice(&[0; 32]);
    match probe(&bytes).unwrap_err() {
        ProbeError::Truncated {
            element, needed, ..
        } => {
            assert_eq!(element, Element::Ebml(0x1654_AE6B));
            assert!(needed > 1 << 55);
        }
        other => panic!("{other}"),
    }

    // Tracks larger than its (complete) Segment.
    let mut segment_body = vec![
        0x16, 0x54, 0xAE, 0x6B, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
    ];
    segment_body.extend_from_slice(&[0; 16]);
    let mut bytes = ebml_header(b"matroska");
    bytes.extend(ebml(&[0x18, 0x53, 0x80, 0x67], &segment_body));
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::BadSize {
            element: Element::Ebml(0x1654_AE6B),
            size: 4096,
            ..
        }
    ));

    // An EBML header too large to be one.
    let mut bytes = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    ];
    bytes.extend_from_slice(&[0; 64]);
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::BadSize {
            element: Element::Ebml(0x1A45_DFA3),
            ..
        }
    ));

    // Another EBML document type.
    let mut bytes = ebml_header(b"notmkv");
    bytes.extend(ebml(&[0x18, 0x53, 0x80, 0x67], &[]));
    assert!(matches!(
        probe(&bytes).unwrap_err(),
        ProbeError::NotAVideo {
            looks_like: LooksLike::OtherEbml,
            ..
        }
    ));
}

/// Unknown-size Clusters that never end: walked within the element limit.
#[test]
fn endless_unknown_size_clusters() {
    let mut bytes = ebml_header(b"webm");
    bytes.extend_from_slice(&[
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    for _ in 0..50_000 {
        bytes.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0xFF]);
    }
    let error = probe_with(&bytes, &Limits::DEFAULT.with_max_elements(10_000)).unwrap_err();
    assert!(
        matches!(
            error,
            ProbeError::LimitExceeded {
                limit: Limit::Elements,
                ..
            }
        ),
        "{error}"
    );
    let error = probe(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            ProbeError::Missing {
                container: Container::WebM,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn ogg_pages_that_lie() {
    // A first page that does not start a stream.
    let bytes = sample("opus.ogg");
    let mut bad = bytes.clone();
    bad[5] = 0;
    assert!(matches!(
        probe(&bad).unwrap_err(),
        ProbeError::Malformed {
            element: Element::OggPage,
            offset: 0,
            ..
        }
    ));
    // A first page whose lacing values run past the end of the file.
    let mut bad = bytes[..27].to_vec();
    bad[26] = 255;
    assert!(matches!(
        probe(&bad).unwrap_err(),
        ProbeError::Truncated {
            element: Element::OggPage,
            ..
        }
    ));
    // Garbage where the second page should be.
    let first_len = 27
        + bytes[26] as usize
        + bytes[27..27 + bytes[26] as usize]
            .iter()
            .map(|&l| l as usize)
            .sum::<usize>();
    let mut bad = bytes[..first_len].to_vec();
    bad.extend_from_slice(&[0xAB; 100]);
    assert!(matches!(
        probe(&bad).unwrap_err(),
        ProbeError::Malformed { element: Element::OggPage, offset, .. } if offset == first_len as u64
    ));
}

/// A reader that fails, and one shorter than the length it came with.
#[test]
fn reader_errors() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    impl Seek for Failing {
        fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }
    match media_probe::probe(&mut Failing, 1000).unwrap_err() {
        ProbeError::Io { offset, source } => {
            assert_eq!(offset, 0);
            assert_eq!(source.to_string(), "disk on fire");
        }
        other => panic!("{other}"),
    }
    // The Ogg reader looks for the last pages from the end the length says.
    let bytes = sample("theora-vorbis.ogv");
    let error = media_probe::probe(&mut Cursor::new(&bytes), bytes.len() as u64 * 2).unwrap_err();
    assert!(matches!(error, ProbeError::Truncated { .. }), "{error}");
}

/// Errors say which box, at which offset, and what was wrong.
#[test]
fn error_messages_name_the_place() {
    let mut bytes = ftyp();
    bytes.extend_from_slice(&5u32.to_be_bytes());
    bytes.extend_from_slice(b"moov");
    assert_eq!(
        probe(&bytes).unwrap_err().to_string(),
        "box 'moov' at offset 28 has size 5, which is smaller than the box header"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("no {needle:?}"))
}

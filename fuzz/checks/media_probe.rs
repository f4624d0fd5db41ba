// Invariants of media-probe, for the `media_probe` fuzz target and the replay test in
// `media-probe/tests/it/fuzz_replay.rs` (which `include!`s this file).

/// Probes `data` as an uploaded file, whole and cut in half, with the default limits and with
/// tight ones. Whatever the input: no panic; the bytes read stay within the limit; a file whose
/// first bytes `sniff` refuses is refused as `NotAVideo`; an answer is in the sniffed container,
/// has an audio or video track, a MIME type that matches its tracks, frame rates with a non-zero
/// denominator, and no more tracks than the limit.
pub fn check(data: &[u8]) {
    let tight = media_probe::Limits::DEFAULT
        .with_max_depth(4)
        .with_max_elements(200)
        .with_max_bytes_read(64 * 1024)
        .with_max_element_bytes(4096)
        .with_max_tracks(4)
        .with_max_ogg_tail(8 * 1024);
    let half = data.get(..data.len() / 2).unwrap_or(data);
    for limits in [media_probe::Limits::DEFAULT, tight] {
        probe_checked(data, &limits);
        probe_checked(half, &limits);
    }
}

fn probe_checked(data: &[u8], limits: &media_probe::Limits) {
    let mut reader = CountingReader {
        inner: std::io::Cursor::new(data),
        read: 0,
    };
    let result = media_probe::probe_with(&mut reader, data.len() as u64, limits);
    assert!(
        reader.read <= limits.max_bytes_read,
        "read {} bytes with a limit of {}",
        reader.read,
        limits.max_bytes_read
    );
    let sniffed = media_probe::sniff(data.get(..media_probe::PREFIX_LEN).unwrap_or(data));
    match result {
        Err(error) => {
            // Every error explains itself.
            assert!(!error.to_string().is_empty());
            if !matches!(error, media_probe::ProbeError::NotAVideo { .. }) {
                assert!(
                    sniffed.is_some(),
                    "a file sniff refuses was not refused as NotAVideo: {error}"
                );
            }
        }
        Ok(probe) => {
            // sniff sees the first bytes only: an EBML header whose DocType comes later is
            // Matroska to it, and may be WebM in full.
            let agree = Some(probe.container) == sniffed
                || (probe.container == media_probe::Container::WebM
                    && sniffed == Some(media_probe::Container::Matroska));
            assert!(
                agree,
                "probe says {} and sniff {sniffed:?}",
                probe.container
            );
            assert!(probe.tracks.len() <= limits.max_tracks);
            let has_video = probe
                .tracks
                .iter()
                .any(|t| t.kind() == media_probe::TrackKind::Video);
            let has_audio = probe
                .tracks
                .iter()
                .any(|t| t.kind() == media_probe::TrackKind::Audio);
            assert!(has_video || has_audio, "an answer without audio or video");
            assert_eq!(probe.mime(), probe.container.mime(has_video));
            assert_eq!(probe.video().is_some(), has_video);
            for track in &probe.tracks {
                if let media_probe::Media::Video(video) = &track.media
                    && let Some(rate) = video.frame_rate
                {
                    assert!(rate.num > 0 && rate.den > 0);
                }
                assert!(!track.codec.as_str().is_empty());
            }
            let _ = format!("{probe:?}");
        }
    }
}

/// A reader that counts the bytes it hands out.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for CountingReader<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

//! Running ffmpeg: a video's thumbnail, and its HLS rendition as PeerTube makes one (one
//! fragmented MP4 with a byte-range media playlist, a master playlist), reading ffmpeg's
//! progress as it goes; and the pure helpers around it (progress lines, a media playlist's
//! byte ranges, PeerTube's segments-sha256 JSON).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

/// The thumbnail's size: PeerTube's (`THUMBNAILS_SIZE`).
pub(crate) const THUMBNAIL_WIDTH: u32 = 280;
/// See [`THUMBNAIL_WIDTH`].
pub(crate) const THUMBNAIL_HEIGHT: u32 = 157;
/// The thumbnail's file name in the work directory.
pub(crate) const THUMBNAIL: &str = "thumbnail.jpg";
/// The master playlist's file name.
pub(crate) const MASTER: &str = "master.m3u8";
/// The segments' SHA-256 JSON's file name.
pub(crate) const SEGMENTS_SHA256: &str = "segments-sha256.json";
/// The tallest rendition made: the original's height, capped here.
pub(crate) const MAX_HEIGHT: u32 = 720;
/// PeerTube's HLS segment length (`-hls_time 4`).
const SEGMENT_SECONDS: u32 = 4;
/// A keyframe every this many seconds, so that segments can be cut at [`SEGMENT_SECONDS`].
const KEYFRAME_SECONDS: u32 = 2;
/// The nice value ffmpeg runs at: below the server's own work.
const NICE: i32 = 10;
/// How much of ffmpeg's error output is kept for the message of a failure.
const STDERR_KEPT: usize = 2048;

/// An ffmpeg binary.
#[derive(Debug, Clone)]
pub(crate) struct Ffmpeg {
    path: PathBuf,
}

/// The file names of a rendition `height` pixels high, in the work directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenditionNames {
    /// Its media playlist (`720.m3u8`).
    pub(crate) playlist: String,
    /// Its fragmented MP4 (`720-fragmented.mp4`, PeerTube's naming).
    pub(crate) file: String,
}

impl RenditionNames {
    pub(crate) fn new(height: u32) -> Self {
        Self {
            playlist: format!("{height}.m3u8"),
            file: format!("{height}-fragmented.mp4"),
        }
    }
}

/// The height of the rendition made of an original `height` pixels high: the same, at most
/// [`MAX_HEIGHT`], and even (H.264 in 4:2:0 needs it).
pub(crate) fn rendition_height(height: u32) -> u32 {
    (height.min(MAX_HEIGHT) & !1).max(2)
}

impl Ffmpeg {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Writes [`THUMBNAIL`] into `dir`: the most representative frame of the 50 from `at`
    /// (ffmpeg's `thumbnail` filter, as PeerTube asks for at half the duration), scaled and
    /// cropped to [`THUMBNAIL_WIDTH`] × [`THUMBNAIL_HEIGHT`]. A seek past the last frame
    /// gives no frame, so it then tries again from the start.
    pub(crate) async fn thumbnail(&self, input: &Path, dir: &Path, at: Duration) -> Result<()> {
        for seek in [Some(at).filter(|at| !at.is_zero()), None] {
            let mut args: Vec<String> = Vec::new();
            if let Some(seek) = seek {
                args.extend(["-ss".into(), format!("{:.3}", seek.as_secs_f64())]);
            }
            args.extend(["-i".into(), path_arg(input)?]);
            args.extend(
                [
                    "-map",
                    "0:v:0",
                    "-vf",
                    // 4:4:4, so that the height may be odd (157).
                    &format!(
                        "thumbnail=50,scale={THUMBNAIL_WIDTH}:{THUMBNAIL_HEIGHT}:\
                         force_original_aspect_ratio=increase,\
                         crop={THUMBNAIL_WIDTH}:{THUMBNAIL_HEIGHT},format=yuvj444p"
                    ),
                    "-frames:v",
                    "1",
                    "-q:v",
                    "3",
                    THUMBNAIL,
                ]
                .map(String::from),
            );
            self.run(dir, &args, None).await?;
            if tokio::fs::try_exists(dir.join(THUMBNAIL))
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
        }
        bail!("ffmpeg made no thumbnail: the file has no frame it could decode")
    }

    /// Writes the HLS rendition `height` pixels high into `dir` (H.264 and AAC, at most 60
    /// frames a second): the fragmented MP4 and its byte-range media playlist
    /// ([`RenditionNames`]), and the master playlist [`MASTER`], with PeerTube's options
    /// (`-hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags single_file`).
    /// How far it got (the time encoded) goes to `progress`.
    pub(crate) async fn hls(
        &self,
        input: &Path,
        dir: &Path,
        height: u32,
        progress: &watch::Sender<Duration>,
    ) -> Result<()> {
        let names = RenditionNames::new(height);
        let mut args = vec!["-i".to_owned(), path_arg(input)?];
        args.extend(
            [
                "-map",
                "0:v:0",
                "-map",
                "0:a:0?",
                "-map_metadata",
                "-1",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                &format!("scale=-2:{height}"),
                "-fpsmax",
                "60",
                "-force_key_frames",
                &format!("expr:gte(t,n_forced*{KEYFRAME_SECONDS})"),
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-ac",
                "2",
                "-f",
                "hls",
                "-hls_time",
                &SEGMENT_SECONDS.to_string(),
                "-hls_list_size",
                "0",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_type",
                "fmp4",
                "-hls_flags",
                "single_file",
                "-hls_segment_filename",
                &names.file,
                "-master_pl_name",
                MASTER,
                "-progress",
                "pipe:1",
                &names.playlist,
            ]
            .map(String::from),
        );
        self.run(dir, &args, Some(progress)).await?;
        for name in [&names.playlist, &names.file, MASTER] {
            if !tokio::fs::try_exists(dir.join(name)).await.unwrap_or(false) {
                bail!("ffmpeg ended without writing {name}");
            }
        }
        Ok(())
    }

    /// Runs ffmpeg with `args` (after the common ones) in `dir`, at a lower priority, killed if
    /// the future is dropped (the instance stopping, the time limit); its `-progress` lines
    /// go to `progress`. An exit other than 0 is an error carrying the end of its error output.
    async fn run(
        &self,
        dir: &Path,
        args: &[String],
        progress: Option<&watch::Sender<Duration>>,
    ) -> Result<()> {
        let mut child = Command::new(&self.path)
            .args([
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostats",
                "-y",
            ])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        // Best effort: a priority refused (a container's limits) leaves it at ours.
        if let Some(pid) = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::setpriority_process(Some(pid), NICE);
        }
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let read_progress = async {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let (Some(progress), Some(at)) = (progress, progress_time(&line)) {
                    progress.send_replace(at);
                }
            }
        };
        let read_errors = async {
            let mut kept = Vec::new();
            if let Some(stderr) = stderr {
                // Read to the end (so that ffmpeg never blocks on a full pipe), keep the end.
                let mut buf = [0u8; 4096];
                let mut stderr = stderr;
                while let Ok(n) = stderr.read(&mut buf).await {
                    let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                        break;
                    };
                    kept.extend_from_slice(chunk);
                    if kept.len() > 2 * STDERR_KEPT {
                        kept.drain(..kept.len() - STDERR_KEPT);
                    }
                }
            }
            kept
        };
        let ((), errors, status) = tokio::join!(read_progress, read_errors, child.wait());
        let status = status.context("waiting for ffmpeg")?;
        if status.success() {
            return Ok(());
        }
        let errors = String::from_utf8_lossy(&errors);
        let errors = errors.trim();
        let tail = errors
            .char_indices()
            .rev()
            .nth(STDERR_KEPT.saturating_sub(1))
            .map_or(errors, |(at, _)| errors.get(at..).unwrap_or(errors));
        if tail.is_empty() {
            Err(anyhow!("ffmpeg failed ({status})"))
        } else {
            Err(anyhow!("ffmpeg failed ({status}): {tail}"))
        }
    }
}

/// A path as an argument, refusing what ffmpeg would read as an option or a protocol.
fn path_arg(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", path.display()))?;
    if !text.starts_with('/') {
        bail!("{text} is not an absolute path");
    }
    // `file:` so that a colon in a directory name is not read as a protocol.
    Ok(format!("file:{text}"))
}

/// The time encoded so far, from one of ffmpeg's `-progress` lines (`out_time_us=...`, or
/// `out_time_ms=...`, which is in microseconds too).
pub(crate) fn progress_time(line: &str) -> Option<Duration> {
    let (key, value) = line.trim().split_once('=')?;
    if key != "out_time_us" && key != "out_time_ms" {
        return None;
    }
    let micros: i64 = value.parse().ok()?;
    Some(Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

/// One `#EXT-X-BYTERANGE` of a media playlist: a segment, `length` bytes at `offset` of `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentRange {
    pub(crate) uri: String,
    pub(crate) offset: u64,
    pub(crate) length: u64,
}

/// The segments of a media playlist given as byte ranges (RFC 8216 §4.3.2.2: a range
/// without `@offset` starts where the previous range of the same resource ended). The
/// initialization section (`EXT-X-MAP`) is not a segment, as in PeerTube's JSON.
pub(crate) fn segment_ranges(playlist: &str) -> Result<Vec<SegmentRange>> {
    let mut out: Vec<SegmentRange> = Vec::new();
    let mut pending: Option<(u64, Option<u64>)> = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(range) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (length, offset) = match range.split_once('@') {
                Some((length, offset)) => (length, Some(offset)),
                None => (range, None),
            };
            let length = length
                .parse()
                .with_context(|| format!("a byte range's length: {line:?}"))?;
            let offset = offset
                .map(|o| o.parse())
                .transpose()
                .with_context(|| format!("a byte range's offset: {line:?}"))?;
            pending = Some((length, offset));
        } else if !line.is_empty() && !line.starts_with('#') {
            let Some((length, offset)) = pending.take() else {
                continue;
            };
            let offset = match offset {
                Some(offset) => offset,
                None => out
                    .iter()
                    .rev()
                    .find(|r| r.uri == line)
                    .map(|r| r.offset + r.length)
                    .ok_or_else(|| anyhow!("a byte range without offset opens {line:?}"))?,
            };
            out.push(SegmentRange {
                uri: line.to_owned(),
                offset,
                length,
            });
        }
    }
    Ok(out)
}

/// PeerTube's segments-sha256 JSON for `ranges` of files in `dir`: file name → `"start-end"`
/// (inclusive byte range) → the SHA-256 of those bytes in hex. Reads the files (blocking).
pub(crate) fn segments_sha256(
    dir: &Path,
    ranges: &[SegmentRange],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for range in ranges {
        if range.uri.contains('/') || range.uri.starts_with('.') {
            bail!(
                "a segment outside the rendition's directory: {:?}",
                range.uri
            );
        }
        let path = dir.join(&range.uri);
        let mut file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        file.seek(SeekFrom::Start(range.offset))?;
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        let mut left = range.length;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let want = usize::try_from(left.min(1 << 16)).unwrap_or(1 << 16);
            let chunk = buf.get_mut(..want).unwrap_or_default();
            file.read_exact(chunk).with_context(|| {
                format!(
                    "reading {} bytes at {} of {}",
                    range.length,
                    range.offset,
                    path.display()
                )
            })?;
            context.update(chunk);
            left -= want as u64;
        }
        let hex: String = context
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let end = (range.offset + range.length).saturating_sub(1);
        out.entry(range.uri.clone())
            .or_default()
            .insert(format!("{}-{end}", range.offset), hex);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn progress_lines_give_the_time_encoded() {
        assert_eq!(
            progress_time("out_time_us=2020136"),
            Some(Duration::from_micros(2_020_136))
        );
        assert_eq!(
            progress_time("out_time_ms=1500000"),
            Some(Duration::from_micros(1_500_000))
        );
        assert_eq!(progress_time("out_time_us=-23220"), Some(Duration::ZERO));
        assert_eq!(progress_time("out_time_us=N/A"), None);
        assert_eq!(progress_time("out_time=00:00:02.020136"), None);
        assert_eq!(progress_time("progress=end"), None);
    }

    #[test]
    fn byte_ranges_are_read_with_and_without_offsets() {
        let playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n\
            #EXT-X-MAP:URI=\"90-fragmented.mp4\",BYTERANGE=\"1352@0\"\n\
            #EXTINF:4.000000,\n#EXT-X-BYTERANGE:129000@1352\n90-fragmented.mp4\n\
            #EXTINF:4.000000,\n#EXT-X-BYTERANGE:133007\n90-fragmented.mp4\n\
            #EXTINF:1.000000,\n#EXT-X-BYTERANGE:35236@263359\n90-fragmented.mp4\n\
            #EXT-X-ENDLIST\n";
        let ranges = segment_ranges(playlist).unwrap();
        let got: Vec<(u64, u64)> = ranges.iter().map(|r| (r.offset, r.length)).collect();
        assert_eq!(
            got,
            [(1352, 129_000), (130_352, 133_007), (263_359, 35_236)]
        );
        assert!(ranges.iter().all(|r| r.uri == "90-fragmented.mp4"));
        assert!(segment_ranges("#EXT-X-BYTERANGE:10\nx.mp4\n").is_err());
        assert!(segment_ranges("#EXT-X-BYTERANGE:ten@0\nx.mp4\n").is_err());
    }

    #[test]
    fn segment_hashes_cover_inclusive_ranges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"0123456789").unwrap();
        let ranges = [
            SegmentRange {
                uri: "a.mp4".into(),
                offset: 2,
                length: 3,
            },
            SegmentRange {
                uri: "a.mp4".into(),
                offset: 5,
                length: 5,
            },
        ];
        let json = segments_sha256(dir.path(), &ranges).unwrap();
        let hex = |bytes: &[u8]| -> String {
            ring::digest::digest(&ring::digest::SHA256, bytes)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        assert_eq!(json["a.mp4"]["2-4"], hex(b"234"));
        assert_eq!(json["a.mp4"]["5-9"], hex(b"56789"));
        let beyond = [SegmentRange {
            uri: "a.mp4".into(),
            offset: 8,
            length: 5,
        }];
        assert!(segments_sha256(dir.path(), &beyond).is_err());
        let outside = [SegmentRange {
            uri: "../a.mp4".into(),
            offset: 0,
            length: 1,
        }];
        assert!(segments_sha256(dir.path(), &outside).is_err());
    }

    #[test]
    fn renditions_are_capped_at_720_and_even() {
        assert_eq!(rendition_height(1080), 720);
        assert_eq!(rendition_height(720), 720);
        assert_eq!(rendition_height(91), 90);
        assert_eq!(rendition_height(1), 2);
    }
}

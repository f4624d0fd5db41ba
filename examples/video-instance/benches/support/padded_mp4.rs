//! A valid MP4 of any size, for the benchmarks: media-probe's two-second sample
//! `h264-aac-moov-end.mp4` with its `mdat` box padded (the padding goes after the sample's
//! media data, so the chunk offsets in `moov`, which comes last, stay right), generated as a
//! stream of pieces, never held in memory.

use bytes::Bytes;
use futures::stream;

const SAMPLE: &[u8] = include_bytes!("../../../../media-probe/tests/data/h264-aac-moov-end.mp4");

/// The top-level boxes of an MP4: (type, offset, size).
fn boxes(data: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        out.push((kind, at, size));
        at += size;
    }
    out
}

/// The sample padded to `total` bytes, as a stream of pieces: everything before `mdat`'s
/// payload with `mdat`'s size raised, the payload, `fill` repeated (and cut), then `moov`.
pub(crate) fn padded_sample(
    total: u64,
    fill: Bytes,
) -> (u64, impl futures::Stream<Item = std::io::Result<Bytes>>) {
    let parts = boxes(SAMPLE);
    let (_, mdat_at, mdat_size) = *parts.iter().find(|(k, _, _)| k == b"mdat").unwrap();
    let (_, moov_at, moov_size) = *parts.iter().find(|(k, _, _)| k == b"moov").unwrap();
    assert_eq!(
        moov_at,
        mdat_at + mdat_size,
        "moov follows mdat in the sample"
    );
    let fixed = SAMPLE.len() as u64;
    let padding = total.saturating_sub(fixed);
    let new_mdat = u32::try_from(mdat_size as u64 + padding).expect("mdat under 4 GiB");
    let mut head = SAMPLE[..mdat_at + 8].to_vec();
    head[mdat_at..mdat_at + 4].copy_from_slice(&new_mdat.to_be_bytes());
    let payload = Bytes::from_static(&SAMPLE[mdat_at + 8..moov_at]);
    let moov = Bytes::from_static(&SAMPLE[moov_at..moov_at + moov_size]);
    let mut pieces = vec![Bytes::from(head), payload];
    let mut left = padding;
    while left > 0 {
        let n = left.min(fill.len() as u64) as usize;
        pieces.push(fill.slice(..n));
        left -= n as u64;
    }
    pieces.push(moov);
    let len = pieces.iter().map(|p| p.len() as u64).sum();
    (len, stream::iter(pieces.into_iter().map(Ok)))
}

//! The sample files and the fuzz corpus.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use media_probe::{Limits, Probe, ProbeError};

/// `tests/data/`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

/// The bytes of a sample, or a failure naming the missing path.
pub fn sample(name: &str) -> Vec<u8> {
    read(&data_dir().join(name))
}

/// Every sample's name (the media files, not their ffprobe records).
pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = files_in(&data_dir())
        .iter()
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_owned()))
        .filter(|name| !name.ends_with(".json") && !name.ends_with(".md"))
        .collect();
    names.sort();
    names
}

/// The fuzz target's committed corpus.
pub fn corpus(target: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus")).join(target)
}

/// The files of a directory, sorted; a failure names the directory if it is missing or empty.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no files", dir.display());
    files
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|error| panic!("missing test input {}: {error}", path.display()))
}

/// Probes bytes in memory with the default limits.
pub fn probe(bytes: &[u8]) -> Result<Probe, ProbeError> {
    media_probe::probe(&mut Cursor::new(bytes), bytes.len() as u64)
}

/// Probes bytes in memory with the given limits.
pub fn probe_with(bytes: &[u8], limits: &Limits) -> Result<Probe, ProbeError> {
    media_probe::probe_with(&mut Cursor::new(bytes), bytes.len() as u64, limits)
}

//! Finding the repository's fixtures.

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

/// The bytes of a fixture, or a failure naming the missing path.
pub fn fixture(relative: &str) -> Vec<u8> {
    read(&fixtures_dir().join(relative))
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|error| panic!("missing test input {}: {error}", path.display()))
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

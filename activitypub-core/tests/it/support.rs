//! Shared helpers: finding fixtures and test data, reading them.

use std::path::{Path, PathBuf};

use activitypub_core::AnyObject;
use serde_json::Value;

/// The repository's `fixtures/` folder.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// This crate's own test data folder.
pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Reads a file, failing the test with the missing path.
pub(crate) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Reads the fixture at `relative` (e.g. `mastodon/note.json`) as plain JSON and as the model.
pub(crate) fn fixture(relative: &str) -> (Value, AnyObject) {
    let path = fixtures_dir().join(relative);
    let bytes = read(&path);
    let value: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let object = AnyObject::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{} was rejected: {e}", path.display()));
    (value, object)
}

/// Every ActivityStreams document among the fixtures (every software folder, `as2-spec/` and
/// `fep/`; not the NodeInfo, WebFinger, signature, context, diaspora* schema and PeerTube REST
/// folders), as paths relative to the fixtures folder, sorted.
pub(crate) fn as2_fixtures() -> Vec<String> {
    let root = fixtures_dir();
    let entries =
        std::fs::read_dir(&root).unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()));
    let mut out = Vec::new();
    for entry in entries {
        let dir = entry.expect("directory entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !dir.is_dir()
            || matches!(
                name.as_str(),
                "nodeinfo" | "webfinger" | "signatures" | "contexts" | "diaspora" | "peertube-rest"
            )
        {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("fixture folder") {
            let file = file.expect("fixture file").path();
            if file.extension().is_some_and(|e| e == "json") {
                let file_name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                out.push(format!("{name}/{file_name}"));
            }
        }
    }
    out.sort();
    assert!(
        out.len() > 50,
        "expected the fixtures at {}, found {} files",
        root.display(),
        out.len()
    );
    out
}

/// Files in `tests/data/<folder>`, sorted.
pub(crate) fn data_files(folder: &str) -> Vec<PathBuf> {
    let dir = data_dir().join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test data in {}", dir.display());
    files
}

//! The repository's `fixtures/` are the verbatim third-party bytes `MANIFEST.tsv` lists: every
//! row's file exists with exactly its SHA-256, and every file is listed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::support::{fixtures_dir, read};

/// The files of the fixtures folder that are this repository's own, not imported payloads.
const OWN_FILES: [&str; 3] = ["README.md", "DATA.md", "MANIFEST.tsv"];

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.as_ref() {
        write!(hex, "{byte:02x}").unwrap();
    }
    hex
}

/// Every file under `dir`, as paths relative to `root` with `/` separators.
fn files_under(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            let parts: Vec<&str> = relative
                .components()
                .map(|c| c.as_os_str().to_str().unwrap())
                .collect();
            out.insert(parts.join("/"));
        }
    }
}

#[test]
fn sha256_of_known_bytes() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn every_manifest_row_matches_its_file_and_every_file_is_listed() {
    let root = fixtures_dir();
    let manifest_path = root.join("MANIFEST.tsv");
    let manifest = String::from_utf8(read(&manifest_path)).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let path_column = header.iter().position(|c| *c == "path");
    let sha_column = header.iter().position(|c| *c == "sha256");
    let (Some(path_column), Some(sha_column)) = (path_column, sha_column) else {
        panic!(
            "{} has no path or sha256 column: {header:?}",
            manifest_path.display()
        );
    };

    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for (number, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            header.len(),
            "row {} of {} has {} fields, the header {}",
            number + 2,
            manifest_path.display(),
            fields.len(),
            header.len()
        );
        let relative = fields[path_column];
        let expected = fields[sha_column];
        assert!(
            listed.insert(relative.to_owned()),
            "{relative} is listed twice in {}",
            manifest_path.display()
        );
        let path = root.join(relative);
        match std::fs::read(&path) {
            Err(e) => problems.push(format!("missing fixture {}: {e}", path.display())),
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if actual != expected {
                    problems.push(format!(
                        "{} has SHA-256 {actual}, MANIFEST.tsv says {expected} (fixtures are \
                         never edited; scripts/import-fixtures copies new versions in)",
                        path.display()
                    ));
                }
            }
        }
    }

    let mut present = BTreeSet::new();
    files_under(&root, &root, &mut present);
    for own in OWN_FILES {
        present.remove(own);
    }
    for unlisted in present.difference(&listed) {
        problems.push(format!(
            "{} is not listed in MANIFEST.tsv (run scripts/import-fixtures)",
            root.join(unlisted).display()
        ));
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        listed.len() > 150,
        "expected the fixtures at {}, MANIFEST.tsv lists {} files",
        root.display(),
        listed.len()
    );
}

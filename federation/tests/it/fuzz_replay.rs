//! Replays the committed corpora of the `inbox` and `key_documents` fuzz targets, and the
//! fixtures, through the checks the fuzzer runs, on the stable toolchain; and shows that the
//! inbox seeds reach the steps they are named after.

use std::path::{Path, PathBuf};

use federation::inbox::Accepted;

mod inbox {
    include!("../../../fuzz/checks/inbox.rs");
}

mod key_documents {
    include!("../../../fuzz/checks/key_documents.rs");
}

mod sanitize_html {
    include!("../../../fuzz/checks/sanitize_html.rs");
}

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The files of `dir`, sorted, failing when there are none.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    for path in files(&corpus(target)) {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails its check", path.display());
    }
}

#[test]
fn inbox_corpus() {
    replay("inbox", inbox::check);
}

#[test]
fn key_documents_corpus_and_fixtures() {
    replay("key_documents", key_documents::check);
    let signatures = fixtures().join("signatures");
    let mut inputs = files(&signatures);
    for folder in ["rfc9421", "cavage-12"] {
        inputs.extend(files(&signatures.join(folder)));
    }
    // Every actor (and every other document) the fixtures hold.
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            inputs.extend(
                files(&dir)
                    .into_iter()
                    .filter(|path| path.extension().is_some_and(|e| e == "json")),
            );
        }
    }
    for path in inputs {
        key_documents::check(&std::fs::read(&path).unwrap());
    }
}

#[test]
fn sanitize_html_corpus_and_fixture_html() {
    replay("sanitize_html", sanitize_html::check);
    // The HTML every fixture carries in `content`, `summary` and `name` (and their maps).
    fn html_in(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(members) => {
                for (key, value) in members {
                    match (key.as_str(), value) {
                        ("content" | "summary" | "name", serde_json::Value::String(html)) => {
                            out.push(html.clone());
                        }
                        (
                            "contentMap" | "summaryMap" | "nameMap",
                            serde_json::Value::Object(map),
                        ) => {
                            out.extend(map.values().filter_map(|v| v.as_str().map(str::to_owned)));
                        }
                        _ => html_in(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| html_in(item, out)),
            _ => {}
        }
    }
    let mut html = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for path in files(&dir) {
                if let Ok(value) = serde_json::from_slice(&std::fs::read(&path).unwrap()) {
                    html_in(&value, &mut html);
                }
            }
        }
    }
    assert!(
        html.len() > 100,
        "only {} HTML strings in the fixtures",
        html.len()
    );
    for html in html {
        sanitize_html::check(html.as_bytes());
    }
}

/// What the inbox answers to the seed `name`.
#[allow(clippy::result_large_err)] // the inbox's own `Rejection`, only inspected here
fn seed(name: &str) -> Result<Accepted, federation::inbox::Rejection> {
    let data = std::fs::read(corpus("inbox").join(name)).unwrap();
    inbox::outcome(&data).unwrap_or_else(|| panic!("seed {name} is not a request"))
}

/// The seeds signed by the harness get past the signature, so that the fuzzer starts from
/// activities the inbox accepts and from each kind of refusal after the signature.
#[test]
fn inbox_seeds_reach_their_steps() {
    for name in [
        "follow-cavage-alice",
        "follow-rfc9421-bob",
        "create-note-carol",
        "create-note-dave-multikey",
        "announce-embedded-third-party",
        "announce-embedded-local",
        "undo-follow",
        "delete-known-actor",
        "update-actor",
        "like-without-id",
        "allowlist",
        "rfc9421-covered",
        "mastodon-create-note",
    ] {
        match seed(name) {
            Ok(Accepted::Processed { .. }) => {}
            other => panic!("seed {name}: {other:?}"),
        }
    }
    assert!(matches!(
        seed("unknown-type-bite"),
        Ok(Accepted::Ignored { .. })
    ));
    assert!(matches!(
        seed("delete-unknown-actor"),
        Ok(Accepted::UnknownActorDeleted { .. })
    ));
    for (name, step) in [
        ("create-forged-origin", "origin"),
        ("crash-second-actor-on-another-origin", "origin"),
        ("undo-someone-elses", "origin"),
        ("key-of-another-actor", "signature"),
        ("actor-not-key-owner", "origin"),
        ("blocked-domain", "domain-policy"),
        ("announce-blocked-object", "domain-policy"),
        ("signed-too-long-ago", "signature"),
        ("unsigned", "signature"),
    ] {
        match seed(name) {
            Err(rejection) => assert_eq!(rejection.step(), step, "seed {name}: {rejection}"),
            other => panic!("seed {name} was not refused: {other:?}"),
        }
    }
}

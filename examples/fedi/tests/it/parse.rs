//! `fedi parse`.

use crate::{fedi, fixture, json_lines, local};

#[test]
fn every_fixture_parses_losslessly() {
    let dir = fixture("");
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&dir).expect("fixtures") {
        let folder = folder.expect("entry").path();
        let name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        // Not ActivityStreams: discovery documents, signature vectors, JSON-LD contexts, the
        // diaspora* schemas and PeerTube's REST answers.
        let not_as2 = [
            "nodeinfo",
            "webfinger",
            "signatures",
            "contexts",
            "diaspora",
            "peertube-rest",
        ];
        if !folder.is_dir() || not_as2.contains(&name.as_str()) {
            continue;
        }
        for file in std::fs::read_dir(&folder).expect("folder") {
            let file = file.expect("entry").path();
            // The JSON documents only (not Mastodon's CSV exports nor FEP-6fcd's YAML).
            if file.extension().is_some_and(|e| e == "json") {
                files.push(file.display().to_string());
            }
        }
    }
    let args: Vec<&str> = std::iter::once("parse")
        .chain(files.iter().map(String::as_str))
        .collect();
    let output = fedi(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), files.len());
    for line in lines {
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["lossless"], true, "{line}");
        assert!(line["error"].is_null(), "{line}");
        assert!(
            line["kind"].is_string() && line["type"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn the_samples_report_their_variants() {
    let event = local("samples/create-event.json");
    let chat = local("samples/unknown-type.json");
    let output = fedi(&[
        "parse",
        &event.display().to_string(),
        &chat.display().to_string(),
    ]);
    assert!(output.status.success());
    let lines = json_lines(&output);
    assert_eq!(
        (lines[0]["kind"].as_str(), lines[0]["type"].as_str()),
        (Some("Activity"), Some("Create"))
    );
    assert_eq!(
        (lines[1]["kind"].as_str(), lines[1]["type"].as_str()),
        (Some("Unknown"), Some("ChatMessage"))
    );
}

#[test]
fn a_rejected_file_sets_the_exit_status_and_says_why() {
    let bad = local("samples/invalid/not-an-object.json");
    let good = local("samples/note-with-mention.json");
    let output = fedi(&[
        "parse",
        &good.display().to_string(),
        &bad.display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&output);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["ok"], false);
    assert!(lines[1]["kind"].is_null() && lines[1]["lossless"].is_null());
    let error = lines[1]["error"].as_str().expect("an error message");
    assert!(error.contains("array"), "{error}");
}

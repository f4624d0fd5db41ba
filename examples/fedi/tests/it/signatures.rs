//! `fedi sign` and `fedi verify`, end to end through files.

use std::path::PathBuf;

use crate::{fedi, fixture, json_lines, local};

fn temp(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fedi-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

fn sign(request: &str, standard: &str, now: &str) -> Vec<u8> {
    sign_file(&local(request), standard, now)
}

fn sign_file(request: &std::path::Path, standard: &str, now: &str) -> Vec<u8> {
    let key = fixture("signatures/rfc9421/test-key-ed25519.priv.pem");
    let output = fedi(&[
        "sign",
        "--key",
        &key.display().to_string(),
        "--key-id",
        "https://social.example.net/users/ana#ed25519",
        "--standard",
        standard,
        "--now",
        now,
        &request.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn verify(signed: &std::path::Path, now: &str) -> (Option<i32>, serde_json::Value) {
    verify_with_policy(signed, now, "fediverse")
}

fn verify_with_policy(
    signed: &std::path::Path,
    now: &str,
    policy: &str,
) -> (Option<i32>, serde_json::Value) {
    let key = fixture("signatures/rfc9421/test-key-ed25519.pub.pem");
    let output = fedi(&[
        "verify",
        "--key",
        &key.display().to_string(),
        "--now",
        now,
        "--policy",
        policy,
        &signed.display().to_string(),
    ]);
    let mut lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "exactly one JSON object");
    (output.status.code(), lines.remove(0))
}

#[test]
fn signed_requests_verify_with_both_standards() {
    for standard in ["cavage", "rfc9421"] {
        for request in ["tests/data/inbox-post.http", "tests/data/get-actor.http"] {
            let signed = sign(request, standard, "2026-11-22T10:00:00Z");
            let path = temp(
                &format!("{standard}-{}", request.replace('/', "_")),
                &signed,
            );
            let (code, report) = verify(&path, "2026-11-22T10:05:00Z");
            assert_eq!(code, Some(0), "{standard} {request}: {report}");
            assert_eq!(report["ok"], true);
            assert_eq!(report["matched_without_query"], false, "{report}");
            assert_eq!(
                report["key_id"],
                "https://social.example.net/users/ana#ed25519"
            );
            assert!(
                report["signing_string"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
            assert!(report["covered"].as_array().is_some_and(|c| !c.is_empty()));
            for key in [
                "ok",
                "standard",
                "key_id",
                "algorithm",
                "covered",
                "matched_without_query",
                "error",
                "signing_string",
            ] {
                assert!(report.get(key).is_some(), "{key} missing from {report}");
            }
        }
    }
}

#[test]
fn a_tampered_body_or_a_stale_date_fails_with_exit_1() {
    let signed = sign(
        "tests/data/inbox-post.http",
        "cavage",
        "2026-11-22T10:00:00Z",
    );
    let text = String::from_utf8(signed.clone()).expect("utf-8");
    let tampered = temp(
        "tampered",
        text.replace("\"Follow\"", "\"Block\"").as_bytes(),
    );
    let (code, report) = verify(&tampered, "2026-11-22T10:05:00Z");
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["ok"], false);
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("digest")),
        "{report}"
    );

    let fresh = temp("fresh", &signed);
    let (code, report) = verify(&fresh, "2026-11-23T10:00:00Z");
    assert_eq!(code, Some(1), "a day later: {report}");
    assert_eq!(report["ok"], false);
}

/// A draft-cavage signature whose `(request-target)` left out the query string (a bug some
/// peers have) verifies under the fediverse policy, and the report says it matched only that
/// way; the rfc policy refuses it.
#[test]
fn a_signature_that_matched_only_without_the_query_says_so() {
    let text = std::fs::read_to_string(local("tests/data/get-actor.http")).expect("read");
    let with_query = "GET /users/bo?page=2 HTTP/1.1";
    assert!(text.starts_with(with_query), "{text}");
    let without_query = temp(
        "get-actor-without-query.http",
        text.replacen(with_query, "GET /users/bo HTTP/1.1", 1)
            .as_bytes(),
    );
    let signed = sign_file(&without_query, "cavage", "2026-11-22T10:00:00Z");
    let signed = String::from_utf8(signed).expect("utf-8");
    let sent = temp(
        "get-actor-query-added.http",
        signed
            .replacen("GET /users/bo HTTP/1.1", with_query, 1)
            .as_bytes(),
    );

    let (code, report) = verify(&sent, "2026-11-22T10:05:00Z");
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["matched_without_query"], true, "{report}");
    assert!(
        report["signing_string"]
            .as_str()
            .is_some_and(|s| s.starts_with("(request-target): get /users/bo\n")),
        "{report}"
    );

    let (code, report) = verify_with_policy(&sent, "2026-11-22T10:05:00Z", "rfc");
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["matched_without_query"], false, "{report}");

    // Signed with the query, it matches as sent.
    let (code, report) = verify(
        &temp(
            "get-actor-with-query.http",
            &sign(
                "tests/data/get-actor.http",
                "cavage",
                "2026-11-22T10:00:00Z",
            ),
        ),
        "2026-11-22T10:05:00Z",
    );
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["matched_without_query"], false, "{report}");
}

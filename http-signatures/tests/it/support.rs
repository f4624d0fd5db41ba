//! Shared helpers: fixture paths and a raw HTTP/1.1 message parser.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Reads a fixture file; a missing fixture fails the test and names the path.
pub fn fixture(relative: &str) -> String {
    let path = fixtures().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()))
}

pub fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// Splits a raw message (LF or CRLF line ends) into its start line, header lines and body.
fn split(raw: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let text_end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2))
        .or_else(|| {
            raw.windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| (i, i + 4))
        })
        .unwrap_or((raw.len(), raw.len()));
    let head = std::str::from_utf8(&raw[..text_end.0]).unwrap();
    let body = raw[text_end.1..].to_vec();
    let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
    let start = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    (start, headers, body)
}

/// Parses a raw HTTP/1.1 request; the URI stays in origin form, as a server sees it.
pub fn request(raw: &[u8]) -> http::Request<Vec<u8>> {
    let (start, headers, body) = split(raw);
    let mut parts = start.split(' ');
    let method = parts.next().unwrap();
    let target = parts.next().unwrap();
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(body).unwrap()
}

/// Parses a raw HTTP/1.1 response.
pub fn response(raw: &[u8]) -> http::Response<Vec<u8>> {
    let (start, headers, body) = split(raw);
    let status: u16 = start.split(' ').nth(1).unwrap().parse().unwrap();
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(body).unwrap()
}

/// Undoes RFC 8792 single-backslash folding: a line ending in `\` continues on the next line
/// after its leading whitespace.
pub fn unfold(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(head) = line.strip_suffix('\\') {
            out.push_str(head);
            if let Some(next) = lines.peek_mut() {
                *next = next.trim_start();
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The peertube RSA-2048 test key pair.
pub fn peertube_keys() -> (http_signatures::SigningKey, http_signatures::VerifyingKey) {
    let json: serde_json::Value =
        serde_json::from_str(&fixture("signatures/peertube-test-keypair.json")).unwrap();
    let private =
        http_signatures::SigningKey::from_pem(json["privateKey"].as_str().unwrap()).unwrap();
    let public =
        http_signatures::VerifyingKey::from_pem(json["publicKey"].as_str().unwrap()).unwrap();
    (private, public)
}

/// A fresh Ed25519 key pair.
pub fn ed25519_keys() -> (http_signatures::SigningKey, http_signatures::VerifyingKey) {
    let key = http_signatures::SigningKey::generate_ed25519().unwrap();
    let public = key.verifying_key();
    (key, public)
}

/// A typical Mastodon-style inbox POST body.
pub fn inbox_body() -> Vec<u8> {
    fixture("mastodon/create-note.json").into_bytes()
}

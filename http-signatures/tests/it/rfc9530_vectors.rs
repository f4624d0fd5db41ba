//! RFC 9530 Content-Digest examples and Appendix D sample values.

use http_signatures::digest::{self, DigestAlgorithm, DigestError};

use crate::support::{fixture, unfold};

const FILE: &str = "signatures/rfc9530/content-digest-and-sample-values.md";
/// The input of the samples and of the §2 examples (which add a final LF).
const HELLO: &[u8] = br#"{"hello": "world"}"#;

#[test]
fn section_2_examples_match_the_body_with_a_final_newline() {
    let text = unfold(&fixture(FILE));
    let values: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Content-Digest: "))
        .collect();
    assert_eq!(values.len(), 2, "{FILE}: two Content-Digest examples");
    let body = [HELLO, b"\n"].concat();
    let header = |value: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-digest", value.trim().parse().unwrap());
        headers
    };
    // The sha-512 example matches the body.
    let check = digest::check_body(&header(values[0]), &body).unwrap();
    assert_eq!(check.matched.len(), 1);
    assert!(matches!(
        digest::check_body(&header(values[0]), HELLO),
        Err(DigestError::Mismatch { .. })
    ));
    // In the two-digest example, the sha-512 value is right but the sha-256 value is not the
    // digest of this body (an erratum of RFC 9530): every known digest must match, so it is
    // rejected, naming sha-256.
    let error = digest::check_body(&header(values[1]), &body).unwrap_err();
    assert!(
        matches!(
            error,
            DigestError::Mismatch {
                algorithm: DigestAlgorithm::Sha256,
                ..
            }
        ),
        "{error}"
    );
    let sha512_only = values[1].split(',').nth(1).unwrap();
    digest::check_body(&header(sha512_only), &body).unwrap();
}

#[test]
fn appendix_d_sample_values() {
    let text = unfold(&fixture(FILE));
    let mut seen = 0;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(" - ") else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        let entries = digest::parse_content_digest(&format!("{name}={value}")).unwrap();
        match DigestAlgorithm::from_name(name) {
            Some(algorithm) => {
                assert_eq!(entries[0].value, algorithm.digest(HELLO), "{name}");
                assert_eq!(
                    algorithm.content_digest_header(HELLO).to_str().unwrap(),
                    format!("{name}={value}")
                );
                seen += 1;
            }
            None => {
                // An algorithm this crate does not compute is reported as such.
                let mut headers = http::HeaderMap::new();
                headers.insert("content-digest", format!("{name}={value}").parse().unwrap());
                assert!(matches!(
                    digest::check_body(&headers, HELLO),
                    Err(DigestError::UnsupportedAlgorithm { .. })
                ));
            }
        }
    }
    assert_eq!(seen, 2, "{FILE}: sha-256 and sha-512 samples");
}

#[test]
fn legacy_digest_header_with_several_values() {
    let sha256 = DigestAlgorithm::Sha256.digest_header(HELLO);
    let sha512 = DigestAlgorithm::Sha512.digest_header(HELLO);
    assert_eq!(
        sha256,
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    );
    let both = format!(
        "{}, md5=Sd/dVLAcvNLSq16eXua5uQ==,{}",
        sha256.to_str().unwrap(),
        sha512.to_str().unwrap()
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("digest", both.parse().unwrap());
    let check = digest::check_body(&headers, HELLO).unwrap();
    assert_eq!(check.matched.len(), 2);
    // Lowercase names, as some servers send them, are the same algorithm.
    headers.insert(
        "digest",
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
            .parse()
            .unwrap(),
    );
    digest::check_body(&headers, HELLO).unwrap();
}

//! draft-cavage-http-signatures-12 Appendix C, read from the specification text.

use http_signatures::cavage::CavageSignature;
use http_signatures::{Policy, Verifier, VerifyErrorKind, VerifyingKey};
use rsa::pkcs1::DecodeRsaPrivateKey as _;

use crate::support::{at, fixture, request};

const FILE: &str = "signatures/cavage-12/appendix-c-test-values.txt";
/// The Date of the Appendix C request.
const DATE: u64 = 1_388_957_500;

struct Appendix {
    request: Vec<u8>,
    /// (section, signing string, header name, header value)
    cases: Vec<(&'static str, String, String, String)>,
}

/// Lines of the draft without its 3-space indentation, page headers and footers.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("Cavage & Sporny") && !l.starts_with("Internet-Draft"))
        .map(|l| l.strip_prefix("   ").unwrap_or(l).to_owned())
        .collect()
}

/// Joins a folded header: continuation lines are appended without whitespace, except inside
/// the `headers="..."` list, where the fold was a space.
fn join_folded(block: &[String]) -> String {
    let mut out = String::new();
    for line in block {
        let line = line.trim();
        if !out.is_empty() {
            let open_quotes = out.matches('"').count() % 2 == 1;
            let in_headers = open_quotes && out.rfind("headers=\"") > out.rfind("\",");
            if in_headers {
                out.push(' ');
            }
        }
        out.push_str(line);
    }
    out
}

fn appendix() -> Appendix {
    let lines = lines(&fixture(FILE));
    let find = |needle: &str, from: usize| {
        lines[from..]
            .iter()
            .position(|l| l.contains(needle))
            .map(|i| i + from)
            .unwrap_or_else(|| panic!("{FILE}: no line containing {needle:?}"))
    };
    // The request: from the request line to the body.
    let start = find("POST /foo?param=value&pet=dog HTTP/1.1", 0);
    let body = find("{\"hello\": \"world\"}", start);
    let mut raw = lines[start..body].join("\n");
    raw.push_str("\n{\"hello\": \"world\"}");
    let request = raw.into_bytes();

    let mut cases = Vec::new();
    for (section, next) in [("C.1.", "C.2."), ("C.2.", "C.3."), ("C.3.", "")] {
        let begin = find(section, body);
        let end = if next.is_empty() {
            lines.len()
        } else {
            find(next, begin)
        };
        let section_lines = &lines[begin..end];
        // The signing string: the indented block after "would be:"/"string would be:".
        let string_start = section_lines
            .iter()
            .position(|l| l.starts_with("date:") || l.starts_with("(request-target):"))
            .unwrap();
        let string_end = section_lines[string_start..]
            .iter()
            .position(|l| l.trim().is_empty())
            .map_or(section_lines.len(), |i| i + string_start);
        let signing_string = section_lines[string_start..string_end].join("\n");
        for header in ["Authorization:", "Signature:"] {
            let Some(first) = section_lines.iter().position(|l| l.starts_with(header)) else {
                continue;
            };
            let last = section_lines[first..]
                .iter()
                .position(|l| l.trim().is_empty())
                .map_or(section_lines.len(), |i| i + first);
            let joined = join_folded(&section_lines[first..last]);
            let (name, value) = joined.split_once(": ").unwrap();
            cases.push((
                section,
                signing_string.clone(),
                name.to_owned(),
                value.to_owned(),
            ));
        }
    }
    Appendix { request, cases }
}

fn public_key() -> VerifyingKey {
    VerifyingKey::from_pem(&fixture("signatures/cavage-12/test-key-rsa.pub.pem")).unwrap()
}

fn with_signature(base: &[u8], name: &str, value: &str) -> http::Request<Vec<u8>> {
    let mut request = request(base);
    request.headers_mut().insert(
        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        value.parse().unwrap(),
    );
    request
}

#[test]
fn the_appendix_has_five_signed_headers() {
    let appendix = appendix();
    let found: Vec<_> = appendix
        .cases
        .iter()
        .map(|(section, _, name, _)| format!("{section} {name}"))
        .collect();
    assert_eq!(
        found,
        [
            "C.1. Authorization",
            "C.1. Signature",
            "C.2. Authorization",
            "C.3. Authorization",
            "C.3. Signature"
        ]
    );
}

#[test]
fn c1_and_c2_verify_in_both_header_forms() {
    let appendix = appendix();
    let verifier = Verifier::new(Policy::rfc());
    for (section, signing_string, name, value) in &appendix.cases {
        if *section == "C.3." {
            continue;
        }
        let request = with_signature(&appendix.request, name, value);
        let unverified = verifier
            .parse_request(&request, at(DATE))
            .unwrap_or_else(|e| panic!("{section} {name}: {e}"));
        assert_eq!(unverified.key_id(), "Test");
        assert_eq!(
            unverified.signing_string(),
            signing_string.as_str(),
            "{section}"
        );
        let verified = unverified
            .verify(&public_key())
            .unwrap_or_else(|e| panic!("{section} {name}: {e}"));
        assert_eq!(verified.signing_string, *signing_string);
    }
}

#[test]
fn c3_as_published_is_rejected_for_covering_created_with_rsa_sha256() {
    let appendix = appendix();
    let (_, _, name, value) = appendix
        .cases
        .iter()
        .find(|(s, _, n, _)| *s == "C.3." && n == "Signature")
        .unwrap();
    let request = with_signature(&appendix.request, name, value);
    let error = Verifier::new(Policy::rfc())
        .parse_request(&request, at(DATE))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::PseudoHeaderNotAllowed {
                pseudo_header: "(created)",
                ..
            }
        ),
        "{error}"
    );
}

/// The erratum (fixtures README): C.3's signature matches the published signing string, which
/// leaves out the `(created)` and `(expires)` lines.
#[test]
fn c3_verifies_with_the_corrected_headers_list() {
    let appendix = appendix();
    for (section, signing_string, name, value) in &appendix.cases {
        if *section != "C.3." {
            continue;
        }
        let parsed = parse_value(name, value);
        let corrected = CavageSignature::new(
            parsed.key_id.clone(),
            [
                "(request-target)",
                "host",
                "date",
                "content-type",
                "digest",
                "content-length",
            ]
            .map(String::from)
            .to_vec(),
            parsed.signature.clone(),
        )
        .with_algorithm("rsa-sha256");
        let request = with_signature(&appendix.request, "signature", &corrected.to_header_value());
        let verified = Verifier::new(Policy::rfc())
            .verify_request(&request, &public_key(), at(DATE))
            .unwrap_or_else(|e| panic!("C.3 {name}: {e}"));
        assert_eq!(verified.signing_string, *signing_string);
        // The published digest matches the body.
        assert_eq!(verified.digests.matched.len(), 1);
    }
}

fn parse_value(name: &str, value: &str) -> CavageSignature {
    if name == "Authorization" {
        CavageSignature::parse_authorization(value).unwrap()
    } else {
        CavageSignature::parse(value).unwrap()
    }
}

/// Re-signing reproduces every published header byte for byte. ring and aws-lc-rs refuse to
/// sign with the appendix's RSA-1024 key, so the PKCS#1 v1.5 signature itself comes from the
/// `rsa` crate (deterministic); the signing string and the header are this crate's.
#[test]
fn resigning_reproduces_the_published_headers() {
    let appendix = appendix();
    let private =
        rsa::RsaPrivateKey::from_pkcs1_pem(&fixture("signatures/cavage-12/test-key-rsa.priv.pem"))
            .unwrap();
    for (section, signing_string, name, value) in &appendix.cases {
        let published = parse_value(name, value);
        let signature = private
            .sign(
                rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
                &rsa::sha2::Digest::finalize(rsa::sha2::Digest::chain_update(
                    <rsa::sha2::Sha256 as rsa::sha2::Digest>::new(),
                    signing_string.as_bytes(),
                )),
            )
            .unwrap();
        assert_eq!(signature, published.signature, "{section} {name}");
        let mut rebuilt = CavageSignature::new("Test", published.headers.clone(), signature)
            .with_algorithm("rsa-sha256");
        rebuilt.headers_given = published.headers_given;
        rebuilt.created = published.created;
        rebuilt.expires = published.expires;
        let expected = value.strip_prefix("Signature ").unwrap_or(value);
        // The draft writes `created=...,` with a space after the comma in C.3; compare the
        // parameter lists without that cosmetic space.
        assert_eq!(
            rebuilt.to_header_value(),
            expected.replace(", ", ","),
            "{section} {name}"
        );
    }
}

/// The crate's own signer builds C.2's signing string; with an RSA-2048 key (the PeerTube test
/// key, as the backends refuse the 1024-bit one) its PKCS#1 v1.5 signature is deterministic.
#[test]
fn signer_covers_what_c2_covers() {
    let appendix = appendix();
    let (key, _) = crate::support::peertube_keys();
    let mut request = request(&appendix.request);
    let signed = http_signatures::Signer::new(key.clone(), "Test")
        .with_standard(http_signatures::Standard::Cavage)
        .with_components(["(request-target)", "host", "date"])
        .with_digest(None)
        .sign(&mut request, at(DATE))
        .unwrap();
    let (_, c2_string, _, _) = &appendix.cases[2];
    assert_eq!(signed.signing_string, *c2_string);
    // PKCS#1 v1.5 is deterministic: signing twice gives the same header.
    let first = request.headers()["signature"].clone();
    let mut again = crate::support::request(&appendix.request);
    http_signatures::Signer::new(key.clone(), "Test")
        .with_standard(http_signatures::Standard::Cavage)
        .with_components(["(request-target)", "host", "date"])
        .with_digest(None)
        .sign(&mut again, at(DATE))
        .unwrap();
    assert_eq!(again.headers()["signature"], first);
    Verifier::new(Policy::rfc())
        .verify_request(&request, &key.verifying_key(), at(DATE))
        .unwrap();
}

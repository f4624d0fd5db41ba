//! Each failure comes out as its own typed error. Data-driven: a signed inbox POST, one change,
//! the expected variant.

use std::time::Duration;

use base64::Engine as _;

use http::HeaderValue;
use http_signatures::digest::{BodyDigests, DigestError, check_body_digests};
use http_signatures::{
    HeaderError, Policy, Requirement, Signer, SigningKey, Standard, Verifier, VerifyError,
    VerifyErrorKind, VerifyingKey,
};

use crate::support::{at, ed25519_keys, inbox_body, peertube_keys};

const NOW: u64 = 1_700_000_000;

fn inbox_post() -> http::Request<Vec<u8>> {
    http::Request::post("https://bob.example/users/bob/inbox?x=1")
        .header("content-type", "application/activity+json")
        .body(inbox_body())
        .unwrap()
}

fn signed(
    standard: Standard,
    key: &SigningKey,
    signer: impl Fn(Signer) -> Signer,
) -> http::Request<Vec<u8>> {
    let mut request = inbox_post();
    signer(
        Signer::new(key.clone(), "https://alice.example/actor#main-key").with_standard(standard),
    )
    .sign(&mut request, at(NOW))
    .unwrap();
    request
}

/// Verifies as a server sees the request: origin-form URI, authority in the Host header.
fn verify(
    request: &http::Request<Vec<u8>>,
    key: &VerifyingKey,
    policy: Policy,
    now: u64,
) -> Result<(), VerifyError> {
    let mut received = request.clone();
    if let Some(target) = request.uri().path_and_query() {
        *received.uri_mut() = target.as_str().parse().unwrap();
    }
    let verifier = Verifier::new(policy);
    let parsed = verifier.parse_request(&received, at(now));
    // The same with the body's digests kept from an earlier check (as an inbox checks them
    // before reading the activity): the same answer, the digests compared all the same.
    let mut digests = BodyDigests::new(received.body());
    let _ = check_body_digests(received.headers(), &mut digests);
    let kept = verifier.parse_request_with_digests(&received, &mut digests, at(now));
    assert_eq!(parsed, kept);
    parsed?.verify(key).map(|_| ())
}

fn set(request: &mut http::Request<Vec<u8>>, name: &'static str, value: &str) {
    request
        .headers_mut()
        .insert(name, HeaderValue::from_str(value).unwrap());
}

type Mutation = fn(&mut http::Request<Vec<u8>>);

/// (name, signer options, change after signing, verification time offset, expected error)
struct Case {
    name: &'static str,
    options: fn(Signer) -> Signer,
    change: Mutation,
    offset: i64,
    expected: fn(&VerifyErrorKind) -> bool,
}

fn same(signer: Signer) -> Signer {
    signer
}

fn nothing(_: &mut http::Request<Vec<u8>>) {}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "tampered body",
            options: same,
            change: |r| r.body_mut().push(b' '),
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::Digest(DigestError::Mismatch { .. })),
        },
        Case {
            name: "tampered covered header",
            options: same,
            change: |r| set(r, "date", &httpdate::fmt_http_date(at(NOW + 1))),
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::BadSignature { .. }),
        },
        Case {
            name: "tampered host",
            options: same,
            change: |r| set(r, "host", "mallory.example"),
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::BadSignature { .. }),
        },
        Case {
            name: "digest mismatch in the header",
            options: same,
            change: |r| {
                set(
                    r,
                    "digest",
                    "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                );
                set(
                    r,
                    "content-digest",
                    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                );
            },
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::Digest(DigestError::Mismatch { .. })),
        },
        Case {
            name: "digest not covered on POST",
            options: |s| s.with_digest(None),
            change: nothing,
            offset: 0,
            expected: |k| {
                *k == VerifyErrorKind::NotCovered {
                    requirement: Requirement::DigestOnPost,
                }
            },
        },
        Case {
            name: "expired",
            options: |s| s.with_expires_in(Duration::from_secs(60)),
            change: nothing,
            offset: 120,
            expected: |k| matches!(k, VerifyErrorKind::Expired { .. }),
        },
        Case {
            name: "future-dated",
            options: same,
            change: nothing,
            offset: -2 * 3600,
            expected: |k| matches!(k, VerifyErrorKind::FutureDated { .. }),
        },
        Case {
            name: "too old",
            options: same,
            change: nothing,
            offset: 2 * 3600,
            expected: |k| matches!(k, VerifyErrorKind::TooOld { .. }),
        },
        Case {
            name: "covered date removed",
            options: same,
            change: |r| {
                r.headers_mut().remove("date");
            },
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::MissingComponent { component } if component == "date"),
        },
        Case {
            name: "unparseable date",
            options: same,
            change: |r| set(r, "date", "yesterday"),
            offset: 0,
            expected: |k| matches!(k, VerifyErrorKind::InvalidDate { .. }),
        },
        Case {
            name: "signature removed",
            options: same,
            change: |r| {
                r.headers_mut().remove("signature");
                r.headers_mut().remove("signature-input");
            },
            offset: 0,
            expected: |k| *k == VerifyErrorKind::NoSignature,
        },
    ]
}

#[test]
fn each_change_gives_its_typed_error_in_both_standards_and_key_types() {
    let (rsa, rsa_public) = peertube_keys();
    let (ed, ed_public) = ed25519_keys();
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        for (key, public) in [(&rsa, &rsa_public), (&ed, &ed_public)] {
            // The unchanged request verifies.
            let request = signed(standard, key, same);
            verify(&request, public, Policy::fediverse(), NOW).unwrap();
            for case in cases() {
                let mut request = signed(standard, key, case.options);
                (case.change)(&mut request);
                let now = NOW.checked_add_signed(case.offset).unwrap();
                let error =
                    verify(&request, public, Policy::fediverse(), now).expect_err(case.name);
                assert!(
                    (case.expected)(error.kind()),
                    "{standard} {:?} {}: got {error}",
                    key.kind(),
                    case.name
                );
            }
        }
    }
}

#[test]
fn missing_date_when_neither_date_nor_created_is_signed() {
    let (key, public) = ed25519_keys();
    let request = signed(Standard::Cavage, &key, |s| {
        s.with_components(["(request-target)", "host", "digest"])
    });
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    assert_eq!(*error.kind(), VerifyErrorKind::MissingDate);
    let request = signed(Standard::Rfc9421, &key, |s| {
        s.with_created(false)
            .with_components(["@method", "@target-uri", "content-digest"])
    });
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    assert_eq!(*error.kind(), VerifyErrorKind::MissingDate);
}

#[test]
fn wrong_key_type() {
    let (rsa, _) = peertube_keys();
    let (_, ed_public) = ed25519_keys();
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let request = signed(standard, &rsa, |s| s.with_alg_parameter(true));
        let error = verify(&request, &ed_public, Policy::fediverse(), NOW).unwrap_err();
        assert!(
            matches!(error.kind(), VerifyErrorKind::AlgorithmKeyMismatch { .. }),
            "{standard}: {error}"
        );
    }
}

#[test]
fn unknown_algorithm() {
    let (rsa, public) = peertube_keys();
    let mut request = signed(Standard::Cavage, &rsa, same);
    let header = request.headers()["signature"]
        .to_str()
        .unwrap()
        .replace("rsa-sha256", "rsa-sha512");
    set(&mut request, "signature", &header);
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::UnknownAlgorithm {
            name: "rsa-sha512".to_owned()
        }
    );

    let mut request = signed(Standard::Rfc9421, &rsa, |s| s.with_alg_parameter(true));
    let header = request.headers()["signature-input"]
        .to_str()
        .unwrap()
        .replace("rsa-v1_5-sha256", "rsa-v1_5-sha1");
    set(&mut request, "signature-input", &header);
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::UnknownAlgorithm {
            name: "rsa-v1_5-sha1".to_owned()
        }
    );
}

#[test]
fn small_rsa_keys_are_refused_by_the_fediverse_policy() {
    // The draft-cavage test key is RSA-1024; its C.2 vector verifies under `rfc` only.
    let public = VerifyingKey::from_pem(&crate::support::fixture(
        "signatures/cavage-12/test-key-rsa.pub.pem",
    ))
    .unwrap();
    assert_eq!(public.kind(), http_signatures::KeyKind::Rsa { bits: 1024 });
    let mut request = http::Request::get("/foo?param=value&pet=dog")
        .header("host", "example.com")
        .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
        .body(Vec::new())
        .unwrap();
    set(
        &mut request,
        "signature",
        r#"keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",signature="qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=""#,
    );
    let error = verify(&request, &public, Policy::fediverse(), 1_388_957_500).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::KeyTooSmall {
            bits: 1024,
            min: 2048
        }
    );
}

#[test]
fn get_must_cover_host() {
    let (key, public) = ed25519_keys();
    let mut request = http::Request::get("https://bob.example/users/bob")
        .body(Vec::new())
        .unwrap();
    Signer::new(key, "k")
        .with_standard(Standard::Cavage)
        .with_components(["(request-target)", "date"])
        .sign(&mut request, at(NOW))
        .unwrap();
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::NotCovered {
            requirement: Requirement::HostOnGet
        }
    );
    verify(&request, &public, Policy::rfc(), NOW).unwrap();
}

#[test]
fn request_target_signed_without_the_query_is_tolerated_by_the_fediverse_policy_only() {
    let (key, public) = peertube_keys();
    let mut request = http::Request::post("https://bob.example/inbox")
        .body(inbox_body())
        .unwrap();
    Signer::new(key, "k")
        .with_standard(Standard::Cavage)
        .sign(&mut request, at(NOW))
        .unwrap();
    *request.uri_mut() = "https://bob.example/inbox?page=2".parse().unwrap();
    let verified = Verifier::new(Policy::fediverse())
        .verify_request(&request, &public, at(NOW))
        .unwrap();
    assert!(verified.matched_without_query);
    assert!(
        verified
            .signing_string
            .starts_with("(request-target): post /inbox\n")
    );
    let error = verify(&request, &public, Policy::rfc(), NOW).unwrap_err();
    assert!(matches!(error.kind(), VerifyErrorKind::BadSignature { .. }));
}

/// draft-cavage-12 §2.1.4: "a signature with a `created` timestamp value that is in the future
/// MUST NOT be processed". `Policy::rfc()` has no clock-skew allowance, so it refuses a
/// `created` even one second ahead; a skew allowance set on the policy applies. RFC 9421 has no
/// such rule and `Policy::rfc()` sets no limit there.
#[test]
fn a_cavage_created_in_the_future_is_refused_under_the_rfc_policy() {
    let (key, public) = ed25519_keys();
    let request = signed(Standard::Cavage, &key, |s| {
        s.with_components(["(request-target)", "host", "(created)", "digest"])
    });
    assert!(
        request.headers()["signature"]
            .to_str()
            .unwrap()
            .contains(&format!("created={NOW}")),
    );
    let two_hours_before = NOW - 2 * 3600;
    let error = verify(&request, &public, Policy::rfc(), two_hours_before).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::FutureDated {
            signed: NOW as i64,
            source_of_time: "created",
            now: two_hours_before as i64,
            max_skew: 0,
        }
    );
    let error = verify(&request, &public, Policy::rfc(), NOW - 1).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::FutureDated { max_skew: 0, .. }
        ),
        "{error}"
    );
    verify(&request, &public, Policy::rfc(), NOW).unwrap();
    let with_skew = Policy::rfc().with_max_future_skew(Some(Duration::from_secs(60)));
    verify(&request, &public, with_skew.clone(), NOW - 60).unwrap();
    let error = verify(&request, &public, with_skew, NOW - 61).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::FutureDated { max_skew: 60, .. }
        ),
        "{error}"
    );

    let request = signed(Standard::Rfc9421, &key, same);
    verify(&request, &public, Policy::rfc(), two_hours_before).unwrap();
}

/// An HTTP date has four digits of year. Signing after the year 9999 is an error (the `Date`
/// cannot be written), not a panic; a signature claiming a `created` after 9999 is refused as
/// future-dated, and its error still prints. (Found by the `inbox` fuzz target:
/// `fuzz/corpus/inbox/crash-signed-after-the-year-9999`.)
#[test]
fn times_after_the_year_9999_are_errors_not_panics() {
    const AFTER_9999: u64 = 253_402_300_800;
    let (key, public) = ed25519_keys();
    let mut request = inbox_post();
    let error = Signer::new(key.clone(), "https://alice.example/actor#main-key")
        .sign(&mut request, at(AFTER_9999))
        .unwrap_err();
    assert!(
        matches!(error, http_signatures::SignError::InvalidHeaderValue { .. }),
        "{error}"
    );
    // With a Date of its own, the signer writes `created` from its clock however far.
    let mut request = inbox_post();
    set(&mut request, "date", "Tue, 14 Nov 2023 22:13:20 GMT");
    Signer::new(key, "https://alice.example/actor#main-key")
        .with_standard(Standard::Cavage)
        .with_components(["(request-target)", "host", "(created)", "digest"])
        .sign(&mut request, at(AFTER_9999))
        .unwrap();
    let error = verify(&request, &public, Policy::rfc(), NOW).unwrap_err();
    assert!(
        matches!(error.kind(), VerifyErrorKind::FutureDated { .. }),
        "{error}"
    );
    let shown = error.to_string();
    assert!(shown.contains(&AFTER_9999.to_string()), "{shown}");
}

/// A draft-cavage `headers=""` names nothing, so its signing string is empty: a signature over
/// the empty string, made once with the actor's key, would verify on every request anyone
/// sends. Both policies refuse it before any key is fetched, and the signer does not make one.
/// (Found by the `signature_base` fuzz target: `fuzz/corpus/signature_base/crash-empty-cavage-headers-list`.)
#[test]
fn a_cavage_signature_covering_nothing_is_refused() {
    let (key, _public) = ed25519_keys();
    let over_nothing = key
        .sign_bytes(key.algorithm(), b"")
        .expect("an Ed25519 key signs");
    let encoded = base64::engine::general_purpose::STANDARD.encode(over_nothing);
    for headers in ["", "  ", "\t"] {
        let mut request = inbox_post();
        set(
            &mut request,
            "signature",
            &format!(
                r#"keyId="https://alice.example/actor#main-key",algorithm="hs2019",headers="{headers}",signature="{encoded}""#
            ),
        );
        for policy in [Policy::rfc(), Policy::fediverse()] {
            let error = Verifier::new(policy)
                .parse_request(&request, at(NOW))
                .expect_err("a signature over nothing");
            assert!(
                matches!(
                    error.kind(),
                    VerifyErrorKind::MalformedHeader {
                        source: HeaderError::Cavage(
                            http_signatures::cavage::CavageParseError::NoHeaders
                        ),
                        ..
                    }
                ),
                "{headers:?}: {error}"
            );
        }
    }
    let mut request = inbox_post();
    let error = Signer::new(key, "https://alice.example/actor#main-key")
        .with_standard(Standard::Cavage)
        .with_components(Vec::<String>::new())
        .sign(&mut request, at(NOW))
        .unwrap_err();
    assert!(
        matches!(error, http_signatures::SignError::NothingCovered),
        "{error}"
    );
}

/// Malformed headers of every kind: each is a `MalformedHeader` (or a digest `Malformed`)
/// naming the header.
#[test]
fn malformed_headers() {
    let cases: &[(&str, &str, &str)] = &[
        ("signature", "", "signature"),
        ("signature", "keyId", "signature"),
        ("signature", r#"keyId="unterminated"#, "signature"),
        (
            "signature",
            r#"keyId="a",keyId="b",signature="AA==""#,
            "signature",
        ),
        (
            "signature",
            r#"algorithm="hs2019",signature="AA==""#,
            "signature",
        ),
        (
            "signature",
            r#"keyId="a",signature="not base64!""#,
            "signature",
        ),
        (
            "signature",
            r#"keyId="a",created=soon,signature="AA==""#,
            "signature",
        ),
        ("signature", r#"keyId="a" signature="AA==""#, "signature"),
        (
            "authorization",
            r#"Bearer keyId="a",signature="AA==""#,
            "authorization",
        ),
        ("signature-input", "sig1=(", "signature-input"),
        ("signature-input", "sig1=\"not a list\"", "signature-input"),
        ("signature-input", "sig1=(\"@method\" 1)", "signature-input"),
        ("signature-input", "sig1=(\"Date\")", "signature-input"),
        (
            "signature-input",
            "sig1=(\"date\";unknown)",
            "signature-input",
        ),
        (
            "signature-input",
            "sig1=();created=\"yesterday\"",
            "signature-input",
        ),
        ("signature-input", "sig2=()", "signature"),
    ];
    for (header, value, blamed) in cases {
        let mut request = inbox_post();
        if header.starts_with("signature-input") {
            set(&mut request, "signature", "sig1=:AAAA:");
        }
        set(&mut request, header, value);
        let error = Verifier::new(Policy::rfc())
            .parse_request(&request, at(NOW))
            .expect_err(value);
        match error.kind() {
            VerifyErrorKind::MalformedHeader { header, source } => {
                assert_eq!(header, blamed, "{value}: {error}");
                assert!(!matches!(source, HeaderError::NotText));
            }
            other => panic!("{value}: expected MalformedHeader, got {other}"),
        }
    }
    // An RFC 9421 Signature member that is not a byte sequence.
    let mut request = inbox_post();
    set(&mut request, "signature-input", "sig1=()");
    set(&mut request, "signature", "sig1=\"AAAA\"");
    let error = Verifier::new(Policy::rfc())
        .parse_request(&request, at(NOW))
        .unwrap_err();
    assert!(
        matches!(error.kind(), VerifyErrorKind::MalformedHeader { .. }),
        "{error}"
    );

    // Digest headers.
    for (header, value) in [
        ("digest", ""),
        ("digest", "SHA-256"),
        ("digest", "SHA-256=not base64!"),
        ("content-digest", "sha-256=not-a-byte-sequence"),
        ("content-digest", "sha-256=:AAAA"),
    ] {
        let (key, _) = ed25519_keys();
        let mut request = inbox_post();
        Signer::new(key, "k")
            .with_digest(None)
            .sign(&mut request, at(NOW))
            .unwrap();
        set(&mut request, header, value);
        let error = Verifier::new(Policy::rfc())
            .parse_request(&request, at(NOW))
            .unwrap_err();
        assert!(
            matches!(error.kind(), VerifyErrorKind::Digest(DigestError::Malformed { header: h, .. }) if h == header),
            "{header}: {value:?}: {error}"
        );
    }
}

#[test]
fn label_not_found() {
    let (key, _) = ed25519_keys();
    let request = signed(Standard::Rfc9421, &key, same);
    let error = Verifier::new(Policy::fediverse())
        .with_label("other")
        .parse_request(&request, at(NOW))
        .unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::LabelNotFound {
            label: "other".to_owned()
        }
    );
}

#[test]
fn errors_explain_themselves() {
    let (key, public) = ed25519_keys();
    let mut request = signed(Standard::Cavage, &key, same);
    set(&mut request, "host", "mallory.example");
    let error = verify(&request, &public, Policy::fediverse(), NOW).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("does not match the signing string"), "{text}");
    assert!(text.contains("host: mallory.example"), "{text}");
    assert!(
        text.contains("https://alice.example/actor#main-key"),
        "{text}"
    );
}

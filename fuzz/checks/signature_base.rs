// Invariants of signature-base derivation (RFC 9421 §2.5, and the draft-cavage signing string)
// from arbitrary requests, for the `signature_base` fuzz target and the replay test in
// `http-signatures/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// The input is a request in the framing of `request.rs`. Two things are checked:
//
// 1. The request as given (its own `Signature-Input`/`Signature` or draft-cavage `Signature`)
//    goes through the verifier's front end. Whatever base it derives has one line per covered
//    component and, for RFC 9421, the `@signature-params` line last: no component value can
//    smuggle a line break into the base (a percent-encoded `%0A` in `@query-param`, say), so no
//    one can make a signed base say something the covered components do not.
// 2. With `@sign: cavage` or `@sign: rfc9421` (and `@cover:` lines naming the components, or
//    none for the signer's defaults), the request is signed with the RFC 9421 test Ed25519 key
//    and verified again: what the signer signs, the verifier accepts, over the same base.

include!("request.rs");

/// The time requests are signed and verified at.
const NOW_SECS: u64 = 1_700_000_000;

/// Runs both checks on one input.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let Some(framed) = framed(data) else {
        return;
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW_SECS);
    for policy in [
        http_signatures::Policy::rfc(),
        http_signatures::Policy::fediverse(),
    ] {
        let verifier = http_signatures::Verifier::new(policy);
        if let Ok(unverified) = verifier.parse_request(&framed.request, now) {
            check_base(
                unverified.standard(),
                unverified.covered(),
                unverified.signing_bytes(),
            );
            let _ = unverified.verify(&public_key());
        }
    }
    if let Some(standard) = framed.directive("sign").next() {
        sign_and_verify(&framed, standard, now);
    }
}

/// One line per covered component, in order, and the parameters line last for RFC 9421.
fn check_base(
    standard: http_signatures::Standard,
    covered: &[std::borrow::Cow<'static, str>],
    base: &[u8],
) {
    let shown = String::from_utf8_lossy(base);
    let lines: Vec<&[u8]> = base.split(|&b| b == b'\n').collect();
    match standard {
        http_signatures::Standard::Rfc9421 => {
            assert_eq!(
                lines.len(),
                covered.len() + 1,
                "{} components, but the base has {} lines:\n{shown}",
                covered.len(),
                lines.len()
            );
            let (last, components) = lines.split_last().expect("at least one line");
            assert!(
                last.starts_with(b"\"@signature-params\": ("),
                "the last line is not the parameters:\n{shown}"
            );
            for (line, component) in components.iter().zip(covered) {
                let name = component.split(';').next().unwrap_or_default();
                assert!(
                    line.starts_with(format!("\"{name}\"").as_bytes()),
                    "line for {component} is {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        http_signatures::Standard::Cavage => {
            assert_eq!(
                lines.len(),
                covered.len(),
                "{} components, but the signing string has {} lines:\n{shown}",
                covered.len(),
                lines.len()
            );
            for (line, component) in lines.iter().zip(covered) {
                assert!(
                    line.starts_with(format!("{}:", component.to_ascii_lowercase()).as_bytes()),
                    "line for {component} is {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }
}

/// Signs the request (without the signature and digest fields it came with) and verifies it.
fn sign_and_verify(framed: &Framed, standard: &str, now: std::time::SystemTime) {
    let Ok(standard) = standard.parse::<http_signatures::Standard>() else {
        return;
    };
    let mut request = framed.request.clone();
    for name in [
        "signature",
        "signature-input",
        "authorization",
        "digest",
        "content-digest",
    ] {
        request.headers_mut().remove(name);
    }
    let key_id = "https://signer.example/actor#main-key";
    let mut signer = http_signatures::Signer::new(private_key(), key_id).with_standard(standard);
    let components: Vec<&str> = framed.directive("cover").collect();
    if !components.is_empty() {
        signer = signer.with_components(components);
    }
    let Ok(signed) = signer.sign(&mut request, now) else {
        return;
    };
    let verifier = http_signatures::Verifier::new(http_signatures::Policy::rfc());
    let unverified = match verifier.parse_request(&request, now) {
        Ok(unverified) => unverified,
        // The signer covers a Date header as it finds it; the verifier reads a covered one.
        Err(error)
            if matches!(
                error.kind(),
                http_signatures::VerifyErrorKind::InvalidDate { .. }
            ) =>
        {
            return;
        }
        Err(error) => panic!(
            "a request this crate signed does not parse: {error}\nsigned over:\n{}\n{:?}",
            signed.signing_string,
            request.headers()
        ),
    };
    assert_eq!(unverified.key_id(), key_id);
    // `Signed::signing_string` is text: a field value with obs-text bytes shows there as
    // U+FFFD, so the two are compared as text; verifying below compares the bytes.
    assert_eq!(
        unverified.signing_string(),
        signed.signing_string,
        "the verifier derives another base than the signer signed"
    );
    check_base(
        unverified.standard(),
        unverified.covered(),
        unverified.signing_bytes(),
    );
    let verified = unverified.verify(&public_key()).unwrap_or_else(|error| {
        panic!(
            "a request this crate signed does not verify: {error}\nsigned over:\n{}",
            signed.signing_string
        )
    });
    assert_eq!(verified.covered.len(), signed.covered.len());
}

/// The RFC 9421 test key (Appendix B.1.4), parsed once.
fn private_key() -> http_signatures::SigningKey {
    static KEY: std::sync::OnceLock<http_signatures::SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        http_signatures::SigningKey::from_pem(include_str!(
            "../../fixtures/signatures/rfc9421/test-key-ed25519.priv.pem"
        ))
        .expect("the RFC 9421 test key reads")
    })
    .clone()
}

fn public_key() -> http_signatures::VerifyingKey {
    private_key().verifying_key()
}

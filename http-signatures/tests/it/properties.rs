//! Properties: sign-then-verify holds for arbitrary requests, and any single-byte change to a
//! covered part fails.

use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier, VerifyingKey};
use proptest::prelude::*;

use crate::support::at;

const NOW: u64 = 1_700_000_000;

fn keys() -> &'static [(SigningKey, VerifyingKey)] {
    static KEYS: std::sync::OnceLock<Vec<(SigningKey, VerifyingKey)>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let (rsa, rsa_public) = crate::support::peertube_keys();
        let (ed, ed_public) = crate::support::ed25519_keys();
        vec![(rsa, rsa_public), (ed, ed_public)]
    })
}

#[derive(Debug, Clone)]
struct Input {
    method: http::Method,
    host: String,
    path: String,
    query: Option<String>,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
    standard: Standard,
    key: usize,
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop_oneof![
            Just(http::Method::GET),
            Just(http::Method::POST),
            Just(http::Method::PUT)
        ],
        "[a-z]{1,12}(\\.[a-z]{2,6}){1,2}(:[0-9]{2,5})?",
        "(/[A-Za-z0-9._~%-]{0,10}){1,4}",
        proptest::option::of("[A-Za-z0-9=&%._+-]{0,30}"),
        proptest::collection::vec(("x-[a-z]{1,10}", "[ -~]{0,40}"), 0..4),
        proptest::collection::vec(any::<u8>(), 0..300),
        prop_oneof![Just(Standard::Cavage), Just(Standard::Rfc9421)],
        0..2_usize,
    )
        .prop_map(
            |(method, host, path, query, extra, body, standard, key)| Input {
                method,
                host,
                path,
                query,
                extra,
                body,
                standard,
                key,
            },
        )
}

fn build(input: &Input) -> http::Request<Vec<u8>> {
    let target = match &input.query {
        Some(query) => format!("https://{}{}?{query}", input.host, input.path),
        None => format!("https://{}{}", input.host, input.path),
    };
    let mut builder = http::Request::builder()
        .method(input.method.clone())
        .uri(target);
    for (name, value) in &input.extra {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(input.body.clone()).unwrap()
}

fn sign(input: &Input) -> (http::Request<Vec<u8>>, Vec<String>) {
    let (key, _) = &keys()[input.key];
    let mut request = build(input);
    let mut signer =
        Signer::new(key.clone(), "https://a.example/actor#key").with_standard(input.standard);
    // Cover the extra headers too.
    let mut components = signer.default_components(
        !input.body.is_empty() || matches!(input.method, http::Method::POST | http::Method::PUT),
    );
    components.extend(input.extra.iter().map(|(n, _)| n.clone()));
    let mut seen = std::collections::HashSet::new();
    components.retain(|c| seen.insert(c.clone()));
    signer = signer.with_components(components.clone());
    signer.sign(&mut request, at(NOW)).unwrap();
    (request, components)
}

fn verify(request: &http::Request<Vec<u8>>, key: usize) -> bool {
    let (_, public) = &keys()[key];
    Verifier::new(Policy::rfc())
        .verify_request(request, public, at(NOW))
        .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify(input in input()) {
        let (request, _) = sign(&input);
        let (_, public) = &keys()[input.key];
        let result = Verifier::new(Policy::fediverse()).verify_request(&request, public, at(NOW));
        prop_assert!(result.is_ok(), "{:?}", result.err().map(|e| e.to_string()));
    }

    #[test]
    fn one_changed_byte_in_a_covered_header_fails(input in input(), pick in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), delta in 1..=255_u8) {
        let (mut request, components) = sign(&input);
        let fields: Vec<&String> = components.iter().filter(|c| !c.starts_with('(') && !c.starts_with('@')).collect();
        prop_assume!(!fields.is_empty());
        let name = fields[pick.index(fields.len())];
        let value = request.headers()[name.as_str()].as_bytes().to_vec();
        prop_assume!(!value.is_empty());
        let mut changed = value.clone();
        let i = byte.index(changed.len());
        changed[i] = changed[i].wrapping_add(delta);
        let Ok(changed) = http::HeaderValue::from_bytes(&changed) else {
            return Ok(()); // not a valid header value: cannot be sent
        };
        // Whitespace at the ends is trimmed by both standards; such a change is no change.
        let trimmed = |v: &[u8]| String::from_utf8_lossy(v).trim_matches([' ', '\t']).to_owned();
        prop_assume!(trimmed(changed.as_bytes()) != trimmed(&value));
        request.headers_mut().insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), changed);
        prop_assert!(!verify(&request, input.key), "changing {name} went unnoticed");
    }

    #[test]
    fn one_changed_byte_in_the_body_or_target_fails(input in input(), byte in any::<prop::sample::Index>(), delta in 1..=255_u8, in_body in any::<bool>()) {
        let (mut request, _) = sign(&input);
        if in_body && !request.body().is_empty() {
            let i = byte.index(request.body().len());
            request.body_mut()[i] = request.body()[i].wrapping_add(delta);
        } else {
            let path = request.uri().path().to_owned();
            let mut bytes = path.into_bytes();
            let i = byte.index(bytes.len());
            bytes[i] = bytes[i].wrapping_add(delta);
            let Ok(path) = String::from_utf8(bytes) else { return Ok(()) };
            let target = format!("https://{}{}", input.host, path);
            let Ok(uri) = target.parse::<http::Uri>() else { return Ok(()) };
            prop_assume!(uri.path() != request.uri().path());
            let query = request.uri().query().map(str::to_owned);
            let uri = match query {
                Some(q) => format!("{}?{q}", uri).parse().unwrap(),
                None => uri,
            };
            *request.uri_mut() = uri;
        }
        prop_assert!(!verify(&request, input.key));
    }
}

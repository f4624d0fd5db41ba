// Invariants of reading keys from what the network publishes, for the `key_documents` fuzz target
// and the replay test in `federation/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// One input is read every way a key arrives: as PEM (public and private), as a Multikey
// `publicKeyMultibase`, as DER (SPKI, PKCS#1, raw Ed25519), and as an actor document whose
// `publicKey` and `assertionMethod` the key cache reads. (The crates read no JWK: there is no JWK
// reader to fuzz.)

/// Reads `data` as every kind of key document: nothing panics, a key read is written back in
/// each format it supports and read again as the same key, a private key verifies what it signs,
/// and the keys kept from an actor belong to that actor and its origin.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    use http_signatures::{SigningKey, VerifyingKey};

    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = VerifyingKey::from_pem(text) {
            round_trip(&key);
        }
        if let Ok(key) = VerifyingKey::from_multikey(text) {
            round_trip(&key);
            assert!(
                matches!(
                    key.kind(),
                    http_signatures::KeyKind::Ed25519 | http_signatures::KeyKind::Rsa { .. }
                ),
                "a Multikey is Ed25519 or RSA, not {:?}",
                key.kind()
            );
        }
        if let Ok(key) = SigningKey::from_pem(text) {
            signs_and_verifies(&key);
        }
        actor_keys(data);
    }
    for key in [
        VerifyingKey::from_spki_der(data),
        VerifyingKey::from_pkcs1_der(data),
        VerifyingKey::from_ed25519_bytes(data),
    ]
    .into_iter()
    .flatten()
    {
        round_trip(&key);
    }
    if let Ok(key) = SigningKey::from_pkcs8_der(data) {
        signs_and_verifies(&key);
    }
}

/// SPKI (DER and PEM) and Multikey, where the key has them, read back as the same key.
fn round_trip(key: &http_signatures::VerifyingKey) {
    use http_signatures::VerifyingKey;

    let Ok(der) = key.to_spki_der() else {
        return;
    };
    let again = VerifyingKey::from_spki_der(&der)
        .unwrap_or_else(|error| panic!("written SPKI does not read back: {error}"));
    assert_eq!(again.to_spki_der().ok().as_deref(), Some(der.as_slice()));
    let pem = key.to_spki_pem().expect("SPKI DER was written, so PEM is");
    let again = VerifyingKey::from_pem(&pem)
        .unwrap_or_else(|error| panic!("written PEM does not read back: {error}\n{pem}"));
    assert_eq!(again.to_spki_der().ok().as_deref(), Some(der.as_slice()));
    if let Ok(multikey) = key.to_multikey() {
        let again = VerifyingKey::from_multikey(&multikey).unwrap_or_else(|error| {
            panic!("written Multikey {multikey} does not read back: {error}")
        });
        assert_eq!(again.to_spki_der().ok().as_deref(), Some(der.as_slice()));
        assert_eq!(again.to_multikey().ok().as_deref(), Some(multikey.as_str()));
    }
}

/// A private key read from the network (a key file, a backup) signs, and its public half
/// verifies that signature.
fn signs_and_verifies(key: &http_signatures::SigningKey) {
    let message = b"\"@method\": POST\n\"@signature-params\": (\"@method\")";
    let algorithm = key.algorithm();
    // A key the backend refuses to sign with (a malformed RSA key that parsed) is an error,
    // not a panic; a signature it makes must verify.
    let Ok(signature) = key.sign_bytes(algorithm, message) else {
        return;
    };
    key.verifying_key()
        .verify_bytes(algorithm, message, &signature)
        .unwrap_or_else(|error| panic!("own signature ({algorithm:?}) does not verify: {error}"));
}

/// The keys the key cache keeps from an actor document: each is owned by the actor, on the
/// actor's origin, found again by its id, and listed by the actor.
fn actor_keys(data: &[u8]) {
    let limits = activitypub_core::Limits::default();
    let Ok(activitypub_core::AnyObject::Actor(actor)) =
        activitypub_core::AnyObject::from_slice_with(data, &limits)
    else {
        return;
    };
    let fetched_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let Ok(remote) = federation::keys::RemoteActor::from_actor(*actor, fetched_at) else {
        return;
    };
    let Ok(document) = url::Url::parse(remote.id.as_str()) else {
        assert!(
            remote.keys.is_empty(),
            "keys kept from an actor whose id {} is not a URL",
            remote.id
        );
        return;
    };
    for key in &remote.keys {
        assert_eq!(key.owner, remote.id, "a key owned by someone else was kept");
        assert!(
            origin(key.key_id.as_str()).is_some()
                && origin(key.key_id.as_str()) == origin(remote.id.as_str()),
            "key {} kept for actor {} on another origin",
            key.key_id,
            remote.id
        );
        let found = remote
            .find_key(key.key_id.as_str(), &document)
            .unwrap_or_else(|error| panic!("kept key {} not found again: {error}", key.key_id));
        assert_eq!(found.key_id, key.key_id);
        assert!(remote.lists_key(key.key_id.as_str()));
        round_trip(&key.key);
    }
}

/// The origin of a URL, computed here (scheme, lowercase host, port or the scheme's default)
/// rather than by the crates under test.
fn origin(iri: &str) -> Option<(String, String, Option<u16>)> {
    let url = url::Url::parse(iri).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some((url.scheme().to_owned(), host, url.port_or_known_default()))
}

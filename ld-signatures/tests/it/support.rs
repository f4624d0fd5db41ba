//! Reading the repository's fixtures.

use ld_signatures::{SigningKey, VerifyingKey};
use serde_json::Value;

/// The repository's `fixtures/` folder.
pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

/// A fixture's text.
pub(crate) fn text(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("reading fixtures/{path}: {e}"))
}

/// A fixture parsed as JSON.
pub(crate) fn json(path: &str) -> Value {
    serde_json::from_str(&text(path)).unwrap_or_else(|e| panic!("parsing fixtures/{path}: {e}"))
}

/// The public key of an actor document's `publicKey`.
pub(crate) fn actor_key(path: &str) -> (String, VerifyingKey) {
    let actor = json(path);
    let id = actor["publicKey"]["id"].as_str().unwrap().to_owned();
    let pem = actor["publicKey"]["publicKeyPem"].as_str().unwrap();
    (id, VerifyingKey::from_pem(pem).unwrap())
}

/// PeerTube's published test key pair (`fixtures/signatures/peertube-test-keypair.json`).
pub(crate) fn peertube_keys() -> (SigningKey, VerifyingKey) {
    let keys = json("signatures/peertube-test-keypair.json");
    (
        SigningKey::from_pem(keys["privateKey"].as_str().unwrap()).unwrap(),
        VerifyingKey::from_pem(keys["publicKey"].as_str().unwrap()).unwrap(),
    )
}

/// A Mastodon `Create(Note)` as Mastodon writes it, unsigned (the relay fixture without its
/// signature).
pub(crate) fn mastodon_note() -> Value {
    let mut note = json("mastodon/create-note-ld-signed-for-relay.json");
    note.as_object_mut().unwrap().remove("signature");
    note
}

/// A fixed signing time.
pub(crate) fn created() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_714_564_800).unwrap()
}

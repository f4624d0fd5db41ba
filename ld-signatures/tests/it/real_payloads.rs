//! Signatures made by other servers, from `fixtures/`.

use ld_signatures::{Error, LdSignature, VerifyingKey, verify};

use crate::support::{actor_key, json, peertube_keys};

#[test]
fn mastodon_create_note_forwarded_by_a_relay_verifies_with_its_authors_key() {
    let document = json("mastodon/create-note-ld-signed-for-relay.json");
    let (key_id, key) = actor_key("mastodon/person-ld-signer.json");
    let signature = LdSignature::read(&document).unwrap();
    assert_eq!(signature.creator, key_id);

    let verified = verify(&document, &key).unwrap();
    assert_eq!(
        verified.creator,
        "https://innocent.yukimochi.io/users/YUKIMOCHI#main-key"
    );
    assert_eq!(
        verified.id,
        "https://innocent.yukimochi.io/users/YUKIMOCHI/statuses/101289215743686309/activity"
    );
    assert_eq!(verified.created.as_deref(), Some("2018-12-23T07:39:37Z"));
    assert_eq!(
        verified
            .created_at()
            .map(time::OffsetDateTime::unix_timestamp),
        Some(1_545_550_777)
    );
}

#[test]
fn payloads_whose_signer_key_is_not_in_the_fixtures_parse_and_fail_as_mismatches() {
    // PeerTube (Esup-Pod's captures), Mastodon (Mobilizon's capture) and Roadhouse: their
    // signers' keys are not published, so these only prove the whole pipeline runs on them
    // (contexts bundled, structure accepted, limits respected) and that a wrong key is told
    // apart from every other failure.
    let (_, wrong_key) = peertube_keys();
    for path in [
        "peertube/accept-follow-instance.json",
        "peertube/announce-video-by-instance-actor.json",
        "peertube/delete-video.json",
        "peertube/update-video.json",
        "peertube/view-video.json",
        "mastodon/create-note-hashtag.json",
        "roadhouse/create-note-reply-mentions-ld-signed.json",
    ] {
        let document = json(path);
        match verify(&document, &wrong_key) {
            Err(Error::Mismatch { creator, .. }) => {
                assert_eq!(creator, document["signature"]["creator"], "{path}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn mastodon_25_create_note_with_a_mention_verifies_with_its_authors_key() {
    // The body of a POST from Mastodon 2.5 to a PeerTube inbox (PeerTube's test fixtures). Its
    // `Digest` header does not match (the fixture's point), but the LD signature in the body
    // does: its `Mention` tag is a blank node, so this covers canonical blank-node labels.
    let document =
        json("signatures/mastodon-2.5-signed-inbox-post-bad-digest.json")["body"].clone();
    let keys = json("signatures/mastodon-2.5-public-key.json");
    let key = VerifyingKey::from_pem(keys["publicKey"].as_str().unwrap()).unwrap();
    let verified = verify(&document, &key).unwrap();
    assert_eq!(
        verified.creator,
        "http://localhost:3000/users/ronan2#main-key"
    );
    assert_eq!(
        verified.id,
        "http://localhost:3000/users/ronan2/statuses/100939547203370948/activity"
    );
}

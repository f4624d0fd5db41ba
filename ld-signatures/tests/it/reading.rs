//! What a reader of member names may take from a verified document.

use ld_signatures::{sign, verify};
use serde_json::{Value, json};

use crate::support::{actor_key, created, json, mastodon_note, peertube_keys};

const KEY_ID: &str = "https://innocent.yukimochi.io/users/YUKIMOCHI#main-key";

fn signed_note() -> Value {
    let (private, _) = peertube_keys();
    let mut note = mastodon_note();
    note["object"]["summary"] = "content warning".into();
    sign(&note, KEY_ID, created(), &private).unwrap()
}

#[test]
fn a_mastodon_note_is_read_whole() {
    let document = json("mastodon/create-note-ld-signed-for-relay.json");
    let (_, key) = actor_key("mastodon/person-ld-signer.json");
    let verified = verify(&document, &key).unwrap();
    assert_eq!(verified.dropped, Vec::<String>::new());
    assert_eq!(verified.document, document);
}

#[test]
fn a_member_no_context_defines_is_not_signed_and_is_dropped() {
    // ActivityStreams maps unknown names to blank nodes, which make no statement: anyone can
    // add such a member to a signed document.
    let (_, public) = peertube_keys();
    let mut forged = signed_note();
    forged["object"]["quoteUrl"] = "https://evil.example/notes/1".into();
    forged["object"]["_misskey_content"] = "not what was signed".into();
    let verified = verify(&forged, &public).unwrap();
    assert_eq!(
        verified.dropped,
        ["/object/_misskey_content", "/object/quoteUrl"]
    );
    assert!(verified.document["object"].get("quoteUrl").is_none());
    assert_eq!(
        verified.document["object"]["content"],
        forged["object"]["content"]
    );
}

#[test]
fn a_term_mapped_to_null_is_dropped() {
    // `content` made to mean nothing, and a new name carrying the signed content.
    let (_, public) = peertube_keys();
    let signed = signed_note();
    let mut forged = signed.clone();
    forged["@context"]
        .as_array_mut()
        .unwrap()
        .push(json!({"content": null, "realContent": "as:content"}));
    let object = forged["object"].as_object_mut().unwrap();
    let content = object.remove("content").unwrap();
    object.insert("realContent".to_owned(), content);
    object.insert("content".to_owned(), "<p>EVIL</p>".into());
    let verified = verify(&forged, &public).unwrap();
    assert!(
        verified.dropped.contains(&"/object/content".to_owned()),
        "{:?}",
        verified.dropped
    );
    assert!(verified.document["object"].get("content").is_none());
}

#[test]
fn swapped_definitions_of_bundled_terms_are_dropped() {
    // `content` and `summary` swapped by an inline context, their values swapped too: the same
    // statements, and a reader of names would show the warning as the post.
    let (_, public) = peertube_keys();
    let mut forged = signed_note();
    forged["@context"]
        .as_array_mut()
        .unwrap()
        .push(json!({"content": "as:summary", "summary": "as:content"}));
    let content = forged["object"]["content"].clone();
    forged["object"]["content"] = forged["object"]["summary"].clone();
    forged["object"]["summary"] = content;
    let verified = verify(&forged, &public).unwrap();
    assert_eq!(verified.dropped, ["/object/content", "/object/summary"]);
}

#[test]
fn redefining_a_bundled_term_to_the_same_meaning_keeps_it() {
    // PeerTube repeats ActivityStreams' `likes` and `shares` in its inline context.
    let (private, public) = peertube_keys();
    let mut note = mastodon_note();
    note["@context"].as_array_mut().unwrap().push(json!({
        "likes": {"@id": "as:likes", "@type": "@id"},
        "inReplyTo": {"@id": "https://www.w3.org/ns/activitystreams#inReplyTo", "@type": "@id"}
    }));
    note["object"]["likes"] = "https://a.example/likes".into();
    let signed = sign(&note, KEY_ID, created(), &private).unwrap();
    let verified = verify(&signed, &public).unwrap();
    assert_eq!(verified.dropped, Vec::<String>::new());
}

#[test]
fn every_ld_signed_fixture_re_signed_verifies_and_drops_only_unsigned_members() {
    // The real payloads whose signers' keys we lack, signed again with a test key: the whole
    // pipeline accepts them, and what is dropped is exactly what their contexts leave undefined
    // or redefine.
    let (private, public) = peertube_keys();
    let expected: &[(&str, &[&str])] = &[
        ("friendica/create-note.json", &[]),
        ("friendica/like-page.json", &[]),
        ("mastodon/accept-follow.json", &["/nickname"]),
        ("mastodon/announce.json", &[]),
        ("mastodon/block.json", &["/nickname"]),
        ("mastodon/create-note-direct.json", &["/nickname"]),
        ("mastodon/create-note-hashtag.json", &["/nickname"]),
        ("mastodon/create-note-ld-signed-for-relay.json", &[]),
        ("mastodon/delete-note.json", &[]),
        ("mastodon/like.json", &["/nickname"]),
        ("mastodon/reject-follow.json", &["/nickname"]),
        ("mastodon/undo-like.json", &["/nickname"]),
        ("peertube/accept-follow-instance.json", &[]),
        ("peertube/announce-video-by-instance-actor.json", &[]),
        // `expires` redefined away from security v1's; `size` and `fps` not defined at all.
        (
            "peertube/create-cachefile.json",
            &["/object/expires", "/object/url/fps", "/object/url/size"],
        ),
        ("peertube/delete-video.json", &[]),
        ("peertube/update-video.json", &[]),
        ("peertube/view-video.json", &[]),
        ("roadhouse/create-note-reply-mentions-ld-signed.json", &[]),
        ("smithereen/create-note.json", &[]),
    ];
    for (path, dropped) in expected {
        let mut document = json(path);
        assert_eq!(document["signature"]["type"], "RsaSignature2017", "{path}");
        document.as_object_mut().unwrap().remove("signature");
        let signed = sign(&document, "https://k.example/k", created(), &private).unwrap();
        let verified = verify(&signed, &public).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(verified.dropped, *dropped, "{path}");
    }
    // Mobilizon's name the LitePub context, which is not bundled.
    let mut invite = json("mobilizon/invite.json");
    invite.as_object_mut().unwrap().remove("signature");
    assert!(matches!(
        sign(&invite, "https://k.example/k", created(), &private),
        Err(ld_signatures::Error::RemoteContext { url })
            if url == "https://litepub.social/litepub/context.jsonld"
    ));
}

//! Every WebFinger document in the fixtures parses, round-trips and gives the expected
//! actor; the host-meta XRD gives its template.

use webfinger::actor::{SubjectCheck, subject_check};
use webfinger::{AcctUri, Jrd, Rel, Resource, xrd};

use crate::support::{data, files_in, fixture, fixtures_dir, rows};

#[test]
fn every_jrd_fixture_is_listed() {
    let text = data("jrds.tsv");
    let listed: Vec<String> = rows(&text).iter().map(|row| row[0].to_owned()).collect();
    for path in files_in(&fixtures_dir().join("webfinger")) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".json") {
            assert!(listed.contains(&name), "{name} is not in data/jrds.tsv");
        }
    }
}

#[test]
fn jrd_fixtures() {
    let text = data("jrds.tsv");
    for row in rows(&text) {
        let [file, subject, actor] = row[..] else {
            panic!("malformed row {row:?}");
        };
        let bytes = fixture(&format!("webfinger/{file}"));
        let jrd = Jrd::from_slice(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(jrd.subject.as_deref(), Some(subject), "{file}");
        assert_eq!(jrd.activitypub_id().unwrap().as_str(), actor, "{file}");

        // Lossless: written back and read again, nothing changes; and the JSON value is the same
        // as the fixture's (the fixtures have no empty lists to drop).
        let written = serde_json::to_vec(&jrd).unwrap();
        assert_eq!(Jrd::from_slice(&written).unwrap(), jrd, "{file}");
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let rewritten: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(original, rewritten, "{file}");

        // The subject confirms itself.
        let acct: AcctUri = subject.parse().unwrap();
        assert_eq!(
            subject_check(&acct, &jrd),
            SubjectCheck::Confirmed(acct.clone())
        );
    }
}

#[test]
fn friendica_keeps_every_link_and_template() {
    let jrd = Jrd::from_slice(&fixture("webfinger/friendica-jrd.json")).unwrap();
    assert_eq!(jrd.links.len(), 14);
    assert_eq!(jrd.aliases.len(), 2);
    let subscribe = jrd.link(&Rel::SUBSCRIBE).unwrap();
    assert_eq!(
        subscribe.template.as_deref(),
        Some("https://squeet.me/follow?url={uri}")
    );
    assert_eq!(subscribe.href, None);
    let salmon = Rel::new("salmon");
    assert_eq!(jrd.links_with_rel(&salmon).count(), 1);
}

#[test]
fn pleroma_offers_both_media_types() {
    let jrd = Jrd::from_slice(&fixture("webfinger/pleroma-jrd.json")).unwrap();
    let selves: Vec<_> = jrd
        .links_with_rel(&Rel::SELF)
        .filter(|link| link.is_activitypub_self())
        .collect();
    assert_eq!(selves.len(), 2);
}

#[test]
fn rel_filtering() {
    let mut jrd = Jrd::from_slice(&fixture("webfinger/mastodon-jrd.json")).unwrap();
    jrd.retain_rels(&[]);
    assert_eq!(jrd.links.len(), 3);
    jrd.retain_rels(&[Rel::SELF, Rel::AVATAR]);
    assert_eq!(jrd.links.len(), 1);
    assert_eq!(jrd.links[0].rel, Rel::SELF);
    assert_eq!(jrd.aliases.len(), 2, "rel filtering leaves the rest alone");
}

#[test]
fn host_meta_xrd() {
    let jrd = xrd::parse(&fixture("webfinger/mastodon-host-meta.xml")).unwrap();
    let template = jrd.lrdd_template().unwrap();
    assert_eq!(
        template,
        "https://social.tcit.fr/.well-known/webfinger?resource={uri}"
    );
    let resource = Resource::from_user_input("tcit@social.tcit.fr").unwrap();
    assert_eq!(
        xrd::expand_lrdd_template(template, &resource)
            .unwrap()
            .as_str(),
        "https://social.tcit.fr/.well-known/webfinger?resource=acct%3Atcit%40social.tcit.fr"
    );
}

#[test]
fn full_xrd() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/webfinger_jrd/xrd-full.xml"
    ))
    .unwrap();
    let jrd = xrd::parse(&bytes).unwrap();
    assert_eq!(jrd.subject.as_deref(), Some("acct:alice@example.com"));
    assert_eq!(jrd.aliases, ["https://example.com/users/alice"]);
    assert_eq!(
        jrd.properties["http://example.com/p"].as_deref(),
        Some("v & w")
    );
    assert_eq!(jrd.properties["http://example.com/nil"], None);
    let link = &jrd.links[0];
    assert_eq!(link.rel, Rel::LRDD);
    assert_eq!(link.media_type.as_deref(), Some("application/jrd+json"));
    assert_eq!(link.titles["en"], "WebFinger");
    assert_eq!(
        link.properties["http://example.com/lp"].as_deref(),
        Some("x")
    );
}

#[test]
fn malformed_xrd_is_a_typed_error() {
    use webfinger::xrd::XrdError;
    assert!(matches!(
        xrd::parse(b"<XRD><Link rel=\"lrdd\""),
        Err(XrdError::Xml { .. } | XrdError::Truncated)
    ));
    assert!(matches!(
        xrd::parse(b"<html></html>"),
        Err(XrdError::NotXrd { .. })
    ));
    assert!(matches!(
        xrd::parse(b"<XRD><Link href=\"x\"/></XRD>"),
        Err(XrdError::LinkWithoutRel)
    ));
    assert!(matches!(xrd::parse(b"\xff\xfe"), Err(XrdError::NotUtf8)));
    assert!(matches!(xrd::parse(b""), Err(XrdError::NotXrd { .. })));
    let deep = format!("<XRD>{}", "<a>".repeat(100));
    assert!(matches!(
        xrd::parse(deep.as_bytes()),
        Err(XrdError::TooDeep)
    ));
    // An entity that would need a DTD is not expanded (no billion laughs, no external fetch).
    let with_dtd = br#"<?xml version="1.0"?><!DOCTYPE XRD [<!ENTITY x "boom">]><XRD><Subject>&x;</Subject></XRD>"#;
    let jrd = xrd::parse(with_dtd).unwrap();
    assert_eq!(jrd.subject.as_deref(), Some(""));
}

#[test]
fn templates() {
    use webfinger::xrd::TemplateError;
    let resource = Resource::from_user_input("alice@example.com").unwrap();
    assert!(matches!(
        xrd::expand_lrdd_template("https://example.com/wf", &resource),
        Err(TemplateError::NoUriVariable { .. })
    ));
    assert!(matches!(
        xrd::expand_lrdd_template("/wf?resource={uri}", &resource),
        Err(TemplateError::InvalidUrl { .. })
    ));
}

#[test]
fn activitypub_link_errors() {
    use webfinger::ActorLinkError;
    let jrd =
        Jrd::from_slice(br#"{"links":[{"rel":"self","type":"text/html","href":"https://x/"}]}"#)
            .unwrap();
    assert_eq!(
        jrd.activitypub_id(),
        Err(ActorLinkError::NoActivityPubLink {
            seen_types: vec![Some("text/html".to_owned())]
        })
    );
    let jrd = Jrd::from_slice(br#"{"links":[{"rel":"self","type":"application/activity+json"}]}"#)
        .unwrap();
    assert_eq!(jrd.activitypub_id(), Err(ActorLinkError::MissingHref));
    let jrd = Jrd::from_slice(
        br#"{"links":[{"rel":"self","type":"application/activity+json","href":"/users/a"}]}"#,
    )
    .unwrap();
    assert!(matches!(
        jrd.activitypub_id(),
        Err(ActorLinkError::InvalidHref { .. })
    ));
}

#[test]
fn activitystreams_media_types() {
    use webfinger::actor::is_activitystreams_media_type as is_as;
    for yes in [
        "application/activity+json",
        "Application/Activity+JSON; charset=utf-8",
        "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        "application/ld+json;profile=https://www.w3.org/ns/activitystreams",
        "application/ld+json; PROFILE=\"https://example.com/p https://www.w3.org/ns/activitystreams\"",
    ] {
        assert!(is_as(yes), "{yes}");
    }
    for no in [
        "application/ld+json",
        "application/json",
        "text/html",
        "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams#\"",
        "",
    ] {
        assert!(!is_as(no), "{no}");
    }
}

#[test]
fn subject_hops() {
    let asked: AcctUri = "acct:alice@example.com".parse().unwrap();
    let redirect = Jrd::new("acct:alice@social.example.com");
    assert_eq!(
        subject_check(&asked, &redirect),
        SubjectCheck::Redirect("acct:alice@social.example.com".parse().unwrap())
    );
    let case = Jrd::new("acct:Alice@example.com");
    assert_eq!(
        subject_check(&asked, &case),
        SubjectCheck::Confirmed("acct:Alice@example.com".parse().unwrap())
    );
    let no_subject = Jrd::default();
    assert_eq!(
        subject_check(&asked, &no_subject),
        SubjectCheck::Confirmed(asked.clone())
    );
}

#[test]
fn round_trip_helpers() {
    use url::Url;
    use webfinger::actor::{ActorHandle, check_round_trip, round_trip_resource};
    let actor = ActorHandle::from_actor_json(&fixture("mastodon/person.json")).unwrap();
    let acct = actor.round_trip_resource().unwrap();
    assert_eq!(acct.user(), actor.preferred_username);
    assert_eq!(
        Some(acct.host().to_string()),
        actor.id.host_str().map(str::to_owned)
    );

    let id = Url::parse("http://127.0.0.1:3000/users/a").unwrap();
    assert_eq!(
        round_trip_resource(&id, "a").unwrap().to_string(),
        "acct:a@127.0.0.1:3000"
    );
    assert!(round_trip_resource(&id, "").is_err());
    let jrd = webfinger::server::account_jrd(&"acct:a@127.0.0.1:3000".parse().unwrap(), &id, None);
    assert!(check_round_trip(&id, &jrd));
    assert!(!check_round_trip(
        &Url::parse("https://elsewhere/a").unwrap(),
        &jrd
    ));
}

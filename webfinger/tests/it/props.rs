//! Property tests: parsing and displaying round-trip.

use proptest::prelude::*;
use webfinger::{AcctUri, Host, Jrd, Link, Rel, Resource};

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9]{0,8}){0,3}",
        "[A-Za-zÀ-ÿ]{1,8}\\.example",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_owned()),
    ]
}

proptest! {
    #[test]
    fn acct_round_trip(user in "\\PC{1,20}", host in host(), port in proptest::option::of(any::<u16>())) {
        let host_text = match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        let host = Host::parse(&host_text).unwrap();
        if let Ok(acct) = AcctUri::new(user.clone(), host.clone()) {
            let shown = acct.to_string();
            let again: AcctUri = shown.parse().unwrap();
            prop_assert_eq!(&again, &acct);
            prop_assert_eq!(again.user(), user.as_str());
            let resource: Resource = shown.parse().unwrap();
            prop_assert_eq!(resource.host(), Some(host));
            prop_assert!(resource.webfinger_url(&[]).is_ok());
        }
    }

    #[test]
    fn user_input_never_panics(input in "\\PC{0,40}") {
        if let Ok(resource) = Resource::from_user_input(&input) {
            let again = Resource::from_user_input(&resource.to_string());
            prop_assert!(again.is_ok(), "{} does not parse back", resource);
        }
    }

    #[test]
    fn jrd_round_trip(
        subject in proptest::option::of("[a-z:@./]{1,30}"),
        aliases in proptest::collection::vec("\\PC{0,20}", 0..3),
        links in proptest::collection::vec(("\\PC{1,20}", proptest::option::of("\\PC{0,20}"), proptest::option::of("\\PC{0,20}")), 0..4),
    ) {
        let mut jrd = Jrd::default();
        jrd.subject = subject;
        jrd.aliases = aliases;
        for (rel, media_type, href) in links {
            let mut link = Link::new(Rel::new(rel));
            link.media_type = media_type;
            link.href = href;
            jrd.links.push(link);
        }
        let bytes = serde_json::to_vec(&jrd).unwrap();
        prop_assert_eq!(Jrd::from_slice(&bytes).unwrap(), jrd);
    }
}

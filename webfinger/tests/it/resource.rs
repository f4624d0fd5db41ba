//! Resource parsing, driven by `data/resources.tsv`.

use webfinger::{Resource, ResourceError};

use crate::support::{data, rows};

fn variant(error: &ResourceError) -> &'static str {
    match error {
        ResourceError::Empty => "Empty",
        ResourceError::MissingAt { .. } => "MissingAt",
        ResourceError::EmptyUser { .. } => "EmptyUser",
        ResourceError::InvalidUserCharacter { .. } => "InvalidUserCharacter",
        ResourceError::InvalidUserEncoding { .. } => "InvalidUserEncoding",
        ResourceError::EmptyHost { .. } => "EmptyHost",
        ResourceError::InvalidHost { .. } => "InvalidHost",
        ResourceError::InvalidPort { .. } => "InvalidPort",
        ResourceError::NotAUri { .. } => "NotAUri",
        ResourceError::NoHostToAsk { .. } => "NoHostToAsk",
        _ => "unknown variant",
    }
}

fn check(input: &str, how: &str, expected: &str) {
    let parsed = match how {
        "user" => Resource::from_user_input(input),
        "uri" => input.parse::<Resource>(),
        other => panic!("unknown parse mode {other}"),
    };
    match (parsed, expected.strip_prefix("error:")) {
        (Ok(resource), None) => {
            assert_eq!(resource.to_string(), expected, "{input:?} ({how})");
            // What is displayed parses back to the same resource.
            let again: Resource = resource.to_string().parse().unwrap();
            assert_eq!(again, resource, "{input:?} does not round-trip");
        }
        (Err(error), Some(want)) => {
            assert_eq!(variant(&error), want, "{input:?} ({how}): {error}");
            // The message names the problem for an operator.
            assert!(!error.to_string().is_empty());
        }
        (Ok(resource), Some(want)) => {
            panic!("{input:?} ({how}) parsed as {resource}, expected {want}")
        }
        (Err(error), None) => {
            panic!("{input:?} ({how}) failed with {error:?}, expected {expected}")
        }
    }
}

#[test]
fn vectors() {
    let text = data("resources.tsv");
    let rows = rows(&text);
    assert!(rows.len() > 40);
    for row in rows {
        let [input, how, expected] = row[..] else {
            panic!("malformed row {row:?}");
        };
        check(input, how, expected);
    }
}

#[test]
fn hosts_and_queries() {
    let resource = Resource::from_user_input("@alice@Example.COM:8443").unwrap();
    let acct = resource.as_acct().unwrap();
    assert_eq!(acct.user(), "alice");
    assert_eq!(acct.host().to_string(), "example.com:8443");
    assert_eq!(acct.host().port(), Some(8443));
    assert_eq!(acct.handle(), "alice@example.com:8443");
    assert_eq!(
        resource.webfinger_url(&[]).unwrap().as_str(),
        "https://example.com:8443/.well-known/webfinger?resource=acct:alice@example.com:8443"
    );
    let with_rels = Resource::from_user_input("a&b=c@example.com")
        .unwrap()
        .webfinger_url(&[webfinger::Rel::SELF, webfinger::Rel::new("http://x/a b")])
        .unwrap();
    assert_eq!(
        with_rels.as_str(),
        "https://example.com/.well-known/webfinger?resource=acct:a%26b%3Dc@example.com&rel=self&rel=http://x/a%20b"
    );
    let url = Resource::from_user_input("https://social.example/@alice").unwrap();
    assert_eq!(url.host().unwrap().to_string(), "social.example");
    let mailto = Resource::from_user_input("mailto:alice@example.com").unwrap();
    assert!(mailto.host().is_none());
    assert!(matches!(
        mailto.webfinger_url(&[]),
        Err(ResourceError::NoHostToAsk { .. })
    ));
}

#[test]
fn same_account_ignores_user_case() {
    let a: webfinger::AcctUri = "acct:Alice@example.com".parse().unwrap();
    let b: webfinger::AcctUri = "acct:alice@EXAMPLE.com".parse().unwrap();
    assert_ne!(a, b);
    assert!(a.same_account(&b));
}

#[test]
fn serde_as_strings() {
    let resource: Resource = serde_json::from_str("\"acct:alice@example.com\"").unwrap();
    assert_eq!(
        serde_json::to_string(&resource).unwrap(),
        "\"acct:alice@example.com\""
    );
    assert!(serde_json::from_str::<Resource>("\"nope\"").is_err());
}

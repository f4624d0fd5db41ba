// The federation inbox end to end on arbitrary requests, for the `inbox` fuzz target and the
// replay test in `federation/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// The input is a request in the framing of `request.rs`, POSTed to an `Inbox` of
// `https://local.example/` whose key cache already holds four remote actors (their keys are the
// RFC 9421 test keys in `fixtures/signatures/rfc9421/`), with an in-memory store and a handler
// for every activity type. Nothing is fetched: the fetch budget allows no request, so a key or
// an object that is not at hand is an error, never a connection.
//
// Directives (lines `@name: value` in the head):
//
// - `@sign: cavage alice` or `@sign: rfc9421 bob` signs the request as it is with that actor's
//   key (`alice`, `bob`, `carol`, `dave`), so that the fuzzer reaches the steps after the
//   signature; `@key-id:` names another key id than the actor's, `@cover:` lines the covered
//   components, `@signed-at:` the signing time in seconds from the time the inbox runs at;
// - `@block:` and `@allow:` set the domain policy, `@known:` an actor the store knows,
//   `@owner:` the local actor whose inbox it is.
//
// Invariants, checked here without the inbox's own code: it never panics; a refused request
// reaches no handler and records nothing; an activity handed to a handler was signed by a key of
// its actor (one of the four, and the key that signed it when the harness signed), its id, its
// actor's other ids and its key are on its actor's origin, a `Create`, `Update` or `Delete` is
// about objects of that origin, an `Undo` undoes its actor's own activity, an object passed on
// as trusted is from the actor's origin (never this server's, never a third server's), the actor
// and the object are on allowed domains, and the body is the bytes received.

include!("request.rs");

/// The time the inbox runs at (and requests are signed at, unless `@signed-at` says otherwise).
const NOW_SECS: u64 = 1_700_000_000;

/// This server.
const LOCAL: &str = "https://local.example/";

/// Runs the inbox on one input.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let _ = outcome(data);
}

/// Runs the inbox on one input and returns what it answered (`None` when the input is not a
/// request), after checking the invariants.
#[allow(dead_code)]
pub(crate) fn outcome(
    data: &[u8],
) -> Option<Result<federation::inbox::Accepted, federation::inbox::Rejection>> {
    let mut framed = framed(data)?;
    let setup = setup();
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW_SECS);

    // The harness signs, when asked to.
    let mut signer_key = None;
    let sign = framed.directive("sign").next().map(str::to_owned);
    if let Some(sign) = sign {
        let mut words = sign.split_whitespace();
        let standard = words
            .next()
            .and_then(|s| s.parse::<http_signatures::Standard>().ok());
        let actor = words
            .next()
            .and_then(|name| setup.actors.iter().find(|actor| actor.name == name));
        let (Some(standard), Some(actor)) = (standard, actor) else {
            return None;
        };
        let key_id = framed
            .directive("key-id")
            .next()
            .map_or_else(|| actor.key_id.clone(), str::to_owned);
        let mut signer =
            http_signatures::Signer::new(actor.private.clone(), key_id).with_standard(standard);
        let components: Vec<String> = framed.directive("cover").map(str::to_owned).collect();
        if !components.is_empty() {
            signer = signer.with_components(components);
        }
        let offset = framed
            .directive("signed-at")
            .next()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let signed_at = if offset < 0 {
            now.checked_sub(std::time::Duration::from_secs(offset.unsigned_abs()))
        } else {
            now.checked_add(std::time::Duration::from_secs(offset.unsigned_abs()))
        };
        let signed_at = signed_at?;
        signer.sign(&mut framed.request, signed_at).ok()?;
        signer_key = Some(actor.private.verifying_key());
    }

    let mut config = federation::inbox::InboxConfig::new(&url::Url::parse(LOCAL).expect("URL"))
        .with_fetch_budget(federation::fetch::FetchBudget::default().with_max_requests(0));
    let blocked: Vec<String> = framed.directive("block").map(str::to_owned).collect();
    let allowed: Vec<String> = framed.directive("allow").map(str::to_owned).collect();
    if !allowed.is_empty() {
        config = config.with_domains(federation::inbox::DomainPolicy::allow(allowed.clone()));
    } else if !blocked.is_empty() {
        config = config.with_domains(federation::inbox::DomainPolicy::block(blocked.clone()));
    }
    let store = federation::inbox::MemoryInboxStore::new();
    for actor in framed.directive("known") {
        store.add_actor(actor);
    }
    let keys = federation::keys::KeyCache::with_clock(
        setup.fetcher.clone(),
        federation::keys::KeyCacheConfig::default(),
        std::sync::Arc::new(federation_queue::ManualClock::new(now)),
    );
    for actor in &setup.actors {
        keys.insert_actor(actor.document.clone())
            .expect("the test actors have ids");
    }
    let seen = Seen::default();
    let mut dispatcher = federation::inbox::Dispatcher::new();
    for kind in activitypub_core::ActivityType::ALL {
        dispatcher = dispatcher.on(*kind, record);
    }
    let dispatcher = dispatcher.on_actor_gone(|seen: Seen, actor| async move {
        seen.gone.lock().expect("lock").push(actor);
        Ok(())
    });
    let inbox = federation::inbox::Inbox::new(
        config,
        keys,
        setup.fetcher.clone(),
        store.clone(),
        dispatcher,
        seen.clone(),
    );
    let owner = framed.directive("owner").next().map(str::to_owned);
    let (parts, body) = framed.request.into_parts();
    let body = bytes::Bytes::from(body);
    let request = http::Request::from_parts(parts, body.clone());
    let outcome = setup
        .runtime
        .block_on(inbox.receive_at(&request, owner, now));

    let handled = std::mem::take(&mut *seen.incoming.lock().expect("lock"));
    assert!(
        seen.gone.lock().expect("lock").is_empty(),
        "an actor was declared gone without its server saying so"
    );
    match &outcome {
        Err(rejection) => {
            assert!(
                handled.is_empty(),
                "refused ({rejection}) after a handler ran"
            );
            assert_eq!(
                store.processed_count(),
                0,
                "refused ({rejection}) but recorded"
            );
            assert!(!rejection.status().is_success());
        }
        Ok(federation::inbox::Accepted::Processed { id }) => {
            let [incoming] = handled.as_slice() else {
                panic!("processed, but {} handlers ran", handled.len());
            };
            assert_eq!(store.processed_count(), 1);
            assert_eq!(
                id.as_deref(),
                incoming.activity.props.id.as_ref().map(|id| id.as_str())
            );
            check_incoming(
                incoming,
                &body,
                signer_key.as_ref(),
                &blocked,
                &allowed,
                setup,
            );
        }
        Ok(other) => {
            assert!(handled.is_empty(), "{other:?}, but a handler ran");
            assert!(
                !matches!(other, federation::inbox::Accepted::ActorGone { .. }),
                "an actor is gone though nothing was fetched"
            );
        }
    }
    Some(outcome)
}

/// The origin rules, checked on what a handler was given.
fn check_incoming(
    incoming: &federation::inbox::Incoming,
    body: &[u8],
    signer_key: Option<&http_signatures::VerifyingKey>,
    blocked: &[String],
    allowed: &[String],
    setup: &Setup,
) {
    let activity = &incoming.activity;
    let actor = incoming.actor.as_str();
    assert_eq!(
        &incoming.body[..],
        body,
        "the handler got other bytes than were received"
    );
    assert_eq!(activity.actor_id().map(|id| id.as_str()), Some(actor));
    assert_eq!(
        incoming.key.owner.as_str(),
        actor,
        "the key's owner is not the actor"
    );
    let actor_origin = origin(actor).expect("an accepted actor has an origin");
    let known = setup
        .actors
        .iter()
        .find(|known| known.key_id == incoming.key.key_id.as_str())
        .expect("the key is one of the keys in the cache");
    assert_eq!(
        known.id, actor,
        "a key accepted for another actor than its owner"
    );
    assert_eq!(
        origin(incoming.key.key_id.as_str()).as_ref(),
        Some(&actor_origin)
    );
    if let Some(signer_key) = signer_key {
        assert_eq!(
            incoming.key.key.to_spki_der().ok(),
            signer_key.to_spki_der().ok(),
            "accepted with another key than the one that signed"
        );
    }
    if let Some(id) = &activity.props.id {
        assert_eq!(
            origin(id.as_str()).as_ref(),
            Some(&actor_origin),
            "activity id {id}"
        );
    }
    for other in activity.actor.iter().flatten() {
        if let Some(id) = activitypub_core::reference_id(other) {
            assert_eq!(
                origin(id.as_str()).as_ref(),
                Some(&actor_origin),
                "the activity also names the actor {id}, on another origin than {actor}"
            );
        }
    }
    assert!(
        domain_allowed(&actor_origin.1, blocked, allowed),
        "actor {actor} on a refused domain"
    );
    let objects = activity.object.iter().flatten();
    match activity.kind {
        activitypub_core::ActivityType::Create
        | activitypub_core::ActivityType::Update
        | activitypub_core::ActivityType::Delete => {
            for object in objects {
                if let Some(id) = activitypub_core::reference_id(object) {
                    assert_eq!(
                        origin(id.as_str()).as_ref(),
                        Some(&actor_origin),
                        "{} of {id} by {actor}",
                        activity.kind
                    );
                }
                if let Some(embedded) = object.as_object() {
                    for author in embedded.props().attributed_to.iter().flatten() {
                        if let Some(author) = activitypub_core::reference_id(author) {
                            assert_eq!(
                                origin(author.as_str()).as_ref(),
                                Some(&actor_origin),
                                "{} of an object attributed to {author} by {actor}",
                                activity.kind
                            );
                        }
                    }
                }
            }
        }
        activitypub_core::ActivityType::Undo => {
            if let Some(activitypub_core::AnyObject::Activity(undone)) = activity
                .object
                .iter()
                .flatten()
                .next()
                .and_then(|o| o.as_object())
            {
                assert_eq!(
                    undone.actor_id().map(|id| id.as_str()),
                    Some(actor),
                    "an Undo of someone else's activity"
                );
            }
        }
        _ => {}
    }
    match &incoming.object {
        federation::inbox::IncomingObject::Object(object) => {
            if let Some(id) = object.id() {
                // Nothing can be fetched, so a trusted object came embedded: from its own server.
                assert_eq!(
                    origin(id.as_str()).as_ref(),
                    Some(&actor_origin),
                    "an embedded object {id} from another server than {actor}'s was trusted"
                );
            }
        }
        federation::inbox::IncomingObject::Id(_) | federation::inbox::IncomingObject::None => {}
        _ => {}
    }
    if let Some(id) = incoming.object.id()
        && let Some((_, host, _)) = origin(id.as_str())
        && origin(id.as_str()) != origin(LOCAL)
    {
        assert!(
            domain_allowed(&host, blocked, allowed),
            "object {id} on a refused domain"
        );
    }
}

/// Whether `host` passes the domain policy (a rule covers subdomains).
fn domain_allowed(host: &str, blocked: &[String], allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let covers = |rule: &String| {
        let rule = rule.trim_end_matches('.').to_ascii_lowercase();
        host == rule || host.ends_with(&format!(".{rule}"))
    };
    if !allowed.is_empty() {
        allowed.iter().any(covers)
    } else {
        !blocked.iter().any(covers)
    }
}

/// The origin of a URL, computed here (scheme, lowercase host, port or the scheme's default)
/// rather than by the crates under test.
fn origin(iri: &str) -> Option<(String, String, Option<u16>)> {
    let url = url::Url::parse(iri).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some((url.scheme().to_owned(), host, url.port_or_known_default()))
}

/// What the handlers were given.
#[derive(Clone, Default)]
struct Seen {
    incoming: std::sync::Arc<std::sync::Mutex<Vec<federation::inbox::Incoming>>>,
    gone: std::sync::Arc<std::sync::Mutex<Vec<activitypub_core::Iri>>>,
}

async fn record(
    seen: Seen,
    incoming: federation::inbox::Incoming,
) -> Result<(), federation::inbox::HandlerError> {
    seen.incoming.lock().expect("lock").push(incoming);
    Ok(())
}

/// A remote actor in the key cache, with its private key.
struct TestActor {
    name: &'static str,
    id: String,
    key_id: String,
    private: http_signatures::SigningKey,
    document: activitypub_core::Actor,
}

/// What every input shares: the runtime, the fetcher, the actors.
struct Setup {
    runtime: tokio::runtime::Runtime,
    fetcher: federation::fetch::Fetcher,
    actors: Vec<TestActor>,
}

fn setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        let key = |pem: &str| http_signatures::SigningKey::from_pem(pem).expect("a test key");
        let ed25519 = key(include_str!(
            "../../fixtures/signatures/rfc9421/test-key-ed25519.priv.pem"
        ));
        // The RSA-PSS test key, signing `rsa-sha256` as Mastodon does (ring refuses the plain
        // RSA test key: its CRT components are inconsistent).
        let rsa = key(include_str!(
            "../../fixtures/signatures/rfc9421/test-key-rsa-pss.priv.pem"
        ))
        .with_algorithm(http_signatures::Algorithm::RsaV1_5Sha256)
        .expect("an RSA key signs rsa-sha256");
        let p256 = key(include_str!(
            "../../fixtures/signatures/rfc9421/test-key-ecc-p256.priv.pem"
        ));
        let actors = vec![
            test_actor(
                "alice",
                "https://remote.example/users/alice",
                "#main-key",
                ed25519.clone(),
                false,
            ),
            test_actor(
                "bob",
                "https://other.example/users/bob",
                "#main-key",
                rsa,
                false,
            ),
            test_actor(
                "carol",
                "https://remote.example/users/carol",
                "#main-key",
                p256,
                false,
            ),
            // Alice's key material again, published by an actor of a third server as a FEP-521a
            // Multikey.
            test_actor(
                "dave",
                "https://third.example/users/dave",
                "#ed25519-key",
                ed25519,
                true,
            ),
        ];
        Setup {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            fetcher: federation::fetch::Fetcher::new(federation::fetch::FetchConfig::default())
                .expect("a fetcher"),
            actors,
        }
    })
}

fn test_actor(
    name: &'static str,
    id: &str,
    fragment: &str,
    private: http_signatures::SigningKey,
    multikey: bool,
) -> TestActor {
    let key_id = format!("{id}{fragment}");
    let public = private.verifying_key();
    let mut document = serde_json::json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "inbox": format!("{id}/inbox"),
    });
    if multikey {
        document["assertionMethod"] = serde_json::json!([{
            "id": key_id,
            "type": "Multikey",
            "controller": id,
            "publicKeyMultibase": public.to_multikey().expect("a Multikey"),
        }]);
    } else {
        document["publicKey"] = serde_json::json!({
            "id": key_id,
            "owner": id,
            "publicKeyPem": public.to_spki_pem().expect("a PEM"),
        });
    }
    let activitypub_core::AnyObject::Actor(document) =
        activitypub_core::AnyObject::from_slice(&serde_json::to_vec(&document).expect("JSON"))
            .expect("a test actor parses")
    else {
        panic!("a test actor is an actor");
    };
    TestActor {
        name,
        id: id.to_owned(),
        key_id,
        private,
        document: *document,
    }
}

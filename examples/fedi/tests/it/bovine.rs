//! `fedi check` and `fedi inbox --follow` against the bovine peer (`scripts/bovine-peer`: a
//! small aiohttp app around the Python library bovine, which signs, verifies and fetches).

use crate::check::{LOOPBACK, check, outcomes};
use crate::{fedi_async, follow_answer, json_lines, peer};

/// The bovine peer; its actor URL and the URL of its deleted object.
async fn bovine() -> (peer::Peer, String, String) {
    let peer = peer::start("bovine-peer", ".venv/bin/python", &["peer.py"]).await;
    let actor = peer.ready["actor"].as_str().expect("an actor").to_owned();
    let deleted = peer.ready["deleted"]
        .as_str()
        .expect("a deleted object")
        .to_owned();
    (peer, actor, deleted)
}

/// The matrix column of bovine in `docs/conformance.md`; each difference from the events
/// instance is explained there.
#[tokio::test(flavor = "multi_thread")]
async fn check_bovine_peer() {
    let (_peer, actor, deleted) = bovine().await;
    let (report, status) = check(&[&actor, "--deleted", &deleted]).await;
    let got: Vec<String> = outcomes(&report)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    let expected = [
        // The peer serves its documents to anyone.
        "authorized-fetch.refuses-unsigned: skip",
        "authorized-fetch.accepts-signed: skip",
        // bovine 0.5.19 builds RFC 9421 signature bases from `@method`, `@path`,
        // `@authority` and headers only: a signature covering `@target-uri` never verifies.
        "inbox.rfc9421: fail",
    ];
    assert_eq!(got, expected, "{report:#}");
    assert_eq!(
        status, 1,
        "the exit status counts the failed checks: {report:#}"
    );
}

/// `fedi inbox --follow` follows the bovine actor, which answers with an Accept signed by
/// bovine (draft-cavage), which fedi verifies.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_follows_bovine_peer() {
    let (_peer, actor, _) = bovine().await;
    let mut args = vec![
        "inbox",
        "--exit-after-follow",
        "--first",
        "cavage",
        "--wait",
        "30",
        "--follow",
        &actor,
    ];
    args.extend(LOOPBACK);
    let output = fedi_async(&args).await;
    let lines = json_lines(&output);
    let answer = follow_answer(&lines);
    assert_eq!(answer["event"], "follow-accepted", "{lines:#?}");
    assert!(output.status.success(), "{lines:#?}");
}

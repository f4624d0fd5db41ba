//! `fedi check TARGET`: a catalogue of conformance checks run against a server, each with a
//! stable id, a one-line statement and, when it fails, the evidence. Output as text, JSON or
//! TAP; the exit status is the number of failed checks (at most 100).
//!
//! The groups, one module each: [`webfinger`], [`nodeinfo`], [`actor`] (the actor document and
//! its collections), [`authorized_fetch`], [`inbox`] (what the inbox refuses and accepts, with
//! `fedi`'s own ephemeral actor as the sender) and [`tombstone`]. The checks that need the server
//! to reach `fedi` back (to fetch its actor's key, to deliver an Accept) say so in the catalogue,
//! and are skipped with the reason when it cannot.

mod actor;
mod authorized_fetch;
mod context;
mod inbox;
mod nodeinfo;
mod report;
mod tombstone;
mod webfinger;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use url::Url;

use crate::net::{Network, runtime};

pub(crate) use context::Ctx;
pub(crate) use report::{Format, Report};

/// Arguments of `fedi check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server: a handle (`user@host`), an actor URL, or a base URL (`https://host/`; the
    /// actor checked is then NodeInfo's instance actor, when it names one).
    #[arg(required_unless_present = "list")]
    target: Option<String>,
    /// Print the catalogue of checks and exit.
    #[arg(long)]
    list: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Run only the checks whose id starts with this (repeatable): `inbox.`, `webfinger.cors`.
    #[arg(long)]
    only: Vec<String>,
    /// The URL of an object the server deleted, for `tombstone.gone`.
    #[arg(long)]
    deleted: Option<Url>,
    /// The server says it requires signed fetches (authorized fetch); without this, it is
    /// assumed when an unsigned GET of the actor is refused.
    #[arg(long)]
    authorized_fetch: bool,
    /// Where `fedi`'s ephemeral actor listens (the checks of the inbox need the server to
    /// reach it).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The public base URL of the ephemeral actor, when a tunnel or a reverse proxy forwards
    /// to --listen (needed to check a server that is not on this machine).
    #[arg(long)]
    public_url: Option<Url>,
    /// How long to wait for what the server sends back (the Accept of a Follow), in seconds.
    #[arg(long, default_value_t = 20)]
    wait: u64,
    #[command(flatten)]
    network: Network,
}

/// One check of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Check {
    /// Its stable id, `group.name`.
    pub(crate) id: &'static str,
    /// What it states, in one line.
    pub(crate) statement: &'static str,
    /// Whether the server must reach `fedi`'s ephemeral actor for it.
    pub(crate) reaches_back: bool,
}

const fn check(id: &'static str, statement: &'static str, reaches_back: bool) -> Check {
    Check {
        id,
        statement,
        reaches_back,
    }
}

/// Every check, in the order they run.
pub(crate) const CATALOGUE: &[Check] = &[
    check(
        "webfinger.acct",
        "WebFinger answers the acct: resource with a JRD (200, JSON)",
        false,
    ),
    check(
        "webfinger.content-type",
        "the JRD is served as application/jrd+json (RFC 7033 §10.2)",
        false,
    ),
    check(
        "webfinger.cors",
        "WebFinger answers carry Access-Control-Allow-Origin: * (RFC 7033 §5)",
        false,
    ),
    check(
        "webfinger.subject",
        "the JRD's subject is the acct: URI asked for",
        false,
    ),
    check(
        "webfinger.self-link",
        "a self link of type application/activity+json (or ld+json with the ActivityStreams profile) names the actor",
        false,
    ),
    check(
        "webfinger.url-resource",
        "WebFinger answers the actor's URL as resource, with the same self link",
        false,
    ),
    check(
        "nodeinfo.discovery",
        "/.well-known/nodeinfo links to a NodeInfo document of a known schema version",
        false,
    ),
    check(
        "nodeinfo.schema",
        "the NodeInfo document is valid for the schema version it is linked as",
        false,
    ),
    check(
        "actor.activity-json",
        "the actor is served as application/activity+json to Accept: application/activity+json",
        false,
    ),
    check(
        "actor.ld-json",
        "the actor is served with an ActivityPub media type to Accept: application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        false,
    ),
    check(
        "actor.id-matches-url",
        "the actor's id is the URL it is served from",
        false,
    ),
    check(
        "actor.required",
        "the actor has an id, an actor type, an inbox and an outbox (ActivityPub §4.1)",
        false,
    ),
    check(
        "actor.key-owner",
        "the actor's publicKey names the actor as its owner, on the actor's origin",
        false,
    ),
    check(
        "actor.key-pem",
        "the actor's publicKeyPem parses as a public key",
        false,
    ),
    check(
        "actor.collections",
        "outbox, followers and following are collections, and a first page they name can be fetched",
        false,
    ),
    check(
        "authorized-fetch.refuses-unsigned",
        "in authorized-fetch mode, an unsigned GET of the actor's outbox is refused (401 or 403)",
        false,
    ),
    check(
        "authorized-fetch.accepts-signed",
        "in authorized-fetch mode, a GET of the actor signed by fedi's actor is answered",
        true,
    ),
    check(
        "inbox.refuses-unsigned",
        "the inbox refuses an unsigned POST (4xx)",
        false,
    ),
    check(
        "inbox.follow-accept",
        "the inbox accepts a Follow signed by fedi's actor, and a signed Accept comes back within --wait",
        true,
    ),
    check(
        "inbox.refuses-digest-mismatch",
        "the inbox refuses a signed POST whose body does not match its digest",
        true,
    ),
    check(
        "inbox.refuses-expired-date",
        "the inbox refuses a POST signed two hours ago",
        true,
    ),
    check(
        "inbox.refuses-foreign-key",
        "the inbox refuses an activity signed with the key of another actor than its actor",
        true,
    ),
    check(
        "inbox.cavage",
        "the inbox accepts a POST signed with draft-cavage-http-signatures-12 (RSA)",
        true,
    ),
    check(
        "inbox.rfc9421",
        "the inbox accepts a POST signed with RFC 9421 HTTP Message Signatures (RSA)",
        true,
    ),
    check(
        "inbox.ed25519",
        "the inbox accepts a POST signed with an Ed25519 key published as a Multikey in assertionMethod",
        true,
    ),
    check(
        "tombstone.gone",
        "a deleted object (--deleted) answers 410 Gone with a Tombstone",
        false,
    ),
];

/// Runs `fedi check`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        Report::print_catalogue(args.format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let target = args.target.clone().unwrap_or_default();
    let report = runtime()?.block_on(check_all(&args, &target))?;
    report.print(args.format, &target)?;
    let failed = u8::try_from(report.failed().min(100)).unwrap_or(100);
    Ok(ExitCode::from(failed))
}

async fn check_all(args: &Args, target: &str) -> anyhow::Result<Report> {
    let mut report = Report::new(args.only.clone());
    let mut ctx = Ctx::new(
        target,
        args.network.clone(),
        args.listen,
        args.public_url.clone(),
        Duration::from_secs(args.wait.max(1)),
        args.authorized_fetch,
    )
    .await?;
    // NodeInfo first: for a base URL, its instance actor is the actor checked. Then WebFinger,
    // which for a handle names the actor (for an actor URL, the actor's preferredUsername
    // makes the handle).
    nodeinfo::run(&mut ctx, &mut report).await;
    webfinger::run(&mut ctx, &mut report).await;
    actor::run(&mut ctx, &mut report).await;
    authorized_fetch::run(&mut ctx, &mut report).await;
    inbox::run(&mut ctx, &mut report).await;
    tombstone::run(&mut ctx, &mut report, args.deleted.as_ref()).await;
    ctx.stop().await;
    Ok(report)
}

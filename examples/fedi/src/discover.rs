//! `fedi webfinger` and `fedi nodeinfo`: discovery against live servers, printed as JSON.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use webfinger::Resource;
use webfinger::fetch::{Fetcher, HttpConfig};

/// Arguments of `fedi webfinger`.
#[derive(Debug, clap::Args)]
pub(crate) struct WebfingerArgs {
    /// What to resolve: `@user@host`, `user@host`, `acct:user@host` or an `https:` URL.
    resource: String,
    /// Only look the resource up and print the JRD; do not require an ActivityPub actor.
    #[arg(long)]
    lookup_only: bool,
    /// With --lookup-only: ask only for links with this relation (repeatable).
    #[arg(long = "rel", requires = "lookup_only")]
    rels: Vec<String>,
    #[command(flatten)]
    network: NetworkArgs,
}

/// Arguments of `fedi nodeinfo`.
#[derive(Debug, clap::Args)]
pub(crate) struct NodeinfoArgs {
    /// The server: `host` or `host:port`.
    host: String,
    #[command(flatten)]
    network: NetworkArgs,
}

#[derive(Debug, clap::Args)]
struct NetworkArgs {
    /// DANGEROUS, for testing against a local server: allow plain http (tried after https
    /// fails to connect) and loopback or private addresses. Off by default.
    #[arg(long)]
    danger_allow_http: bool,
    /// Time limit for each request, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

impl NetworkArgs {
    fn fetcher(&self) -> anyhow::Result<Fetcher> {
        let config = HttpConfig::default()
            .with_timeout(Duration::from_secs(self.timeout))
            .with_user_agent(concat!("fedi/", env!("CARGO_PKG_VERSION")))
            // The command-line switch covers both relaxations, so `fedi` can talk to a server
            // on the same machine; the library keeps them apart.
            .with_danger_allow_http(self.danger_allow_http)
            .with_danger_allow_private_addresses(self.danger_allow_http);
        Fetcher::new(config).context("cannot set up the HTTP client")
    }
}

/// Runs `fedi webfinger`.
pub(crate) fn run_webfinger(args: WebfingerArgs) -> anyhow::Result<ExitCode> {
    let resource = Resource::from_user_input(&args.resource)
        .with_context(|| format!("`{}` is not a WebFinger resource", args.resource))?;
    let client = webfinger::client::Client::new(args.network.fetcher()?);
    let output = runtime()?.block_on(async {
        if args.lookup_only {
            let rels: Vec<webfinger::Rel> = args.rels.iter().map(webfinger::Rel::new).collect();
            let jrd = client.lookup(&resource, &rels).await?;
            anyhow::Ok(json!({ "resource": resource, "jrd": jrd }))
        } else {
            let resolved = client.resolve(&resource).await?;
            anyhow::Ok(json!({
                "resource": resource,
                "subject": resolved.subject,
                "actor_id": resolved.actor_id.as_str(),
                "jrd": resolved.jrd,
            }))
        }
    })?;
    print_json(&output)
}

/// Runs `fedi nodeinfo`.
pub(crate) fn run_nodeinfo(args: NodeinfoArgs) -> anyhow::Result<ExitCode> {
    let host = webfinger::Host::parse(&args.host)
        .with_context(|| format!("`{}` is not a host", args.host))?;
    let client = nodeinfo::client::Client::new(args.network.fetcher()?);
    let report = runtime()?.block_on(client.fetch(&host))?;
    print_json(&json!({
        "host": host,
        "discovery_url": report.discovery.url.as_str(),
        "linked_version": report.linked_version,
        "nodeinfo_url": report.nodeinfo_url.as_str(),
        "instance_actor": report.instance_actor.as_ref().map(url::Url::as_str),
        "nodeinfo": report.nodeinfo,
    }))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<ExitCode> {
    // `writeln!` rather than `println!`, so that a closed pipe (`| head`) is an error, not a
    // panic.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string_pretty(value)?)
        .context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}

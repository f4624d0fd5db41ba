//! `fedi inbox`: an ephemeral actor (keys made at start, WebFinger, actor document, inbox)
//! served on a local port. Every request it receives is printed as one JSON line with its
//! verification result and, when that fails, the reason and the signing string. `--follow`
//! sends a Follow and shows the answer.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;
use webfinger::Resource;

use crate::actor::{ActorConfig, Ephemeral};
use crate::deliver::{Signing, StandardArg};
use crate::net::{Network, runtime};

/// Arguments of `fedi inbox`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to listen. The default takes a free port on loopback.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The public base URL of the ids (`https://abcd.tunnel.example/`), when a tunnel or a
    /// reverse proxy forwards to --listen. Default: `http://` + the listening address.
    #[arg(long)]
    public_url: Option<Url>,
    /// The actor's name (its `preferredUsername` and the last segment of its id).
    #[arg(long, default_value = "fedi")]
    name: String,
    /// Follow this actor (a handle or an actor URL) once serving, and show its answer.
    #[arg(long)]
    follow: Option<String>,
    /// With --follow: the signature standard tried first (the other follows on 400 or 401).
    #[arg(long, value_enum, default_value = "rfc9421")]
    first: StandardArg,
    /// With --follow: how long to wait for the Accept or Reject, in seconds.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// With --follow: stop once the answer came (or the wait ran out); exit 0 only for an
    /// Accept.
    #[arg(long, requires = "follow")]
    exit_after_follow: bool,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    #[command(flatten)]
    network: Network,
}

/// Runs `fedi inbox`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let (printer, mut lines) = mpsc::unbounded_channel::<Value>();
    let print = tokio::spawn(async move {
        while let Some(event) = lines.recv().await {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{event}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                break;
            }
        }
    });
    let ephemeral = Ephemeral::start(ActorConfig {
        listen: args.listen,
        public_url: args.public_url.clone(),
        name: args.name.clone(),
        network: args.network.clone(),
        printer: Some(printer.clone()),
    })
    .await?;
    let _ = printer.send(ephemeral.ready_event());
    if let Some(target) = &args.follow {
        let answer = follow(&ephemeral, &args, target).await;
        let accepted = crate::field(&answer, "event") == "follow-accepted";
        let _ = printer.send(answer);
        if args.exit_after_follow {
            let code = if accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
            ephemeral.stop().await;
            drop(printer);
            let _ = print.await;
            return Ok(code);
        }
    }
    let until = async {
        match args.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    until.await;
    ephemeral.stop().await;
    drop(printer);
    let _ = print.await;
    Ok(ExitCode::SUCCESS)
}

/// Follows `target` and waits for the answer; the event to print.
async fn follow(ephemeral: &Ephemeral, args: &Args, target: &str) -> Value {
    match try_follow(ephemeral, args, target).await {
        Ok(event) => event,
        Err(error) => json!({
            "event": "follow-failed",
            "target": target,
            "error": crate::net::explain(&error),
        }),
    }
}

async fn try_follow(ephemeral: &Ephemeral, args: &Args, target: &str) -> anyhow::Result<Value> {
    let actor = resolve_actor(&args.network, target).await?;
    let inbox = ephemeral.inbox_of(&actor).await?;
    let signing = Signing::DoubleKnock {
        base: ephemeral.main().rsa_signer(args.first.into()),
        first: args.first.into(),
    };
    let (id, delivery) = ephemeral.follow(&actor, &inbox, &signing).await?;
    if !delivery.answer.status.is_success() {
        return Ok(json!({
            "event": "follow-refused",
            "id": id.as_str(),
            "target": actor.as_str(),
            "delivery": delivery.to_json(),
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let id_text = id.as_str().to_owned();
    let answer = ephemeral
        .events()
        .wait_for(deadline, |e| {
            e["event"] == "received"
                && (e["type"] == "Accept" || e["type"] == "Reject")
                && e["object_id"] == id_text.as_str()
        })
        .await;
    Ok(match answer {
        Some(answer) if crate::field(&answer, "type") == "Accept" => json!({
            "event": "follow-accepted",
            "id": id.as_str(),
            "target": actor.as_str(),
            "accept": answer,
        }),
        Some(answer) => json!({
            "event": "follow-rejected",
            "id": id.as_str(),
            "target": actor.as_str(),
            "reject": answer,
        }),
        None => json!({
            "event": "follow-timeout",
            "id": id.as_str(),
            "target": actor.as_str(),
            "error": format!("no Accept or Reject within {} s (--wait)", args.wait),
        }),
    })
}

/// The actor URL of `target`: itself when it is a URL, else WebFinger's answer.
pub(crate) async fn resolve_actor(network: &Network, target: &str) -> anyhow::Result<Url> {
    let target = target.trim();
    if target.starts_with("https://") || target.starts_with("http://") {
        return Url::parse(target).with_context(|| format!("`{target}` is not a URL"));
    }
    let resource = Resource::from_user_input(target)
        .with_context(|| format!("`{target}` is neither a handle nor a URL"))?;
    let resolved = network
        .webfinger()?
        .resolve(&resource)
        .await
        .with_context(|| format!("WebFinger could not resolve {resource}"))?;
    Ok(resolved.actor_id)
}

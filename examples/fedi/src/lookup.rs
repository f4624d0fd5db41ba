//! `fedi lookup HANDLE|URL`: WebFinger for a handle, then the document through `federation`'s
//! guarded fetcher, printed as what the typed model understood (variant, lossless or not, the
//! degraded members) and as the raw JSON. `--traverse` walks a collection's pages.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use activitypub_core::{AnyObject, Limits, Reference, read_json};
use anyhow::Context as _;
use federation::fetch::{FetchBudget, Fetched, Fetcher};
use http_signatures::{Signer, SigningKey};
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;
use webfinger::Resource;

use crate::deliver::StandardArg;
use crate::field;
use crate::net::{Network, runtime};

/// Arguments of `fedi lookup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A handle (`@user@host`, `user@host`, `acct:user@host`) or the URL of a document.
    target: String,
    /// Sign every GET with this private key (PEM), for servers in authorized-fetch mode.
    #[arg(long, requires = "key_id")]
    sign_with: Option<PathBuf>,
    /// With --sign-with: the key id to put in the signatures (an actor's `publicKey.id`).
    #[arg(long, requires = "sign_with")]
    key_id: Option<String>,
    /// With --sign-with: the signature standard.
    #[arg(long, value_enum, default_value = "cavage")]
    standard: StandardArg,
    /// When the document is a collection, fetch its pages (`first`, then each `next`).
    #[arg(long)]
    traverse: bool,
    /// With --traverse: the most pages fetched.
    #[arg(long, default_value_t = 10)]
    max_pages: usize,
    /// The time limit of the whole lookup (pages included), in seconds.
    #[arg(long, default_value_t = 60)]
    max_time: u64,
    #[command(flatten)]
    network: Network,
}

/// Runs `fedi lookup`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let signer = match (&args.sign_with, &args.key_id) {
        (Some(path), Some(key_id)) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = SigningKey::from_pem(&pem)
                .with_context(|| format!("{} is not a private key", path.display()))?;
            Some(Signer::new(key, key_id.clone()).with_standard(args.standard.into()))
        }
        _ => None,
    };
    let fetcher = args.network.fetcher(signer)?;
    let report = runtime()?.block_on(lookup(&args, &fetcher))?;
    let id_matches = field(&report, "id_matches_url").as_bool().unwrap_or(true);
    crate::print_json(&report)?;
    if !id_matches {
        eprintln!(
            "fedi: the document's id {} is not the URL it was served from ({}): other servers \
             will not take it as that object",
            field(&report, "id"),
            field(&report, "final_url")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn lookup(args: &Args, fetcher: &Fetcher) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(args.max_time.max(1));
    let (url, webfinger) = resolve(args).await?;
    let pages = if args.traverse { args.max_pages } else { 0 };
    let mut budget = FetchBudget::default()
        .with_max_requests((pages + 1).saturating_mul(args.network.max_redirects + 1))
        .with_max_bytes(args.network.max_body_bytes.saturating_mul(pages + 1))
        .with_deadline(deadline);
    let fetched = fetcher.fetch(&url, &mut budget).await?;
    let mut report = describe(&fetched);
    if let Some(object) = report.as_object_mut() {
        object.insert("webfinger".into(), webfinger);
        if args.traverse {
            object.insert(
                "pages".into(),
                traverse(fetcher, &fetched, args.max_pages, &mut budget).await,
            );
        }
    }
    Ok(report)
}

/// The URL to fetch, and what WebFinger said when the target is a handle.
async fn resolve(args: &Args) -> anyhow::Result<(Url, Value)> {
    let target = args.target.trim();
    if target.starts_with("https://") || target.starts_with("http://") {
        let url = Url::parse(target).with_context(|| format!("`{target}` is not a URL"))?;
        return Ok((url, Value::Null));
    }
    let resource = Resource::from_user_input(target)
        .with_context(|| format!("`{target}` is neither a handle nor a URL"))?;
    let client = args.network.webfinger()?;
    let resolved = client
        .resolve(&resource)
        .await
        .with_context(|| format!("WebFinger could not resolve {resource}"))?;
    Ok((
        resolved.actor_id.clone(),
        json!({
            "resource": resource,
            "subject": resolved.subject,
            "actor_id": resolved.actor_id.as_str(),
            "jrd": resolved.jrd,
        }),
    ))
}

/// What the typed model understood of `fetched`, and its raw JSON.
pub(crate) fn describe(fetched: &Fetched) -> Value {
    let object = fetched.object();
    let raw = read_json(fetched.document.bytes(), &Limits::DEFAULT).unwrap_or(Value::Null);
    let id_matches_url = Url::parse(fetched.id.as_str())
        .map(|mut id| {
            id.set_fragment(None);
            id == fetched.url
        })
        .unwrap_or(false);
    json!({
        "url": fetched.requested.as_str(),
        "final_url": fetched.url.as_str(),
        "redirects": fetched.redirects,
        "content_type": fetched.content_type,
        "id": fetched.id.as_str(),
        "id_matches_url": id_matches_url,
        "understood": understood(object, &raw),
        "raw": raw,
    })
}

/// The variant, the type, whether serializing gives back `raw`, and the degraded members.
pub(crate) fn understood(object: &AnyObject, raw: &Value) -> Value {
    json!({
        "type": object.type_name(),
        "kind": object.variant_name(),
        "lossless": &object.to_value() == raw,
        "degraded": object.degraded(),
    })
}

/// Fetches the pages of a collection: `first`, then each `next`, at most `max_pages`, within
/// the budget's time. Returns `{"pages": [...], "stopped": why}`.
async fn traverse(
    fetcher: &Fetcher,
    fetched: &Fetched,
    max_pages: usize,
    budget: &mut FetchBudget,
) -> Value {
    let AnyObject::Collection(collection) = fetched.object() else {
        return json!({"pages": [], "stopped": "not a collection"});
    };
    let mut pages = Vec::new();
    let mut seen = vec![fetched.url.clone()];
    let mut link = collection.first.clone();
    let stopped = loop {
        let Some(next) = link.take() else {
            break "end".to_owned();
        };
        if pages.len() >= max_pages {
            break format!("--max-pages ({max_pages}) reached");
        }
        let page = match next {
            Reference::Object(AnyObject::Collection(page)) => {
                pages.push(json!({
                    "embedded": true,
                    "understood": understood(&AnyObject::Collection(page.clone()), &Value::Null),
                    "items": page.all_items().len(),
                }));
                link = page.next.clone();
                continue;
            }
            Reference::Object(other) => {
                break format!("the link is an embedded {}, not a page", other.type_name());
            }
            Reference::Id(id) => match Url::parse(id.as_str()) {
                Ok(url) => url,
                Err(_) => break format!("the link {id} is not a URL"),
            },
        };
        if seen.contains(&page) {
            break format!("the pages come back to {page}");
        }
        seen.push(page.clone());
        match fetcher.fetch(&page, budget).await {
            Ok(fetched) => {
                let mut described = describe(&fetched);
                if let AnyObject::Collection(page) = fetched.object() {
                    if let Some(object) = described.as_object_mut() {
                        object.insert("items".into(), json!(page.all_items().len()));
                    }
                    link = page.next.clone();
                }
                pages.push(described);
            }
            Err(error) => break format!("{:#}", anyhow::Error::from(error)),
        }
    };
    json!({"pages": pages, "stopped": stopped})
}

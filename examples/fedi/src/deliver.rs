//! `fedi deliver --key KEY --key-id URL --to INBOX FILE`: signs an activity and POSTs it to an
//! inbox, with one standard or double-knocking, and prints the answer as JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use http::HeaderMap;
use http_signatures::{DoubleKnock, KnockOutcome, PeerPreference, Signer, SigningKey, Standard};
use serde_json::{Value, json};
use url::Url;

use crate::net::{Network, runtime};
use crate::probe::{Answer, Probe};

/// The content type of the activities `fedi` sends.
pub(crate) const ACTIVITY_JSON: &str = "application/activity+json";

/// Arguments of `fedi deliver`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The private key to sign with: PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long)]
    key: PathBuf,
    /// The key id to put in the signature (the actor's `publicKey.id`, or the id of a Multikey
    /// in its `assertionMethod`).
    #[arg(long)]
    key_id: String,
    /// The inbox to POST to.
    #[arg(long)]
    to: Url,
    /// `cavage` (draft-cavage-12), `rfc9421`, or `double-knock`: the `--first` standard, then
    /// the other one when the inbox answers 400 or 401.
    #[arg(long, value_enum, default_value = "double-knock")]
    standard: Mode,
    /// With `--standard double-knock`: the standard tried first.
    #[arg(long, value_enum, default_value = "rfc9421")]
    first: StandardArg,
    /// The activity, a JSON file (sent byte for byte).
    file: PathBuf,
    #[command(flatten)]
    network: Network,
}

/// How to sign, as the command line says it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Cavage,
    Rfc9421,
    DoubleKnock,
}

/// A standard, as the command line says it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum StandardArg {
    /// draft-cavage-http-signatures-12.
    Cavage,
    /// RFC 9421.
    Rfc9421,
}

impl From<StandardArg> for Standard {
    fn from(value: StandardArg) -> Standard {
        match value {
            StandardArg::Cavage => Standard::Cavage,
            StandardArg::Rfc9421 => Standard::Rfc9421,
        }
    }
}

/// How a delivery is signed.
#[derive(Debug, Clone)]
pub(crate) enum Signing {
    /// With this signer only.
    One(Signer),
    /// Double-knocking from this signer, trying `first` first.
    DoubleKnock {
        /// The signer (its standard is replaced at each knock).
        base: Signer,
        /// The standard of the first knock.
        first: Standard,
    },
}

/// A refused knock.
#[derive(Debug, Clone)]
pub(crate) struct Knock {
    /// Its standard.
    pub(crate) standard: Standard,
    /// The inbox's answer.
    pub(crate) answer: Answer,
}

/// What a delivery got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The last answer.
    pub(crate) answer: Answer,
    /// The standard of the last attempt.
    pub(crate) standard: Standard,
    /// The signing string of the last attempt.
    pub(crate) signing_string: Option<String>,
    /// The refused attempts before it.
    pub(crate) knocks: Vec<Knock>,
}

impl Delivery {
    /// As JSON.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "to": self.answer.url.as_str(),
            "status": self.answer.status.as_u16(),
            "ok": self.answer.status.is_success(),
            "signed_with": self.standard.name(),
            "knocks": self.knocks.iter().map(|knock| json!({
                "standard": knock.standard.name(),
                "status": knock.answer.status.as_u16(),
                "body": knock.answer.body_excerpt(),
            })).collect::<Vec<_>>(),
            "headers": headers_json(&self.answer.headers),
            "body": String::from_utf8_lossy(&self.answer.body),
            "signing_string": self.signing_string,
        })
    }
}

/// Signs `body` and POSTs it to `inbox` as `signing` says.
pub(crate) async fn deliver(
    probe: &Probe,
    inbox: &Url,
    body: &[u8],
    signing: &Signing,
) -> anyhow::Result<Delivery> {
    match signing {
        Signing::One(signer) => {
            let (answer, signing_string) = probe
                .post(
                    inbox,
                    ACTIVITY_JSON,
                    body.to_vec(),
                    Some(signer),
                    SystemTime::now(),
                )
                .await?;
            Ok(Delivery {
                answer,
                standard: signer.standard,
                signing_string,
                knocks: Vec::new(),
            })
        }
        Signing::DoubleKnock { base, first } => {
            let mut knock = DoubleKnock::new(base.clone(), &PeerPreference::new(*first));
            let mut knocks = Vec::new();
            loop {
                let signer = knock.signer();
                let (answer, signing_string) = probe
                    .post(
                        inbox,
                        ACTIVITY_JSON,
                        body.to_vec(),
                        Some(&signer),
                        SystemTime::now(),
                    )
                    .await?;
                match knock.on_response(answer.status, &answer.headers) {
                    KnockOutcome::Retry { .. } => knocks.push(Knock {
                        standard: signer.standard,
                        answer,
                    }),
                    _ => {
                        return Ok(Delivery {
                            answer,
                            standard: signer.standard,
                            signing_string,
                            knocks,
                        });
                    }
                }
            }
        }
    }
}

/// Headers as a JSON object (values of repeated headers joined with `, `).
pub(crate) fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    Value::Object(map)
}

/// Runs `fedi deliver`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read {}", args.key.display()))?;
    let key = SigningKey::from_pem(&pem)
        .with_context(|| format!("{} is not a private key", args.key.display()))?;
    let body = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    serde_json::from_slice::<Value>(&body)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let base = Signer::new(key, args.key_id.clone());
    let signing = match args.standard {
        Mode::Cavage => Signing::One(base.with_standard(Standard::Cavage)),
        Mode::Rfc9421 => Signing::One(base.with_standard(Standard::Rfc9421)),
        Mode::DoubleKnock => Signing::DoubleKnock {
            base,
            first: args.first.into(),
        },
    };
    let probe = Probe::new(&args.network)?;
    let delivery = runtime()?.block_on(deliver(&probe, &args.to, &body, &signing))?;
    crate::print_json(&delivery.to_json())?;
    Ok(if delivery.answer.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

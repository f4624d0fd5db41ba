//! `fedi sign` and `fedi verify`: HTTP signatures on raw HTTP/1.1 request files.
//!
//! A raw request file is a request line, header lines, a blank line and the body, which runs
//! exactly to the end of the file. Lines end in CRLF or bare LF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier, VerifyingKey};
use serde::Serialize;

/// Arguments of `fedi sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// Private key: PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long)]
    key: PathBuf,
    /// The key id to publish in the signature (an actor's `publicKey.id`).
    #[arg(long)]
    key_id: String,
    /// Signature standard.
    #[arg(long, value_enum, default_value = "cavage")]
    standard: StandardArg,
    /// Signing time, RFC 3339 (default: now).
    #[arg(long)]
    now: Option<String>,
    /// Scheme of the target URI.
    #[arg(long, default_value = "https")]
    scheme: String,
    /// The raw HTTP/1.1 request to sign.
    request: PathBuf,
}

/// Arguments of `fedi verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Public key: a PEM file (SPKI or PKCS#1), a file holding a Multikey, a Multikey value
    /// (`z6Mk...`), or a JSON file mapping key ids to any of these. May be repeated; the
    /// signature's key id picks the key when several are given.
    #[arg(long, required = true)]
    key: Vec<String>,
    /// Verification time, RFC 3339 (default: now).
    #[arg(long)]
    now: Option<String>,
    /// `fediverse`: the network's rules (clock window, required coverage, digest on POST);
    /// `rfc`: only what the standards require.
    #[arg(long, value_enum, default_value = "fediverse")]
    policy: PolicyArg,
    /// Scheme of the target URI.
    #[arg(long, default_value = "https")]
    scheme: String,
    /// RFC 9421 label of the signature to verify (default: the first).
    #[arg(long)]
    label: Option<String>,
    /// The raw HTTP/1.1 request to verify.
    request: PathBuf,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum StandardArg {
    Cavage,
    Rfc9421,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PolicyArg {
    Fediverse,
    Rfc,
}

/// The one JSON object `fedi verify` prints.
#[derive(Debug, Default, Serialize)]
struct Report {
    ok: bool,
    standard: Option<Standard>,
    key_id: Option<String>,
    algorithm: Option<String>,
    covered: Vec<String>,
    /// `true` when the signature verified only with a draft-cavage `(request-target)` that
    /// leaves out the query string (a peer's bug the fediverse policy tolerates, as
    /// `Verified::matched_without_query` reports it); `signing_string` is then that string.
    matched_without_query: bool,
    error: Option<String>,
    signing_string: Option<String>,
}

pub(crate) fn run_sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let now = parse_now(args.now.as_deref())?;
    let pem = read_text(&args.key)?;
    let key =
        SigningKey::from_pem(&pem).with_context(|| format!("reading {}", args.key.display()))?;
    let raw = std::fs::read(&args.request)
        .with_context(|| format!("reading {}", args.request.display()))?;
    let parsed = RawRequest::parse(&raw)?;
    let mut request = parsed.to_request(Some(&args.scheme))?;
    let standard = match args.standard {
        StandardArg::Cavage => Standard::Cavage,
        StandardArg::Rfc9421 => Standard::Rfc9421,
    };
    Signer::new(key, args.key_id)
        .with_standard(standard)
        .sign(&mut request, now)
        .context("signing")?;
    let out = parsed.render(request.headers());
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let report = verify(&args).unwrap_or_else(|error| Report {
        error: Some(format!("{error:#}")),
        ..Report::default()
    });
    println!("{}", serde_json::to_string(&report)?);
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn verify(args: &VerifyArgs) -> anyhow::Result<Report> {
    let now = parse_now(args.now.as_deref())?;
    let keys = load_public_keys(&args.key)?;
    let raw = std::fs::read(&args.request)
        .with_context(|| format!("reading {}", args.request.display()))?;
    let request = RawRequest::parse(&raw)?.to_request(None)?;
    let policy = match args.policy {
        PolicyArg::Fediverse => Policy::fediverse(),
        PolicyArg::Rfc => Policy::rfc(),
    };
    let mut verifier = Verifier::new(policy).with_default_scheme(args.scheme.clone());
    if let Some(label) = &args.label {
        verifier = verifier.with_label(label.clone());
    }
    let unverified = match verifier.parse_request(&request, now) {
        Ok(unverified) => unverified,
        Err(error) => {
            return Ok(Report {
                standard: error.standard(),
                key_id: error.key_id().map(str::to_owned),
                error: Some(error.kind().to_string()),
                signing_string: error.signing_string().map(str::to_owned),
                ..Report::default()
            });
        }
    };
    let mut report = Report {
        standard: Some(unverified.standard()),
        key_id: Some(unverified.key_id().to_owned()),
        algorithm: unverified.declared_algorithm().map(str::to_owned),
        covered: unverified
            .covered()
            .iter()
            .map(ToString::to_string)
            .collect(),
        signing_string: Some(unverified.signing_string().into_owned()),
        ..Report::default()
    };
    let key = match &keys {
        Keys::One(key) => Some(key),
        Keys::ById(map) => map.get(unverified.key_id()),
    };
    let Some(key) = key else {
        report.error = Some(format!("no key given for key id {:?}", unverified.key_id()));
        return Ok(report);
    };
    match unverified.verify(key) {
        Ok(verified) => {
            report.ok = true;
            report.algorithm = Some(verified.algorithm.name().to_owned());
            report.matched_without_query = verified.matched_without_query;
            report.signing_string = Some(verified.signing_string);
        }
        Err(error) => report.error = Some(error.kind().to_string()),
    }
    Ok(report)
}

enum Keys {
    One(VerifyingKey),
    ById(BTreeMap<String, VerifyingKey>),
}

fn load_public_keys(specs: &[String]) -> anyhow::Result<Keys> {
    let mut by_id = BTreeMap::new();
    let mut anonymous = Vec::new();
    for spec in specs {
        let path = Path::new(spec);
        if !path.exists() && spec.starts_with('z') {
            anonymous.push(VerifyingKey::from_multikey(spec).context("reading the Multikey")?);
            continue;
        }
        let text = read_text(path)?;
        if text.trim_start().starts_with('{') {
            let map: BTreeMap<String, String> = serde_json::from_str(&text)
                .with_context(|| format!("{spec}: expected a JSON object of key id to key"))?;
            for (id, key) in map {
                let key = public_key(&key).with_context(|| format!("{spec}: key {id:?}"))?;
                by_id.insert(id, key);
            }
        } else {
            anonymous.push(public_key(&text).with_context(|| format!("reading {spec}"))?);
        }
    }
    match (anonymous.len(), by_id.is_empty()) {
        (1, true) => Ok(Keys::One(anonymous.remove(0))),
        (0, false) => Ok(Keys::ById(by_id)),
        _ => bail!("give either one key, or keys in a JSON map by key id"),
    }
}

fn public_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let trimmed = text.trim();
    if trimmed.starts_with('z') {
        return Ok(VerifyingKey::from_multikey(trimmed)?);
    }
    match VerifyingKey::from_pem(text) {
        Ok(key) => Ok(key),
        // A private key file works too: verify with its public half.
        Err(http_signatures::KeyError::UnsupportedPemLabel { .. }) => {
            Ok(SigningKey::from_pem(text)?.verifying_key())
        }
        Err(error) => Err(error.into()),
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn parse_now(now: Option<&str>) -> anyhow::Result<SystemTime> {
    match now {
        None => Ok(SystemTime::now()),
        Some(text) => {
            let time =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .with_context(|| format!("--now {text:?} is not an RFC 3339 date-time"))?;
            Ok(time.into())
        }
    }
}

/// A raw HTTP/1.1 request, kept as written so that it can be printed back with only the
/// signature headers added.
struct RawRequest {
    request_line: String,
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    line_end: &'static str,
}

impl RawRequest {
    fn parse(raw: &[u8]) -> anyhow::Result<Self> {
        let (head_end, body_start) =
            find_blank_line(raw).context("no blank line between the headers and the body")?;
        let head = raw.get(..head_end).unwrap_or_default();
        let body = raw.get(body_start..).unwrap_or_default().to_vec();
        let line_end = if head.windows(2).any(|w| w == b"\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let request_line = std::str::from_utf8(lines.next().unwrap_or_default())
            .context("the request line is not text")?
            .to_owned();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("malformed request line {request_line:?}");
        };
        if !version.starts_with("HTTP/1.") {
            bail!("not an HTTP/1.x request line: {request_line:?}");
        }
        let mut headers = Vec::new();
        for line in lines {
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                bail!("obsolete line folding is not supported");
            }
            let colon = line.iter().position(|&b| b == b':').with_context(|| {
                format!(
                    "header line without ':': {:?}",
                    String::from_utf8_lossy(line)
                )
            })?;
            let name = std::str::from_utf8(line.get(..colon).unwrap_or_default())
                .context("header name is not text")?
                .to_owned();
            let value = line.get(colon + 1..).unwrap_or_default();
            let value = value
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t'))
                .and_then(|start| value.get(start..))
                .unwrap_or_default();
            let end = value
                .iter()
                .rposition(|b| !matches!(b, b' ' | b'\t'))
                .map_or(0, |i| i + 1);
            headers.push((name, value.get(..end).unwrap_or_default().to_vec()));
        }
        Ok(Self {
            method: method.to_owned(),
            target: target.to_owned(),
            request_line,
            headers,
            body,
            line_end,
        })
    }

    /// The request as `http` sees it. With `scheme`, the URI is made absolute from the Host
    /// header (as a client holds it); without, it stays in origin form (as a server sees it).
    fn to_request(&self, scheme: Option<&str>) -> anyhow::Result<http::Request<Vec<u8>>> {
        let host = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned());
        let uri = match (scheme, host, self.target.starts_with('/')) {
            (Some(scheme), Some(host), true) => format!("{scheme}://{host}{}", self.target),
            _ => self.target.clone(),
        };
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(uri);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        builder
            .body(self.body.clone())
            .context("the request line or a header is not valid HTTP")
    }

    /// Prints the request back: the original lines, except headers whose values the signer
    /// changed, then the changed and added headers.
    fn render(&self, signed: &http::HeaderMap) -> Vec<u8> {
        let unchanged = |name: &str| {
            let original: Vec<&[u8]> = self
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice())
                .collect();
            let now: Vec<&[u8]> = signed
                .get_all(name)
                .iter()
                .map(http::HeaderValue::as_bytes)
                .collect();
            original == now
        };
        let mut out = Vec::with_capacity(self.body.len() + 1024);
        out.extend_from_slice(self.request_line.as_bytes());
        out.extend_from_slice(self.line_end.as_bytes());
        for (name, value) in &self.headers {
            if unchanged(name) {
                push_header(&mut out, name, value, self.line_end);
            }
        }
        for name in signed.keys() {
            if unchanged(name.as_str()) {
                continue;
            }
            for value in signed.get_all(name) {
                push_header(
                    &mut out,
                    &display_name(name.as_str()),
                    value.as_bytes(),
                    self.line_end,
                );
            }
        }
        out.extend_from_slice(self.line_end.as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8], line_end: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(line_end.as_bytes());
}

/// `content-digest` -> `Content-Digest`, for added headers.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The end of the header section (before the line break that ends the last header) and the
/// start of the body: the first empty line.
fn find_blank_line(raw: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    loop {
        let rest = raw.get(start..)?;
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..newline)?;
        if line.is_empty() || line == b"\r" {
            let head = raw.get(..start)?;
            let head = head.strip_suffix(b"\n").unwrap_or(head);
            let head = head.strip_suffix(b"\r").unwrap_or(head);
            return Some((head.len(), start + newline + 1));
        }
        start += newline + 1;
    }
}

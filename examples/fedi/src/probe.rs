//! Raw HTTP exchanges for the checks and deliveries: any method, any headers (signed or not,
//! right or deliberately wrong), every answer header kept, the body read within a cap.

use std::time::SystemTime;

use anyhow::{Context as _, bail};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_signatures::Signer;
use url::Url;
use webfinger::fetch::{CappedBody, check_ip_literal, read_body_capped};

use crate::net::Network;

/// A raw HTTP client within the guards of [`Network`].
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    client: reqwest::Client,
    network: Network,
}

/// An answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The URL that answered (after redirects, for [`Probe::get`]).
    pub(crate) url: Url,
    /// The status.
    pub(crate) status: StatusCode,
    /// Every header.
    pub(crate) headers: HeaderMap,
    /// The body, cut at the cap.
    pub(crate) body: Vec<u8>,
    /// Whether the body was longer than the cap.
    pub(crate) truncated: bool,
}

impl Answer {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first 300 characters of the body, for evidence.
    pub(crate) fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(300).collect();
        if text.chars().count() > 300 || self.truncated {
            excerpt.push('…');
        }
        excerpt
    }

    /// `STATUS, content type, body excerpt`, for evidence.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} answered {} (content type {:?}): {}",
            self.url,
            self.status,
            self.header("content-type").unwrap_or("none"),
            self.body_excerpt()
        )
    }
}

impl Probe {
    /// A client under `network`'s guards.
    pub(crate) fn new(network: &Network) -> anyhow::Result<Probe> {
        Ok(Probe {
            client: network.raw_client()?,
            network: network.clone(),
        })
    }

    /// Sends `request` as it is (no redirect followed).
    pub(crate) async fn send(&self, request: http::Request<Vec<u8>>) -> anyhow::Result<Answer> {
        let url = Url::parse(&request.uri().to_string()).context("the request URL")?;
        self.check_url(&url)?;
        let request = reqwest::Request::try_from(request).context("cannot send that request")?;
        let mut response = self
            .client
            .execute(request)
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let (body, truncated) =
            match read_body_capped(&mut response, self.network.max_body_bytes).await {
                Ok(CappedBody::Complete(body)) => (body, false),
                Ok(_) => (Vec::new(), true),
                Err(error) => {
                    return Err(error).with_context(|| format!("reading the answer of {url}"));
                }
            };
        Ok(Answer {
            url,
            status,
            headers,
            body,
            truncated,
        })
    }

    /// GETs `url` with `accept` (and a signature by `signer`, made afresh for each hop),
    /// following at most [`Network::max_redirects`] redirects, each checked like the first URL.
    pub(crate) async fn get(
        &self,
        url: &Url,
        accept: &str,
        signer: Option<&Signer>,
    ) -> anyhow::Result<Answer> {
        let mut url = url.clone();
        url.set_fragment(None);
        let mut redirects = 0;
        loop {
            let mut request = http::Request::builder()
                .method(Method::GET)
                .uri(url.as_str())
                .header(header::ACCEPT, accept)
                .body(Vec::new())
                .context("cannot make a request for that URL")?;
            if let Some(signer) = signer {
                signer
                    .sign(&mut request, SystemTime::now())
                    .context("cannot sign the request")?;
            }
            let answer = self.send(request).await?;
            if !answer.status.is_redirection() {
                return Ok(answer);
            }
            let Some(location) = answer.header("location") else {
                return Ok(answer);
            };
            if redirects >= self.network.max_redirects {
                bail!(
                    "{url} redirected more than {} times (--max-redirects)",
                    self.network.max_redirects
                );
            }
            redirects += 1;
            url = url
                .join(location)
                .with_context(|| format!("{url} redirected to {location:?}, not a URL"))?;
            url.set_fragment(None);
        }
    }

    /// POSTs `body` to `url` with `content_type`, signed by `signer` at `at` when given.
    pub(crate) async fn post(
        &self,
        url: &Url,
        content_type: &str,
        body: Vec<u8>,
        signer: Option<&Signer>,
        at: SystemTime,
    ) -> anyhow::Result<(Answer, Option<String>)> {
        let request = post_request(url, content_type, body, signer, at)?;
        let signing_string = request.1;
        Ok((self.send(request.0).await?, signing_string))
    }

    fn check_url(&self, url: &Url) -> anyhow::Result<()> {
        match url.scheme() {
            "https" => {}
            "http" if self.network.danger_allow_http => {}
            "http" => bail!("refused {url}: plain http needs --danger-allow-http"),
            other => bail!("refused {url}: the scheme {other:?} is not http(s)"),
        }
        if !self.network.danger_allow_private_addresses
            && let Err(refusal) = check_ip_literal(url)
        {
            bail!(
                "refused {url}: {} is not a public address (--danger-allow-private-addresses)",
                refusal.address
            );
        }
        Ok(())
    }
}

/// A POST of `body` to `url`, signed by `signer` at `at` when given; with the signing string.
pub(crate) fn post_request(
    url: &Url,
    content_type: &str,
    body: Vec<u8>,
    signer: Option<&Signer>,
    at: SystemTime,
) -> anyhow::Result<(http::Request<Vec<u8>>, Option<String>)> {
    let mut request = http::Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::CONTENT_TYPE, HeaderValue::from_str(content_type)?)
        .header(header::ACCEPT, "application/activity+json, */*;q=0.1")
        .body(body)
        .context("cannot make a request for that URL")?;
    let signing_string = match signer {
        Some(signer) => Some(
            signer
                .sign(&mut request, at)
                .context("cannot sign the request")?
                .signing_string,
        ),
        None => None,
    };
    Ok((request, signing_string))
}

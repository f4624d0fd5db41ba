//! Reading the instance as a stranger does: unsigned, as ActivityPub or as a browser. (The
//! other server the tests deliver from is `test_peer::Peer`.)

use serde_json::Value;

/// An anonymous client for the instance's pages and documents.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GETs `url` as ActivityPub, unsigned; gives the status and the JSON (`Null` when none).
pub(crate) async fn get_json(url: &str) -> anyhow::Result<(u16, Value)> {
    let response = browser()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// GETs `url` as a browser (or a calendar app) does, with a bearer token when given; gives the
/// status and the body.
pub(crate) async fn get_page(url: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut request = browser().get(url).header("accept", "text/html");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

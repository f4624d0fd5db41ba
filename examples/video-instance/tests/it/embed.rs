//! Embedding: the embed page other sites frame, and oEmbed, announced by the watch page.

use serde_json::Value;

use crate::support::{admin_of, api_upload, loopback_instance, sample};

#[tokio::test]
async fn a_public_video_is_embeddable_through_oembed_and_its_embed_page() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("ines")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "ines_channel",
        "Harbour <lights>",
        "h.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let uuid = answer["video"]["uuid"].as_str().unwrap();
    let watch = answer["video"]["url"].as_str().unwrap().to_owned();
    let base = running.base_url.as_str();

    // The watch page announces its oEmbed answer.
    let page = http
        .get(&watch)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(watch.as_bytes()).collect();
    assert!(
        page.contains(r#"type="application/json+oembed""#)
            && page.contains(&format!("services/oembed?url={encoded}&amp;format=json")),
        "{page}"
    );

    let oembed = |query: String| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("{base}services/oembed?{query}"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    let (status, answer) = oembed(format!("url={encoded}&format=json")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], "video");
    assert_eq!(answer["version"], "1.0");
    assert_eq!(answer["title"], "Harbour <lights>");
    assert_eq!(answer["provider_name"], "tube");
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(560), Some(315))
    );
    let iframe = answer["html"].as_str().unwrap();
    assert!(
        iframe.starts_with("<iframe ")
            && iframe.contains(&format!(r#"src="{base}videos/embed/{uuid}""#))
            && iframe.contains("Harbour &lt;lights&gt;"),
        "{iframe}"
    );
    assert!(answer["thumbnail_url"].as_str().unwrap().starts_with(base));
    // Within the consumer's bounds, the player's shape kept.
    let (_, smaller) = oembed(format!("url={encoded}&maxwidth=320&maxheight=400")).await;
    assert_eq!(
        (smaller["width"].as_u64(), smaller["height"].as_u64()),
        (Some(320), Some(180))
    );
    // PeerTube's short address works too.
    let short: String =
        url::form_urlencoded::byte_serialize(format!("{base}w/{uuid}").as_bytes()).collect();
    assert_eq!(oembed(format!("url={short}")).await.0, 200);
    // XML is not offered (oEmbed's 501); no url, another site or no video: refused.
    assert_eq!(oembed(format!("url={encoded}&format=xml")).await.0, 501);
    assert_eq!(oembed(String::new()).await.0, 400);
    let elsewhere: String = url::form_urlencoded::byte_serialize(
        format!("https://elsewhere.example/videos/watch/{uuid}").as_bytes(),
    )
    .collect();
    assert_eq!(oembed(format!("url={elsewhere}")).await.0, 404);
    let unknown: String =
        url::form_urlencoded::byte_serialize(format!("{base}videos/watch/nope").as_bytes())
            .collect();
    assert_eq!(oembed(format!("url={unknown}")).await.0, 404);

    // The embed page: the player alone, framable by any site, playing the file from here.
    let response = http
        .get(format!("{base}videos/embed/{uuid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors *"), "{policy}");
    assert!(policy.contains("media-src 'self'"), "{policy}");
    assert!(
        !response.headers().contains_key("x-frame-options"),
        "{:?}",
        response.headers()
    );
    let embed = response.text().await.unwrap();
    assert!(
        embed.contains("<video") && embed.contains(r#"src="/static/"#),
        "{embed}"
    );
    assert!(!embed.contains("Sign in"), "no site navigation in an embed");
    // Other pages still refuse framing.
    let watched = http
        .get(&watch)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(watched.headers()["x-frame-options"], "DENY");

    // Deleted, it is embeddable no more.
    let deleted = http
        .delete(format!("{base}api/v1/videos/{uuid}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    assert_eq!(
        http.get(format!("{base}videos/embed/{uuid}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(oembed(format!("url={encoded}")).await.0, 404);
    running.stop().await.unwrap();
}

//! Real payloads from Mastodon, Mobilizon and PeerTube, delivered to an instance's inbox signed
//! by test keys (the fixtures' actors, with test keys put in the key cache): each is handled or
//! ignored, never refused or failed.

use std::path::PathBuf;

use activitypub_core::AnyObject;
use events_instance::demo::loopback_instance;
use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};

use test_peer::{fixtures_dir as fixtures, signed_post};

/// The fixture files of `software` that are activities, with their JSON.
fn activities(software: &str) -> Vec<(String, Value)> {
    let dir = fixtures().join(software);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fixtures are missing: {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(AnyObject::Activity(_)) = AnyObject::from_slice(&bytes) else {
            continue;
        };
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        out.push((
            format!("{software}/{}", path.file_name().unwrap().to_string_lossy()),
            value,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_payloads_are_handled_or_ignored() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let key = SigningKey::generate_rsa(2048)?;
    let public_pem = key.verifying_key().to_spki_pem()?;
    let inbox = format!("{}inbox", alpha.base_url);
    let mut delivered = 0;
    for software in ["mastodon", "mobilizon", "peertube"] {
        for (name, activity) in activities(software) {
            let actor = match &activity["actor"] {
                Value::String(s) => s.clone(),
                Value::Object(o) => o["id"].as_str().unwrap().to_owned(),
                other => panic!("{name}: actor {other}"),
            };
            let key_id = format!("{actor}#main-key");
            // The actor as its server would publish it, with our test key.
            let document = json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": actor,
                "type": "Person",
                "preferredUsername": "someone",
                "inbox": format!("{actor}/inbox"),
                "publicKey": {"id": key_id, "owner": actor, "publicKeyPem": public_pem},
            });
            let AnyObject::Actor(typed) = AnyObject::from_value(document)? else {
                panic!("not an actor");
            };
            alpha.instance.keys().insert_actor(*typed)?;
            let signer = Signer::new(key.clone(), key_id).with_standard(Standard::Cavage);
            let (status, body) =
                signed_post(&http, &inbox, serde_json::to_vec(&activity)?, &signer).await?;
            assert!(
                (200..300).contains(&status),
                "{name} was answered {status}: {body}"
            );
            delivered += 1;
        }
    }
    assert!(delivered >= 25, "only {delivered} fixtures are activities");
    // Nobody here follows these actors, and they address nobody here: their content was
    // dropped unasked, Mobilizon's event too (`unsolicited.rs` shows it kept once followed).
    let create: Value = serde_json::from_slice(&std::fs::read(
        fixtures().join("mobilizon/create-event.json"),
    )?)?;
    let event = create["object"]["id"].as_str().unwrap();
    assert_eq!(alpha.instance.stored_object(event).await?, None);
    assert!(alpha.instance.processed_activities().await? > 0);
    alpha.stop().await?;
    Ok(())
}

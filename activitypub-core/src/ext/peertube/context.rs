//! The `@context` PeerTube writes on each kind of document.
//!
//! PeerTube does not compute a context from the members used (as [`crate::context::context_for`]
//! does): it writes a fixed one per kind of document (`contextStore` in
//! `server/core/helpers/activity-pub-utils.ts`): ActivityStreams, security v1, the
//! `RsaSignature2017` term, then its own term map with the `pt` and `sc` prefixes. Writing the
//! same one keeps our documents byte-for-byte comparable with PeerTube's, and lets PeerTube check
//! the linked-data signatures it expects on them.

use serde_json::{Value, json};

use crate::values::Context;

/// PeerTube's namespace (`pt:`).
pub const PEERTUBE_NS: &str = "https://joinpeertube.org/ns#";
/// schema.org as PeerTube declares it (`sc:`).
pub const SCHEMA_NS: &str = "http://schema.org/";

/// The context of a `Video` and of the activities that carry one (`Create`, `Update`), as
/// PeerTube 7 writes it (the tilvids.com video of the fixtures has exactly this one).
pub fn video() -> Context {
    with_terms(json!({
        "pt": PEERTUBE_NS,
        "sc": SCHEMA_NS,
        "Hashtag": "as:Hashtag",
        "category": "sc:category",
        "licence": "sc:license",
        "subtitleLanguage": "sc:subtitleLanguage",
        "automaticallyGenerated": "pt:automaticallyGenerated",
        "sensitive": "as:sensitive",
        "language": "sc:inLanguage",
        "identifier": "sc:identifier",
        "isLiveBroadcast": "sc:isLiveBroadcast",
        "liveSaveReplay": {"@type": "sc:Boolean", "@id": "pt:liveSaveReplay"},
        "permanentLive": {"@type": "sc:Boolean", "@id": "pt:permanentLive"},
        "latencyMode": {"@type": "sc:Number", "@id": "pt:latencyMode"},
        "Infohash": "pt:Infohash",
        "tileWidth": {"@type": "sc:Number", "@id": "pt:tileWidth"},
        "tileHeight": {"@type": "sc:Number", "@id": "pt:tileHeight"},
        "tileDuration": {"@type": "sc:Number", "@id": "pt:tileDuration"},
        "aspectRatio": {"@type": "sc:Float", "@id": "pt:aspectRatio"},
        "uuid": {"@type": "sc:identifier", "@id": "pt:uuid"},
        "originallyPublishedAt": "sc:datePublished",
        "uploadDate": "sc:uploadDate",
        "hasParts": "sc:hasParts",
        "views": {"@type": "sc:Number", "@id": "pt:views"},
        "state": {"@type": "sc:Number", "@id": "pt:state"},
        "size": {"@type": "sc:Number", "@id": "pt:size"},
        "fps": {"@type": "sc:Number", "@id": "pt:fps"},
        "commentsEnabled": {"@type": "sc:Boolean", "@id": "pt:commentsEnabled"},
        "canReply": "pt:canReply",
        "commentsPolicy": {"@type": "sc:Number", "@id": "pt:commentsPolicy"},
        "downloadEnabled": {"@type": "sc:Boolean", "@id": "pt:downloadEnabled"},
        "waitTranscoding": {"@type": "sc:Boolean", "@id": "pt:waitTranscoding"},
        "support": {"@type": "sc:Text", "@id": "pt:support"},
        "likes": {"@id": "as:likes", "@type": "@id"},
        "dislikes": {"@id": "as:dislikes", "@type": "@id"},
        "shares": {"@id": "as:shares", "@type": "@id"},
        "comments": {"@id": "as:comments", "@type": "@id"},
        "PropertyValue": "sc:PropertyValue",
        "value": "sc:value"
    }))
}

/// The context of a `CacheFile` and of its `Create`/`Update`/`Undo`.
pub fn cache_file() -> Context {
    with_terms(json!({
        "pt": PEERTUBE_NS,
        "sc": SCHEMA_NS,
        "expires": "sc:expires",
        "CacheFile": "pt:CacheFile",
        "size": {"@type": "sc:Number", "@id": "pt:size"},
        "fps": {"@type": "sc:Number", "@id": "pt:fps"}
    }))
}

/// The context of a `Playlist`, of its pages and of its `PlaylistElement`s.
pub fn playlist() -> Context {
    with_terms(json!({
        "pt": PEERTUBE_NS,
        "sc": SCHEMA_NS,
        "Playlist": "pt:Playlist",
        "PlaylistElement": "pt:PlaylistElement",
        "position": {"@type": "sc:Number", "@id": "pt:position"},
        "videoChannelPosition": {"@type": "sc:Number", "@id": "pt:position"},
        "startTimestamp": {"@type": "sc:Number", "@id": "pt:startTimestamp"},
        "stopTimestamp": {"@type": "sc:Number", "@id": "pt:stopTimestamp"},
        "uuid": {"@type": "sc:identifier", "@id": "pt:uuid"}
    }))
}

/// The context of a `View` activity (its viewer-count form uses the `InteractionCounter` terms).
pub fn view() -> Context {
    with_terms(json!({
        "pt": PEERTUBE_NS,
        "sc": SCHEMA_NS,
        "WatchAction": "sc:WatchAction",
        "InteractionCounter": "sc:InteractionCounter",
        "interactionType": "sc:interactionType",
        "userInteractionCount": "sc:userInteractionCount"
    }))
}

/// The context PeerTube writes on documents with no terms of their own (`Announce`, `Delete`,
/// `Follow`, `Accept`, `Like`...).
pub fn base() -> Context {
    Context(Value::Array(base_items()))
}

fn base_items() -> Vec<Value> {
    vec![
        json!(crate::context::ACTIVITYSTREAMS),
        json!(crate::context::SECURITY_V1),
        json!({"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"}),
    ]
}

fn with_terms(terms: Value) -> Context {
    let mut items = base_items();
    items.push(terms);
    Context(Value::Array(items))
}

//! Building a correct `@context` for what an object uses.
//!
//! Compacted ActivityPub JSON is read by term name, but JSON-LD processors (and servers that
//! verify Linked Data signatures) only understand the terms the context defines. An object that
//! uses `sensitive`, `featured`, `joinMode` or `PropertyValue` must define them; an object that
//! uses none of them should not carry a wall of definitions. [`context_for`] looks at every member
//! name and type name an object uses, and returns the ActivityStreams context plus exactly the
//! remote contexts and term definitions needed, with the prefixes and `@type` coercions that
//! Mastodon, Mobilizon, PeerTube and Misskey publish.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::AnyObject;
use crate::values::Context;

/// The ActivityStreams 2.0 context.
pub const ACTIVITYSTREAMS: &str = "https://www.w3.org/ns/activitystreams";
/// The security v1 context (`publicKey`, `publicKeyPem`, `owner`).
pub const SECURITY_V1: &str = "https://w3id.org/security/v1";
/// The Multikey context (FEP-521a `assertionMethod`).
pub const MULTIKEY_V1: &str = "https://w3id.org/security/multikey/v1";
/// The Data Integrity context (FEP-8b32 `proof`).
pub const DATA_INTEGRITY_V1: &str = "https://w3id.org/security/data-integrity/v1";

/// The `@context` for `object`: ActivityStreams, then the remote contexts and term definitions
/// for the extension members and types it uses (including embedded objects and members kept in
/// `props.extra` whose names are known).
pub fn context_for(object: &AnyObject) -> Context {
    context_for_value(&object.to_value())
}

/// Like [`context_for`], for a JSON document. An existing `@context` member is ignored.
pub fn context_for_value(document: &Value) -> Context {
    let mut used = Used::default();
    used.walk(document);

    let mut remote = vec![Value::from(ACTIVITYSTREAMS)];
    if used.terms.contains("publicKey") || used.terms.contains("publicKeyPem") {
        remote.push(Value::from(SECURITY_V1));
    }
    if used.terms.contains("proof") {
        remote.push(Value::from(DATA_INTEGRITY_V1));
    }
    if used.terms.contains("assertionMethod") || used.terms.contains("publicKeyMultibase") {
        remote.push(Value::from(MULTIKEY_V1));
    }

    let mut inline = serde_json::Map::new();
    let mut prefixes = BTreeSet::new();
    for name in used.terms.iter().chain(used.types.iter()) {
        if let Some((definition, prefix)) = term(name) {
            inline.insert(name.clone(), definition);
            if let Some(prefix) = prefix {
                prefixes.insert(prefix);
            }
        }
    }
    // Compact IRIs used directly as member names (`ical:status`) need their prefix too.
    for name in &used.terms {
        if let Some((prefix, _)) = name.split_once(':')
            && let Some(p) = PREFIXES.iter().find(|(p, _)| *p == prefix)
        {
            prefixes.insert(p.0);
        }
    }
    for prefix in prefixes {
        if let Some((name, iri)) = PREFIXES.iter().find(|(p, _)| *p == prefix) {
            inline.insert((*name).to_owned(), Value::from(*iri));
        }
    }

    if inline.is_empty() && remote.len() == 1 {
        return Context(Value::from(ACTIVITYSTREAMS));
    }
    if !inline.is_empty() {
        remote.push(Value::Object(inline));
    }
    Context(Value::Array(remote))
}

/// The prefixes the term definitions use.
const PREFIXES: &[(&str, &str)] = &[
    ("toot", "http://joinmastodon.org/ns#"),
    ("schema", "http://schema.org#"),
    ("mz", "https://joinmobilizon.org/ns#"),
    ("pt", "https://joinpeertube.org/ns#"),
    ("ical", "http://www.w3.org/2002/12/cal/ical#"),
    ("misskey", "https://misskey-hub.net/ns#"),
    ("litepub", "http://litepub.social/ns#"),
    ("fedibird", "http://fedibird.com/ns#"),
];

/// The definition of an extension term, and the prefix it needs.
fn term(name: &str) -> Option<(Value, Option<&'static str>)> {
    let id = |iri: &str| json!({"@id": iri, "@type": "@id"});
    let typed = |iri: &str, ty: &str| json!({"@id": iri, "@type": ty});
    Some(match name {
        // ActivityStreams terms that the AS2 context itself leaves out.
        "manuallyApprovesFollowers" => (json!("as:manuallyApprovesFollowers"), None),
        "sensitive" => (json!("as:sensitive"), None),
        "movedTo" => (id("as:movedTo"), None),
        "alsoKnownAs" => (id("as:alsoKnownAs"), None),
        "Hashtag" => (json!("as:Hashtag"), None),
        "quoteUrl" => (json!("as:quoteUrl"), None),
        "dislikes" => (id("as:dislikes"), None),
        // Mastodon.
        "Emoji" => (json!("toot:Emoji"), Some("toot")),
        "featured" => (id("toot:featured"), Some("toot")),
        "featuredTags" => (id("toot:featuredTags"), Some("toot")),
        "discoverable" => (json!("toot:discoverable"), Some("toot")),
        "indexable" => (json!("toot:indexable"), Some("toot")),
        "suspended" => (json!("toot:suspended"), Some("toot")),
        "memorial" => (json!("toot:memorial"), Some("toot")),
        "blurhash" => (json!("toot:blurhash"), Some("toot")),
        "focalPoint" => (
            json!({"@container": "@list", "@id": "toot:focalPoint"}),
            Some("toot"),
        ),
        "votersCount" => (json!("toot:votersCount"), Some("toot")),
        "attributionDomains" => (id("toot:attributionDomains"), Some("toot")),
        // schema.org.
        "PropertyValue" => (json!("schema:PropertyValue"), Some("schema")),
        "value" => (json!("schema:value"), Some("schema")),
        "uuid" => (json!("schema:identifier"), Some("schema")),
        "identifier" => (json!("schema:identifier"), Some("schema")),
        "category" => (json!("schema:category"), Some("schema")),
        "inLanguage" => (json!("schema:inLanguage"), Some("schema")),
        "language" => (json!("schema:inLanguage"), Some("schema")),
        "licence" => (json!("schema:license"), Some("schema")),
        "subtitleLanguage" => (json!("schema:subtitleLanguage"), Some("schema")),
        "isLiveBroadcast" => (json!("schema:isLiveBroadcast"), Some("schema")),
        "originallyPublishedAt" => (json!("schema:datePublished"), Some("schema")),
        "maximumAttendeeCapacity" => (json!("schema:maximumAttendeeCapacity"), Some("schema")),
        "remainingAttendeeCapacity" => (json!("schema:remainingAttendeeCapacity"), Some("schema")),
        "address" => (
            typed("schema:address", "schema:PostalAddress"),
            Some("schema"),
        ),
        "PostalAddress" => (json!("schema:PostalAddress"), Some("schema")),
        "streetAddress" => (json!("schema:streetAddress"), Some("schema")),
        "postalCode" => (json!("schema:postalCode"), Some("schema")),
        "addressLocality" => (json!("schema:addressLocality"), Some("schema")),
        "addressRegion" => (json!("schema:addressRegion"), Some("schema")),
        "addressCountry" => (json!("schema:addressCountry"), Some("schema")),
        // Mobilizon.
        "timezone" => (typed("mz:timezone", "schema:Text"), Some("mz")),
        "joinMode" => (typed("mz:joinMode", "mz:joinModeType"), Some("mz")),
        "participantCount" => (typed("mz:participantCount", "schema:Integer"), Some("mz")),
        "anonymousParticipationEnabled" => (
            typed("mz:anonymousParticipationEnabled", "schema:Boolean"),
            Some("mz"),
        ),
        "isOnline" => (typed("mz:isOnline", "schema:Boolean"), Some("mz")),
        "draft" => (typed("mz:draft", "schema:Boolean"), Some("mz")),
        "contacts" => (id("mz:contacts"), Some("mz")),
        "repliesModerationOption" => (
            typed(
                "mz:repliesModerationOption",
                "mz:repliesModerationOptionType",
            ),
            Some("mz"),
        ),
        "participationMessage" => (typed("mz:participationMessage", "schema:Text"), Some("mz")),
        "openness" => (id("mz:openness"), Some("mz")),
        "members" => (id("mz:members"), Some("mz")),
        "memberCount" => (typed("mz:memberCount", "schema:Integer"), Some("mz")),
        // PeerTube.
        "views" => (typed("pt:views", "schema:Number"), Some("pt")),
        "state" => (typed("pt:state", "schema:Number"), Some("pt")),
        "commentsEnabled" => (typed("pt:commentsEnabled", "schema:Boolean"), Some("pt")),
        "commentsPolicy" => (typed("pt:commentsPolicy", "schema:Number"), Some("pt")),
        "downloadEnabled" => (typed("pt:downloadEnabled", "schema:Boolean"), Some("pt")),
        "waitTranscoding" => (typed("pt:waitTranscoding", "schema:Boolean"), Some("pt")),
        "support" => (typed("pt:support", "schema:Text"), Some("pt")),
        "liveSaveReplay" => (typed("pt:liveSaveReplay", "schema:Boolean"), Some("pt")),
        "permanentLive" => (typed("pt:permanentLive", "schema:Boolean"), Some("pt")),
        "latencyMode" => (typed("pt:latencyMode", "schema:Number"), Some("pt")),
        "aspectRatio" => (typed("pt:aspectRatio", "schema:Float"), Some("pt")),
        "fps" => (typed("pt:fps", "schema:Number"), Some("pt")),
        "size" => (typed("pt:size", "schema:Number"), Some("pt")),
        "Infohash" => (json!("pt:Infohash"), Some("pt")),
        "CacheFile" => (json!("pt:CacheFile"), Some("pt")),
        "Playlist" => (json!("pt:Playlist"), Some("pt")),
        // Misskey.
        "_misskey_quote" => (json!("misskey:_misskey_quote"), Some("misskey")),
        "_misskey_content" => (json!("misskey:_misskey_content"), Some("misskey")),
        "_misskey_reaction" => (json!("misskey:_misskey_reaction"), Some("misskey")),
        "isCat" => (json!("misskey:isCat"), Some("misskey")),
        // LitePub.
        "ChatMessage" => (json!("litepub:ChatMessage"), Some("litepub")),
        "EmojiReact" => (json!("litepub:EmojiReact"), Some("litepub")),
        // Quote posts: FEP-044f and Fedibird.
        "quote" => (id("https://w3id.org/fep/044f#quote"), None),
        "quoteUri" => (json!("fedibird:quoteUri"), Some("fedibird")),
        _ => return None,
    })
}

#[derive(Default)]
struct Used {
    terms: BTreeSet<String>,
    types: BTreeSet<String>,
}

impl Used {
    fn walk(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.walk(v)),
            Value::Object(map) => {
                for (key, member) in map {
                    match key.as_str() {
                        "@context" => {}
                        "type" => self.types.extend(type_names(member)),
                        _ => {
                            if !self.terms.contains(key) {
                                self.terms.insert(key.clone());
                            }
                            self.walk(member);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn type_names(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The remote contexts and term definitions `context` declares, for comparisons in tests and
/// diagnostics: remote context IRIs, then term names.
pub fn declared_terms(context: &Context) -> (Vec<String>, BTreeMap<String, Value>) {
    let mut remote = Vec::new();
    let mut terms = BTreeMap::new();
    let items = match &context.0 {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for item in items {
        match item {
            Value::String(s) => remote.push(s),
            Value::Object(map) => terms.extend(map),
            _ => {}
        }
    }
    (remote, terms)
}

//! Verify and create `RsaSignature2017` [Linked Data signatures] exactly as Mastodon does.
//!
//! Relays forward posts under their own HTTP signature, so a server receiving a relayed post
//! establishes who wrote it from the Linked Data signature its author's server embedded
//! (Mastodon signs every public activity), or refetches it from the author.
//!
//! The signature (Mastodon's `app/lib/activitypub/linked_data_signature.rb`, after the 2017
//! Linked Data Signatures draft):
//!
//! 1. the *options*: the `signature` object without `type`, `id` and `signatureValue`, with
//!    `@context` set to `https://w3id.org/identity/v1` (so `creator` and `created`, and any
//!    other member such as `nonce`);
//! 2. the *document*: the activity without its `signature` member;
//! 3. each canonicalized with URDNA2015 into N-Quads, hashed with SHA-256 and written in lower
//!    case hex; the two hex strings concatenated (options first) are signed with
//!    RSASSA-PKCS1-v1_5 and SHA-256; the signature is base64 in `signatureValue`.
//!
//! ```
//! use ld_signatures::{SigningKey, sign, verify};
//! use serde_json::json;
//!
//! let key = SigningKey::generate_rsa(2048)?;
//! let note = json!({
//!     "@context": "https://www.w3.org/ns/activitystreams",
//!     "id": "https://alice.example/notes/1/activity",
//!     "type": "Create",
//!     "actor": "https://alice.example/users/alice",
//!     "object": {"id": "https://alice.example/notes/1", "type": "Note", "content": "Hi"}
//! });
//! let created = time::OffsetDateTime::from_unix_timestamp(1_714_564_800)?;
//! let signed = sign(&note, "https://alice.example/users/alice#main-key", created, &key)?;
//! // A relay forwards `signed`; the receiver reads who signed it, finds that key, verifies.
//! let verified = verify(&signed, &key.verifying_key())?;
//! assert_eq!(verified.creator, "https://alice.example/users/alice#main-key");
//! assert_eq!(verified.id, "https://alice.example/notes/1/activity");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate does no I/O and reads no clock: keys and the signing time are arguments.
//! **Contexts are never fetched**: ActivityStreams, security v1 and identity v1 are bundled
//! ([`BUNDLED_CONTEXTS`]); inline contexts are fine; any other context URL fails with
//! [`Error::RemoteContext`]. Work is bounded by [`Limits`].
//!
//! A signature covers RDF statements, not JSON, so [`verify`] also checks that the statements
//! are shaped like the JSON a reader sees: no named graph, and the top-level `id` is the one
//! root every other node hangs from (see [`Structure`]; Mastodon accepts rearranged documents
//! there, CVE-2026-46349). Still, act on what the *signer* said: check that
//! [`Verified::creator`] is a key of the activity's actor, and see docs/ld-signatures.md for
//! what the signature does not cover.
//!
//! [Linked Data signatures]: https://w3c-ccg.github.io/ld-signatures/

#![warn(missing_docs)]

mod contexts;
mod error;
mod limits;
mod rdf;
mod reading;

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http_signatures::digest::DigestAlgorithm;
use http_signatures::{Algorithm, KeyKind, SignatureError};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use contexts::{
    ACTIVITYSTREAMS, BUNDLED_CONTEXTS, BundledContext, IDENTITY_V1, SECURITY_V1, bundled_context,
};
pub use error::{Error, Structure};
pub use http_signatures::{SigningKey, VerifyingKey};
pub use limits::Limits;

/// The only signature type this crate reads and writes.
pub const RSA_SIGNATURE_2017: &str = "RsaSignature2017";

/// The members of a document's `signature` that name the signer, read before verifying so
/// that the caller can find the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LdSignature {
    /// The key that made the signature (`creator`), such as
    /// `https://mastodon.example/users/alice#main-key`.
    pub creator: String,
    /// When it was made (`created`), as written, if present.
    pub created: Option<String>,
}

impl LdSignature {
    /// Reads the `signature` of `document`: it must be an `RsaSignature2017` with a
    /// `creator` and a `signatureValue`.
    pub fn read(document: &Value) -> Result<Self, Error> {
        let signature = signature_object(document)?;
        let creator = string_member(signature, "creator")?.to_owned();
        string_member(signature, "signatureValue")?;
        Ok(Self {
            creator,
            created: signature
                .get("created")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// `created` as a time, when it is an RFC 3339 timestamp.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        parse_time(self.created.as_deref())
    }
}

/// A document whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The key that made the signature (`creator`). Check that it belongs to the activity's
    /// actor (and that the actor owns the objects it acts on) before acting.
    pub creator: String,
    /// The document's top-level `id`: the root of the signed statements.
    pub id: String,
    /// When it was signed (`created`), as written, if present.
    pub created: Option<String>,
    /// The document as a program reading member names may take it: without the members whose
    /// value the signature does not cover as their name says (names no context defines, terms
    /// defined as `null`, bundled terms an inline context redefines). Read this, not the
    /// document received; forward the bytes received (the signature covers those).
    pub document: Value,
    /// JSON pointers (RFC 6901) of the members removed from [`document`](Self::document).
    pub dropped: Vec<String>,
}

impl Verified {
    /// `created` as a time, when it is an RFC 3339 timestamp (to refuse old replays by the
    /// caller's own rule; Mastodon applies none).
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        parse_time(self.created.as_deref())
    }
}

/// Verifies the `RsaSignature2017` of `document` with `key`, within the default [`Limits`].
///
/// `key` is the public key of the signature's `creator` (read it first with
/// [`LdSignature::read`]). Returns who signed and which node is the signed root.
pub fn verify(document: &Value, key: &VerifyingKey) -> Result<Verified, Error> {
    verify_with_limits(document, key, &Limits::default())
}

/// [`verify`] within `limits`.
pub fn verify_with_limits(
    document: &Value,
    key: &VerifyingKey,
    limits: &Limits,
) -> Result<Verified, Error> {
    rdf::check_depth(document, limits.max_depth)?;
    let read = LdSignature::read(document)?;
    let signature = signature_object(document)?;
    let value = string_member(signature, "signatureValue")?;
    let signature_bytes = decode_base64(value)?;
    require_rsa(key.kind())?;
    let (message, id) = signing_input(document, signature, limits)?;
    match key.verify_bytes(
        Algorithm::RsaV1_5Sha256,
        message.as_bytes(),
        &signature_bytes,
    ) {
        Ok(()) => {
            let (readable, dropped) = reading::readable(document);
            Ok(Verified {
                creator: read.creator,
                id,
                created: read.created,
                document: readable,
                dropped,
            })
        }
        Err(SignatureError::AlgorithmMismatch { key, .. }) => Err(Error::KeyNotRsa { kind: key }),
        Err(_) => {
            let (options_hash, document_hash) = message.split_at(message.len() / 2);
            Err(Error::Mismatch {
                creator: read.creator,
                options_hash: options_hash.to_owned(),
                document_hash: document_hash.to_owned(),
            })
        }
    }
}

/// Signs `document` as Mastodon does, within the default [`Limits`]: returns it with a
/// `signature` (`RsaSignature2017`, `creator` = `key_id`, `created` = `created` in UTC to the
/// second) and with the security v1 context added to its `@context` when missing. An
/// existing `signature` is replaced.
pub fn sign(
    document: &Value,
    key_id: &str,
    created: OffsetDateTime,
    key: &SigningKey,
) -> Result<Value, Error> {
    sign_with_limits(document, key_id, created, key, &Limits::default())
}

/// [`sign`] within `limits`.
pub fn sign_with_limits(
    document: &Value,
    key_id: &str,
    created: OffsetDateTime,
    key: &SigningKey,
    limits: &Limits,
) -> Result<Value, Error> {
    require_rsa(key.kind())?;
    rdf::check_depth(document, limits.max_depth)?;
    let Value::Object(members) = document else {
        return Err(Error::NotAnObject);
    };
    let mut members = members.clone();
    members.remove("signature");
    // As Mastodon: the context becomes an array with security v1 appended, unless present.
    let context = match members.remove("@context") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
    };
    let mut context_with_security = context;
    let security = Value::String(SECURITY_V1.to_owned());
    if !context_with_security.contains(&security) {
        context_with_security.push(security);
    }
    let context = match <[Value; 1]>::try_from(context_with_security) {
        Ok([single]) => single,
        Err(items) => Value::Array(items),
    };
    members.insert("@context".to_owned(), context);
    // Mastodon writes `Time.now.utc.iso8601`: seconds, `Z`.
    let created = created
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(created)
        .format(&Rfc3339)
        .map_err(|e| Error::InvalidTerm {
            term: "created".to_owned(),
            reason: e.to_string(),
        })?;
    let mut options = Map::new();
    options.insert("type".to_owned(), RSA_SIGNATURE_2017.into());
    options.insert("creator".to_owned(), key_id.into());
    options.insert("created".to_owned(), created.into());
    let unsigned = Value::Object(members.clone());
    let (message, _) = signing_input(&unsigned, &options, limits)?;
    let signature = key
        .sign_bytes(Algorithm::RsaV1_5Sha256, message.as_bytes())
        .map_err(Error::Sign)?;
    options.insert(
        "signatureValue".to_owned(),
        base64::engine::general_purpose::STANDARD
            .encode(signature)
            .into(),
    );
    members.insert("signature".to_owned(), Value::Object(options));
    Ok(Value::Object(members))
}

/// Canonical N-Quads (URDNA2015) of a JSON-LD document with the bundled contexts, within
/// `limits`: what the signature hashes, for diagnostics.
pub fn canonicalize(document: &Value, limits: &Limits) -> Result<String, Error> {
    rdf::canonical_nquads(document, limits, None)
}

/// The string that is signed: hex SHA-256 of the canonical options, then of the canonical
/// document (with its structure checked). Also returns the document's root id.
fn signing_input(
    document: &Value,
    signature: &Map<String, Value>,
    limits: &Limits,
) -> Result<(String, String), Error> {
    let Value::Object(members) = document else {
        return Err(Error::NotAnObject);
    };
    let mut options = signature.clone();
    for member in ["type", "id", "signatureValue"] {
        options.remove(member);
    }
    options.insert("@context".to_owned(), IDENTITY_V1.into());
    let options_nquads = rdf::canonical_nquads(&Value::Object(options), limits, None)?;

    let mut unsigned = members.clone();
    unsigned.remove("signature");
    let id = unsigned
        .get("id")
        .or_else(|| unsigned.get("@id"))
        .and_then(Value::as_str)
        .ok_or(Structure::NoId)?
        .to_owned();
    let document_nquads = rdf::canonical_nquads(&Value::Object(unsigned), limits, Some(&id))?;

    let mut message = sha256_hex(&options_nquads);
    message.push_str(&sha256_hex(&document_nquads));
    Ok((message, id))
}

fn signature_object(document: &Value) -> Result<&Map<String, Value>, Error> {
    let Value::Object(members) = document else {
        return Err(Error::NotAnObject);
    };
    let signature = match members.get("signature") {
        None => return Err(Error::NoSignature),
        Some(Value::Object(signature)) => signature,
        Some(_) => return Err(Error::SignatureNotObject),
    };
    match signature.get("type") {
        Some(Value::String(t)) if t == RSA_SIGNATURE_2017 => Ok(signature),
        other => Err(Error::UnsupportedType {
            found: other.map_or_else(|| "null".to_owned(), Value::to_string),
        }),
    }
}

fn string_member<'a>(
    signature: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, Error> {
    signature
        .get(member)
        .and_then(Value::as_str)
        .ok_or(Error::MissingMember { member })
}

/// Standard base64, padded or not, line breaks and spaces ignored (some signers wrap it).
fn decode_base64(value: &str) -> Result<Vec<u8>, Error> {
    const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT_PADDING
        .decode(compact)
        .map_err(|e| Error::BadBase64 {
            reason: e.to_string(),
        })
}

fn require_rsa(kind: KeyKind) -> Result<(), Error> {
    match kind {
        KeyKind::Rsa { .. } => Ok(()),
        kind => Err(Error::KeyNotRsa { kind }),
    }
}

fn sha256_hex(text: &str) -> String {
    let digest = DigestAlgorithm::Sha256.digest(text.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn parse_time(text: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text?, &Rfc3339).ok()
}

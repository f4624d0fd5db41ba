//! Actors ([`Actor`]) and their keys and endpoints.

use crate::AnyObject;
use crate::json::data_object;
use crate::kind::{ActorType, Openness};
use crate::object::object_type;
use crate::values::{Iri, OneOrMany, Reference};

object_type! {
    /// An actor of one of the [`ActorType`]s: a Person, a Group, a Service...
    pub struct Actor: ActorType {
        /// `inbox`: where to deliver activities for this actor.
        "inbox" => inbox: Iri,
        /// `outbox`: the activities this actor published.
        "outbox" => outbox: Iri,
        /// `followers`: the collection of followers.
        "followers" => followers: Iri,
        /// `following`: the collection of followed actors.
        "following" => following: Iri,
        /// `liked`: the collection of liked objects.
        "liked" => liked: Iri,
        /// `streams`: other collections.
        "streams" => streams: OneOrMany<Iri>,
        /// `preferredUsername`: the handle (the part before the `@host`).
        "preferredUsername" => preferred_username: String,
        /// `endpoints`: the shared inbox and other endpoints.
        "endpoints" => endpoints: Endpoints,
        /// `publicKey` (security v1): the key(s) that sign this actor's requests.
        "publicKey" => public_key: OneOrMany<PublicKey>,
        /// `assertionMethod` (FEP-521a): the actor's Multikey keys.
        "assertionMethod" => assertion_method: OneOrMany<Multikey>,
        /// `manuallyApprovesFollowers` (`as:manuallyApprovesFollowers`): a locked account.
        "manuallyApprovesFollowers" => manually_approves_followers: bool,
        /// `discoverable` (`toot:discoverable`): may be listed in directories.
        "discoverable" => discoverable: bool,
        /// `indexable` (`toot:indexable`): posts may be indexed for search.
        "indexable" => indexable: bool,
        /// `movedTo` (`as:movedTo`): the account this one moved to.
        "movedTo" => moved_to: Iri,
        /// `alsoKnownAs` (`as:alsoKnownAs`): other accounts of the same person (move sources).
        "alsoKnownAs" => also_known_as: OneOrMany<Iri>,
        /// `featured` (`toot:featured`): the collection of pinned posts.
        "featured" => featured: Reference<AnyObject>,
        /// `featuredTags` (`toot:featuredTags`): the collection of featured hashtags.
        "featuredTags" => featured_tags: Reference<AnyObject>,
        /// `attributionDomains` (`toot:attributionDomains`): sites allowed to credit this author.
        "attributionDomains" => attribution_domains: OneOrMany<String>,
        /// `members` (Mobilizon groups): the collection of members.
        "members" => members: Iri,
        /// `openness` (Mobilizon groups): who may join.
        "openness" => openness: Openness,
    }
}

impl Actor {
    /// The shared inbox, when the actor's server has one.
    pub fn shared_inbox(&self) -> Option<&Iri> {
        self.endpoints.as_ref()?.shared_inbox.as_ref()
    }

    /// The public key with id `key_id`, from `publicKey`.
    pub fn public_key_by_id(&self, key_id: &str) -> Option<&PublicKey> {
        self.public_key.as_ref()?.iter().find(|k| k.id == key_id)
    }

    /// The Multikey with id `key_id`, from `assertionMethod`.
    pub fn multikey_by_id(&self, key_id: &str) -> Option<&Multikey> {
        self.assertion_method
            .as_ref()?
            .iter()
            .find(|k| k.id == key_id)
    }

    /// The `user@host` handle (WebFinger's `acct:` form, without a leading `@`), from
    /// `preferredUsername` and the id's host, with its port when the id names one that is not
    /// the scheme's default (`user@127.0.0.1:8443`): without the port the handle would name
    /// another server.
    pub fn handle(&self) -> Option<String> {
        let origin = self.props.id.as_ref()?.origin()?;
        Some(format!(
            "{}@{}",
            self.preferred_username.as_ref()?,
            origin.authority()
        ))
    }
}

data_object! {
    /// A public key in the security v1 vocabulary (`publicKey` of an actor).
    pub struct PublicKey {
        required {
            /// `id`: the key id, as signatures name it (`https://host/users/a#main-key`).
            "id" => id: Iri,
            /// `owner`: the actor the key belongs to.
            "owner" => owner: Iri,
            /// `publicKeyPem`: the key, PEM-encoded (SPKI or PKCS#1).
            "publicKeyPem" => public_key_pem: String,
        }
        optional {}
    }
}

impl PublicKey {
    /// A key `id` of `owner`.
    pub fn new(id: Iri, owner: Iri, public_key_pem: impl Into<String>) -> Self {
        Self {
            id,
            owner,
            public_key_pem: public_key_pem.into(),
            extra: Default::default(),
        }
    }
}

data_object! {
    /// A [FEP-521a] `Multikey`: a key in `assertionMethod`, multibase-encoded (`z6Mk...` for
    /// Ed25519).
    ///
    /// [FEP-521a]: https://codeberg.org/fediverse/fep/src/branch/main/fep/521a/fep-521a.md
    pub struct Multikey {
        required {
            /// `id`: the key id.
            "id" => id: Iri,
            /// `controller`: the actor the key belongs to.
            "controller" => controller: Iri,
            /// `publicKeyMultibase`: the key.
            "publicKeyMultibase" => public_key_multibase: String,
        }
        optional {}
    }
}

impl Multikey {
    /// A Multikey `id` controlled by `controller`.
    pub fn new(id: Iri, controller: Iri, public_key_multibase: impl Into<String>) -> Self {
        let mut extra = serde_json::Map::new();
        extra.insert("type".to_owned(), serde_json::Value::from("Multikey"));
        Self {
            id,
            controller,
            public_key_multibase: public_key_multibase.into(),
            extra,
        }
    }
}

data_object! {
    /// The `endpoints` of an actor.
    #[derive(Default)]
    pub struct Endpoints {
        required {}
        optional {
            /// `sharedInbox`: one inbox for every actor of the server.
            "sharedInbox" => shared_inbox: Iri,
            /// `proxyUrl`.
            "proxyUrl" => proxy_url: Iri,
            /// `oauthAuthorizationEndpoint`.
            "oauthAuthorizationEndpoint" => oauth_authorization_endpoint: Iri,
            /// `oauthTokenEndpoint`.
            "oauthTokenEndpoint" => oauth_token_endpoint: Iri,
            /// `provideClientKey`.
            "provideClientKey" => provide_client_key: Iri,
            /// `signClientKey`.
            "signClientKey" => sign_client_key: Iri,
            /// `uploadMedia` (C2S media uploads).
            "uploadMedia" => upload_media: Iri,
        }
    }
}

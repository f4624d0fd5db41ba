//! Signing keys, looked up at send time: the queue stores only a key reference.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;

use http_signatures::Signer;

/// Finds the signer for a key reference (typically the sending actor's id or key id) when a
/// delivery is attempted, so that key material never sits in the queue and a rotated key is
/// used from the next attempt on.
pub trait KeyProvider: Send + Sync + 'static {
    /// The signer for `key_ref`.
    fn signer(
        &self,
        key_ref: &str,
    ) -> impl Future<Output = Result<Arc<Signer>, KeyLookupError>> + Send;
}

/// A key could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLookupError {
    /// There is no such key (the actor was deleted, say): the delivery is given up.
    #[error("no signing key for {key_ref:?}")]
    NotFound {
        /// The reference.
        key_ref: String,
    },
    /// The key exists but cannot be had now (its store is down): the delivery is retried.
    #[error("the signing key for {key_ref:?} is unavailable: {source}")]
    Unavailable {
        /// The reference.
        key_ref: String,
        /// Why.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// A fixed set of signers, by key reference.
#[derive(Clone, Debug, Default)]
pub struct StaticKeys {
    signers: HashMap<String, Arc<Signer>>,
}

impl StaticKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the signer for `key_ref`.
    pub fn with_signer(mut self, key_ref: impl Into<String>, signer: Signer) -> Self {
        self.signers.insert(key_ref.into(), Arc::new(signer));
        self
    }
}

impl KeyProvider for StaticKeys {
    async fn signer(&self, key_ref: &str) -> Result<Arc<Signer>, KeyLookupError> {
        self.signers
            .get(key_ref)
            .cloned()
            .ok_or_else(|| KeyLookupError::NotFound {
                key_ref: key_ref.to_owned(),
            })
    }
}

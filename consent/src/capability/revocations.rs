//! The verifier's view of Renkei's own database: root keys and revocations, exact and
//! immediate across processes.

use std::sync::Arc;

use async_trait::async_trait;
use biscuit_auth::PublicKey;
use renkei_capability::verify::{KeySource, Revocations};

use super::keys::CapabilityKeys;
use crate::store::ConsentStore;

impl KeySource for CapabilityKeys {
    fn public_key(&self, id: u32) -> Option<PublicKey> {
        self.snapshot().public(id)
    }
}

/// The revocation state in Renkei's own database: exact and immediate, across processes.
/// A token this installation never recorded is refused too.
pub struct StoredRevocations(pub Arc<dyn ConsentStore>);

#[async_trait]
impl Revocations for StoredRevocations {
    async fn is_revoked(&self, revocation_id: &str) -> renkei_capability::Result<bool> {
        self.0
            .capability_usable(revocation_id)
            .await
            .map(|usable| !usable)
            .map_err(|e| renkei_capability::Error::RevocationsUnavailable(e.to_string()))
    }
}

//! The capability root keys: Ed25519 key pairs kept in the database (shared by every process).
//! A new key is published at once and signs [`ACTIVATION_DELAY`] later, when every process
//! (re-reading keys each minute) knows it; older keys stay published until the tokens they
//! signed have expired. The
//! public keys are a JWK set (`kty` OKP, `crv` Ed25519, `kid` = the Biscuit `root_key_id` as a
//! decimal string) at the discovery member `capability_keys_uri`.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use biscuit_auth::{Algorithm, KeyPair, PrivateKey, PublicKey};
use serde_json::{Value, json};

use super::TTL;
use crate::error::{Error, Result};
use crate::store::ConsentStore;
use renkei_platform::{AuditEvent, AuditLog};

/// Seconds between a key's creation and its first signature.
pub const ACTIVATION_DELAY: i64 = 120;

/// How long a retired key stays published after its successor started signing: its last
/// tokens' lifetime plus clock skew.
const RETIRED_KEY_GRACE: i64 = ACTIVATION_DELAY + TTL + 120;

/// The loaded key set; cheap to read on every mint and verification.
pub struct CapabilityKeys {
    current: RwLock<Arc<KeySet>>,
}

/// One snapshot of the keys.
pub struct KeySet {
    signing: (u32, Arc<KeyPair>),
    public: Vec<(u32, PublicKey)>,
    jwks: Arc<Value>,
}

impl KeySet {
    /// The signing key and its root key id.
    pub fn signing(&self) -> (u32, &KeyPair) {
        (self.signing.0, &self.signing.1)
    }

    /// The public key with this root key id, if published.
    pub fn public(&self, id: u32) -> Option<PublicKey> {
        self.public
            .iter()
            .find(|(kid, _)| *kid == id)
            .map(|(_, key)| *key)
    }
}

impl CapabilityKeys {
    /// Loads the keys, creating the first one on a fresh installation.
    pub async fn load(store: &dyn ConsentStore, now: i64) -> Result<Self> {
        let set = read(store, now).await?;
        Ok(CapabilityKeys {
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// Re-reads the keys (another process may have rotated them).
    pub async fn refresh(&self, store: &dyn ConsentStore, now: i64) -> Result<()> {
        let set = read(store, now).await?;
        *self.current.write().expect("key lock poisoned") = Arc::new(set);
        Ok(())
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.read().expect("key lock poisoned").clone()
    }

    /// The published JWK set.
    pub fn jwks(&self) -> Arc<Value> {
        self.snapshot().jwks.clone()
    }
}

/// Creates a new key, signing after [`ACTIVATION_DELAY`] (the previous ones retire but stay
/// published for [`RETIRED_KEY_GRACE`]), and audits it (through `via`); returns its root key id.
pub async fn rotate(
    store: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    now: i64,
) -> Result<u32> {
    let id = create(store, now).await?;
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "capability root key {id} added; it signs from {}",
                now + ACTIVATION_DELAY
            ),
        ))
        .await?;
    Ok(id)
}

/// Creates a new key (the first one of an installation, or a rotation's).
async fn create(store: &dyn ConsentStore, now: i64) -> Result<u32> {
    let pair = KeyPair::new_with_algorithm(Algorithm::Ed25519);
    let id = store
        .insert_capability_key(&pair.private().to_bytes(), now)
        .await?;
    u32::try_from(id).map_err(|_| Error::Invalid(format!("root key id {id} out of range")))
}

async fn read(store: &dyn ConsentStore, now: i64) -> Result<KeySet> {
    let mut rows = store.capability_keys().await?;
    if rows.iter().all(|row| row.retired_at.is_some()) {
        let created = create(store, now).await;
        rows = store.capability_keys().await?;
        // Two processes starting on an empty database at the same moment: the one whose key
        // lost the race (same id) uses the other's.
        if let Err(error) = created
            && rows.iter().all(|row| row.retired_at.is_some())
        {
            return Err(error);
        }
    }
    let mut signing = None;
    let mut public = Vec::new();
    let oldest_usable = rows.len() - 1;
    for (index, row) in rows.into_iter().enumerate() {
        let id = u32::try_from(row.id).map_err(|_| {
            Error::Invalid(format!("stored capability key {} out of range", row.id))
        })?;
        let private =
            PrivateKey::from_bytes(&row.private_key, Algorithm::Ed25519).map_err(|e| {
                Error::Invalid(format!("stored capability key {id} is unreadable: {e}"))
            })?;
        let pair = KeyPair::from(&private);
        let published = row
            .retired_at
            .is_none_or(|retired| retired + RETIRED_KEY_GRACE > now);
        if !published {
            continue;
        }
        public.push((id, pair.public()));
        // Rows come newest first: the newest activated key signs (the only one, on a fresh
        // installation, signs at once).
        let activated = row.created_at + ACTIVATION_DELAY <= now || index == oldest_usable;
        if signing.is_none() && activated {
            signing = Some((id, Arc::new(pair)));
        }
    }
    let signing = signing.ok_or_else(|| Error::Invalid("no active capability key".into()))?;
    let keys: Vec<Value> = public
        .iter()
        .map(|(id, key)| {
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "use": "sig",
                "alg": "EdDSA",
                "kid": id.to_string(),
                "x": URL_SAFE_NO_PAD.encode(key.to_bytes()),
            })
        })
        .collect();
    Ok(KeySet {
        signing,
        public,
        jwks: Arc::new(json!({ "keys": keys })),
    })
}

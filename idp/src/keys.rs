//! Token signing keys: generation, rotation, the in-memory key ring and the published JWKS.
//!
//! Keys live in the database so that every process signs with the same key and a rotation on
//! one process reaches the others at their next refresh. A rotated-in key is published at once
//! but signs only from its activation time, by when every process and every app's cached JWK
//! set knows it; the newest activated key of an algorithm signs. Retired keys stay published
//! (and verify `id_token_hint`s) for the retention period.

use renkei_platform::{AuditEvent, AuditLog};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::rngs::OsRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::crypto::random_id;
use crate::error::Error;
use crate::store::{SigningKeyRow, Store};
use renkei_platform::clock::now;

/// Signing algorithms Renkei offers for ID tokens; RS256 is the default and the one used for
/// access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys): mandatory to implement in OpenID Connect.
    Rs256,
    /// Ed25519.
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl SigningAlg {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::EdDsa, SigningAlg::Es256];

    /// The JOSE name (`alg` header value).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::EdDsa => "EdDSA",
            SigningAlg::Es256 => "ES256",
        }
    }

    /// Parses a JOSE algorithm name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::EdDsa => Algorithm::EdDSA,
            SigningAlg::Es256 => Algorithm::ES256,
        }
    }

    /// Generates a fresh private key as PKCS#8 PEM.
    fn generate_pem(self) -> String {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let pem = match self {
            SigningAlg::Rs256 => rsa::RsaPrivateKey::new(&mut OsRng, 2048)
                .expect("RSA key generation")
                .to_pkcs8_pem(LineEnding::LF),
            SigningAlg::EdDsa => {
                ed25519_dalek::SigningKey::generate(&mut OsRng).to_pkcs8_pem(LineEnding::LF)
            }
            SigningAlg::Es256 => p256::SecretKey::random(&mut OsRng).to_pkcs8_pem(LineEnding::LF),
        };
        pem.expect("PKCS#8 encoding of a fresh key").to_string()
    }
}

/// How a key signs.
enum Signer {
    /// RS256 with the key parsed once: jsonwebtoken would parse it, check it and set up its
    /// blinding on every signature, which costs more than the signature.
    Rsa(aws_lc_rs::signature::RsaKeyPair),
    /// EdDSA and ES256, through jsonwebtoken.
    Jwt(EncodingKey),
}

/// One usable key: how to sign with it, how to verify with it, and its public JWK.
struct LoadedKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
    decoding: DecodingKey,
    jwk: Value,
    activates_at: i64,
    retired_at: Option<i64>,
}

impl LoadedKey {
    fn from_row(row: &SigningKeyRow) -> Result<Self, Error> {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let alg = SigningAlg::parse(&row.alg).ok_or_else(|| {
            Error::internal(format!(
                "signing key {} has unknown algorithm {}",
                row.kid, row.alg
            ))
        })?;
        let bad = |e: &dyn std::fmt::Display| {
            Error::internal(format!("signing key {} is unreadable: {e}", row.kid))
        };
        let pem = row.private_pem.as_bytes();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let common = json!({"kid": row.kid, "alg": alg.as_str(), "use": "sig"});
        let (signer, decoding, mut jwk) = match alg {
            SigningAlg::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_pem(&row.private_pem).map_err(|e| bad(&e))?;
                let der = key.to_pkcs8_der().map_err(|e| bad(&e))?;
                let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
                (
                    Signer::Rsa(
                        aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
                            .map_err(|e| bad(&e))?,
                    ),
                    DecodingKey::from_rsa_raw_components(&n, &e),
                    json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)}),
                )
            }
            SigningAlg::EdDsa => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&row.private_pem)
                    .map_err(|e| bad(&e))?;
                let x = b64(key.verifying_key().as_bytes());
                (
                    Signer::Jwt(EncodingKey::from_ed_pem(pem).map_err(|e| bad(&e))?),
                    DecodingKey::from_ed_components(&x).map_err(|e| bad(&e))?,
                    json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                )
            }
            SigningAlg::Es256 => {
                let key = p256::SecretKey::from_pkcs8_pem(&row.private_pem).map_err(|e| bad(&e))?;
                let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &key.public_key(),
                    false,
                );
                let (x, y) = (
                    b64(point.x().expect("uncompressed")),
                    b64(point.y().expect("uncompressed")),
                );
                (
                    Signer::Jwt(EncodingKey::from_ec_pem(pem).map_err(|e| bad(&e))?),
                    DecodingKey::from_ec_components(&x, &y).map_err(|e| bad(&e))?,
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
        };
        jwk.as_object_mut()
            .expect("object")
            .extend(common.as_object().expect("object").clone());
        Ok(Self {
            kid: row.kid.clone(),
            alg,
            signer,
            decoding,
            jwk,
            activates_at: row.activates_at,
            retired_at: row.retired_at,
        })
    }
}

/// The keys loaded at one moment.
struct KeySet {
    by_kid: HashMap<String, Arc<LoadedKey>>,
    /// Per algorithm, in activation order.
    by_alg: HashMap<SigningAlg, Vec<Arc<LoadedKey>>>,
    jwks: Arc<Value>,
}

/// The process's view of the signing keys, refreshed from the database.
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    /// How long a retired key stays published.
    retention: i64,
}

impl KeyRing {
    /// Loads the keys, first creating a key for every algorithm that has none (the first start
    /// of a new installation; those keys sign at once).
    pub async fn load(store: &dyn Store, retention: i64) -> Result<Self, Error> {
        let rows = store.signing_keys().await?;
        for alg in SigningAlg::ALL {
            if !rows
                .iter()
                .any(|row| row.alg == alg.as_str() && row.retired_at.is_none())
            {
                add_key(store, alg, now()).await?;
            }
        }
        let ring = Self {
            current: RwLock::new(Arc::new(KeySet::empty())),
            retention,
        };
        ring.refresh(store).await?;
        Ok(ring)
    }

    /// Re-reads the keys from the database (after a rotation by any process).
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), Error> {
        let rows = store.signing_keys().await?;
        let publish_after = now() - self.retention;
        let old = self.snapshot();
        let mut by_kid = HashMap::new();
        let mut by_alg: HashMap<SigningAlg, Vec<Arc<LoadedKey>>> = HashMap::new();
        let mut published = Vec::new();
        for row in &rows {
            if row
                .retired_at
                .is_some_and(|retired| retired < publish_after)
            {
                continue;
            }
            let key = match old.by_kid.get(&row.kid) {
                Some(key) if key.retired_at == row.retired_at => key.clone(),
                _ => Arc::new(LoadedKey::from_row(row)?),
            };
            by_alg.entry(key.alg).or_default().push(key.clone());
            published.push(key.jwk.clone());
            by_kid.insert(key.kid.clone(), key);
        }
        let jwks = Arc::new(json!({ "keys": published }));
        *self.current.write().expect("key ring lock") = Arc::new(KeySet {
            by_kid,
            by_alg,
            jwks,
        });
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.current.read().expect("key ring lock").clone()
    }

    /// The public JWK set (`/jwks`).
    pub fn jwks(&self) -> Arc<Value> {
        self.snapshot().jwks.clone()
    }

    /// Signs `claims` as a JWT with the active key of `alg`, with the given `typ` header.
    pub fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, Error> {
        let set = self.snapshot();
        let now = now();
        let key = set
            .by_alg
            .get(&alg)
            .and_then(|keys| keys.iter().rev().find(|key| key.activates_at <= now))
            .ok_or_else(|| Error::internal(format!("no active {} signing key", alg.as_str())))?;
        let mut header = Header::new(alg.jwt_algorithm());
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        let failed = |e: &dyn std::fmt::Display| Error::internal(format!("signing failed: {e}"));
        let pair = match &key.signer {
            Signer::Rsa(pair) => pair,
            Signer::Jwt(encoding) => {
                return jsonwebtoken::encode(&header, claims, encoding).map_err(|e| failed(&e));
            }
        };
        // RS256 with the parsed key: the JWS compact serialization (RFC 7515 §7.1).
        let header = serde_json::to_vec(&header).map_err(|e| failed(&e))?;
        let claims = serde_json::to_vec(claims).map_err(|e| failed(&e))?;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .map_err(|e| failed(&e))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Verifies a JWT we signed: signature by a published key, `typ`, issuer, audience and
    /// (unless `check_expiry` is false, as for a logout's `id_token_hint`) expiry. Returns
    /// `None` for anything that does not verify.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        audience: Option<&str>,
        check_expiry: bool,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return None;
        }
        let set = self.snapshot();
        let key = set.by_kid.get(header.kid.as_deref()?)?;
        if header.alg != key.alg.jwt_algorithm() {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(key.alg.jwt_algorithm());
        validation.leeway = 5;
        validation.set_issuer(&[issuer]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        validation.validate_exp = check_expiry;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

impl KeySet {
    fn empty() -> Self {
        Self {
            by_kid: HashMap::new(),
            by_alg: HashMap::new(),
            jwks: Arc::new(json!({"keys": []})),
        }
    }
}

/// Creates a new key for `alg` that signs from `activates_at`; the previous key retires then.
pub async fn add_key(
    store: &dyn Store,
    alg: SigningAlg,
    activates_at: i64,
) -> Result<String, Error> {
    let pem = tokio::task::spawn_blocking(move || alg.generate_pem())
        .await
        .map_err(|e| Error::internal(format!("key generation failed: {e}")))?;
    let kid = random_id();
    store
        .add_signing_key(&SigningKeyRow {
            kid: kid.clone(),
            alg: alg.as_str().to_owned(),
            private_pem: pem,
            created_at: now(),
            activates_at,
            retired_at: None,
        })
        .await?;
    Ok(kid)
}

/// Rotates every algorithm's key (`renkei keys rotate`): the new keys are published now and
/// sign after `activate_after` seconds; keys retired longer than `retention` ago are forgotten.
/// Audited (through `via`). Returns the new key ids.
pub async fn rotate(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    activate_after: i64,
    retention: i64,
) -> Result<Vec<String>, Error> {
    let mut kids = Vec::new();
    let activates_at = now() + activate_after;
    for alg in SigningAlg::ALL {
        kids.push(add_key(store, alg, activates_at).await?);
    }
    store.delete_retired_keys(now() - retention).await?;
    audit
        .append(AuditEvent::admin(
            via,
            format!("signing keys {kids:?} added; they sign from {activates_at}"),
        ))
        .await?;
    Ok(kids)
}

//! A software passkey authenticator, for the passkey tests and the load generator: it plays
//! the browser and the device of WebAuthn Level 2 for one origin — makes an ES256 key,
//! answers a registration with a `none` attestation, and signs sign-in challenges as a
//! discoverable credential (user handle included, user verified).
//!
//! No published crate does this: webauthn-authenticator-rs's software keys are U2F-style and
//! cannot answer a sign-in that names no credential, which is how Renkei signs in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Authenticator data flag: user verified.
const USER_VERIFIED: u8 = 0x04;
/// Authenticator data flags: user present, user verified.
const PRESENT_AND_VERIFIED: u8 = 0x01 | USER_VERIFIED;
/// Flag: the key may be backed up (a synced passkey).
const BACKUP_ELIGIBLE: u8 = 0x08;
/// Flag: the key is backed up.
const BACKED_UP: u8 = 0x10;
/// Flag: attested credential data follows.
const ATTESTED: u8 = 0x40;

/// One passkey held by the software authenticator.
pub struct SoftPasskey {
    origin: String,
    rp_id: String,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    key: SigningKey,
    counter: u32,
    flags: u8,
}

/// What went wrong answering the server's options.
#[derive(Debug)]
pub struct AuthenticatorError(pub String);

impl std::fmt::Display for AuthenticatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuthenticatorError {}

fn field<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, AuthenticatorError> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .ok_or_else(|| AuthenticatorError(format!("the options have no {}", path.join("."))))
}

fn decode(text: &str) -> Result<Vec<u8>, AuthenticatorError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| AuthenticatorError(format!("not base64url: {e}")))
}

/// The client data a browser on a page of `origin` signs over for a ceremony of `kind`.
fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
    serde_json::to_string(&json!({
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    }))
    .expect("JSON")
}

fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR byte string's header (major type 2) for `len` bytes.
fn cbor_bytes_header(len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![0x40 | len as u8],
        24..=255 => vec![0x58, len as u8],
        _ => {
            let mut header = vec![0x59];
            header.extend_from_slice(&(len as u16).to_be_bytes());
            header
        }
    }
}

impl SoftPasskey {
    /// Answers registration options (`publicKey` of `navigator.credentials.create`) from a page
    /// of `origin`: returns the new passkey and the credential JSON the browser would send.
    pub fn register(origin: &str, public_key: &Value) -> Result<(Self, Value), AuthenticatorError> {
        Self::register_as(origin, public_key, false)
    }

    /// [`SoftPasskey::register`] for a synced passkey (`synced`: the authenticator data says
    /// the key may be, and is, backed up, as a phone's or a password manager's passkey does).
    pub fn register_as(
        origin: &str,
        public_key: &Value,
        synced: bool,
    ) -> Result<(Self, Value), AuthenticatorError> {
        let challenge = field(public_key, &["challenge"])?;
        let rp_id = field(public_key, &["rp", "id"])?.to_owned();
        let user_handle = decode(field(public_key, &["user", "id"])?)?;
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let credential_id: Vec<u8> = rand::random::<[u8; 16]>().to_vec();
        let passkey = SoftPasskey {
            origin: origin.to_owned(),
            rp_id,
            credential_id,
            user_handle,
            key,
            counter: 0,
            flags: if synced {
                PRESENT_AND_VERIFIED | BACKUP_ELIGIBLE | BACKED_UP
            } else {
                PRESENT_AND_VERIFIED
            },
        };
        let client_data = client_data("webauthn.create", challenge, origin);
        let point = passkey.key.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().expect("x"), point.y().expect("y"));
        // COSE_Key: {1 (kty): 2 (EC2), 3 (alg): -7 (ES256), -1 (crv): 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(x);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(y);
        let mut auth_data = passkey.auth_data_head(passkey.flags | ATTESTED);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(passkey.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&passkey.credential_id);
        auth_data.extend_from_slice(&cose);
        // {"fmt": "none", "attStmt": {}, "authData": auth_data}
        let mut attestation = vec![0xa3, 0x63];
        attestation.extend_from_slice(b"fmt");
        attestation.push(0x64);
        attestation.extend_from_slice(b"none");
        attestation.push(0x67);
        attestation.extend_from_slice(b"attStmt");
        attestation.extend_from_slice(&[0xa0, 0x68]);
        attestation.extend_from_slice(b"authData");
        attestation.extend(cbor_bytes_header(auth_data.len()));
        attestation.extend_from_slice(&auth_data);
        let id = encode(&passkey.credential_id);
        let credential = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": encode(&attestation),
                "clientDataJSON": encode(client_data.as_bytes()),
                "transports": ["internal"],
            },
            "extensions": {},
        });
        Ok((passkey, credential))
    }

    /// Answers sign-in options (`publicKey` of `navigator.credentials.get`): the assertion JSON
    /// the browser would send. Each answer counts up the signature counter.
    pub fn sign_in(&mut self, public_key: &Value) -> Result<Value, AuthenticatorError> {
        let challenge = field(public_key, &["challenge"])?;
        if let Some(rp_id) = public_key.get("rpId").and_then(Value::as_str)
            && rp_id != self.rp_id
        {
            return Err(AuthenticatorError(format!(
                "asked for {rp_id}, holds a key of {}",
                self.rp_id
            )));
        }
        self.counter += 1;
        Ok(self.assertion(challenge, &self.origin.clone()))
    }

    /// An assertion for `challenge` as signed on a page of `origin` (a phishing page's origin,
    /// in the tests), without counting up.
    pub fn assertion(&self, challenge: &str, origin: &str) -> Value {
        let client_data = client_data("webauthn.get", challenge, origin);
        let auth_data = self.auth_data_head(self.flags);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: DerSignature = self.key.sign(&signed);
        let id = encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": encode(&auth_data),
                "clientDataJSON": encode(client_data.as_bytes()),
                "signature": encode(signature.as_bytes()),
                "userHandle": encode(&self.user_handle),
            },
            "extensions": {},
        })
    }

    /// Sets the signature counter (to replay an old one, in the tests).
    pub fn set_counter(&mut self, counter: u32) {
        self.counter = counter;
    }

    /// Whether later assertions say the user was verified (they do unless told otherwise).
    pub fn set_user_verified(&mut self, verified: bool) {
        self.flags = if verified {
            self.flags | USER_VERIFIED
        } else {
            self.flags & !USER_VERIFIED
        };
    }

    /// The credential id, base64url.
    pub fn credential_id(&self) -> String {
        encode(&self.credential_id)
    }

    /// RP id hash, flags and signature counter.
    fn auth_data_head(&self, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

//! Minting tokens: JWT access tokens (RFC 9068), ID tokens (OpenID Connect Core §2) and
//! opaque, rotating refresh tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::client::ClientExt;
use crate::crypto::{random_id, random_secret, sha256};
use crate::error::{Error, Result};
use crate::keys::SigningAlg;
use crate::server::AppState;
use crate::store::{ClientRow, GrantRow, RefreshTokenRow, UserRow};
use renkei_platform::clock::now;

/// `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` header of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user, or the client itself for `client_credentials`.
    pub sub: String,
    /// Audience: the resource servers of this issuer.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issue time.
    pub iat: i64,
    /// Token identifier (deny-list key for revocation).
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Authentication context class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The grant (token family) the token belongs to; revoking it revokes the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

/// A signed access token and its claims.
pub struct AccessToken {
    /// The JWT.
    pub token: String,
    /// What it says.
    pub claims: AccessClaims,
}

/// Signs an access token for `sub` (a user under `grant`, or the client itself).
pub fn access_token(
    state: &AppState,
    client_id: &str,
    sub: &str,
    scope: &str,
    grant: Option<&GrantRow>,
) -> Result<AccessToken> {
    let now = now();
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: sub.to_owned(),
        aud: state.config.issuer.clone(),
        exp: now + state.config.access_token_ttl,
        iat: now,
        jti: random_id(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        auth_time: grant.map(|g| g.auth_time),
        acr: grant.map(|g| g.acr.clone()),
        amr: grant
            .map(|g| {
                g.amr
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|amr| !amr.is_empty()),
        gid: grant.map(|g| g.id.clone()),
    };
    let token = state
        .keys
        .sign(state.config.access_token_alg, ACCESS_TOKEN_TYP, &claims)?;
    Ok(AccessToken { token, claims })
}

/// Signs an ID token for the user of `grant` with the claims of `scope` (the grant's, or less
/// after a narrowing refresh), with the client's algorithm; `at_hash` binds it to the access
/// token issued with it. `nonce` is only repeated on the first issue.
pub async fn id_token(
    state: &AppState,
    client: &ClientRow,
    grant: &GrantRow,
    scope: &str,
    user: &UserRow,
    access_token: &str,
    include_nonce: bool,
) -> Result<String> {
    let alg = client.id_token_alg();
    let now = now();
    let mut claims = crate::user::claims(state.directory.as_ref(), user, scope).await?;
    let fixed = json!({
        "iss": state.config.issuer,
        "sub": user.id,
        "aud": client.id,
        "azp": client.id,
        "exp": now + state.config.id_token_ttl,
        "iat": now,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "at_hash": token_hash(alg, access_token),
    });
    claims.extend(fixed.as_object().expect("object").clone());
    // `amr` says what was checked; a brokered sign-in whose upstream said nothing has none.
    let amr: Vec<&str> = grant.amr.split_whitespace().collect();
    if !amr.is_empty() {
        claims.insert("amr".into(), json!(amr));
    }
    if let Some(sid) = &grant.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if include_nonce && let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    state.keys.sign(alg, ID_TOKEN_TYP, &Value::Object(claims))
}

/// `at_hash` / `c_hash`: the left half of the token's hash, with the hash of the signing
/// algorithm (SHA-512 for Ed25519).
pub fn token_hash(alg: SigningAlg, token: &str) -> String {
    let digest = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => Sha256::digest(token.as_bytes()).to_vec(),
        SigningAlg::EdDsa => Sha512::digest(token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// A new refresh-token secret and the digest it is stored under.
pub fn refresh_secret() -> (String, Vec<u8>) {
    let secret = random_secret();
    let digest = sha256(secret.as_bytes());
    (secret, digest)
}

/// A new refresh token for `grant`: the secret to hand out and the row to store.
pub fn refresh_token(grant: &GrantRow) -> (String, RefreshTokenRow) {
    let (secret, token_hash) = refresh_secret();
    let row = RefreshTokenRow {
        token_hash,
        grant_id: grant.id.clone(),
        scope: grant.scope.clone(),
        expires_at: grant.expires_at,
    };
    (secret, row)
}

/// Reads and checks an access token we issued: signature, type, issuer, audience, expiry and
/// revocation. Returns `None` when it is not (or no longer) valid.
pub async fn verify_access_token(state: &AppState, token: &str) -> Result<Option<AccessClaims>> {
    let Some(claims) = state.keys.verify::<AccessClaims>(
        token,
        ACCESS_TOKEN_TYP,
        &state.config.issuer,
        Some(&state.config.issuer),
        true,
    ) else {
        return Ok(None);
    };
    if state
        .store
        .access_token_revoked(&claims.jti, claims.gid.as_deref())
        .await?
    {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// Maps a failure to find the grant's user to the right OAuth error.
pub fn user_gone() -> Error {
    Error::oauth(
        "invalid_grant",
        "the user of this grant no longer exists or is disabled",
    )
}

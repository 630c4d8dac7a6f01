//! Registered applications: registration rules and client authentication at the token,
//! revocation and introspection endpoints (`client_secret_basic`, `client_secret_post`,
//! `private_key_jwt`, and `none` for public clients).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use renkei_platform::{AuditEvent, AuditLog};
use serde::Deserialize;

use crate::crypto::{constant_time_eq, random_secret, sha256};
use crate::error::{Error, Result};
use crate::keys::SigningAlg;
use crate::scope::{DEFAULT_SCOPES, SUPPORTED_SCOPES, is_scope_token};
use crate::server::AppState;
use crate::store::{ClientRow, Store};
use renkei_platform::clock::now;

/// Grant types a client may be registered for.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// The `client_assertion_type` of `private_key_jwt` (RFC 7523).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What an administrator registers.
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    /// Name shown to users.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (a tablet or browser app) has no secret and must use PKCE.
    pub public: bool,
    /// Grant types; empty means `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Scopes it may ask for; empty means sign-in's scopes (not the admin API's).
    pub scopes: Vec<String>,
    /// ID-token signing algorithm; `None` means RS256.
    pub id_token_alg: Option<String>,
    /// JWK set for `private_key_jwt` instead of a secret.
    pub jwks: Option<String>,
    /// A resource server that may introspect access tokens issued to other clients.
    pub may_introspect: bool,
    /// Who makes the app.
    pub vendor: Option<String>,
    /// The app's privacy policy (an https address).
    pub policy_uri: Option<String>,
    /// For an app with the admin scope: the one school it administers (none: the board).
    pub admin_school: Option<String>,
}

/// A newly registered client and its secret (shown once, stored only as a digest).
pub struct Registered {
    /// The stored client.
    pub client: ClientRow,
    /// The client secret, for confidential clients without a JWK set.
    pub secret: Option<String>,
}

/// Validates and stores a new client, audited (through `via`); a school an admin-API app is
/// limited to must be one of the `directory`'s.
pub async fn register(
    store: &dyn Store,
    directory: &dyn renkei_directory::Directory,
    audit: &AuditLog,
    via: &str,
    new: NewClient,
) -> Result<Registered> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(Error::Invalid(
            "the client needs a name (--name) that users will recognise".into(),
        ));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri)?;
    }
    let grant_types = if new.grant_types.is_empty() {
        vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
    } else {
        new.grant_types.clone()
    };
    for grant in &grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(Error::Invalid(format!(
                "unknown grant type {grant:?}; choose from {}",
                GRANT_TYPES.join(", ")
            )));
        }
    }
    if grant_types.iter().any(|g| g == "authorization_code") && new.redirect_uris.is_empty() {
        return Err(Error::Invalid(
            "a client using authorization_code needs at least one --redirect-uri".into(),
        ));
    }
    if new.public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(Error::Invalid(
            "a public client cannot use client_credentials: it has no secret to prove who it is"
                .into(),
        ));
    }
    let scopes = if new.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        new.scopes.clone()
    };
    for scope in &scopes {
        if !is_scope_token(scope) || !SUPPORTED_SCOPES.contains(&scope.as_str()) {
            return Err(Error::Invalid(format!(
                "unknown scope {scope:?}; choose from {}",
                SUPPORTED_SCOPES.join(", ")
            )));
        }
    }
    let id_token_alg = new.id_token_alg.unwrap_or_else(|| "RS256".to_owned());
    if SigningAlg::parse(&id_token_alg).is_none() {
        return Err(Error::Invalid(format!(
            "unsupported ID-token algorithm {id_token_alg:?}; choose RS256, EdDSA or ES256"
        )));
    }
    if let Some(jwks) = &new.jwks {
        let set: JwkSet = serde_json::from_str(jwks).map_err(|e| {
            Error::Invalid(format!(
                "the client's JWK set is not valid JSON Web Keys: {e}"
            ))
        })?;
        if set.keys.is_empty() {
            return Err(Error::Invalid("the client's JWK set has no keys".into()));
        }
        if new.public {
            return Err(Error::Invalid(
                "a public client cannot have keys: register it without --public".into(),
            ));
        }
    }
    if name.chars().count() > 200 || new.vendor.as_ref().is_some_and(|v| v.chars().count() > 200) {
        return Err(Error::Invalid(
            "the app's name and vendor must each be at most 200 characters".into(),
        ));
    }
    let policy_uri = new
        .policy_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|uri| match url::Url::parse(uri) {
            Ok(parsed) if parsed.scheme() == "https" && uri.len() <= 2048 => Ok(uri.to_owned()),
            _ => Err(Error::Invalid(format!(
                "the privacy policy address {uri:?} must be an https:// address (at most 2048 characters)"
            ))),
        })
        .transpose()?;
    let admin_school = new
        .admin_school
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(school) = admin_school {
        if !scopes.iter().any(|s| s == crate::scope::ADMIN_SCOPE) {
            return Err(Error::Invalid(format!(
                "--admin-school limits an admin-API app: register it with --scope {} too",
                crate::scope::ADMIN_SCOPE
            )));
        }
        if !directory
            .schools()
            .await?
            .iter()
            .any(|org| org.id == school)
        {
            return Err(Error::Invalid(format!(
                "there is no school {school:?} in the roster; use a school's sourcedId (orgs.csv)"
            )));
        }
    }
    let secret = (!new.public && new.jwks.is_none()).then(random_secret);
    let client = ClientRow {
        // 128 random bits as hex: a base64url id may start with '-', which command lines
        // (`--client -x…`) take for an option.
        id: uuid::Uuid::new_v4().simple().to_string(),
        name: name.to_owned(),
        secret_hash: secret.as_ref().map(|s| sha256(s.as_bytes())),
        jwks: new.jwks,
        may_introspect: new.may_introspect,
        redirect_uris: new.redirect_uris.join(" "),
        post_logout_redirect_uris: new.post_logout_redirect_uris.join(" "),
        grant_types: grant_types.join(" "),
        scopes: scopes.join(" "),
        id_token_alg,
        created_at: now(),
        vendor: new
            .vendor
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        policy_uri,
        admin_school: admin_school.map(str::to_owned),
    };
    store.insert_client(&client).await?;
    audit_app(audit, via, &client, "registered").await?;
    Ok(Registered { client, secret })
}

/// Audits an administrator's change to an app, through `via`.
async fn audit_app(audit: &AuditLog, via: &str, client: &ClientRow, what: &str) -> Result<()> {
    audit
        .append(AuditEvent::change(
            "admin",
            Some(&client.id),
            Vec::new(),
            Vec::new(),
            via,
            format!("app {:?} {what}", client.name),
        ))
        .await?;
    Ok(())
}

/// Gives a confidential client a new secret (shown once, stored only as a digest), audited
/// through `via`: the old secret stops working at once, for a leaked secret or a vendor's
/// hand-over. Tokens already issued stay valid until they expire or are revoked.
pub async fn rotate_secret(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    client_id: &str,
) -> Result<String> {
    let Some(client) = store.client(client_id).await? else {
        return Err(Error::Invalid(format!(
            "no enabled app has the client id {client_id:?}; `renkei client list` shows them"
        )));
    };
    let secret = random_secret();
    if !store
        .set_client_secret(&client.id, &sha256(secret.as_bytes()))
        .await?
    {
        return Err(Error::Invalid(format!(
            "the app {:?} has no secret to rotate: it is a public client or authenticates with its own keys",
            client.name
        )));
    }
    audit_app(audit, via, &client, "was given a new secret").await?;
    Ok(secret)
}

/// Redirect URIs must be absolute, without fragment, and https except for loopback addresses
/// and the private-use schemes of native apps (RFC 8252).
fn validate_redirect_uri(uri: &str) -> Result<()> {
    let parsed = url::Url::parse(uri)
        .map_err(|e| Error::Invalid(format!("redirect URI {uri:?} is not an absolute URI: {e}")))?;
    if parsed.fragment().is_some() {
        return Err(Error::Invalid(format!(
            "redirect URI {uri:?} must not contain a fragment (#…)"
        )));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let ok = match parsed.scheme() {
        "https" => true,
        "http" => loopback,
        scheme => scheme.contains('.'),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "redirect URI {uri:?} must use https (http only on localhost; native apps use a reverse-domain scheme like jp.example.app:/callback)"
        )))
    }
}

/// Helpers over the stored client.
pub trait ClientExt {
    /// Whether `uri` is exactly one of the registered redirect URIs.
    fn has_redirect_uri(&self, uri: &str) -> bool;
    /// Whether `uri` is exactly one of the registered post-logout redirect URIs.
    fn has_post_logout_redirect_uri(&self, uri: &str) -> bool;
    /// Whether the client may use `grant_type`.
    fn allows_grant(&self, grant_type: &str) -> bool;
    /// Whether the client may ask for `scope`.
    fn allows_scope(&self, scope: &str) -> bool;
    /// A public client has neither a secret nor keys.
    fn is_public(&self) -> bool;
    /// The algorithm of the client's ID tokens.
    fn id_token_alg(&self) -> SigningAlg;
}

impl ClientExt for ClientRow {
    fn has_redirect_uri(&self, uri: &str) -> bool {
        !uri.is_empty()
            && self
                .redirect_uris
                .split(' ')
                .any(|registered| redirect_matches(registered, uri))
    }
    fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        !uri.is_empty()
            && self
                .post_logout_redirect_uris
                .split(' ')
                .any(|registered| !registered.is_empty() && registered == uri)
    }
    fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.split(' ').any(|g| g == grant_type)
    }
    fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.split(' ').any(|s| s == scope)
    }
    fn is_public(&self) -> bool {
        self.secret_hash.is_none() && self.jwks.is_none()
    }
    fn id_token_alg(&self) -> SigningAlg {
        SigningAlg::parse(&self.id_token_alg).unwrap_or(SigningAlg::Rs256)
    }
}

/// Exact match, except that a loopback IP redirect URI (`http://127.0.0.1` or
/// `http://[::1]`) matches on any port, as native apps get a port from the OS
/// (RFC 8252 §7.3).
fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered.is_empty() {
        return false;
    }
    if registered == requested {
        return true;
    }
    let (Ok(mut registered), Ok(mut requested)) =
        (url::Url::parse(registered), url::Url::parse(requested))
    else {
        return false;
    };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
    if !(loopback(&registered) && loopback(&requested)) {
        return false;
    }
    let _ = registered.set_port(None);
    let _ = requested.set_port(None);
    registered == requested
}

/// Client credentials as they may appear in a form body.
#[derive(Debug, Default, Deserialize)]
pub struct ClientAuthForm {
    /// `client_id` (all methods but Basic).
    pub client_id: Option<String>,
    /// `client_secret` (`client_secret_post`).
    pub client_secret: Option<String>,
    /// `client_assertion_type` (`private_key_jwt`).
    pub client_assertion_type: Option<String>,
    /// `client_assertion` (`private_key_jwt`).
    pub client_assertion: Option<String>,
}

/// Authenticates the client of a back-channel request. Failures are `invalid_client` (401).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &ClientAuthForm,
) -> Result<ClientRow> {
    let basic = basic_credentials(headers)?;
    let basic_used = basic.is_some();
    let methods = [
        basic.is_some(),
        form.client_secret.is_some(),
        form.client_assertion.is_some(),
    ];
    if methods.iter().filter(|used| **used).count() > 1 {
        return Err(Error::oauth(
            "invalid_request",
            "use exactly one client authentication method",
        ));
    }
    let fail = |why: &str| Error::invalid_client(why.to_owned(), basic_used);
    if let Some((id, secret)) = basic {
        if form
            .client_id
            .as_deref()
            .is_some_and(|form_id| form_id != id)
        {
            return Err(Error::oauth(
                "invalid_request",
                "client_id in the body differs from the Basic credentials",
            ));
        }
        return secret_client(state, &id, &secret)
            .await
            .ok_or_else(|| fail("client authentication failed"));
    }
    if let Some(secret) = &form.client_secret {
        let id = form
            .client_id
            .as_deref()
            .ok_or_else(|| fail("client_secret without client_id"))?;
        return secret_client(state, id, secret)
            .await
            .ok_or_else(|| fail("client authentication failed"));
    }
    if let Some(assertion) = &form.client_assertion {
        if form.client_assertion_type.as_deref() != Some(JWT_BEARER_ASSERTION) {
            return Err(fail(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        return assertion_client(state, form.client_id.as_deref(), assertion).await;
    }
    let id = form
        .client_id
        .as_deref()
        .ok_or_else(|| fail("no client authentication"))?;
    match state.store.client(id).await? {
        Some(client) if client.is_public() => Ok(client),
        Some(_) => Err(fail("this client must authenticate")),
        None => Err(fail("unknown client")),
    }
}

/// Decodes `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let malformed = || Error::invalid_client("malformed Basic credentials", true);
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

async fn secret_client(state: &AppState, id: &str, secret: &str) -> Option<ClientRow> {
    let client = state.store.client(id).await.ok()??;
    let expected = client.secret_hash.as_deref()?;
    constant_time_eq(&sha256(secret.as_bytes()), expected).then_some(client)
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    jti: String,
}

/// `private_key_jwt` (RFC 7523 §3): a JWT signed by a key registered for the client, with
/// `iss` = `sub` = client id, our issuer as audience, and a `jti` used once.
async fn assertion_client(
    state: &AppState,
    claimed_id: Option<&str>,
    assertion: &str,
) -> Result<ClientRow> {
    let fail = |why: &str| Error::invalid_client(why.to_owned(), false);
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| fail("client_assertion is not a JWT"))?;
    let unverified = jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion)
        .map_err(|_| fail("client_assertion lacks iss, sub, exp or jti"))?
        .claims;
    if claimed_id.is_some_and(|id| id != unverified.sub) {
        return Err(fail("client_id differs from the assertion's subject"));
    }
    let client = state
        .store
        .client(&unverified.sub)
        .await?
        .ok_or_else(|| fail("unknown client"))?;
    let jwks: JwkSet = client
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| fail("this client has no registered keys"))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| fail("no registered key matches the assertion's kid"))?;
    use jsonwebtoken::Algorithm::*;
    if !matches!(
        header.alg,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
    ) {
        return Err(fail("unsupported client_assertion algorithm"));
    }
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
        .map_err(|_| fail("the registered key is unusable"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.leeway = 5;
    // Only the issuer identifier is an accepted audience: accepting endpoint URLs lets a
    // malicious authorization server replay assertions made for it (draft-ietf-oauth-rfc7523bis).
    validation.set_audience(&[&state.config.issuer]);
    validation.set_issuer(&[&client.id]);
    validation.sub = Some(client.id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| fail(&format!("client_assertion rejected: {e}")))?;
    if unverified.iss != client.id || unverified.exp > now() + 600 {
        return Err(fail("client_assertion must expire within 10 minutes"));
    }
    let first_use = state
        .store
        .use_once(&format!("{}:{}", client.id, unverified.jti), unverified.exp)
        .await?;
    if !first_use {
        return Err(fail("client_assertion was already used (jti replay)"));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_rfc8252() {
        assert!(validate_redirect_uri("https://app.example.jp/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate_redirect_uri("jp.example.app:/oauth").is_ok());
        assert!(validate_redirect_uri("http://app.example.jp/cb").is_err());
        assert!(validate_redirect_uri("https://app.example.jp/cb#x").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
    }

    #[test]
    fn loopback_redirects_match_any_port_only() {
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb"
        ));
        assert!(redirect_matches(
            "http://[::1]:80/cb",
            "http://[::1]:9000/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5000/other"
        ));
        assert!(!redirect_matches(
            "https://app.example.jp/cb",
            "https://app.example.jp:8443/cb"
        ));
        assert!(!redirect_matches("", ""));
    }
}

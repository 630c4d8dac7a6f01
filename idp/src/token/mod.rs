//! The token endpoint (RFC 6749 §3.2): `authorization_code` (with PKCE), `refresh_token`
//! (rotating, with reuse detection), `client_credentials` and token exchange (RFC 8693).

pub mod exchange;
pub mod issue;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::client::{ClientAuthForm, ClientExt, authenticate};
use crate::crypto::{constant_time_eq, sha256, sha256_base64url};
use crate::error::{Error, Result};
use crate::scope;
use crate::server::AppState;
use crate::store::{ClientRow, GrantRow, Redemption};
use renkei_platform::clock::now;

/// The form of a token request.
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    requested_token_type: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    actor_token: Option<String>,
    resource: Option<String>,
    #[serde(flatten)]
    client: ClientAuthForm,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Parses a form-encoded back-channel request; a malformed body or a repeated parameter is
/// `invalid_request` (RFC 6749 §3.2).
pub fn parse_form<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form_encoded {
        return Err(Error::oauth(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::oauth("invalid_request", format!("malformed request: {e}")))
}

/// `POST /token`.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    token(&state, &headers, &body)
        .await
        .map(IntoResponse::into_response)
        .unwrap_or_else(IntoResponse::into_response)
}

async fn token(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponse> {
    let form: TokenForm = parse_form(headers, body)?;
    let grant_type = form
        .grant_type
        .as_deref()
        .ok_or_else(|| Error::oauth("invalid_request", "grant_type is required"))?;
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | "client_credentials" | exchange::GRANT_TYPE
    ) {
        return Err(Error::oauth(
            "unsupported_grant_type",
            format!("grant_type {grant_type:?} is not supported"),
        ));
    }
    let client = authenticate(state, headers, &form.client).await?;
    if grant_type == exchange::GRANT_TYPE {
        // Whether an app may exchange is decided by the consent policies, not by registration.
        return token_exchange(state, &client, &form).await;
    }
    if !client.allows_grant(grant_type) {
        return Err(Error::oauth(
            "unauthorized_client",
            format!("this client is not registered for {grant_type}"),
        ));
    }
    match grant_type {
        "authorization_code" => authorization_code(state, &client, &form).await,
        "refresh_token" => refresh(state, &client, &form).await,
        _ => client_credentials(state, &client, &form),
    }
}

async fn token_exchange(
    state: &AppState,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse> {
    let issued = exchange::exchange(
        state,
        client,
        exchange::ExchangeForm {
            requested_token_type: form.requested_token_type.as_deref(),
            subject_token: form.subject_token.as_deref(),
            subject_token_type: form.subject_token_type.as_deref(),
            actor_token: form.actor_token.as_deref(),
            scope: form.scope.as_deref(),
            resource: form.resource.as_deref(),
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.scope,
        issued_token_type: Some(issued.issued_token_type),
        refresh_token: None,
        id_token: None,
    })
}

async fn authorization_code(
    state: &AppState,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse> {
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| Error::oauth("invalid_request", "code is required"))?;
    let now = now();
    let (code_row, grant) = match state
        .store
        .redeem_code(&sha256(code.as_bytes()), now)
        .await?
    {
        Redemption::Fresh(found) => found,
        Redemption::Replayed { grant_id } => {
            state.store.revoke_grant(&grant_id, now).await?;
            tracing::warn!(client = %client.id, grant = %grant_id, "authorization code replayed; grant revoked");
            return Err(Error::oauth(
                "invalid_grant",
                "the code was already used; every token issued for it is revoked",
            ));
        }
        Redemption::Unknown => return Err(Error::oauth("invalid_grant", "the code is not valid")),
    };
    if grant.client_id != client.id {
        return Err(Error::oauth(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if code_row.expires_at <= now || grant.revoked_at.is_some() {
        return Err(Error::oauth("invalid_grant", "the code has expired"));
    }
    if form.redirect_uri.as_deref() != Some(code_row.redirect_uri.as_str()) {
        return Err(Error::oauth(
            "invalid_grant",
            "redirect_uri must be the one the code was sent to",
        ));
    }
    match (&code_row.code_challenge, &form.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed
                || !constant_time_eq(
                    sha256_base64url(verifier.as_bytes()).as_bytes(),
                    challenge.as_bytes(),
                )
            {
                return Err(Error::oauth(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(Error::oauth(
                "invalid_grant",
                "code_verifier is required (PKCE)",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::oauth(
                "invalid_grant",
                "code_verifier given but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    respond(state, client, &grant, &grant.scope, true, None).await
}

async fn refresh(state: &AppState, client: &ClientRow, form: &TokenForm) -> Result<TokenResponse> {
    let presented = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| Error::oauth("invalid_request", "refresh_token is required"))?;
    let now = now();
    let (secret, next_hash) = issue::refresh_secret();
    let rotated = match state
        .store
        .rotate_refresh_token(&sha256(presented.as_bytes()), &next_hash, now)
        .await?
    {
        Redemption::Fresh(rotated) => rotated,
        Redemption::Replayed { grant_id } => {
            state.store.revoke_grant(&grant_id, now).await?;
            tracing::warn!(client = %client.id, grant = %grant_id, "refresh token reused; token family revoked");
            return Err(Error::oauth(
                "invalid_grant",
                "the refresh token was already used; the whole token family is revoked",
            ));
        }
        Redemption::Unknown => {
            return Err(Error::oauth(
                "invalid_grant",
                "the refresh token is not valid",
            ));
        }
    };
    let grant = state
        .store
        .grant(&rotated.grant_id)
        .await?
        .ok_or_else(|| Error::oauth("invalid_grant", "the refresh token is not valid"))?;
    if grant.client_id != client.id {
        state.store.revoke_grant(&grant.id, now).await?;
        return Err(Error::oauth(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    if grant.revoked_at.is_some() || rotated.expires_at <= now {
        return Err(Error::oauth(
            "invalid_grant",
            "the refresh token has been revoked or has expired",
        ));
    }
    // A one-factor sign-in's grant, of a role that must now use a passkey.
    if !crate::assurance::sign_in_counts(state.store.as_ref(), &grant.user_id, &grant.amr, now)
        .await?
    {
        state.store.revoke_grant(&grant.id, now).await?;
        return Err(Error::oauth(
            "invalid_grant",
            "the board now requires a passkey sign-in for this account; sign the user in again",
        ));
    }
    let scope = match form.scope.as_deref() {
        None => rotated.scope.clone(),
        Some(asked) => {
            let asked = scope::parse(asked);
            if !scope::covers(&rotated.scope, &asked) {
                return Err(Error::oauth(
                    "invalid_scope",
                    "a refresh cannot widen the granted scope",
                ));
            }
            asked.join(" ")
        }
    };
    respond(state, client, &grant, &scope, false, Some(secret)).await
}

/// Access token, ID token (for `openid`) and, where the client may refresh, a refresh token.
async fn respond(
    state: &AppState,
    client: &ClientRow,
    grant: &GrantRow,
    scope: &str,
    first: bool,
    rotated_refresh: Option<String>,
) -> Result<TokenResponse> {
    let user = state
        .store
        .user(&grant.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(issue::user_gone)?;
    let access = issue::access_token(state, &client.id, &user.id, scope, Some(grant))?;
    let id_token = if scope::contains(scope, "openid") {
        Some(issue::id_token(state, client, grant, scope, &user, &access.token, first).await?)
    } else {
        None
    };
    let refresh_token = match rotated_refresh {
        Some(secret) => Some(secret),
        None if client.allows_grant("refresh_token") => {
            let (secret, row) = issue::refresh_token(grant);
            state.store.insert_refresh_token(&row).await?;
            Some(secret)
        }
        None => None,
    };
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl,
        scope: scope.to_owned(),
        issued_token_type: None,
        refresh_token,
        id_token,
    })
}

fn client_credentials(
    state: &AppState,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse> {
    if client.is_public() {
        return Err(Error::oauth(
            "unauthorized_client",
            "public clients cannot use client_credentials",
        ));
    }
    let asked = scope::parse(form.scope.as_deref().unwrap_or(""));
    if asked.iter().any(|s| s == "openid") {
        return Err(Error::oauth(
            "invalid_scope",
            "openid needs a user; client_credentials has none",
        ));
    }
    if let Some(unknown) = asked.iter().find(|s| !client.allows_scope(s)) {
        return Err(Error::oauth(
            "invalid_scope",
            format!("scope {unknown:?} is not allowed for this client"),
        ));
    }
    let scope = asked.join(" ");
    let access = issue::access_token(state, &client.id, &client.id, &scope, None)?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl,
        scope,
        issued_token_type: None,
        refresh_token: None,
        id_token: None,
    })
}

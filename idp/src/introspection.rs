//! Token introspection (RFC 7662), for authenticated confidential clients: a client may ask
//! about its own tokens, and clients registered as resource servers (`may_introspect`) about
//! any access token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{ClientAuthForm, ClientExt, authenticate};
use crate::crypto::sha256;
use crate::error::{Error, Result};
use crate::server::AppState;
use crate::token::issue::verify_access_token;
use crate::token::parse_form;
use renkei_platform::clock::now;

#[derive(Deserialize)]
struct IntrospectionForm {
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientAuthForm,
}

/// `POST /introspect`.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    introspect(&state, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn introspect(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response> {
    let form: IntrospectionForm = parse_form(headers, body)?;
    let client = authenticate(state, headers, &form.client).await?;
    if client.is_public() {
        return Err(Error::invalid_client(
            "public clients cannot introspect tokens",
            false,
        ));
    }
    let token = form
        .token
        .ok_or_else(|| Error::oauth("invalid_request", "token is required"))?;
    let answer = if token.contains('.') {
        access_token(state, &token)
            .await?
            // Only the token's own client and registered resource servers learn about it.
            .filter(|answer| client.may_introspect || answer["client_id"] == client.id.as_str())
    } else {
        refresh_token(state, &client.id, &token).await?
    };
    let mut response = Json(answer.unwrap_or_else(|| json!({"active": false}))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn access_token(state: &AppState, token: &str) -> Result<Option<Value>> {
    let Some(claims) = verify_access_token(state, token).await? else {
        return Ok(None);
    };
    let username = match &claims.gid {
        Some(_) => state
            .store
            .user(&claims.sub)
            .await?
            .filter(|u| u.enabled)
            .map(|u| u.username),
        None => Some(String::new()),
    };
    let Some(username) = username else {
        return Ok(None);
    };
    let mut answer = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if !username.is_empty() {
        answer["username"] = json!(username);
    }
    if let Some(auth_time) = claims.auth_time {
        answer["auth_time"] = json!(auth_time);
    }
    Ok(Some(answer))
}

async fn refresh_token(state: &AppState, client_id: &str, token: &str) -> Result<Option<Value>> {
    let Some(row) = state.store.refresh_token(&sha256(token.as_bytes())).await? else {
        return Ok(None);
    };
    let Some(grant) = state.store.grant(&row.grant_id).await? else {
        return Ok(None);
    };
    if grant.client_id != client_id || grant.revoked_at.is_some() || row.expires_at <= now() {
        return Ok(None);
    }
    if !state
        .store
        .user(&grant.user_id)
        .await?
        .is_some_and(|user| user.enabled)
    {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": row.scope,
        "client_id": grant.client_id,
        "sub": grant.user_id,
        "iss": state.config.issuer,
        "exp": row.expires_at,
        "iat": grant.created_at,
    })))
}

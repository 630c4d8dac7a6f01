//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant, access tokens
//! included; revoking an access token puts it on the deny list until it expires. Tokens of
//! other clients and unknown tokens are ignored, and the answer is always 200.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::client::{ClientAuthForm, authenticate};
use crate::crypto::sha256;
use crate::error::{Error, Result};
use crate::server::AppState;
use crate::token::issue::{ACCESS_TOKEN_TYP, AccessClaims};
use crate::token::parse_form;
use renkei_platform::clock::now;

#[derive(Deserialize)]
struct RevocationForm {
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientAuthForm,
}

/// `POST /revoke`.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    revoke(&state, &headers, &body)
        .await
        .map(|()| StatusCode::OK.into_response())
        .unwrap_or_else(IntoResponse::into_response)
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<()> {
    let form: RevocationForm = parse_form(headers, body)?;
    let client = authenticate(state, headers, &form.client).await?;
    let token = form
        .token
        .ok_or_else(|| Error::oauth("invalid_request", "token is required"))?;
    let now = now();
    if token.contains('.') {
        let issuer = &state.config.issuer;
        if let Some(claims) =
            state
                .keys
                .verify::<AccessClaims>(&token, ACCESS_TOKEN_TYP, issuer, Some(issuer), true)
            && claims.client_id == client.id
        {
            state
                .store
                .revoke_access_token(&claims.jti, claims.exp)
                .await?;
            tracing::info!(client = %client.id, "access token revoked");
        }
    } else if let Some(row) = state.store.refresh_token(&sha256(token.as_bytes())).await?
        && let Some(grant) = state.store.grant(&row.grant_id).await?
        && grant.client_id == client.id
    {
        state.store.revoke_grant(&grant.id, now).await?;
        tracing::info!(client = %client.id, grant = %grant.id, "refresh token revoked with its grant");
    }
    Ok(())
}

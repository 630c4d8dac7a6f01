//! UserInfo (OpenID Connect Core §5.3), GET and POST, with the access token as a Bearer
//! header or (POST) form parameter (RFC 6750 §2).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::server::AppState;
use crate::token::issue::verify_access_token;

#[derive(Deserialize)]
struct BodyToken {
    access_token: Option<String>,
}

/// The Bearer token of a request: from the `Authorization` header or, for a form POST, the
/// `access_token` parameter; both at once is an error.
pub fn bearer_token(headers: &HeaderMap, body: &[u8]) -> Result<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let from_body = if body.is_empty() {
        None
    } else {
        serde_urlencoded::from_bytes::<BodyToken>(body)
            .ok()
            .and_then(|b| b.access_token)
    };
    match (from_header, from_body) {
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (Some(_), Some(_)) => Err(Error::Bearer {
            code: "invalid_request",
            description: "send the token only once".into(),
        }),
        (None, None) => Err(Error::invalid_token("a Bearer access token is required")),
    }
}

/// `GET /userinfo` and `POST /userinfo`.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    userinfo(&state, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn userinfo(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response> {
    let token = bearer_token(headers, body)?;
    let claims = verify_access_token(state, &token)
        .await?
        .ok_or_else(|| Error::invalid_token("the access token is invalid, expired or revoked"))?;
    if !crate::scope::contains(&claims.scope, "openid") {
        return Err(Error::Bearer {
            code: "insufficient_scope",
            description: "the token was not issued with the openid scope".into(),
        });
    }
    let user = state
        .store
        .user(&claims.sub)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| {
            Error::invalid_token("the user of this token no longer exists or is disabled")
        })?;
    let mut body = crate::user::claims(state.store.as_ref(), &user, &claims.scope).await?;
    body.insert("sub".into(), json!(user.id));
    let mut response = Json(Value::Object(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

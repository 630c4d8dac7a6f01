//! UserInfo (OpenID Connect Core §5.3), GET and POST, with the access token as a Bearer
//! header or (POST) form parameter (RFC 6750 §2).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
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

/// The Bearer token of a request: from the `Authorization` header or, for a form-encoded POST,
/// the `access_token` parameter (RFC 6750 §2); both at once is an error, none at all is a
/// challenge without error code (§3.1).
pub fn bearer_token(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let form_post = method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let from_body = if form_post {
        serde_urlencoded::from_bytes::<BodyToken>(body)
            .ok()
            .and_then(|b| b.access_token)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (Some(_), Some(_)) => Err(Error::Bearer {
            code: "invalid_request",
            description: "send the token only once".into(),
        }),
        (None, None) => Err(Error::BearerMissing),
    }
}

/// `GET /userinfo` and `POST /userinfo`.
pub async fn endpoint(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    userinfo(&state, &method, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn userinfo(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response> {
    let token = bearer_token(method, headers, body)?;
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
    let mut body = crate::user::claims(state.directory.as_ref(), &user, &claims.scope).await?;
    body.insert("sub".into(), json!(user.id));
    let mut response = Json(Value::Object(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

//! The consent service's one error type, with its HTTP form at the edge (RFC 6750 for
//! capability tokens, RFC 6749 for the JSON API).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_idp::store::StoreError;
use serde_json::json;

/// Everything that can go wrong in the consent service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: what is wrong and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A portal request without a signed-in user.
    #[error("sign in first")]
    Unauthenticated,
    /// A request without a bearer token.
    #[error("a capability token is required (Authorization: Bearer …)")]
    BearerMissing,
    /// A capability token that is forged, tampered with, expired, revoked or unreadable.
    #[error("{0}")]
    InvalidToken(String),
    /// A valid token that lacks the category the request needs (named).
    #[error("the token does not carry {0}")]
    InsufficientScope(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Store(StoreError::Database(error))
    }
}

/// Result with the consent service's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A quoted-string value for a `WWW-Authenticate` parameter (RFC 6750 §3: no `"` or `\`).
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .collect()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, challenge, error) = match &self {
            Error::BearerMissing => (
                StatusCode::UNAUTHORIZED,
                "Bearer".to_owned(),
                "invalid_request",
            ),
            Error::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    quoted(why)
                ),
                "invalid_token",
            ),
            Error::InsufficientScope(category) => (
                StatusCode::FORBIDDEN,
                format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{}\", error_description=\"the token does not carry this category\"",
                    quoted(category)
                ),
                "insufficient_scope",
            ),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, String::new(), "login_required"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, String::new(), "invalid_request"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, String::new(), "access_denied"),
            Error::Store(error) => {
                tracing::error!(%error, "consent service storage failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    String::new(),
                    "server_error",
                )
            }
        };
        let description = match &self {
            Error::Store(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response();
        if !challenge.is_empty()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

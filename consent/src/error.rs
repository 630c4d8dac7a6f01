//! The consent service's one error type, with its HTTP form at the edge (RFC 6750 for
//! capability tokens, RFC 6749 for the JSON API).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_platform::StoreError;
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
    /// A capability token was refused, or the verifier could not decide (RFC 6750 answers).
    #[error(transparent)]
    Capability(#[from] renkei_capability::Error),
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

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let error = match self {
            Error::Capability(error) => return error.into_response(),
            other => other,
        };
        let (status, code) = match &error {
            Error::Capability(_) => unreachable!("answered above"),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "login_required"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "access_denied"),
            Error::Store(error) => {
                tracing::error!(%error, "consent service storage failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        };
        let description = match &error {
            Error::Store(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({ "error": code, "error_description": description })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

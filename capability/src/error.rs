//! The verifier's one error type, with its RFC 6750 form at the edge (feature `axum`).

/// Why a capability token was not accepted, or the verifier could not decide.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration input (a JWK set, the Datalog rules): what is wrong and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// A request without a bearer token.
    #[error("a capability token is required (Authorization: Bearer …)")]
    BearerMissing,
    /// A capability token that is forged, tampered with, expired, revoked or unreadable.
    #[error("{0}")]
    InvalidToken(String),
    /// A valid token that lacks the category the request needs (named).
    #[error("the token does not carry {0}")]
    InsufficientScope(String),
    /// The revocation state could not be read, so the token cannot be accepted now.
    #[error("the revocation state cannot be read: {0}")]
    RevocationsUnavailable(String),
}

/// Result with the verifier's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(feature = "axum")]
mod response {
    use axum::Json;
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    use super::Error;

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
                Error::Invalid(_) => (StatusCode::BAD_REQUEST, String::new(), "invalid_request"),
                Error::RevocationsUnavailable(why) => {
                    tracing::error!(%why, "capability revocation state unavailable");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        String::new(),
                        "server_error",
                    )
                }
            };
            let description = match &self {
                Error::RevocationsUnavailable(_) => "internal error".to_owned(),
                other => other.to_string(),
            };
            let mut response = (
                status,
                Json(serde_json::json!({ "error": error, "error_description": description })),
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
}

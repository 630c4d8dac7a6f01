//! The provider's one error type, and how each kind of error answers over HTTP: JSON errors as
//! RFC 6749 §5.2 names them, Bearer challenges as RFC 6750 §3 names them, and an error page
//! (in Japanese and English) where a browser must not be redirected.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// Everything that can go wrong in the provider.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An OAuth error answered as JSON (token, revocation, introspection endpoints).
    #[error("{code}: {description}")]
    OAuth {
        /// RFC error code, e.g. `invalid_grant`.
        code: &'static str,
        /// Human-readable explanation for the app's developer.
        description: String,
        /// HTTP status (400, or 401 for `invalid_client`).
        status: StatusCode,
        /// `WWW-Authenticate` challenge to send with a 401.
        challenge: Option<&'static str>,
    },
    /// A protected-resource error (RFC 6750): 401 or 403 with a Bearer challenge.
    #[error("{code}: {description}")]
    Bearer {
        /// `invalid_request`, `invalid_token` or `insufficient_scope`.
        code: &'static str,
        /// Explanation for the app's developer.
        description: String,
    },
    /// A protected-resource request without any token: 401 with a bare Bearer challenge (RFC
    /// 6750 §3.1: no error code).
    #[error("a Bearer access token is required")]
    BearerMissing,
    /// A request from a browser that cannot be answered by redirecting to the app (for example
    /// an unregistered redirect URI): shown as a page, in Japanese and English.
    #[error("{en}")]
    Page {
        /// HTTP status.
        status: StatusCode,
        /// Message in Japanese.
        ja: String,
        /// Message in English.
        en: String,
    },
    /// Bad input from the command line or configuration.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or broken installation; details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with the provider's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An OAuth error with status 400.
    pub fn oauth(code: &'static str, description: impl Into<String>) -> Self {
        Error::OAuth {
            code,
            description: description.into(),
            status: StatusCode::BAD_REQUEST,
            challenge: None,
        }
    }

    /// `invalid_client` with status 401 (RFC 6749 §5.2).
    pub fn invalid_client(description: impl Into<String>, basic_used: bool) -> Self {
        Error::OAuth {
            code: "invalid_client",
            description: description.into(),
            status: StatusCode::UNAUTHORIZED,
            // RFC 6749 §5.2: a challenge for the scheme the client used; other methods get none.
            challenge: basic_used.then_some("Basic realm=\"renkei\""),
        }
    }

    /// An `invalid_token` Bearer error.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Error::Bearer {
            code: "invalid_token",
            description: description.into(),
        }
    }

    /// An error page with the same message in both languages' words.
    pub fn page(status: StatusCode, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Error::Page {
            status,
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// The page for a form whose CSRF check failed (an old page, or a form from elsewhere).
    pub fn expired_form() -> Self {
        Error::page(
            StatusCode::FORBIDDEN,
            "ページの有効期限が切れました。ページを読み込み直して、もう一度お試しください。",
            "This page has expired. Please reload it and try again.",
        )
    }

    /// An internal error.
    pub fn internal(detail: impl Into<String>) -> Self {
        Error::Internal(detail.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::OAuth {
                code,
                description,
                status,
                challenge,
            } => {
                let mut response = (
                    status,
                    Json(json!({"error": code, "error_description": description})),
                )
                    .into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Some(challenge) = challenge {
                    headers.insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(challenge),
                    );
                }
                response
            }
            Error::Bearer { code, description } => {
                let status = match code {
                    "insufficient_scope" => StatusCode::FORBIDDEN,
                    "invalid_request" => StatusCode::BAD_REQUEST,
                    _ => StatusCode::UNAUTHORIZED,
                };
                let challenge = format!(
                    "Bearer realm=\"renkei\", error=\"{code}\", error_description=\"{}\"",
                    description.replace(['"', '\\'], "'")
                );
                let mut response = (
                    status,
                    Json(json!({"error": code, "error_description": description})),
                )
                    .into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Error::BearerMissing => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"renkei\""),
                )],
            )
                .into_response(),
            Error::Page { status, ja, en } => {
                (status, crate::pages::error_page(&ja, &en)).into_response()
            }
            Error::Invalid(message) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_request", "error_description": message})),
            )
                .into_response(),
            Error::Store(error) => {
                tracing::error!(%error, "storage failure");
                server_error()
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                server_error()
            }
        }
    }
}

fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "server_error", "error_description": "the server failed; the failure is logged"})),
    )
        .into_response()
}

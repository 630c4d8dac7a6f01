//! The gateway's error type, answered as OneRoster 1.2 status payloads (imsx_StatusInfo);
//! token problems keep their RFC 6750 form from the verifier.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What can go wrong in a gateway request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A token problem (401) or a missing category (403).
    #[error(transparent)]
    Capability(#[from] renkei_capability::Error),
    /// No such object, or none the token lets the app see (never tells which).
    #[error("{0}")]
    NotFound(String),
    /// A malformed query parameter (what, and how to fix it).
    #[error("{0}")]
    InvalidParameter(String),
    /// The address sent too many reads without a valid token this minute.
    #[error(
        "too many reads without a valid capability token came from this address; wait a minute, then send a fresh token"
    )]
    TooManyRefusals,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] renkei_platform::StoreError),
}

/// Result with the gateway's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn status_info(status: StatusCode, minor: &str, description: &str) -> Response {
    (
        status,
        Json(json!({
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
                ]
            }
        })),
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Capability(error) => error.into_response(),
            Error::NotFound(what) => status_info(StatusCode::NOT_FOUND, "unknownobject", &what),
            Error::InvalidParameter(what) => {
                status_info(StatusCode::BAD_REQUEST, "invalid_filter_field", &what)
            }
            Error::TooManyRefusals => {
                let mut response = status_info(
                    StatusCode::TOO_MANY_REQUESTS,
                    "server_busy",
                    &self.to_string(),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                response
            }
            Error::Store(error) => {
                tracing::error!(%error, "gateway storage failed");
                status_info(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_server_error",
                    "internal error",
                )
            }
        }
    }
}

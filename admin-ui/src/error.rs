//! The console's one error type. The JSON admin API answers it as RFC 9457 problem details;
//! the pages answer it as a page in the reader's language ([`crate::pages`]).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a console request was not done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No signed-in administrator and no access token.
    #[error(
        "sign in as an administrator, or send an access token with the scope urn:renkei:scope:admin"
    )]
    Unauthenticated,
    /// The token was not accepted.
    #[error("the access token is not valid: {0}")]
    BadToken(String),
    /// Signed in, but not allowed this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not one the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong; the message says what and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// Too many long reads (exports, chain checks) at once; try again shortly.
    #[error("{0}")]
    Busy(String),
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] renkei_idp::Error),
    /// The consent service failed.
    #[error(transparent)]
    Consent(#[from] renkei_consent::Error),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] renkei_platform::StoreError),
}

/// The console's results.
pub type Result<T> = std::result::Result<T, Error>;

/// An RFC 9457 problem details document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// What kind of problem (`urn:renkei:problem:…`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong here and how to fix it.
    pub detail: String,
}

impl Error {
    /// The status, the problem's kind and its title.
    pub fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Error::Unauthenticated | Error::BadToken(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Error::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy", "Busy"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Error::Invalid(_)
            | Error::Provider(renkei_idp::Error::Invalid(_))
            | Error::Consent(renkei_consent::Error::Invalid(_)) => {
                (StatusCode::BAD_REQUEST, "invalid", "Invalid request")
            }
            Error::Consent(renkei_consent::Error::Forbidden(_)) => {
                (StatusCode::FORBIDDEN, "forbidden", "Not allowed")
            }
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// What to tell the caller: the message for their mistakes, nothing internal otherwise.
    pub fn detail(&self) -> String {
        match self.classify().0 {
            StatusCode::INTERNAL_SERVER_ERROR => {
                "the server failed; the administrator's log says why".into()
            }
            _ => match self {
                Error::Provider(renkei_idp::Error::Invalid(m))
                | Error::Consent(renkei_consent::Error::Invalid(m))
                | Error::Consent(renkei_consent::Error::Forbidden(m)) => m.clone(),
                other => other.to_string(),
            },
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.classify();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "admin API request failed");
        }
        let problem = Problem {
            kind: format!("urn:renkei:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer scope=\"urn:renkei:scope:admin\""),
            );
        }
        response
    }
}

//! The portal's one error type: every failure becomes a page in the reader's language.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a portal page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider failed (sessions, accounts, storage).
    #[error(transparent)]
    Provider(#[from] renkei_idp::Error),
    /// The consent service failed.
    #[error(transparent)]
    Consent(#[from] renkei_consent::Error),
}

impl From<renkei_platform::StoreError> for Error {
    fn from(error: renkei_platform::StoreError) -> Self {
        Error::Provider(error.into())
    }
}

/// The portal's results.
pub type Result<T> = std::result::Result<T, Error>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            // A page the provider already wrote for people (an expired form, a limit).
            Error::Provider(error @ renkei_idp::Error::Page { .. }) => error.into_response(),
            error => {
                tracing::error!(%error, "portal page failed");
                let mut page = renkei_idp::pages::error_page(
                    "ページを表示できませんでした。しばらくしてから、もう一度お試しください。",
                    "The page could not be shown. Please try again in a moment.",
                );
                *page.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                page
            }
        }
    }
}

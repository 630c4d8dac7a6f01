//! The demo's one error type. Seeding fails with it at start-up; the demo app's pages turn it
//! into the provider's error page at the edge.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What can go wrong while seeding the demo or serving the demo app.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider refused or failed (client registration, accounts).
    #[error(transparent)]
    Provider(#[from] renkei_idp::Error),
    /// The consent service refused or failed (policies).
    #[error(transparent)]
    Consent(#[from] renkei_consent::Error),
    /// A step of the demo could not be done.
    #[error("{0}")]
    Internal(String),
}

impl From<renkei_platform::StoreError> for Error {
    fn from(error: renkei_platform::StoreError) -> Self {
        Error::Provider(error.into())
    }
}

/// Result with the demo's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "demo app failed");
        renkei_idp::Error::page(
            StatusCode::BAD_GATEWAY,
            "デモ学習アプリが連携と通信できませんでした。しばらくしてからもう一度お試しください。",
            "The demo app could not talk to Renkei. Please try again in a moment.",
        )
        .into_response()
    }
}

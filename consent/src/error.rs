//! The consent service's one error type.

use renkei_idp::store::StoreError;

/// Everything that can go wrong in the consent service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: what is wrong and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
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

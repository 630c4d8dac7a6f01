//! The directory's one error type.

use renkei_platform::StoreError;

/// What can go wrong reading or importing the roster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The import could not run (the files could not be read or unpacked): what and why.
    #[error("{0}")]
    Internal(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// An error that is not the caller's to fix, described for the operator.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

/// Result with the directory's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

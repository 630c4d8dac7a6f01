//! The one error type of the assembled application and its command line: each part's error,
//! shown as the one sentence that part wrote.

use renkei_platform::StoreError;

/// What can go wrong running Renkei.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input or an unusable environment: what is wrong and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The provider refused or failed.
    #[error(transparent)]
    Provider(#[from] renkei_idp::Error),
    /// The roster directory refused or failed.
    #[error(transparent)]
    Directory(#[from] renkei_directory::Error),
    /// The consent service refused or failed.
    #[error(transparent)]
    Consent(#[from] renkei_consent::Error),
    /// An administrative operation refused or failed.
    #[error(transparent)]
    Console(#[from] renkei_admin::Error),
    /// The demo could not be prepared.
    #[error(transparent)]
    Demo(#[from] renkei_demo::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

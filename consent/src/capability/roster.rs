//! Tokens minted on a roster that has since changed: a token covers the children its
//! requester could act for, and the consents that counted, when it was minted. An import that
//! changes or removes roster records (a guardian link emptied, a pupil moved or gone) may end
//! what a token relied on, so every outstanding token is revoked; apps exchange again (tokens
//! live five minutes anyway) and get what the new roster allows.

use renkei_directory::{Directory, ImportOptions, ImportReport};
use renkei_platform::{AuditEvent, AuditLog};

use crate::error::{Error, Result};
use crate::store::ConsentStore;

/// Imports the board's OneRoster files at `path` (audited through `via`) and, when the import
/// changed or removed roster records, revokes every outstanding capability token (the roster
/// they were minted on may have ended a guardian's link or a teacher's class): the one import
/// operation that the command line and the console call. Files that cannot be read or
/// unpacked are the caller's to fix ([`Error::Invalid`]).
pub async fn import(
    directory: &dyn Directory,
    store: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    path: &std::path::Path,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let report = renkei_directory::import(directory, audit, via, path, options)
        .await
        .map_err(|error| match error {
            renkei_directory::Error::Store(error) => Error::Store(error),
            renkei_directory::Error::Internal(message) => Error::Invalid(message),
        })?;
    revoke_after_import(store, audit, via, &report).await?;
    Ok(report)
}

/// Revokes every outstanding capability token if the applied import `report` changed or
/// removed any roster record; audited (through `via`). Returns how many were revoked.
pub async fn revoke_after_import(
    store: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    report: &ImportReport,
) -> Result<u64> {
    let changed = report.outcome == "applied"
        && report
            .files
            .values()
            .any(|file| file.changes.updated > 0 || file.changes.deleted > 0);
    if !changed {
        return Ok(0);
    }
    let revoked = store
        .revoke_all_capabilities(renkei_platform::clock::now())
        .await?;
    audit
        .append(AuditEvent::admin(
            via,
            format!(
                "roster import {} changed or removed records: every outstanding capability token revoked ({revoked})",
                report.id
            ),
        ))
        .await?;
    Ok(revoked)
}

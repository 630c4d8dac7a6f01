//! Tokens minted on a roster that has since changed: a token covers the children its
//! requester could act for, and the consents that counted, when it was minted. An import that
//! changes or removes roster records (a guardian link emptied, a pupil moved or gone) may end
//! what a token relied on, so every outstanding token is revoked; apps exchange again (tokens
//! live five minutes anyway) and get what the new roster allows.

use renkei_directory::ImportReport;
use renkei_platform::{AuditEvent, AuditLog};

use crate::error::Result;
use crate::store::ConsentStore;

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

//! Apps as the consent service sees them: disabling one stops everything it could still read.

use renkei_idp::store::Store;
use renkei_platform::{AuditEvent, AuditLog};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::ConsentStore;

/// What disabling an app did.
#[derive(Clone, Debug, Serialize)]
pub struct Disabled {
    /// The app.
    pub disabled: String,
    /// Its capability tokens that were still usable and are now revoked.
    pub capability_tokens_revoked: u64,
}

/// Disables an app: its capability tokens are revoked, then it can no longer sign anyone in
/// or get tokens (its grants end with it); audited (through `via`).
///
/// Revocation comes first: a failure in between leaves nothing usable, and running it again
/// finishes; the revocation mark also refuses tokens minted in between.
pub async fn disable(
    idp: &dyn Store,
    consent: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    client_id: &str,
) -> Result<Disabled> {
    let now = renkei_platform::clock::now();
    let revoked = consent.revoke_capabilities(client_id, None, now).await?;
    if !idp.disable_client(client_id, now).await? {
        return Err(Error::Invalid(format!(
            "there is no enabled app with client id {client_id:?}"
        )));
    }
    audit
        .append(AuditEvent::change(
            "admin",
            Some(client_id),
            Vec::new(),
            Vec::new(),
            via,
            format!("app disabled; {revoked} capability tokens revoked"),
        ))
        .await?;
    Ok(Disabled {
        disabled: client_id.to_owned(),
        capability_tokens_revoked: revoked,
    })
}

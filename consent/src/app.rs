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

/// What stopping an app did.
#[derive(Clone, Debug, Serialize)]
pub struct Stopped {
    /// The person's capability tokens from the app that were still usable and are now revoked.
    pub capability_tokens_revoked: u64,
}

/// A person stops using an app ("使うのをやめる" on their home page): their approval is
/// forgotten (the app must ask again), every grant and token the app holds for them ends, and
/// the capability tokens the app got for them are revoked; audited (through `via`). An app
/// the person had not approved is refused and changes nothing.
///
/// The grants end first, then the person's revocation mark is taken: an exchange already under
/// way when the grants ended is refused by the mark, and a later one by the ended grants.
pub async fn stop_using(
    idp: &dyn Store,
    consent: &dyn ConsentStore,
    audit: &AuditLog,
    via: &str,
    user: &renkei_idp::store::UserRow,
    client_id: &str,
) -> Result<Stopped> {
    let now = renkei_platform::clock::now();
    if !idp.stop_using(&user.id, client_id, now).await? {
        return Err(Error::Invalid(format!(
            "the account {} has not approved an app with client id {client_id:?}",
            user.username
        )));
    }
    let revoked = consent
        .revoke_capabilities_of(client_id, &user.id, now)
        .await?;
    audit
        .append(AuditEvent::change(
            "account",
            Some(client_id),
            Vec::new(),
            Vec::new(),
            via,
            format!(
                "account {} stopped using the app; its approval and grants ended, {revoked} capability tokens revoked",
                user.username
            ),
        ))
        .await?;
    Ok(Stopped {
        capability_tokens_revoked: revoked,
    })
}

//! Single-sign-on sessions: a random cookie whose SHA-256 digest keys a database row, so that
//! every process on one database shares them.

use axum::http::{HeaderMap, HeaderValue};

use crate::crypto::{random_id, random_secret, sha256};
use crate::error::Result;
use crate::server::AppState;
use crate::store::{SessionRow, SignedIn};
use renkei_platform::clock::now;

/// Base name of the session cookie.
pub const SESSION_COOKIE: &str = "renkei_session";

/// Authentication context class for a password sign-in.
pub const ACR_PASSWORD: &str = "urn:renkei:acr:password";

/// The live session of the browser that sent `headers`, if any.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRow>> {
    let Some(digest) = cookie_digest(state, headers) else {
        return Ok(None);
    };
    Ok(state.store.session(&digest, now()).await?)
}

/// [`current`] with what its user already approved for `client_id`, in one database query
/// (the authorization endpoint's path).
pub async fn current_for(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Option<SignedIn>> {
    let Some(digest) = cookie_digest(state, headers) else {
        return Ok(None);
    };
    Ok(state.store.signed_in(&digest, now(), client_id).await?)
}

/// SHA-256 of the session cookie's value: the key of its row.
fn cookie_digest(state: &AppState, headers: &HeaderMap) -> Option<Vec<u8>> {
    let name = state.cookies.name(SESSION_COOKIE);
    renkei_platform::web::cookie(headers, &name).map(|token| sha256(token.as_bytes()))
}

/// Starts a session for `user_id` after a successful sign-in; returns it with its cookie.
pub async fn start(
    state: &AppState,
    user_id: &str,
    amr: &[&str],
    acr: &str,
) -> Result<(SessionRow, HeaderValue)> {
    let token = random_secret();
    let now = now();
    let session = SessionRow {
        sid: random_id(),
        user_id: user_id.to_owned(),
        auth_time: now,
        amr: amr.join(" "),
        acr: acr.to_owned(),
        expires_at: now + state.config.session_ttl,
    };
    state
        .store
        .insert_session(&sha256(token.as_bytes()), &session)
        .await?;
    let cookie = state
        .cookies
        .set(SESSION_COOKIE, &token, Some(state.config.session_ttl));
    Ok((session, cookie))
}

/// Ends a session; returns the cookie that clears it in the browser.
pub async fn end(state: &AppState, sid: &str) -> Result<HeaderValue> {
    state.store.delete_session(sid).await?;
    Ok(state.cookies.clear(SESSION_COOKIE))
}

/// "Sign out my other devices": ends every other session of the person signed in as
/// `session` and revokes the apps' grants made from them (a tablet left signed in at school);
/// this browser stays signed in. Audited (through `via`). Returns how many sessions ended.
pub async fn end_others(
    store: &dyn crate::store::Store,
    audit: &renkei_platform::AuditLog,
    via: &str,
    session: &SessionRow,
    username: &str,
) -> Result<u64> {
    let ended = store
        .end_other_sessions(&session.user_id, &session.sid, None, now())
        .await?;
    audit
        .append(renkei_platform::AuditEvent::change(
            "account",
            None,
            Vec::new(),
            Vec::new(),
            via,
            format!(
                "account {username} signed out its other devices: {ended} session(s) ended, their grants revoked"
            ),
        ))
        .await?;
    Ok(ended)
}

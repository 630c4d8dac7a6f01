//! Single-sign-on sessions: a random cookie whose SHA-256 digest keys a database row, so that
//! every process on one database shares them.

use axum::http::{HeaderMap, HeaderValue};

use crate::crypto::{now, random_id, random_secret, sha256};
use crate::error::Result;
use crate::server::AppState;
use crate::store::SessionRow;

/// Base name of the session cookie.
pub const SESSION_COOKIE: &str = "renkei_session";

/// Authentication context class for a password sign-in.
pub const ACR_PASSWORD: &str = "urn:renkei:acr:password";

/// The live session of the browser that sent `headers`, if any.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRow>> {
    let name = state.cookies.name(SESSION_COOKIE);
    let Some(token) = crate::http::cookie(headers, &name) else {
        return Ok(None);
    };
    Ok(state
        .store
        .session(&sha256(token.as_bytes()), now())
        .await?)
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

//! What a form just did, said once on the page it returns to: carried in a short-lived cookie
//! set by the POST (never in the address, where a link could fake it) and cleared when shown.
//! The provider's passkeys page and the portal's pages use it.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::server::AppState;

/// The cookie's name.
const COOKIE: &str = "renkei_notice";
/// How long a notice waits for its page, in seconds.
const LIFETIME: i64 = 60;

/// The redirect to `path` after a form that did `what` (a fixed word the page knows).
pub fn after(state: &AppState, path: &str, what: &'static str) -> Response {
    renkei_platform::web::see_other(path, [state.cookies.set(COOKIE, what, Some(LIFETIME))])
}

/// The word waiting for this page, if any, and the cookie that clears it.
pub fn take(state: &AppState, headers: &HeaderMap) -> (Option<String>, Option<HeaderValue>) {
    match renkei_platform::web::cookie(headers, &state.cookies.name(COOKIE)) {
        Some(word) => (Some(word.to_owned()), Some(state.cookies.clear(COOKIE))),
        None => (None, None),
    }
}

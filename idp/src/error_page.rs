//! Kind errors: every error page a browser sees is in the reader's language, with a way home,
//! to sign in (or out) and the language toggle — including the answers no handler writes (a
//! form over the size limit, a form that cannot be read, a page opened with the wrong method).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::pages::{Locale, LocalizedErrorPage, PageError, render};
use crate::server::AppState;

/// `pages` with [`localize`] on every route and the fallback: for the routers of HTML pages
/// (the provider's, the portal's), not for APIs, which pay nothing for it then.
pub fn localized(pages: axum::Router, state: &AppState) -> axum::Router {
    pages.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        localize,
    ))
}

/// Rewrites error pages, and the framework's plain-text refusals, as [`LocalizedErrorPage`]s
/// (same status and headers) for browsers navigating. Callers that do not ask for HTML pass
/// straight through, with the page in both languages.
pub async fn localize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !wants_page(request.headers()) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let lang = request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "lang")
            .map(|(_, value)| value.into_owned())
    });
    let query = request.uri().query().map(str::to_owned);
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let locale = state.locale(lang.as_deref(), None, &headers);
    let t = locale.texts();
    let message: String = if let Some(error) = response.extensions().get::<PageError>() {
        match locale {
            Locale::Ja => error.ja.clone(),
            Locale::En => error.en.clone(),
        }
    } else if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        // Logged where it happened; the person gets a page, not the API's JSON.
        t.server_failed.to_owned()
    } else if is_plain_refusal(&response) {
        match response.status() {
            StatusCode::PAYLOAD_TOO_LARGE => t.too_large,
            StatusCode::METHOD_NOT_ALLOWED => t.wrong_method,
            _ => t.bad_form,
        }
        .to_owned()
    } else {
        return response;
    };
    let toggle_href = toggle(&method, &path, query.as_deref(), locale);
    let signed_in = renkei_platform::web::cookie(
        &headers,
        &state.cookies.name(crate::session::SESSION_COOKIE),
    )
    .is_some();
    let page = render(&LocalizedErrorPage {
        t,
        toggle_href,
        message: &message,
        signed_in,
    });
    let (mut parts, _) = response.into_parts();
    let (page_parts, body) = page.into_parts();
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(value) = page_parts.headers.get(&name) {
            parts.headers.insert(name, value.clone());
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::new(body)).into_response()
}

/// A browser navigating (it asks for HTML), not an app calling an API.
fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A client error the framework wrote as plain text or with no body (a rejected extractor, a
/// body over the limit, a wrong method); the handlers' own answers are HTML or JSON.
fn is_plain_refusal(response: &Response) -> bool {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|kind| kind.starts_with("text/plain"));
    plain
        && matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::UNPROCESSABLE_ENTITY
        )
}

/// The same page in the other language: the same address with `lang` switched for a page
/// opened with GET; the home page for a form's answer (its address cannot be opened again).
fn toggle(method: &Method, path: &str, query: Option<&str>, locale: Locale) -> String {
    let other = match locale {
        Locale::Ja => "en",
        Locale::En => "ja",
    };
    // A form's answer cannot be opened again; nor may the link lead off this site (a path
    // starting `//` or `/\` is another host's address to a browser).
    if method != Method::GET || path.starts_with("//") || path.starts_with("/\\") {
        return format!("/?lang={other}");
    }
    let mut pairs: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(key, _)| key != "lang")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    pairs.push(("lang".into(), other.into()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toggle_keeps_a_pages_address_and_switches_the_language() {
        assert_eq!(
            toggle(&Method::GET, "/nowhere", Some("a=1&lang=ja"), Locale::Ja),
            "/nowhere?a=1&lang=en"
        );
        assert_eq!(toggle(&Method::GET, "/x", None, Locale::En), "/x?lang=ja");
        assert_eq!(
            toggle(&Method::POST, "/account/consent", None, Locale::Ja),
            "/?lang=en"
        );
        assert_eq!(
            toggle(&Method::GET, "//evil.example/x", None, Locale::Ja),
            "/?lang=en"
        );
        assert_eq!(
            toggle(&Method::GET, "/\\evil.example/x", None, Locale::Ja),
            "/?lang=en"
        );
    }
}

//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the provider's own home
//! page, which shows who is signed in and offers to sign out.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::client::ClientExt;
use crate::error::{Error, Result};
use crate::pages::{MessagePage, PageAction, render, toggle_href};
use crate::server::AppState;
use crate::session;
use crate::token::issue::ID_TOKEN_TYP;
use crate::user::display_name;

/// Parameters of a logout request (query for GET, form for POST).
#[derive(Debug, Default, Deserialize)]
pub struct LogoutRequest {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    ui_locales: Option<String>,
    lang: Option<String>,
    /// Set by our own confirmation form.
    csrf_token: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: serde_json::Value,
    sid: Option<String>,
}

/// `GET /logout` and `POST /logout` (the end-session endpoint).
pub async fn endpoint(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<LogoutRequest>,
    body: Bytes,
) -> Response {
    let request = if method == Method::POST {
        match serde_urlencoded::from_bytes::<LogoutRequest>(&body) {
            // An app's POST (no CSRF token of ours) is cross-site and carries no SameSite=Lax
            // session cookie: continue it as a GET, which does.
            Ok(form) if form.csrf_token.is_none() => {
                return crate::authorize::see_other_with_query("/logout", &body);
            }
            Ok(form) => form,
            Err(e) => {
                return Error::page(
                    StatusCode::BAD_REQUEST,
                    format!("ログアウトの要求が正しくありません：{e}"),
                    format!("Malformed logout request: {e}"),
                )
                .into_response();
            }
        }
    } else {
        query
    };
    logout(&state, &headers, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn logout(state: &AppState, headers: &HeaderMap, request: LogoutRequest) -> Result<Response> {
    let locale = state.locale(
        request.lang.as_deref(),
        request.ui_locales.as_deref(),
        headers,
    );
    let t = locale.texts();
    let issuer = &state.config.issuer;
    let hint = match &request.id_token_hint {
        Some(token) => Some(
            state
                .keys
                .verify::<HintClaims>(token, ID_TOKEN_TYP, issuer, None, false)
                .ok_or_else(|| {
                    Error::page(
                        StatusCode::BAD_REQUEST,
                        "ログアウトの要求に付いている ID トークンを確認できません。",
                        "The id_token_hint of this logout request is not an ID token issued here.",
                    )
                })?,
        ),
        None => None,
    };
    let hint_client = hint.as_ref().and_then(|h| match &h.aud {
        serde_json::Value::String(aud) => Some(aud.clone()),
        serde_json::Value::Array(auds) => auds.first().and_then(|a| a.as_str()).map(str::to_owned),
        _ => None,
    });
    if let (Some(from_hint), Some(given)) = (&hint_client, &request.client_id)
        && from_hint != given
    {
        return Err(Error::page(
            StatusCode::BAD_REQUEST,
            "client_id と ID トークンのアプリが一致しません。",
            "client_id does not match the id_token_hint's audience.",
        ));
    }
    let client_id = hint_client.or(request.client_id.clone());
    let redirect = match &request.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => state.store.client(id).await?,
                None => None,
            };
            match client {
                Some(client) if client.has_post_logout_redirect_uri(uri) => Some(uri.clone()),
                _ => {
                    return Err(Error::page(
                        StatusCode::BAD_REQUEST,
                        "ログアウト後の戻り先（post_logout_redirect_uri）が登録と一致しません。",
                        "post_logout_redirect_uri is not registered for this app (or the app is not named by id_token_hint or client_id).",
                    ));
                }
            }
        }
    };
    let current = session::current(state, headers).await?;
    let confirmed = request
        .csrf_token
        .as_deref()
        .is_some_and(|token| state.csrf.verify(headers, token));
    let hint_matches = match (&current, &hint) {
        (Some(s), Some(h)) => h
            .sid
            .as_deref()
            .map_or(h.sub == s.user_id, |sid| sid == s.sid),
        _ => false,
    };
    if let Some(current) = &current
        && !confirmed
        && !hint_matches
    {
        let user = state.store.user(&current.user_id).await?;
        let (csrf_token, csrf_cookie) = state.csrf.token(headers);
        let mut fields = Vec::new();
        for (name, value) in [
            ("post_logout_redirect_uri", &redirect),
            ("state", &request.state),
            ("client_id", &client_id),
            ("ui_locales", &request.ui_locales),
        ] {
            if let Some(value) = value {
                fields.push((name, value.clone()));
            }
        }
        let kept: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(name, _)| *name != "ui_locales")
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let page = MessagePage {
            t,
            toggle_href: toggle_href(t, "/logout", &kept),
            title: t.sign_out.to_owned(),
            lines: vec![
                format!(
                    "{}{}",
                    t.signed_in_as,
                    user.as_ref().map(display_name).unwrap_or_default()
                ),
                t.sign_out_question.to_owned(),
            ],
            links: Vec::new(),
            action: Some(PageAction {
                path: "/logout",
                label: t.sign_out,
                fields,
            }),
            footer: vec![("/".to_owned(), t.back_home)],
            csrf_token,
        };
        return Ok(renkei_platform::web::with_cookies(
            render(&page),
            csrf_cookie,
        ));
    }
    let mut cookies = Vec::new();
    if let Some(current) = current {
        cookies.push(session::end(state, &current.sid).await?);
        tracing::info!(user = %current.user_id, "signed out");
    }
    if let Some(uri) = redirect {
        let mut url = url::Url::parse(&uri).map_err(|e| Error::internal(e.to_string()))?;
        if let Some(app_state) = &request.state {
            url.query_pairs_mut().append_pair("state", app_state);
        }
        return Ok(renkei_platform::web::see_other(url.as_str(), cookies));
    }
    let page = MessagePage {
        t,
        toggle_href: toggle_href(t, "/logout", &[]),
        title: t.sign_out.to_owned(),
        lines: vec![t.signed_out.to_owned()],
        links: vec![("/login".to_owned(), t.sign_in)],
        action: None,
        footer: vec![("/".to_owned(), t.back_home)],
        csrf_token: String::new(),
    };
    Ok(renkei_platform::web::with_cookies(render(&page), cookies))
}

//! Recovery codes: ten one-time codes a person prints (or writes down) when they enrol their
//! first passkey, for the day the device that holds it is lost. A code works once, and only
//! together with the account's password; only each code's SHA-256 digest is kept (a code
//! carries about 79 random bits, so a digest reveals nothing).
//!
//! A recovery sign-in never counts for more than it is: its `acr` is [`ACR_RECOVERY`] and its
//! `amr` `["pwd", "otp"]` — not a passkey, and not the second factor that class II+ data needs
//! (capability tokens of such a session carry class III only). Where the board requires a
//! passkey it reaches no app at all: the person lands on the passkeys page to register a new
//! passkey (and remove the lost one), then signs in with it. New codes need a passkey sign-in
//! (and void the earlier ones); an administrator's reset of a person's passkeys voids them
//! too. Every use, renewal and voiding is audited.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use renkei_platform::clock::now;
use renkei_platform::{AuditEvent, AuditLog};
use serde::Deserialize;

use crate::crypto::{readable_password, sha256_base64url};
use crate::error::{Error, Result};
use crate::login::{self, PasswordCheck};
use crate::pages::{Locale, Texts, filters, render, toggle_href};
use crate::server::AppState;
use crate::store::{RecoveryCodesLeft, Store, UserRow};

/// The sign-in page with a recovery code.
pub const PATH: &str = "/login/recovery";
/// Where the passkeys page asks for a new set.
pub const RENEW_PATH: &str = "/passkeys/recovery-codes";

/// The `acr` of a sign-in with a password and a recovery code.
pub const ACR_RECOVERY: &str = "urn:renkei:acr:recovery";
/// Its `amr` (RFC 8176): a password and a one-time code.
const AMR_RECOVERY: [&str; 2] = ["pwd", "otp"];

/// How many codes a set has.
pub const CODES: usize = 10;
/// Characters of a code, shown in groups of four (about 79 random bits).
const CODE_LENGTH: usize = 16;

/// A fresh set of codes, as shown: `abcd-efgh-jkmn-pqrs`.
fn new_codes() -> Vec<String> {
    (0..CODES)
        .map(|_| {
            let code = readable_password(CODE_LENGTH);
            let groups: Vec<&str> = (0..CODE_LENGTH)
                .step_by(4)
                .map(|at| &code[at..at + 4])
                .collect();
            groups.join("-")
        })
        .collect()
}

/// A typed code as it is stored (lower case, without hyphens or spaces, full-width characters
/// as their ASCII forms), if it can be one of ours.
fn normalized(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .map(|c| match c {
            // Full-width ASCII, as a Japanese input method may type it.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            other => other,
        })
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}' | 'ー' | '―' | '‐'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// The stored digest of a code.
fn digest(normalized: &str) -> String {
    sha256_base64url(normalized.as_bytes())
}

/// Gives `user` a new set of codes (the earlier ones stop working), audited through `via`: the
/// codes, to be shown once.
pub async fn renew(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    user: &UserRow,
) -> Result<Vec<String>> {
    let codes = new_codes();
    let digests: Vec<String> = codes
        .iter()
        .map(|code| digest(&code.replace('-', "")))
        .collect();
    store
        .replace_recovery_codes(&user.id, &digests, now())
        .await?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "{CODES} new recovery codes made for account {}; earlier ones voided",
                user.username
            ),
        ))
        .await?;
    Ok(codes)
}

/// What is left of an account's codes.
pub async fn left(store: &dyn Store, user_id: &str) -> Result<RecoveryCodesLeft> {
    Ok(store.recovery_codes_left(user_id).await?)
}

/// The page's words.
struct RecoveryTexts {
    title: &'static str,
    intro: &'static str,
    code: &'static str,
    code_hint: &'static str,
    button: &'static str,
    failed: &'static str,
    codes_title: &'static str,
    codes_intro: &'static str,
    codes_keep: &'static str,
    codes_once: &'static str,
    continue_label: &'static str,
    other_way: &'static str,
}

static JA: RecoveryTexts = RecoveryTexts {
    title: "回復コードでログイン",
    intro: "パスキーの入った端末をなくしたときは、パスワードと、印刷しておいた回復コードの1つでログインできます。ログイン後に新しいパスキーを登録してください。",
    code: "回復コード",
    code_hint: "例：abcd-efgh-jkmn-pqrs（ハイフンはなくてもかまいません）。1つのコードは1回だけ使えます。",
    button: "ログイン",
    failed: "ユーザー名、パスワード、または回復コードが正しくありません。回復コードがない場合は、管理者に連絡してください。",
    codes_title: "回復コード",
    codes_intro: "パスキーの入った端末をなくしたときに、パスワードと一緒に使うコードです。",
    codes_keep: "このページを印刷するか書き写して、端末とは別の安全な場所に保管してください。このコードは二度と表示されません。",
    codes_once: "1つのコードは1回だけ使えます。新しいコードを作ると、これまでのコードは使えなくなります。",
    continue_label: "続ける",
    other_way: "ほかの方法でログイン",
};

static EN: RecoveryTexts = RecoveryTexts {
    title: "Sign in with a recovery code",
    intro: "If you lost the device that holds your passkey, sign in with your password and one of the recovery codes you printed. Then register a new passkey.",
    code: "Recovery code",
    code_hint: "For example abcd-efgh-jkmn-pqrs (the hyphens may be left out). Each code works once.",
    button: "Sign in",
    failed: "The username, password or recovery code is not correct. Without a recovery code, please contact your administrator.",
    codes_title: "Recovery codes",
    codes_intro: "Use one of these codes with your password if you lose the device that holds your passkey.",
    codes_keep: "Print this page or copy the codes, and keep them safe, away from the device. They will not be shown again.",
    codes_once: "Each code works once. Making new codes voids these.",
    continue_label: "Continue",
    other_way: "Sign in another way",
};

impl RecoveryTexts {
    fn of(locale: Locale) -> &'static RecoveryTexts {
        match locale {
            Locale::Ja => &JA,
            Locale::En => &EN,
        }
    }
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage<'a> {
    t: &'static Texts,
    r: &'static RecoveryTexts,
    toggle_href: String,
    csrf_token: &'a str,
    request: &'a str,
    username: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage<'a> {
    t: &'static Texts,
    r: &'static RecoveryTexts,
    toggle_href: String,
    /// What was just done (e.g. a passkey registered).
    notice: Option<&'static str>,
    codes: &'a [String],
    /// Where "continue" leads.
    next: &'a str,
}

/// The page that shows a new set of codes, once (never cached), with `notice` and a way on to
/// `next`.
pub(crate) fn show_codes(
    locale: Locale,
    notice: Option<&'static str>,
    codes: &[String],
    next: &str,
) -> Response {
    let t = locale.texts();
    render(&CodesPage {
        t,
        r: RecoveryTexts::of(locale),
        toggle_href: String::new(),
        notice,
        codes,
        next,
    })
}

/// Query of `GET /login/recovery`.
#[derive(Debug, Default, Deserialize)]
pub struct RecoveryQuery {
    #[serde(default)]
    request: String,
    lang: Option<String>,
}

/// `GET /login/recovery`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<RecoveryQuery>,
) -> Response {
    let result = async {
        let context = login::context(&state, &query.request).await?;
        let locale = state.locale(query.lang.as_deref(), context.ui_locales(), &headers);
        let response = show(&state, &headers, locale, &query.request, "", None);
        Ok::<_, Error>(renkei_platform::web::with_cookies(
            response,
            state.remember_locale(query.lang.as_deref(), locale),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn show(
    state: &AppState,
    headers: &HeaderMap,
    locale: Locale,
    request: &str,
    username: &str,
    error: Option<&'static str>,
) -> Response {
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    let params: &[(&str, &str)] = if request.is_empty() {
        &[]
    } else {
        &[("request", request)]
    };
    let page = RecoveryPage {
        t,
        r: RecoveryTexts::of(locale),
        toggle_href: toggle_href(t, PATH, params),
        csrf_token: &csrf_token,
        request,
        username,
        error,
    };
    renkei_platform::web::with_cookies(render(&page), csrf_cookie)
}

/// Form of `POST /login/recovery`.
#[derive(Debug, Deserialize)]
pub struct RecoveryForm {
    csrf_token: String,
    #[serde(default)]
    request: String,
    username: String,
    password: String,
    code: String,
}

/// `POST /login/recovery`: the password and one unused code sign the person in, and lead to
/// the passkeys page to register a new passkey.
pub async fn submit(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<RecoveryForm>,
) -> Response {
    let result = async {
        let context = login::context(&state, &form.request).await?;
        let locale = state.locale(None, context.ui_locales(), &headers);
        let r = RecoveryTexts::of(locale);
        let again = |error, status| {
            let mut response = show(
                &state,
                &headers,
                locale,
                &form.request,
                &form.username,
                Some(error),
            );
            *response.status_mut() = status;
            response
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Ok::<_, Error>(again(locale.texts().form_expired, StatusCode::FORBIDDEN));
        }
        let address_key = login::address_key(&state, connect_info.as_ref(), &headers);
        let username = form.username.trim();
        let checked =
            login::check_password(&state, address_key.as_deref(), username, &form.password).await?;
        // The board's passkey rule does not stop a recovery: the session it makes reaches no
        // app until a new passkey is registered and used.
        let user = match checked {
            PasswordCheck::Throttled(throttle) => {
                return Ok(again(
                    throttle.message(locale.texts()),
                    StatusCode::TOO_MANY_REQUESTS,
                ));
            }
            PasswordCheck::UpstreamOnly => {
                return Ok(again(locale.texts().upstream_only, StatusCode::FORBIDDEN));
            }
            PasswordCheck::Checked { user: None, .. } => {
                return Ok(again(r.failed, StatusCode::OK));
            }
            PasswordCheck::Checked {
                user: Some(user), ..
            } => user,
        };
        let used = match normalized(&form.code) {
            Some(code) => {
                state
                    .store
                    .use_recovery_code(&user.id, &digest(&code), now())
                    .await?
            }
            None => false,
        };
        if !used {
            tracing::warn!(address = ?address_key, "recovery sign-in refused: no such unused code");
            return Ok(again(r.failed, StatusCode::OK));
        }
        login::clear_account_failures(state.store.as_ref(), username).await?;
        login::release_address_attempt(&state, address_key.as_deref()).await?;
        let left = left(state.store.as_ref(), &user.id).await?.left;
        state
            .audit
            .append(AuditEvent::admin_about(
                PATH,
                user.sourced_id.as_deref(),
                format!(
                    "account {} signed in with its password and a recovery code ({left} left)",
                    user.username
                ),
            ))
            .await?;
        let (_, cookie) =
            login::replace_session(&state, &headers, &user.id, &AMR_RECOVERY, ACR_RECOVERY).await?;
        let next = crate::passkey::passkeys_page(&form.request);
        let response = crate::notice::after(&state, &next, "recovered");
        Ok(renkei_platform::web::with_cookies(response, [cookie]))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Whether `session` may make new codes: a recent passkey sign-in (a password alone must not
/// make a second way in).
pub(crate) fn may_renew(session: &crate::store::SessionRow) -> bool {
    session.acr == crate::passkey::ACR_PASSKEY && crate::passkey::signed_in_recently(session)
}

/// Form of `POST /passkeys/recovery-codes`.
#[derive(Debug, Deserialize)]
pub struct RenewForm {
    csrf_token: String,
}

/// `POST /passkeys/recovery-codes`: a new set for the signed-in person, who signed in with a
/// passkey recently (a password alone must not make a second way in).
pub async fn renew_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RenewForm>,
) -> Response {
    let result = async {
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Err(Error::expired_form());
        }
        let locale = state.locale(None, None, &headers);
        let session = crate::session::current(&state, &headers)
            .await?
            .filter(may_renew)
            .ok_or_else(|| {
                Error::page(
                    StatusCode::FORBIDDEN,
                    "新しい回復コードを作るには、パスキーでログインし直してください。",
                    "To make new recovery codes, please sign in again with a passkey.",
                )
            })?;
        let user = state
            .store
            .user(&session.user_id)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(crate::token::issue::user_gone)?;
        let codes = renew(state.store.as_ref(), &state.audit, RENEW_PATH, &user).await?;
        Ok(show_codes(locale, None, &codes, crate::passkey::PAGE_PATH))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_however_they_are_typed() {
        let codes = new_codes();
        assert_eq!(codes.len(), CODES);
        let code = &codes[0];
        assert_eq!(code.len(), CODE_LENGTH + 3);
        let stored = code.replace('-', "");
        assert_eq!(normalized(code).as_deref(), Some(stored.as_str()));
        assert_eq!(
            normalized(&code.to_uppercase()).as_deref(),
            Some(stored.as_str())
        );
        let wide: String = code
            .chars()
            .map(|c| match c {
                '-' => 'ー',
                c => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            })
            .collect();
        assert_eq!(normalized(&wide).as_deref(), Some(stored.as_str()));
        assert_eq!(
            normalized(&format!(" {stored} ")).as_deref(),
            Some(stored.as_str())
        );
        assert_eq!(normalized("abcd-efgh"), None);
        assert_eq!(normalized("abcd-efgh-jkmn-pqr!"), None);
    }

    #[test]
    fn a_set_has_different_codes() {
        let mut codes = new_codes();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), CODES);
    }
}

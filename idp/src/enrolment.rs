//! Passkey enrolment links: an administrator gives a new staff member a one-time link (printed
//! or as a QR code) with which they register a passkey on their own device, before they have
//! any other way in. The link's secret travels in the URL's fragment (a browser never sends it
//! in a request line, so no access log holds it) and reaches the server in a form's body; only
//! its digest is stored. A link expires after [`LINK_LIFETIME`], works once, and a new link
//! for the same person voids the earlier one. Issuing and using a link are audited.
//!
//! Using a link does not sign anyone in: the new passkey then signs in as any passkey does.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use renkei_directory::Role;
use renkei_platform::clock::now;
use renkei_platform::{AuditEvent, AuditLog};
use serde::Deserialize;

use crate::crypto::{random_secret, sha256_base64url};
use crate::error::{Error, Result};
use crate::pages::{Locale, Texts, filters, render_with_script, toggle_href};
use crate::passkey::{self, NotRegistered};
use crate::server::AppState;
use crate::store::{EnrolmentLinkRow, Store, StoreError, UserRow};

/// The page a link opens.
pub const PATH: &str = "/enrol";
/// Where its script asks for the registration options.
pub const OPTIONS_PATH: &str = "/enrol/options";

/// How long a link works: three days, for a link handed over on paper on a Friday.
pub const LINK_LIFETIME: i64 = 3 * 86_400;

/// Longest secret a request may carry (ours are 43 characters).
const MAX_TOKEN: usize = 128;

/// A link just issued: shown once (the secret is not kept).
#[derive(Clone, Debug, serde::Serialize)]
pub struct IssuedLink {
    /// The account it enrols a passkey for.
    pub username: String,
    /// The link, `<issuer>/enrol#<secret>`.
    pub url: String,
    /// Until when it works (Unix seconds).
    pub expires_at: i64,
}

/// Issues a link for `username`, a teacher's or an administrator's enabled account, by `by`;
/// the account's earlier unused link stops working. Audited (through `via`).
pub async fn issue(
    store: &dyn Store,
    audit: &AuditLog,
    via: &str,
    issuer: &str,
    username: &str,
    by: &str,
) -> Result<IssuedLink> {
    let user = crate::user::by_username(store, username).await?;
    if !matches!(
        Role::parse(&user.role),
        Some(Role::Teacher | Role::Administrator)
    ) {
        return Err(Error::Invalid(format!(
            "enrolment links are for staff (teachers and administrators); {username} is a {}",
            user.role
        )));
    }
    if !user.enabled {
        return Err(Error::Invalid(format!(
            "the account {username} is disabled or locked; enable it first"
        )));
    }
    if !store.passkeys_of(&user.id).await?.is_empty() {
        return Err(Error::Invalid(format!(
            "{username} already has a passkey: a link enrols the first one. They add another after signing in with it; for a lost device, remove their passkeys first"
        )));
    }
    let secret = random_secret();
    let created_at = now();
    let link = EnrolmentLinkRow {
        token_hash: sha256_base64url(secret.as_bytes()),
        user_id: user.id.clone(),
        created_by: by.to_owned(),
        created_at,
        expires_at: created_at + LINK_LIFETIME,
        used_at: None,
    };
    store
        .insert_enrolment_link(&link)
        .await
        .map_err(|error| match error {
            StoreError::Conflict(_) => Error::Invalid(format!(
                "another link for {username} was issued at the same moment; issue it again"
            )),
            other => other.into(),
        })?;
    audit
        .append(AuditEvent::admin_about(
            via,
            user.sourced_id.as_deref(),
            format!(
                "passkey enrolment link for account {username} issued, valid until {}",
                link.expires_at
            ),
        ))
        .await?;
    Ok(IssuedLink {
        username: user.username,
        url: format!("{}{PATH}#{secret}", issuer.trim_end_matches('/')),
        expires_at: link.expires_at,
    })
}

/// The account a live link enrols, if the secret is one's and the account may still sign in.
async fn enrolled_by(state: &AppState, secret: &str) -> Result<Option<(String, UserRow)>> {
    if secret.is_empty() || secret.len() > MAX_TOKEN {
        return Ok(None);
    }
    let digest = sha256_base64url(secret.as_bytes());
    let Some(link) = state.store.live_enrolment_link(&digest, now()).await? else {
        return Ok(None);
    };
    let Some(user) = state
        .store
        .user(&link.user_id)
        .await?
        .filter(|user| user.enabled)
    else {
        return Ok(None);
    };
    // A link enrols the first passkey only (another needs a sign-in with the first).
    if !state.store.passkeys_of(&user.id).await?.is_empty() {
        return Ok(None);
    }
    Ok(Some((digest, user)))
}

/// The page's words.
struct EnrolTexts {
    title: &'static str,
    intro: &'static str,
    name: &'static str,
    button: &'static str,
    failed: &'static str,
    unsupported: &'static str,
    invalid: &'static str,
    done: &'static str,
}

static JA: EnrolTexts = EnrolTexts {
    title: "パスキーの登録",
    intro: "管理者から受け取ったリンクで、この端末にパスキーを登録します。登録すると、パスワードを使わずに、この端末の指紋・顔認証・PINでログインできます。リンクは一度だけ使えます。",
    name: "この端末の名前",
    button: "パスキーを登録する",
    failed: "パスキーを登録できませんでした。もう一度お試しください。",
    unsupported: "このブラウザではパスキーを使えません。別のブラウザで、このリンクを開いてください。",
    invalid: "このリンクは使えません。期限が切れたか、すでに使われたか、新しいリンクに置き換えられました。管理者に新しいリンクを依頼してください。",
    done: "パスキーを登録しました。次からは、ログイン画面で「パスキーでログイン」を選んでください。",
};

static EN: EnrolTexts = EnrolTexts {
    title: "Register a passkey",
    intro: "With the link an administrator gave you, register a passkey on this device. Then you sign in without a password, with this device's fingerprint, face or PIN. The link works once.",
    name: "This device's name",
    button: "Register a passkey",
    failed: "The passkey could not be registered. Please try again.",
    unsupported: "This browser cannot use passkeys. Open the link in another browser.",
    invalid: "This link does not work: it expired, was used, or a newer link replaced it. Ask an administrator for a new one.",
    done: "Your passkey is registered. From now on, choose “Sign in with a passkey” on the sign-in page.",
};

impl EnrolTexts {
    fn of(locale: Locale) -> &'static EnrolTexts {
        match locale {
            Locale::Ja => &JA,
            Locale::En => &EN,
        }
    }
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    t: &'static Texts,
    e: &'static EnrolTexts,
    toggle_href: String,
    csrf_token: &'a str,
    suggested_name: String,
    /// The link's secret, kept for another try after a refused answer (the fragment fills it
    /// on the first visit).
    token: String,
    /// After a refused answer: what went wrong.
    error: Option<&'static str>,
}

/// Query of `GET /enrol`.
#[derive(Debug, Default, Deserialize)]
pub struct EnrolQuery {
    lang: Option<String>,
}

/// `GET /enrol`: the page a link opens; its script reads the secret from the fragment.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EnrolQuery>,
) -> Response {
    let locale = state.locale(query.lang.as_deref(), None, &headers);
    let page = Shown {
        lang: query.lang.as_deref(),
        ..Shown::default()
    };
    respond(&state, &headers, locale, page)
}

/// What the page shows besides its form.
#[derive(Default)]
struct Shown<'a> {
    lang: Option<&'a str>,
    token: String,
    error: Option<&'static str>,
    status: Option<StatusCode>,
}

fn respond(state: &AppState, headers: &HeaderMap, locale: Locale, shown: Shown<'_>) -> Response {
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    let page = EnrolPage {
        t,
        e: EnrolTexts::of(locale),
        toggle_href: toggle_href(t, PATH, &[]),
        csrf_token: &csrf_token,
        suggested_name: passkey::suggested_name(t, headers),
        token: shown.token,
        error: shown.error,
    };
    let mut response = render_with_script(&page);
    *response.status_mut() = shown.status.unwrap_or(StatusCode::OK);
    let cookies = state
        .remember_locale(shown.lang, locale)
        .into_iter()
        .chain(csrf_cookie);
    renkei_platform::web::with_cookies(response, cookies.collect::<Vec<_>>())
}

/// Form of `POST /enrol/options`.
#[derive(Debug, Deserialize)]
pub struct OptionsForm {
    #[serde(default)]
    token: String,
}

/// `POST /enrol/options`: the registration options for the link's account.
pub async fn options(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<OptionsForm>,
) -> Response {
    let result = async {
        passkey::verify_script_request(&state, &headers)?;
        let passkeys = passkey::relying(&state)?;
        let Some((_, user)) = enrolled_by(&state, &form.token).await? else {
            return Err(Error::page(StatusCode::NOT_FOUND, JA.invalid, EN.invalid));
        };
        let registered = state.store.passkeys_of(&user.id).await?;
        Ok::<_, Error>(Json(passkey::registration_options(
            passkeys, &user, registered,
        )?))
    }
    .await;
    passkey::no_store(result)
}

/// Form of `POST /enrol`.
#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    csrf_token: String,
    #[serde(default)]
    token: String,
    ceremony: String,
    credential: String,
    name: String,
}

/// `POST /enrol`: checks the new passkey, uses the link (once) and registers the passkey.
pub async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Response {
    let locale = state.locale(None, None, &headers);
    let e = EnrolTexts::of(locale);
    let refuse = |error, status| {
        let shown = Shown {
            token: form.token.chars().take(MAX_TOKEN).collect(),
            error: Some(error),
            status: Some(status),
            ..Shown::default()
        };
        respond(&state, &headers, locale, shown)
    };
    let result = async {
        passkey::relying(&state)?;
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Ok(refuse(locale.texts().form_expired, StatusCode::FORBIDDEN));
        }
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > passkey::NAME_MAX {
            return Ok(refuse(
                locale.texts().passkey_name_invalid,
                StatusCode::BAD_REQUEST,
            ));
        }
        let Some((digest, user)) = enrolled_by(&state, &form.token).await? else {
            return Ok(refuse(e.invalid, StatusCode::NOT_FOUND));
        };
        let row =
            match passkey::new_passkey(&state, &user.id, &form.ceremony, &form.credential, name)
                .await?
            {
                Ok(row) => row,
                Err(NotRegistered::Expired | NotRegistered::Refused) => {
                    return Ok(refuse(e.failed, StatusCode::BAD_REQUEST));
                }
            };
        // The link works once, and is used only with the passkey stored: two answers racing
        // with one link register one passkey.
        match state.store.enrol_passkey(&digest, &row, now()).await {
            Ok(true) => {}
            Ok(false) => return Ok(refuse(e.invalid, StatusCode::NOT_FOUND)),
            Err(StoreError::Conflict(_)) => {
                return Ok(refuse(e.failed, StatusCode::CONFLICT));
            }
            Err(error) => return Err(error.into()),
        }
        state
            .audit
            .append(AuditEvent::admin_about(
                PATH,
                user.sourced_id.as_deref(),
                format!(
                    "passkey {:?} registered for account {} with an enrolment link",
                    row.name, user.username
                ),
            ))
            .await?;
        // The person prints recovery codes now, for the day the device is lost.
        let codes = crate::recovery::renew(state.store.as_ref(), &state.audit, PATH, &user).await?;
        Ok::<_, Error>(crate::recovery::show_codes(
            locale,
            Some(e.done),
            &codes,
            "/login",
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

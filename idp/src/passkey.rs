//! Passkeys (WebAuthn, by webauthn-rs): a signed-in person registers one on their device, and
//! then signs in with the device's screen lock (fingerprint, face or PIN) instead of a password,
//! without typing a username (discoverable credentials: the passkey names the account).
//!
//! A ceremony's server state (its challenge) travels with the browser, sealed with a key of the
//! installation (HMAC-SHA256 over the state, its purpose, its account and its expiry): starting
//! one writes nothing (an anonymous request to start a sign-in costs no database row), any
//! process can finish it, and finishing records the seal in the used-once table, so that each
//! ceremony finishes at most once. Passkeys need an issuer with a domain name (WebAuthn does
//! not allow an IP address as relying-party id); on `http://127.0.0.1` they are not offered.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::crypto::{random_secret, sha256_base64url};
use crate::error::{Error, Result};
use crate::login;
use crate::pages::{Locale, PasskeyItem, PasskeysPage, Texts, render_with_script, toggle_href};
use crate::server::AppState;
use crate::session;
use crate::store::{PasskeyRow, SessionRow, Store, StoreError, UserRow};
use renkei_platform::clock::now;

/// Authentication context class of a passkey sign-in (user verification on the device).
pub const ACR_PASSKEY: &str = "urn:renkei:acr:passkey";

/// Authentication methods (RFC 8176) of a passkey sign-in with a key held by one device only,
/// unlocked by the device's user verification: two factors.
const AMR_DEVICE_BOUND: [&str; 2] = ["hwk", "mfa"];

/// The same with a synced passkey (the authenticator says it may be backed up): the key is not
/// bound to one piece of hardware.
const AMR_SYNCED: [&str; 2] = ["swk", "mfa"];

/// How long a started ceremony may take (the browser's own timeout is five minutes).
const CEREMONY_TTL: i64 = 300;

/// Adding a passkey adds a way into the account: only within this long after a sign-in.
const RECENT_SIGN_IN: i64 = 900;

/// Purpose of a registration ceremony's seal.
const REGISTER: &str = "register";
/// Purpose of a sign-in ceremony's seal.
const SIGN_IN: &str = "sign_in";

/// Longest passkey name, in characters.
pub(crate) const NAME_MAX: usize = 60;

/// Passkeys of an installation: the WebAuthn relying party, and the key that seals ceremonies.
pub struct Passkeys {
    webauthn: Webauthn,
    seal_key: Vec<u8>,
}

/// What a sealed ceremony carries.
#[derive(serde::Serialize, Deserialize)]
struct Sealed<'a, T> {
    purpose: &'a str,
    user: Option<&'a str>,
    expires: i64,
    state: T,
}

type Seal = hmac::Hmac<sha2::Sha256>;

impl Passkeys {
    /// Passkeys for `issuer` with the installation's sealing key (created on first start), or
    /// none when the issuer's host is not a domain name.
    pub async fn load(store: &dyn Store, issuer: &str) -> Result<Option<Self>> {
        let Some(webauthn) = relying_party(issuer) else {
            return Ok(None);
        };
        let seal_key = store
            .setting_or_insert("webauthn_seal_key", random_secret().as_bytes())
            .await?;
        Ok(Some(Passkeys { webauthn, seal_key }))
    }

    fn mac(&self) -> Seal {
        <Seal as hmac::Mac>::new_from_slice(&self.seal_key).expect("HMAC takes keys of any length")
    }

    /// Seals a ceremony's state for `purpose` (and the account registering a passkey) until
    /// `expires`: `base64url(JSON).base64url(HMAC)`.
    fn seal(
        &self,
        purpose: &str,
        user: Option<&str>,
        expires: i64,
        state: &impl serde::Serialize,
    ) -> Result<String> {
        use hmac::Mac;
        let payload = serde_json::to_vec(&Sealed {
            purpose,
            user,
            expires,
            state,
        })
        .map_err(|e| Error::internal(format!("ceremony state: {e}")))?;
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Opens a sealed ceremony if it is genuine, of `purpose`, for `user` and not expired at
    /// `now`; returns its state and the id that marks it used.
    fn open<T: serde::de::DeserializeOwned>(
        &self,
        sealed: &str,
        purpose: &str,
        user: Option<&str>,
        now: i64,
    ) -> Option<(T, String, i64)> {
        use hmac::Mac;
        let (payload, tag) = sealed.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).ok()?;
        let opened: Sealed<'_, T> = serde_json::from_slice(&payload).ok()?;
        (opened.purpose == purpose && opened.user == user && now <= opened.expires).then(|| {
            let used = format!("webauthn {}", sha256_base64url(&tag));
            (opened.state, used, opened.expires)
        })
    }
}

/// The relying party of `issuer`, or none when its host is not a domain name.
fn relying_party(issuer: &str) -> Option<Webauthn> {
    let origin = Url::parse(issuer).ok()?;
    let rp_id = origin.domain()?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|builder| builder.rp_name("連携 Renkei").build())
        .map_err(
            |error| tracing::warn!(%error, "passkeys are off: no relying party for the issuer"),
        )
        .ok()
}

/// The base64url form of a credential id, as stored and as shown in forms.
fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

pub(crate) fn relying(state: &AppState) -> Result<&Passkeys> {
    state.passkeys.as_ref().ok_or_else(|| {
        Error::page(
            StatusCode::NOT_FOUND,
            "このサーバーではパスキーを使えません。",
            "Passkeys are not available on this server.",
        )
    })
}

/// The CSRF check of the script's option requests: the form's token in a header.
pub(crate) fn verify_script_request(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let token = headers
        .get(HeaderName::from_static("x-csrf-token"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if state.csrf.verify(headers, token) {
        Ok(())
    } else {
        Err(Error::page(
            StatusCode::FORBIDDEN,
            "ページの有効期限が切れました。ページを開き直してください。",
            "This page has expired. Please reload it.",
        ))
    }
}

/// Finishes a sealed ceremony at most once: its state if the seal is genuine, of `purpose`, for
/// `user`, live, and not used before; none otherwise.
async fn finish_ceremony<T: serde::de::DeserializeOwned>(
    state: &AppState,
    sealed: &str,
    purpose: &str,
    user: Option<&str>,
) -> Result<Option<T>> {
    let Some((ceremony, used, expires)) = relying(state)?.open(sealed, purpose, user, now()) else {
        return Ok(None);
    };
    Ok(state
        .store
        .use_once(&used, expires)
        .await?
        .then_some(ceremony))
}

/// `POST /login/passkey/options`: starts a sign-in; the browser asks its authenticator with
/// these options (no account named: the person picks a passkey on the device).
pub async fn sign_in_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        verify_script_request(&state, &headers)?;
        let passkeys = relying(&state)?;
        let (options, ceremony) = passkeys
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::internal(format!("passkey sign-in could not start: {e}")))?;
        let id = passkeys.seal(SIGN_IN, None, now() + CEREMONY_TTL, &ceremony)?;
        Ok::<_, Error>(Json(
            json!({"ceremony": id, "publicKey": options.public_key}),
        ))
    }
    .await;
    no_store(result)
}

/// Form of `POST /login/passkey`.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf_token: String,
    #[serde(default)]
    request: String,
    ceremony: String,
    credential: String,
}

/// Why a passkey did not sign anyone in (logged; the person sees one message).
#[derive(Debug, thiserror::Error)]
enum Refused {
    /// The answer was not a WebAuthn assertion.
    #[error("not a WebAuthn assertion: {0}")]
    Malformed(String),
    /// No such passkey, or it does not belong to the account the authenticator named.
    #[error("unknown passkey")]
    UnknownPasskey,
    /// The account is disabled or gone.
    #[error("account disabled")]
    Account,
    /// Another sign-in with the same passkey updated its counter at the same moment.
    #[error("used twice at once")]
    Concurrent,
    /// The signature, challenge, origin, user verification or counter did not check out.
    #[error("verification failed: {0}")]
    Verification(String),
}

/// `POST /login/passkey`: checks the authenticator's answer and signs its account in.
pub async fn sign_in(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let result = async {
        let context = login::context(&state, &form.request).await?;
        let locale = state.locale(None, context.ui_locales(), &headers);
        let t = locale.texts();
        let again = |error, status| {
            login::show(
                &state,
                &headers,
                locale,
                &form.request,
                &context,
                "",
                Some(error),
                status,
                vec![],
            )
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Ok(again(t.form_expired, StatusCode::FORBIDDEN));
        }
        let address_key = login::address_key(&state, connect_info.as_ref(), &headers);
        let now = now();
        if !login::reserve_address_attempt(&state, address_key.as_deref()).await? {
            tracing::warn!(address = ?address_key, "passkey sign-in refused: too many failures");
            return Ok(again(t.sign_in_throttled, StatusCode::TOO_MANY_REQUESTS));
        }
        let Some(ceremony) = finish_ceremony(&state, &form.ceremony, SIGN_IN, None).await? else {
            login::release_address_attempt(&state, address_key.as_deref()).await?;
            return Ok(again(t.form_expired, StatusCode::BAD_REQUEST));
        };
        match verify_assertion(&state, ceremony, &form.credential, now).await? {
            Ok((user, amr)) => {
                login::release_address_attempt(&state, address_key.as_deref()).await?;
                login::complete(
                    &state,
                    &headers,
                    &user.id,
                    amr,
                    ACR_PASSKEY,
                    &form.request,
                    context,
                )
                .await
            }
            Err(refused) => {
                // The reserved attempt stays counted as the address's failure.
                tracing::warn!(reason = %refused, "passkey sign-in refused");
                Ok(again(t.passkey_failed, StatusCode::OK))
            }
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Verifies an assertion against its ceremony and the passkey it names; on success the
/// passkey's counter is saved and its enabled account returned.
async fn verify_assertion(
    state: &AppState,
    challenge: DiscoverableAuthentication,
    credential: &str,
    now: i64,
) -> Result<Result<(UserRow, &'static [&'static str]), Refused>> {
    let webauthn = &relying(state)?.webauthn;
    let assertion: PublicKeyCredential = match serde_json::from_str(credential) {
        Ok(assertion) => assertion,
        Err(e) => return Ok(Err(Refused::Malformed(e.to_string()))),
    };
    let (user_handle, credential_id) =
        match webauthn.identify_discoverable_authentication(&assertion) {
            Ok(found) => found,
            Err(e) => return Ok(Err(Refused::Malformed(e.to_string()))),
        };
    let Some(row) = state.store.passkey(&credential_key(credential_id)).await? else {
        return Ok(Err(Refused::UnknownPasskey));
    };
    if Uuid::parse_str(&row.user_id).ok() != Some(user_handle) {
        return Ok(Err(Refused::UnknownPasskey));
    }
    let mut passkey: Passkey = serde_json::from_str(&row.credential)
        .map_err(|e| Error::internal(format!("stored passkey {}: {e}", row.credential_id)))?;
    let verified = match webauthn.finish_discoverable_authentication(
        &assertion,
        challenge,
        &[DiscoverableKey::from(&passkey)],
    ) {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(Refused::Verification(e.to_string()))),
    };
    let Some(user) = state.store.user(&row.user_id).await?.filter(|u| u.enabled) else {
        return Ok(Err(Refused::Account));
    };
    passkey.update_credential(&verified);
    let updated =
        serde_json::to_string(&passkey).map_err(|e| Error::internal(format!("passkey: {e}")))?;
    // Compare-and-swap: of two sign-ins racing with one passkey, one wins; the counter never
    // goes back to an older value.
    if !state
        .store
        .passkey_used(&row.credential_id, &row.credential, &updated, now)
        .await?
    {
        return Ok(Err(Refused::Concurrent));
    }
    let amr: &'static [&'static str] = if verified.backup_eligible() {
        &AMR_SYNCED
    } else {
        &AMR_DEVICE_BOUND
    };
    Ok(Ok((user, amr)))
}

/// Query of `GET /passkeys`.
#[derive(Debug, Default, Deserialize)]
pub struct PasskeysQuery {
    lang: Option<String>,
    /// The app sign-in to go on with afterwards (a pending request's id): the grace-period
    /// prompt's "register now" keeps it.
    #[serde(rename = "continue")]
    continue_to: Option<String>,
}

/// `GET /passkeys`: the signed-in person's passkeys, to add one on this device or remove one.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PasskeysQuery>,
) -> Response {
    let result = async {
        relying(&state)?;
        let locale = state.locale(query.lang.as_deref(), None, &headers);
        let Some(session) = session::current(&state, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        let t = locale.texts();
        let (done, clear) = crate::notice::take(&state, &headers);
        let notice = match done.as_deref() {
            Some("added") => Some(t.passkey_added),
            Some("removed") => Some(t.passkey_removed),
            Some("recovered") => Some(t.passkey_recovered),
            _ => None,
        };
        let cookies = state
            .remember_locale(query.lang.as_deref(), locale)
            .into_iter()
            .chain(clear);
        show(
            &state,
            &headers,
            locale,
            &session,
            notice,
            None,
            StatusCode::OK,
            cookies,
            query.continue_to.as_deref(),
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[allow(clippy::too_many_arguments)]
async fn show(
    state: &AppState,
    headers: &HeaderMap,
    locale: Locale,
    session: &SessionRow,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    status: StatusCode,
    cookies: impl IntoIterator<Item = axum::http::HeaderValue>,
    continue_to: Option<&str>,
) -> Result<Response> {
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    let passkeys = state
        .store
        .passkeys_of(&session.user_id)
        .await?
        .into_iter()
        .map(|row| PasskeyItem {
            created: locale.date(row.created_at),
            last_used: row.last_used_at.map(|at| locale.date(at)),
            id: row.credential_id,
            name: row.name,
        })
        .collect();
    let codes = crate::recovery::left(state.store.as_ref(), &session.user_id).await?;
    let page = PasskeysPage {
        t,
        toggle_href: toggle_href(t, PAGE_PATH, &[]),
        notice,
        error,
        recent: may_add_passkey(session),
        passkeys,
        csrf_token: &csrf_token,
        suggested_name: suggested_name(t, headers),
        continue_to: continue_to.filter(|r| !r.is_empty()).map(str::to_owned),
        recovery: codes.created_at.map(|made| (codes.left, locale.date(made))),
        may_renew_recovery: crate::recovery::may_renew(session),
    };
    let mut response = render_with_script(&page);
    *response.status_mut() = status;
    Ok(renkei_platform::web::with_cookies(
        response,
        cookies.into_iter().chain(csrf_cookie),
    ))
}

/// The signed-in person's passkeys page.
pub const PAGE_PATH: &str = "/passkeys";

/// The passkeys page's address, going on with the app sign-in `continue_to` afterwards (if
/// any).
pub fn passkeys_page(continue_to: &str) -> String {
    if continue_to.is_empty() {
        PAGE_PATH.to_owned()
    } else {
        format!(
            "/passkeys?{}",
            serde_urlencoded::to_string([("continue", continue_to)]).unwrap_or_default()
        )
    }
}

/// A name for a new passkey from the device's kind, which the person may change.
pub(crate) fn suggested_name(t: &Texts, headers: &HeaderMap) -> String {
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let device = [
        ("iPad", "iPad"),
        ("iPhone", "iPhone"),
        ("Android", "Android"),
        ("CrOS", "Chromebook"),
        ("Windows", "Windows"),
        ("Macintosh", "Mac"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    match device {
        Some(device) => format!("{device}{}", t.passkey_of_device),
        None => t.passkey_unnamed.to_owned(),
    }
}

/// Whether `session` signed in recently enough to add a passkey (within [`RECENT_SIGN_IN`]).
pub(crate) fn signed_in_recently(session: &SessionRow) -> bool {
    now() - session.auth_time <= RECENT_SIGN_IN
}

/// Whether `session` may add a passkey: a recent sign-in, and not with a printed card
/// (whoever holds a copy of it would get a credential of their own).
fn may_add_passkey(session: &SessionRow) -> bool {
    signed_in_recently(session) && session.acr != crate::card::ACR_CARD
}

/// The signed-in session that may add a passkey.
async fn recent_session(state: &AppState, headers: &HeaderMap) -> Result<SessionRow> {
    let session = session::current(state, headers).await?;
    session.filter(may_add_passkey).ok_or_else(|| {
        Error::page(
            StatusCode::FORBIDDEN,
            "パスキーを登録するには、もう一度ログインしてください。",
            "Please sign in again to create a passkey.",
        )
    })
}

/// `POST /passkeys/options`: starts registering a passkey for the signed-in person.
pub async fn register_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        verify_script_request(&state, &headers)?;
        let passkeys = relying(&state)?;
        let session = recent_session(&state, &headers).await?;
        let Some(user) = state
            .store
            .user(&session.user_id)
            .await?
            .filter(|u| u.enabled)
        else {
            return Err(Error::page(
                StatusCode::FORBIDDEN,
                "このアカウントは使えません。",
                "This account is disabled.",
            ));
        };
        let registered = state.store.passkeys_of(&user.id).await?;
        // An administrator's passkey opens the console: once there is one, only a sign-in
        // with it (or with a recovery code) may add another (a leaked password must not lead
        // to the console).
        if user.role == "administrator"
            && !registered.is_empty()
            && session.acr != ACR_PASSKEY
            && session.acr != crate::recovery::ACR_RECOVERY
        {
            return Err(Error::page(
                StatusCode::FORBIDDEN,
                "管理者のパスキーを追加するには、登録済みのパスキーでログインし直してください。",
                "To add an administrator's passkey, sign in again with a passkey already registered.",
            ));
        }
        Ok::<_, Error>(Json(registration_options(passkeys, &user, registered)?))
    }
    .await;
    no_store(result)
}

/// Starts registering a passkey for `user` (who has the `registered` ones): the sealed
/// ceremony and the browser's creation options, `{"ceremony", "publicKey"}`.
pub(crate) fn registration_options(
    passkeys: &Passkeys,
    user: &UserRow,
    registered: Vec<PasskeyRow>,
) -> Result<Value> {
    let handle = Uuid::parse_str(&user.id)
        .map_err(|_| Error::internal(format!("account id {} is not a UUID", user.id)))?;
    let existing = registered
        .into_iter()
        .filter_map(|row| URL_SAFE_NO_PAD.decode(&row.credential_id).ok())
        .map(Into::into)
        .collect();
    let display = crate::user::display_name(user);
    let (options, registration) = passkeys
        .webauthn
        .start_passkey_registration(handle, &user.username, &display, Some(existing))
        .map_err(|e| Error::internal(format!("passkey registration could not start: {e}")))?;
    let mut public_key = serde_json::to_value(&options.public_key)
        .map_err(|e| Error::internal(format!("passkey options: {e}")))?;
    // Signing in without a username needs the key to live on the device (a discoverable
    // credential); webauthn-rs leaves that to the authenticator, we ask for it.
    public_key["authenticatorSelection"]["residentKey"] = json!("required");
    public_key["authenticatorSelection"]["requireResidentKey"] = json!(true);
    let id = passkeys.seal(
        REGISTER,
        Some(&user.id),
        now() + CEREMONY_TTL,
        &registration,
    )?;
    Ok(json!({"ceremony": id, "publicKey": public_key}))
}

/// Form of `POST /passkeys`.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    csrf_token: String,
    ceremony: String,
    credential: String,
    name: String,
    /// The app sign-in to go on with afterwards, if any.
    #[serde(default, rename = "continue")]
    continue_to: String,
}

/// `POST /passkeys`: checks the authenticator's new credential and registers it.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    let result = async {
        relying(&state)?;
        let locale = state.locale(None, None, &headers);
        let t = locale.texts();
        let Some(session) = session::current(&state, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        let refuse = |error, status| {
            show(
                &state,
                &headers,
                locale,
                &session,
                None,
                Some(error),
                status,
                [],
                Some(form.continue_to.as_str()),
            )
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return refuse(t.form_expired, StatusCode::FORBIDDEN).await;
        }
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return refuse(t.passkey_name_invalid, StatusCode::BAD_REQUEST).await;
        }
        let row = match new_passkey(
            &state,
            &session.user_id,
            &form.ceremony,
            &form.credential,
            name,
        )
        .await?
        {
            Ok(row) => row,
            Err(NotRegistered::Expired) => {
                return refuse(t.form_expired, StatusCode::BAD_REQUEST).await;
            }
            Err(NotRegistered::Refused) => {
                return refuse(t.passkey_register_failed, StatusCode::BAD_REQUEST).await;
            }
        };
        match state.store.insert_passkey(&row).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return refuse(t.passkey_register_failed, StatusCode::CONFLICT).await;
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user = %session.user_id, "passkey registered");
        let next = passkeys_page(&form.continue_to);
        // With a first passkey (or none left), the person gets recovery codes to print.
        let none_left = crate::recovery::left(state.store.as_ref(), &session.user_id)
            .await?
            .left
            == 0;
        if none_left && let Some(user) = state.store.user(&session.user_id).await? {
            let codes =
                crate::recovery::renew(state.store.as_ref(), &state.audit, PAGE_PATH, &user)
                    .await?;
            return Ok(crate::recovery::show_codes(
                locale,
                Some(t.passkey_added_codes),
                &codes,
                &next,
            ));
        }
        Ok(crate::notice::after(&state, &next, "added"))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Why an answer to a registration ceremony registers nothing.
pub(crate) enum NotRegistered {
    /// The ceremony is unknown, expired, for someone else, or finished before.
    Expired,
    /// The authenticator's answer does not hold (logged for the operator).
    Refused,
}

/// Checks the authenticator's answer `credential` to the sealed registration `ceremony` of
/// account `user_id` (finishing the ceremony, once): the passkey row to store, named `name`.
pub(crate) async fn new_passkey(
    state: &AppState,
    user_id: &str,
    ceremony: &str,
    credential: &str,
    name: &str,
) -> Result<std::result::Result<PasskeyRow, NotRegistered>> {
    let webauthn = &relying(state)?.webauthn;
    let ceremony: Option<PasskeyRegistration> =
        finish_ceremony(state, ceremony, REGISTER, Some(user_id)).await?;
    let Some(registration) = ceremony else {
        return Ok(Err(NotRegistered::Expired));
    };
    let passkey = serde_json::from_str::<RegisterPublicKeyCredential>(credential)
        .map_err(|e| e.to_string())
        .and_then(|answer| {
            // Signing in names no account, so a key the device does not keep (a security key
            // that ignored the request for a discoverable one) could never sign in.
            let discoverable = answer.extensions.cred_props.as_ref().and_then(|p| p.rk);
            if discoverable == Some(false) {
                return Err("the authenticator made a non-discoverable credential".to_owned());
            }
            webauthn
                .finish_passkey_registration(&answer, &registration)
                .map_err(|e| e.to_string())
        });
    let passkey = match passkey {
        Ok(passkey) => passkey,
        Err(reason) => {
            tracing::warn!(%reason, user = %user_id, "passkey registration refused");
            return Ok(Err(NotRegistered::Refused));
        }
    };
    Ok(Ok(PasskeyRow {
        credential_id: credential_key(passkey.cred_id().as_ref()),
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        credential: serde_json::to_string(&passkey)
            .map_err(|e| Error::internal(format!("passkey: {e}")))?,
        created_at: now(),
        last_used_at: None,
    }))
}

/// Form of `POST /passkeys/delete`.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf_token: String,
    credential_id: String,
}

/// `POST /passkeys/delete`: removes one of the signed-in person's passkeys.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<DeleteForm>,
) -> Response {
    let result = async {
        relying(&state)?;
        let locale = state.locale(None, None, &headers);
        let Some(session) = session::current(&state, &headers).await? else {
            return Ok(renkei_platform::web::see_other("/login", []));
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            let t = locale.texts();
            let refused = StatusCode::FORBIDDEN;
            return show(
                &state,
                &headers,
                locale,
                &session,
                None,
                Some(t.form_expired),
                refused,
                [],
                None,
            )
            .await;
        }
        if !state
            .store
            .delete_passkey(&session.user_id, &form.credential_id)
            .await?
        {
            return Ok(renkei_platform::web::see_other(PAGE_PATH, []));
        }
        let ended = state
            .store
            .end_other_sessions(
                &session.user_id,
                &session.sid,
                Some(crate::passkey::ACR_PASSKEY),
                now(),
            )
            .await?;
        // Without a passkey there is nothing left to recover (a new first passkey comes with
        // new codes).
        if state.store.passkeys_of(&session.user_id).await?.is_empty() {
            state.store.void_recovery_codes(&session.user_id).await?;
        }
        tracing::info!(user = %session.user_id, sessions_ended = ended, "passkey removed");
        Ok(crate::notice::after(&state, PAGE_PATH, "removed"))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// An account's passkeys, for administrators (`renkei user passkeys`).
pub async fn of_account(store: &dyn Store, username: &str) -> Result<(UserRow, Vec<PasskeyRow>)> {
    let user = crate::user::by_username(store, username).await?;
    let passkeys = store.passkeys_of(&user.id).await?;
    Ok((user, passkeys))
}

/// What an administrator's removal of passkeys did.
pub struct Removed {
    /// The account.
    pub user: UserRow,
    /// The passkeys removed.
    pub passkeys: Vec<PasskeyRow>,
    /// How many of the account's sessions were ended.
    pub sessions_ended: u64,
    /// How many unused recovery codes were voided (all passkeys removed).
    pub recovery_codes_voided: u64,
}

/// Removes an account's passkey `credential_id`, or all of them (a lost or handed-on tablet),
/// and signs the account out everywhere: the tablet's session and its apps' grants end too.
/// Naming a passkey the account does not have is an error and changes nothing.
pub async fn remove(
    store: &dyn Store,
    audit: &renkei_platform::AuditLog,
    via: &str,
    username: &str,
    credential_id: Option<&str>,
) -> Result<Removed> {
    let (user, passkeys) = of_account(store, username).await?;
    let chosen: Vec<PasskeyRow> = match credential_id {
        None => passkeys,
        Some(id) => {
            let one = passkeys.into_iter().find(|p| p.credential_id == id);
            vec![one.ok_or_else(|| {
                Error::Invalid(format!(
                    "{username:?} has no passkey {id:?}: `renkei user passkeys --username {username}` lists them"
                ))
            })?]
        }
    };
    for passkey in &chosen {
        store
            .delete_passkey(&user.id, &passkey.credential_id)
            .await?;
    }
    let sessions_ended = store.sign_out_everywhere(&user.id, now()).await?;
    store.void_enrolment_links(&user.id).await?;
    // Without a passkey there is nothing to recover: the person starts again from an
    // enrolment link, and a sheet of codes somebody else may hold stops working. Links to
    // upstream accounts the person made go too (an administrator's reset after a compromise).
    let codes_voided = if store.passkeys_of(&user.id).await?.is_empty() {
        store.void_recovery_codes(&user.id).await?
    } else {
        0
    };
    let unlinked = store.delete_person_made_upstream_links(&user.id).await?;
    let names: Vec<&str> = chosen.iter().map(|p| p.name.as_str()).collect();
    audit
        .append(renkei_platform::AuditEvent::admin(
            via,
            format!(
                "{} passkey(s) of account {} removed: {}; {} session(s) ended, grants revoked{}",
                chosen.len(),
                user.username,
                names.join(", "),
                sessions_ended,
                match (codes_voided, unlinked) {
                    (0, 0) => String::new(),
                    (codes, 0) => format!("; {codes} unused recovery code(s) voided"),
                    (codes, links) => format!(
                        "; {codes} unused recovery code(s) voided, {links} upstream link(s) the person made removed"
                    ),
                }
            ),
        ))
        .await?;
    Ok(Removed {
        user,
        passkeys: chosen,
        sessions_ended,
        recovery_codes_voided: codes_voided,
    })
}

/// The options answers are per-ceremony: never cached.
pub(crate) fn no_store(result: Result<Json<Value>>) -> Response {
    match result {
        Ok(json) => {
            let mut response = json.into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passkeys(key: &[u8]) -> Passkeys {
        Passkeys {
            webauthn: relying_party("https://sso.board.example.jp").expect("a relying party"),
            seal_key: key.to_vec(),
        }
    }

    #[test]
    fn a_seal_opens_only_for_its_purpose_account_and_time() {
        let keys = passkeys(b"installation key");
        let sealed = keys.seal(REGISTER, Some("u1"), 1_000, &"state").unwrap();
        let opened = keys.open::<String>(&sealed, REGISTER, Some("u1"), 1_000);
        let (state, used, expires) = opened.expect("opens");
        assert_eq!((state.as_str(), expires), ("state", 1_000));
        assert!(used.starts_with("webauthn "));
        assert!(
            keys.open::<String>(&sealed, SIGN_IN, Some("u1"), 1_000)
                .is_none()
        );
        assert!(
            keys.open::<String>(&sealed, REGISTER, Some("u2"), 1_000)
                .is_none()
        );
        assert!(
            keys.open::<String>(&sealed, REGISTER, None, 1_000)
                .is_none()
        );
        assert!(
            keys.open::<String>(&sealed, REGISTER, Some("u1"), 1_001)
                .is_none()
        );
        let other = passkeys(b"another installation");
        assert!(
            other
                .open::<String>(&sealed, REGISTER, Some("u1"), 1_000)
                .is_none()
        );
    }

    #[test]
    fn a_changed_seal_does_not_open() {
        let keys = passkeys(b"installation key");
        let sealed = keys.seal(SIGN_IN, None, 1_000, &"state").unwrap();
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut forged: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        forged["expires"] = json!(9_999);
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap())
        );
        assert!(keys.open::<String>(&forged, SIGN_IN, None, 2_000).is_none());
        assert!(
            keys.open::<String>(&format!("{payload}.AAAA"), SIGN_IN, None, 1_000)
                .is_none()
        );
        assert!(
            keys.open::<String>("not a seal", SIGN_IN, None, 1_000)
                .is_none()
        );
        assert!(keys.open::<String>(&sealed, SIGN_IN, None, 1_000).is_some());
    }
}

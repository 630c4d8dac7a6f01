//! The sign-in page: username and password, with a uniform failure message, rate limits per
//! account and per address (kept in the database so that they hold across processes), and
//! Argon2id verification on the blocking pool.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::assurance::PasswordSignIn;
use crate::authorize::{self, ValidRequest};
use crate::crypto::{decoy_password_hash, verify_password};
use crate::error::{Error, Result};
use crate::pages::{Locale, LoginPage, Texts, render, toggle_href};
use crate::server::AppState;
use crate::session::{self, ACR_PASSWORD};
use crate::store::SignedIn;
use crate::store::Store;
use crate::store::UserRow;
use renkei_platform::clock::now;

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Pending authorization request.
    #[serde(default)]
    pub request: String,
    /// Language toggle.
    pub lang: Option<String>,
    /// The school the sign-in is for (its own upstream providers are offered).
    pub school: Option<String>,
}

/// Form of `POST /login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf_token: String,
    #[serde(default)]
    request: String,
    username: String,
    password: String,
}

/// The pending authorization request a sign-in continues, if any (validated again, as the
/// app may have changed since).
pub(crate) struct Context {
    valid: Option<ValidRequest>,
    /// The upstream providers offered, and whether the school signs in only through them.
    upstreams: (Vec<crate::upstream::broker::Button>, bool),
}

impl Context {
    fn app_name(&self) -> Option<&str> {
        self.valid.as_ref().map(|v| v.client.name.as_str())
    }
    /// The app asks for a passkey sign-in.
    /// Whether the app takes a card sign-in (no app: yes).
    pub(crate) fn card_accepted(&self) -> bool {
        self.valid.as_ref().is_none_or(|v| v.card_accepted)
    }

    pub(crate) fn passkey_required(&self) -> bool {
        self.valid.as_ref().is_some_and(|v| v.passkey_required)
    }
    fn login_hint(&self) -> Option<&str> {
        self.valid
            .as_ref()
            .and_then(|v| v.raw.login_hint.as_deref())
    }
    pub(crate) fn ui_locales(&self) -> Option<&str> {
        self.valid
            .as_ref()
            .and_then(|v| v.raw.ui_locales.as_deref())
    }
}

/// The sign-in's context from the kept request id of its form (empty: a sign-in without an app).
pub(crate) async fn context(state: &AppState, request: &str) -> Result<Context> {
    context_at(state, request, None).await
}

/// [`context`] for a sign-in at `school` (the page's address names it), if known; else the
/// school of the app's `login_hint`.
async fn context_at(state: &AppState, request: &str, school: Option<&str>) -> Result<Context> {
    let valid = if request.is_empty() {
        None
    } else {
        match authorize::resume(state, request).await? {
            Some(Ok(valid)) => Some(valid),
            _ => return Err(expired_request()),
        }
    };
    let hinted = match valid.as_ref().and_then(|v| v.raw.login_hint.as_deref()) {
        Some(hint) if school.is_none() && hint.len() <= USERNAME_MAX => state
            .store
            .user_by_username(&renkei_directory::fold_username(hint))
            .await?
            .and_then(|user| user.school_id),
        _ => None,
    };
    let upstreams =
        crate::upstream::broker::buttons(state, school.or(hinted.as_deref()), request).await?;
    Ok(Context { valid, upstreams })
}

/// The sign-in page's address for the pending authorization request `request`.
pub fn page_for(request: &str) -> String {
    format!(
        "/login?{}",
        serde_urlencoded::to_string([("request", request)]).unwrap_or_default()
    )
}

/// The page shown when a kept authorization request has expired or was already finished.
pub fn expired_request() -> Error {
    Error::page(
        StatusCode::BAD_REQUEST,
        "ログインの手続きの有効期限が切れました。アプリに戻って、もう一度ログインしてください。",
        "This sign-in has expired. Please go back to the app and sign in again.",
    )
}

/// `GET /login`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let result = async {
        let school = query.school.as_deref().filter(|s| s.len() <= 256);
        let context = context_at(&state, &query.request, school).await?;
        let locale = state.locale(query.lang.as_deref(), context.ui_locales(), &headers);
        let cookies: Vec<_> = state
            .remember_locale(query.lang.as_deref(), locale)
            .into_iter()
            .collect();
        Ok::<_, Error>(show(
            &state,
            &headers,
            locale,
            &query.request,
            &context,
            context.login_hint().unwrap_or(""),
            None,
            StatusCode::OK,
            cookies,
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The sign-in page, again after a failure (`error`) or first (`None`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn show(
    state: &AppState,
    headers: &HeaderMap,
    locale: Locale,
    request: &str,
    context: &Context,
    username: &str,
    error: Option<&'static str>,
    status: StatusCode,
    mut cookies: Vec<HeaderValue>,
) -> Response {
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    cookies.extend(csrf_cookie);
    let page = LoginPage {
        t,
        toggle_href: toggle_href(t, "/login", &[("request", request)]),
        app_name: context.app_name(),
        error,
        csrf_token: &csrf_token,
        request,
        username,
        passkeys: state.passkeys.is_some(),
        passkey_only: context.passkey_required(),
        cards: context.card_accepted() && !context.passkey_required() && !context.upstreams.1,
        upstreams: if context.passkey_required() {
            Vec::new()
        } else {
            context
                .upstreams
                .0
                .iter()
                .map(|b| (b.href.clone(), b.label(locale).to_owned()))
                .collect()
        },
        upstream_only: context.upstreams.1 && !context.passkey_required(),
    };
    let mut response = if page.passkeys {
        crate::pages::render_with_script(&page)
    } else {
        render(&page)
    };
    *response.status_mut() = status;
    renkei_platform::web::with_cookies(response, cookies)
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let result = async {
        let context = context(&state, &form.request).await?;
        let locale = state.locale(None, context.ui_locales(), &headers);
        let t = locale.texts();
        let again = |error, status| {
            show(
                &state,
                &headers,
                locale,
                &form.request,
                &context,
                &form.username,
                Some(error),
                status,
                vec![],
            )
        };
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Ok(again(t.form_expired, StatusCode::FORBIDDEN));
        }
        // A password sign-in could not satisfy the app: nothing is checked or counted.
        if context.passkey_required() {
            return Ok(again(t.password_not_enough, StatusCode::OK));
        }
        let username = form.username.trim();
        let address_key = address_key(&state, connect_info.as_ref(), &headers);
        let (user, verdict) =
            match check_password(&state, address_key.as_deref(), username, &form.password).await? {
                PasswordCheck::Throttled(throttle) => {
                    return Ok(again(throttle.message(t), StatusCode::TOO_MANY_REQUESTS));
                }
                PasswordCheck::UpstreamOnly => {
                    return Ok(again(t.upstream_only, StatusCode::FORBIDDEN));
                }
                PasswordCheck::Checked { user, verdict } => (user, verdict),
            };
        if verdict == crate::assurance::PasswordSignIn::Refused {
            tracing::warn!(address = ?address_key, "password sign-in refused: the role must use a passkey");
            return Ok(again(t.passkey_policy_refused, StatusCode::FORBIDDEN));
        }
        let Some(user) = user else {
            // The reserved attempt stays counted as the address's failure.
            return Ok(again(t.sign_in_failed, StatusCode::OK));
        };
        clear_account_failures(state.store.as_ref(), username).await?;
        release_address_attempt(&state, address_key.as_deref()).await?;
        // Within the grace period of a passkey requirement: signed in, asked to enrol one.
        if let crate::assurance::PasswordSignIn::CountsUntil(until) = verdict {
            let (_, cookie) =
                replace_session(&state, &headers, &user.id, &["pwd"], ACR_PASSWORD).await?;
            return Ok(enrol_prompt(&state, &headers, locale, &form.request, until, cookie));
        }
        complete(
            &state,
            &headers,
            &user.id,
            &["pwd"],
            ACR_PASSWORD,
            &form.request,
            context,
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Why a sign-in was not even checked: too many failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// From this address.
    Address,
    /// For this account, in the last minute.
    AccountPaused,
    /// For this account, past a day's failures (one try per quarter hour).
    AccountHeld,
}

impl Throttle {
    /// What the page says.
    pub(crate) fn message(self, t: &Texts) -> &'static str {
        match self {
            Throttle::Address => t.sign_in_throttled,
            Throttle::AccountPaused => t.sign_in_paused,
            Throttle::AccountHeld => t.sign_in_held,
        }
    }
}

/// What checking a username and password came to.
pub(crate) enum PasswordCheck {
    /// Not checked: too many failures.
    Throttled(Throttle),
    /// The account's school signs in only through its upstream provider: the same answer
    /// whether the password is right or not (the attempt stays counted).
    UpstreamOnly,
    /// Checked: the enabled account if the password is right, and the board's verdict on a
    /// password sign-in of its role (the same whether the password was right or not).
    Checked {
        /// The account, if the password is right.
        user: Option<Box<UserRow>>,
        /// Whether a password sign-in counts for the account's role.
        verdict: PasswordSignIn,
    },
}

/// Checks `username` and `password` within the rate limits, per address (`address_key`) and
/// per account. The attempt is counted before the password is checked, so that parallel
/// guesses cannot slip past the limit; the caller clears the counts when the whole sign-in
/// succeeds ([`clear_account_failures`], [`release_address_attempt`]).
pub(crate) async fn check_password(
    state: &AppState,
    address_key: Option<&str>,
    username: &str,
    password: &str,
) -> Result<PasswordCheck> {
    let now = now();
    // The address first: an address over its limit adds no count for the names it tries.
    if !reserve_address_attempt(state, address_key).await? {
        tracing::warn!(address = ?address_key, "sign-in refused: too many failures");
        return Ok(PasswordCheck::Throttled(Throttle::Address));
    }
    // No account has a longer name: such a name is not counted (nor kept) per account.
    if username.len() > USERNAME_MAX {
        return Ok(PasswordCheck::Checked {
            user: None,
            verdict: PasswordSignIn::Counts,
        });
    }
    let [minute_key, day_key, slow_key] = account_keys(username);
    let minute = state
        .store
        .record_login_failure(&minute_key, now - ACCOUNT_PAUSE, now)
        .await?;
    if minute > state.config.login_failures_per_account_minute {
        tracing::warn!(address = ?address_key, "sign-in slowed down: failures for one account");
        return Ok(PasswordCheck::Throttled(Throttle::AccountPaused));
    }
    let day = state
        .store
        .record_login_failure(&day_key, now - ACCOUNT_DAY, now)
        .await?;
    if day > state.config.login_failures_per_account_day {
        // Past a day's failures the account slows further (one try per quarter hour)
        // rather than locking: a classmate cannot keep its owner out for a day.
        let slow = state
            .store
            .record_login_failure(&slow_key, now - ACCOUNT_SLOW, now)
            .await?;
        if slow > 1 {
            tracing::warn!(address = ?address_key, "sign-in slowed down: a day's failures for one account");
            return Ok(PasswordCheck::Throttled(Throttle::AccountHeld));
        }
    }
    let user = state
        .store
        .user_by_username(username)
        .await?
        .filter(|u| u.enabled);
    if let Some(user) = &user
        && crate::upstream::broker::only_way_for(state, user)
            .await?
            .is_some()
    {
        return Ok(PasswordCheck::UpstreamOnly);
    }
    // (Passkeys exist only where the issuer has a domain name: elsewhere no rule can hold.)
    let verdict = match &user {
        Some(user) if state.passkeys.is_some() => {
            crate::assurance::password_sign_in(state.store.as_ref(), &user.role, now).await?
        }
        _ => PasswordSignIn::Counts,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = password.to_owned();
    // Argon2id takes 19 MiB and tens of milliseconds: bound how many run at once.
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| Error::internal(format!("password check failed: {e}")))?;
    let verified = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => verify_password(&password, &hash),
        None => {
            verify_password(&password, decoy_password_hash());
            false
        }
    })
    .await
    .map_err(|e| Error::internal(format!("password check failed: {e}")))?;
    Ok(PasswordCheck::Checked {
        user: user.filter(|_| verified).map(Box::new),
        verdict,
    })
}

/// Counts an attempt against the address's limit before its (slow) check, so that attempts sent
/// at once cannot all slip past the limit: `false` if the address is over it. The count is
/// atomic in the database (across processes). An attempt that then succeeds gives its place
/// back ([`release_address_attempt`]); a failed one stays counted as a failure.
pub(crate) async fn reserve_address_attempt(
    state: &AppState,
    address_key: Option<&str>,
) -> Result<bool> {
    let Some(key) = address_key else {
        return Ok(true);
    };
    let now = now();
    let counted = state
        .store
        .record_login_failure(key, now - state.config.login_window, now)
        .await?;
    Ok(counted <= state.config.login_failures_per_address)
}

/// Gives back the place an attempt reserved with [`reserve_address_attempt`] (it succeeded, or
/// was refused before any credential was checked).
pub(crate) async fn release_address_attempt(
    state: &AppState,
    address_key: Option<&str>,
) -> Result<()> {
    if let Some(key) = address_key {
        state.store.forgive_login_failure(key).await?;
    }
    Ok(())
}

/// The window of [`crate::Config::login_failures_per_account_minute`], in seconds.
const ACCOUNT_PAUSE: i64 = 60;
/// The window of [`crate::Config::login_failures_per_account_day`], in seconds.
const ACCOUNT_DAY: i64 = 86_400;
/// Past a day's failures, an account's password is tried at most once in this many seconds.
const ACCOUNT_SLOW: i64 = 900;

/// The keys that count an account's failed password sign-ins — per minute, per day, and per
/// quarter hour once the day's are used up — under the name as sign-in compares it (so that
/// `Hanako` and `hanako` share them).
fn account_keys(username: &str) -> [String; 3] {
    let name = renkei_directory::fold_username(username);
    [
        format!("account:{name}"),
        format!("account-day:{name}"),
        format!("account-slow:{name}"),
    ]
}

/// Forgets an account's failed password sign-ins: after a success, and when an administrator
/// sets a new password (the person can sign in with it at once).
pub(crate) async fn clear_account_failures(store: &dyn Store, username: &str) -> Result<()> {
    Ok(store.clear_login_failures(&account_keys(username)).await?)
}

/// Longest username a sign-in looks up, in bytes: longer than any account's (128 for accounts
/// made here; roster usernames are far shorter), so a longer one is refused unseen and adds no
/// per-account count.
pub const USERNAME_MAX: usize = 256;

/// The key that counts a client address's failed sign-ins (any method), if the address is known.
pub(crate) fn address_key(
    state: &AppState,
    connect_info: Option<&Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> Option<String> {
    client_address(state, connect_info, headers)
        .map(|ip| format!("address:{}", renkei_platform::rate::limited_address(ip)))
}

/// The browser's address, believing `X-Forwarded-For` only from the configured proxies.
pub(crate) fn client_address(
    state: &AppState,
    connect_info: Option<&Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> Option<std::net::IpAddr> {
    renkei_platform::web::client_ip(
        connect_info.map(|Extension(info)| info),
        headers,
        &state.config.trusted_proxies,
    )
}

/// Where the enrol prompt's "later" button posts.
pub const LATER_PATH: &str = "/login/later";

/// The page after a password sign-in during the grace period of a passkey requirement: asks to
/// enrol a passkey now (the passkeys page) or later (continues to the app or home). The
/// browser is already signed in (`cookie`).
pub(crate) fn enrol_prompt(
    state: &AppState,
    headers: &HeaderMap,
    locale: Locale,
    request: &str,
    until: i64,
    cookie: HeaderValue,
) -> Response {
    let t = locale.texts();
    let (csrf_token, csrf_cookie) = state.csrf.token(headers);
    let page = crate::pages::MessagePage {
        t,
        toggle_href: String::new(),
        title: t.passkey_enrol_title.to_owned(),
        lines: vec![
            format!(
                "{}{}{}",
                t.passkey_enrol_until,
                locale.date(until),
                t.passkey_enrol_until_end
            ),
            t.passkeys_intro.to_owned(),
        ],
        links: vec![(crate::passkey::passkeys_page(request), t.passkey_enrol_now)],
        action: Some(crate::pages::PageAction {
            path: LATER_PATH,
            label: t.passkey_enrol_later,
            fields: vec![("request", request.to_owned())],
        }),
        footer: Vec::new(),
        csrf_token,
    };
    renkei_platform::web::with_cookies(render(&page), std::iter::once(cookie).chain(csrf_cookie))
}

/// Form of `POST /login/later`.
#[derive(Debug, Deserialize)]
pub struct LaterForm {
    csrf_token: String,
    #[serde(default)]
    request: String,
}

/// `POST /login/later`: the person enrols a passkey later and continues where the sign-in was
/// going (the app's pending request, or home).
pub async fn later(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LaterForm>,
) -> Response {
    let result = async {
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Err(Error::expired_form());
        }
        let Some(session) = session::current(&state, &headers).await? else {
            return Ok(renkei_platform::web::see_other(
                &page_for(&form.request),
                [],
            ));
        };
        let context = context(&state, &form.request).await?;
        continue_request(&state, session, &form.request, context).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// After any successful sign-in: replaces the browser's session with a new one (its id changes
/// at every sign-in) and continues the pending authorization request, or goes home.
pub(crate) async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    amr: &[&str],
    acr: &str,
    request: &str,
    context: Context,
) -> Result<Response> {
    let (session, cookie) = replace_session(state, headers, user_id, amr, acr).await?;
    let response = continue_request(state, session, request, context).await?;
    Ok(renkei_platform::web::with_cookies(response, [cookie]))
}

/// Ends the browser's session, if any, and starts a new one for `user_id`: its cookie.
pub(crate) async fn replace_session(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    amr: &[&str],
    acr: &str,
) -> Result<(crate::store::SessionRow, HeaderValue)> {
    if let Some(old) = session::current(state, headers).await? {
        // Someone else at the same tablet (the next pupil's card): the apps the previous
        // person used through this session lose their grants too.
        if old.user_id != user_id {
            state
                .store
                .revoke_session_grants(&old.sid, renkei_platform::clock::now())
                .await?;
        }
        session::end(state, &old.sid).await?;
    }
    let started = session::start(state, user_id, amr, acr).await?;
    tracing::info!(user = %user_id, method = acr, "signed in");
    Ok(started)
}

/// Goes on, signed in as `session`, with the pending authorization request `request` (the app
/// gets its code, or is asked for), or home when there is none.
async fn continue_request(
    state: &AppState,
    session: crate::store::SessionRow,
    request: &str,
    context: Context,
) -> Result<Response> {
    if request.is_empty() {
        return Ok(renkei_platform::web::see_other("/", []));
    }
    let Some(valid) = context.valid else {
        return Err(expired_request());
    };
    let approved = state
        .store
        .approval(&session.user_id, &valid.client.id)
        .await?;
    let signed_in = SignedIn { session, approved };
    authorize::proceed(state, valid, Some(signed_in), Some(request.to_owned())).await
}

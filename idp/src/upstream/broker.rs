//! The brokered sign-in: the sign-in page's buttons send the browser to the upstream
//! (`/login/upstream/{name}`), the upstream sends it back (`…/callback`), Renkei validates the
//! upstream's ID token, finds the roster person it is and signs them in as themself — with
//! `acr` [`ACR_UPSTREAM`](super::ACR_UPSTREAM) and only the `amr` values the upstream asserted
//! (its `mfa` only where the board trusts it). A signed-in person links their own upstream
//! account the same way (`…/link`).
//!
//! A flow is kept in the database (a callback may reach another process), found by its
//! `state`'s digest, used once, bound to the browser that started it by a cookie, and expires
//! after [`FLOW_LIFETIME`]. Whatever goes wrong — the upstream's error, no answer, a time-out,
//! a token that does not validate, a person the roster does not know — ends on a page in the
//! reader's language and in an audit record, never in a half-signed-in session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use renkei_directory::RosterField;
use renkei_platform::clock::now;
use renkei_platform::crypto::{constant_time_eq, random_secret, sha256_base64url};
use renkei_platform::{AuditEvent, web};
use serde::Deserialize;

use super::client::{UpstreamError, Verified};
use super::{ACR_UPSTREAM, GOOGLE_ISSUER, LinkRule};
use crate::assurance::PasswordSignIn;
use crate::error::{Error, Result};
use crate::login;
use crate::pages::Locale;
use crate::server::AppState;
use crate::store::{StoreError, UpstreamFlowRow, UpstreamLinkRow, UpstreamRow, UserRow};

/// How long a sign-in at the upstream may take, in seconds.
pub const FLOW_LIFETIME: i64 = 600;
/// The cookie that binds a flow to its browser.
const FLOW_COOKIE: &str = "renkei_upstream";
/// The notice word after a person linked their upstream account.
pub const LINKED: &str = "upstream-linked";
/// The notice word after a person unlinked it.
pub const UNLINKED: &str = "upstream-unlinked";

/// `amr` values of RFC 8176 an upstream's word is repeated for.
const KNOWN_AMR: [&str; 21] = [
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
    "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
];
/// The values that claim more than one factor: kept only where the board trusts the upstream.
const MULTI_FACTOR_AMR: [&str; 3] = ["mfa", "hwk", "swk"];

/// Where the sign-in page's button for upstream `name` leads.
pub fn start_path(name: &str) -> String {
    format!("/login/upstream/{name}")
}

/// Where upstream `name` sends the browser back.
pub fn callback_path(name: &str) -> String {
    format!("/login/upstream/{name}/callback")
}

/// A button of the sign-in page.
#[derive(Clone, Debug)]
pub struct Button {
    /// Where it leads (with the pending request).
    pub href: String,
    /// Its words in Japanese.
    pub label_ja: String,
    /// Its words in English.
    pub label_en: String,
}

impl Button {
    /// Its words in `locale`.
    pub fn label(&self, locale: Locale) -> &str {
        match locale {
            Locale::Ja => &self.label_ja,
            Locale::En => &self.label_en,
        }
    }
}

/// The upstreams a sign-in offers: the whole board's, and those of `school` when the sign-in
/// is for a known school (then only those apply); with whether that school signs in only
/// through them.
pub async fn buttons(
    state: &AppState,
    school: Option<&str>,
    request: &str,
) -> Result<(Vec<Button>, bool)> {
    let upstreams = state.store.upstreams().await?;
    let enabled = upstreams.iter().filter(|u| u.disabled_at.is_none());
    let own: Vec<&UpstreamRow> = match school {
        Some(school) => enabled.clone().filter(|u| names(u, school)).collect(),
        None => Vec::new(),
    };
    let only = own.iter().any(|u| u.only_way);
    let shown: Vec<&UpstreamRow> = if own.is_empty() {
        enabled.filter(|u| u.schools.is_empty()).collect()
    } else {
        own
    };
    let buttons = shown
        .into_iter()
        .map(|u| Button {
            href: with_request(&start_path(&u.name), request),
            label_ja: u.label_ja.clone(),
            label_en: u.label_en.clone(),
        })
        .collect();
    Ok((buttons, only))
}

/// Whether `upstream` names `school` among its schools.
fn names(upstream: &UpstreamRow, school: &str) -> bool {
    upstream.schools.split_whitespace().any(|s| s == school)
}

/// `path` with the pending request `request`, if any.
fn with_request(path: &str, request: &str) -> String {
    if request.is_empty() {
        path.to_owned()
    } else {
        format!(
            "{path}?{}",
            serde_urlencoded::to_string([("request", request)]).unwrap_or_default()
        )
    }
}

/// The upstream that signs `user`'s school in only, if any: a password does not.
pub async fn only_way_for(state: &AppState, user: &UserRow) -> Result<Option<UpstreamRow>> {
    let Some(school) = user.school_id.as_deref() else {
        return Ok(None);
    };
    Ok(state
        .store
        .upstreams()
        .await?
        .into_iter()
        .find(|u| u.only_way && u.disabled_at.is_none() && names(u, school)))
}

/// The upstreams a person may link: the board's and their school's, each with the person's
/// link if there is one.
pub async fn for_person(
    state: &AppState,
    user: &UserRow,
) -> Result<Vec<(UpstreamRow, Option<UpstreamLinkRow>)>> {
    let links = state.store.upstream_links_of(&user.id).await?;
    Ok(state
        .store
        .upstreams()
        .await?
        .into_iter()
        .filter(|u| {
            u.disabled_at.is_none()
                && (u.schools.is_empty()
                    || user
                        .school_id
                        .as_deref()
                        .is_some_and(|school| names(u, school)))
        })
        .map(|u| {
            let link = links.iter().find(|l| l.provider == u.name).cloned();
            (u, link)
        })
        .collect())
}

/// Query of `GET /login/upstream/{name}`.
#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    request: String,
}

/// `GET /login/upstream/{name}`: sends the browser to the upstream to sign in.
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let result = async {
        let context = login::context(&state, &query.request).await?;
        // An app that asks for a passkey gets no brokered sign-in.
        if context.passkey_required() {
            return Err(Error::page(
                StatusCode::BAD_REQUEST,
                "このアプリにはパスキーでのログインが必要です。ログイン画面に戻って「パスキーでログイン」を選んでください。",
                "This app needs a passkey sign-in. Go back to the sign-in page and choose “Sign in with a passkey”.",
            ));
        }
        let address = login::client_address(&state, connect_info.as_ref(), &headers);
        begin(&state, address, &name, &query.request, None).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Form of `POST /login/upstream/{name}/link` and `…/unlink`.
#[derive(Debug, Deserialize)]
pub struct LinkForm {
    csrf_token: String,
}

/// `POST /login/upstream/{name}/link`: the signed-in person links their upstream account
/// (after a recent sign-in with their own method).
pub async fn link(
    State(state): State<AppState>,
    Path(name): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let result = async {
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Err(Error::expired_form());
        }
        // A recent sign-in of the person's own: not a printed card (anyone holding it) nor a
        // recovery code (its session is for registering a new passkey).
        let session = crate::session::current(&state, &headers)
            .await?
            .filter(crate::passkey::signed_in_recently)
            .filter(|s| {
                s.acr != crate::card::ACR_CARD && s.acr != crate::recovery::ACR_RECOVERY
            })
            .ok_or_else(|| {
                Error::page(
                    StatusCode::FORBIDDEN,
                    "アカウントを連携するには、パスワードかパスキーでもう一度ログインしてください。",
                    "Please sign in again with your password or a passkey to link an account.",
                )
            })?;
        let address = login::client_address(&state, connect_info.as_ref(), &headers);
        begin(&state, address, &name, "", Some(session.user_id)).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /login/upstream/{name}/unlink`: the signed-in person unlinks their upstream account.
pub async fn unlink(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let result = async {
        if !state.csrf.verify(&headers, &form.csrf_token) {
            return Err(Error::expired_form());
        }
        let Some(session) = crate::session::current(&state, &headers).await? else {
            return Ok(web::see_other("/login", []));
        };
        // The person's own sign-in (not a card's), and a link they made themself: an
        // administrator's link is the administrator's to undo.
        let own_link = state
            .store
            .upstream_links_of(&session.user_id)
            .await?
            .into_iter()
            .any(|l| l.provider == name && l.linked_by == "person");
        if session.acr == crate::card::ACR_CARD || !own_link {
            return Err(Error::page(
                StatusCode::FORBIDDEN,
                "この連携は、ここでは解除できません。管理者に連絡してください。",
                "This link cannot be removed here. Please contact your administrator.",
            ));
        }
        let user = state
            .store
            .user(&session.user_id)
            .await?
            .ok_or_else(crate::token::issue::user_gone)?;
        let via = format!("/login/upstream/{name}/unlink");
        super::unlink(
            state.store.as_ref(),
            &state.audit,
            &via,
            &name,
            &user.username,
        )
        .await?;
        Ok(crate::notice::after(&state, "/", UNLINKED))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Starts a flow at upstream `name` for the browser at `address`: for the pending request
/// `request`, or linking the account `link_user`.
async fn begin(
    state: &AppState,
    address: Option<std::net::IpAddr>,
    name: &str,
    request: &str,
    link_user: Option<String>,
) -> Result<Response> {
    let upstream = state
        .store
        .upstream(name)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| {
            Error::page(
                StatusCode::NOT_FOUND,
                "このログイン方法は使えません。ログイン画面に戻って、ほかの方法でログインしてください。",
                "This sign-in method is not available. Go back to the sign-in page and choose another.",
            )
        })?;
    let now = now();
    // What a browser can make us keep is bounded per address, as kept authorization requests.
    if !state.kept_requests.admit(address, now) {
        return Err(Error::page(
            StatusCode::TOO_MANY_REQUESTS,
            "ログインの手続きが多すぎます。しばらく待ってから、もう一度お試しください。",
            "Too many sign-ins at once. Please wait a little and try again.",
        ));
    }
    let redirect_uri = super::redirect_uri(&state.config.issuer, name);
    let started = match state.upstreams.start(&upstream, &redirect_uri).await {
        Ok(started) => started,
        Err(error) => {
            let refused = Refused::from_upstream(&upstream, &error);
            return Err(refused.record(state, name).await);
        }
    };
    let browser = random_secret();
    let flow = UpstreamFlowRow {
        state_hash: sha256_base64url(started.state.as_bytes()),
        provider: upstream.name.clone(),
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        browser_hash: sha256_base64url(browser.as_bytes()),
        request: request.to_owned(),
        link_user,
        created_at: now,
        expires_at: now + FLOW_LIFETIME,
    };
    state.store.insert_upstream_flow(&flow, now).await?;
    Ok(web::see_other(
        &started.url,
        [state
            .cookies
            .set(FLOW_COOKIE, &browser, Some(FLOW_LIFETIME))],
    ))
}

/// Query of the callback: what the upstream sends back.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /login/upstream/{name}/callback`: the upstream's answer.
pub async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let result = async {
        let address_key = login::address_key(&state, connect_info.as_ref(), &headers);
        if !login::reserve_address_attempt(&state, address_key.as_deref()).await? {
            return Err(Error::page(
                StatusCode::TOO_MANY_REQUESTS,
                "失敗が続いたため、しばらくログインできません。時間をおいてもう一度お試しください。",
                "Too many failed sign-ins. Please wait a while and try again.",
            ));
        }
        let clear = state.cookies.clear(FLOW_COOKIE);
        let finished = match finish(&state, &headers, &name, query).await? {
            Ok(finished) => finished,
            // The failure stays counted for the address.
            Err(refused) => return Err(refused.record(&state, &name).await),
        };
        login::release_address_attempt(&state, address_key.as_deref()).await?;
        let response = match finished {
            Finished::Linked => crate::notice::after(&state, "/", LINKED),
            Finished::SignIn {
                user,
                amr,
                request,
                grace_until,
            } => {
                let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
                let context = login::context(&state, &request).await?;
                match grace_until {
                    Some(until) => {
                        let locale = state.locale(None, context.ui_locales(), &headers);
                        let (_, cookie) =
                            login::replace_session(&state, &headers, &user.id, &amr, ACR_UPSTREAM)
                                .await?;
                        login::enrol_prompt(&state, &headers, locale, &request, until, cookie)
                    }
                    None => {
                        login::complete(
                            &state,
                            &headers,
                            &user.id,
                            &amr,
                            ACR_UPSTREAM,
                            &request,
                            context,
                        )
                        .await?
                    }
                }
            }
        };
        Ok(web::with_cookies(response, [clear]))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// What a successful callback does.
enum Finished {
    /// Signs `user` in with what the upstream asserted, then continues `request`; within a
    /// grace period of the board's passkey rule (until `grace_until`) the person is asked to
    /// enrol one first.
    SignIn {
        user: Box<UserRow>,
        amr: Vec<String>,
        request: String,
        grace_until: Option<i64>,
    },
    /// The signed-in person's upstream account was linked.
    Linked,
}

/// Why a callback (or a start) signs no one in: the page, and the audit record's words.
struct Refused {
    status: StatusCode,
    ja: &'static str,
    en: &'static str,
    detail: String,
    person: Option<String>,
}

impl Refused {
    fn new(status: StatusCode, ja: &'static str, en: &'static str, detail: String) -> Self {
        Refused {
            status,
            ja,
            en,
            detail,
            person: None,
        }
    }

    /// Refused because talking to `upstream` failed with `error`.
    fn from_upstream(upstream: &UpstreamRow, error: &UpstreamError) -> Self {
        let (status, ja, en) = match error {
            UpstreamError::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                "外部のログインサービスから時間内に応答がありませんでした。しばらくしてから、もう一度お試しください。",
                "The outside sign-in service did not answer in time. Please try again in a while.",
            ),
            UpstreamError::Unreachable(_) => (
                StatusCode::BAD_GATEWAY,
                "外部のログインサービスに接続できませんでした。しばらくしてから、もう一度お試しください。",
                "The outside sign-in service could not be reached. Please try again in a while.",
            ),
            UpstreamError::Refused(_) | UpstreamError::InvalidToken(_) => (
                StatusCode::BAD_REQUEST,
                "外部のログインサービスの応答を確認できなかったため、ログインできませんでした。もう一度お試しください。続く場合は管理者に連絡してください。",
                "The outside sign-in service's answer could not be checked, so you are not signed in. Please try again; if it keeps happening, contact your administrator.",
            ),
        };
        Refused::new(
            status,
            ja,
            en,
            format!("upstream {} ({}): {error}", upstream.name, upstream.issuer),
        )
    }

    /// Writes the audit record and gives the page.
    async fn record(self, state: &AppState, name: &str) -> Error {
        let via = callback_path(name);
        let detail = format!("sign-in through upstream refused: {}", self.detail);
        tracing::warn!(upstream = %name, "{detail}");
        if let Err(error) = state
            .audit
            .append(AuditEvent::admin_about(
                &via,
                self.person.as_deref(),
                detail,
            ))
            .await
        {
            return error.into();
        }
        Error::page(self.status, self.ja, self.en)
    }

    fn about(mut self, user: &UserRow) -> Self {
        self.person = user.sourced_id.clone();
        self
    }
}

/// A refusal for a person the roster does not know (or cannot tell apart).
fn unknown_person(detail: String) -> Refused {
    Refused::new(
        StatusCode::FORBIDDEN,
        "このアカウントは、名簿に登録された人と結び付いていないため、ログインできません。学校の名簿に登録されたメールアドレスのアカウントを使うか、管理者に連絡してください。",
        "This account is not linked to anyone on the school roster, so it cannot sign in. Use the account of the e-mail address on the roster, or contact your administrator.",
        detail,
    )
}

/// Checks the upstream's answer and decides who signs in. `Err` is for the database; a
/// refusal is `Ok(Err(…))`.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    query: CallbackQuery,
) -> Result<std::result::Result<Finished, Refused>> {
    let expired = |detail: String| {
        Refused::new(
            StatusCode::BAD_REQUEST,
            "このログインは有効期限が切れたか、すでに使われています。もう一度ログインしてください。",
            "This sign-in has expired or was already used. Please sign in again.",
            detail,
        )
    };
    let Some(state_param) = query.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Ok(Err(expired("an answer without state".into())));
    };
    let now = now();
    let flow = state
        .store
        .take_upstream_flow(&sha256_base64url(state_param.as_bytes()), now)
        .await?;
    let Some(flow) = flow.filter(|f| f.provider == name) else {
        return Ok(Err(expired(
            "an unknown, used or expired state (a replayed answer?)".into(),
        )));
    };
    // The browser that started the flow must be the one that finishes it: nobody can make
    // another browser sign in with their own upstream account.
    let cookie = web::cookie(headers, &state.cookies.name(FLOW_COOKIE)).unwrap_or_default();
    if !constant_time_eq(
        sha256_base64url(cookie.as_bytes()).as_bytes(),
        flow.browser_hash.as_bytes(),
    ) {
        return Ok(Err(expired(
            "the answer reached another browser than the one that started".into(),
        )));
    }
    let Some(upstream) = state
        .store
        .upstream(name)
        .await?
        .filter(|u| u.disabled_at.is_none())
    else {
        return Ok(Err(expired(format!(
            "upstream {name} was switched off or removed meanwhile"
        ))));
    };
    if let Some(error) = query.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Ok(Err(Refused::new(
            StatusCode::FORBIDDEN,
            "外部のログインサービスでログインが完了しませんでした（取り消されたか、許可されませんでした）。もう一度お試しください。",
            "The sign-in at the outside service did not complete (it was cancelled or not allowed). Please try again.",
            format!("upstream {name} answered error {code}"),
        )));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 4096) else {
        return Ok(Err(expired("an answer without a code".into())));
    };
    let redirect_uri = super::redirect_uri(&state.config.issuer, name);
    let verified = match state
        .upstreams
        .redeem(
            &upstream,
            &redirect_uri,
            &code,
            &flow.pkce_verifier,
            &flow.nonce,
        )
        .await
    {
        Ok(verified) => verified,
        Err(error) => return Ok(Err(Refused::from_upstream(&upstream, &error))),
    };
    if let Err(refused) = organisation_matches(&upstream, &verified) {
        return Ok(Err(refused));
    }
    let user = match &flow.link_user {
        Some(user_id) => match link_own(state, headers, &upstream, &verified, user_id).await? {
            Ok(()) => return Ok(Ok(Finished::Linked)),
            Err(refused) => return Ok(Err(refused)),
        },
        None => match person_of(state, &upstream, &verified).await? {
            Ok(user) => user,
            Err(refused) => return Ok(Err(refused)),
        },
    };
    if !serves(state, &upstream, &user).await? {
        return Ok(Err(not_served(&upstream, &user)));
    }
    // A school that signs in only through its own upstream: not through the board's either.
    if only_way_for(state, &user)
        .await?
        .is_some_and(|only| only.name != upstream.name)
    {
        return Ok(Err(not_served(&upstream, &user)));
    }
    // Departed, disabled or locked: the upstream's word does not bring anyone back.
    if !user.enabled {
        return Ok(Err(Refused::new(
            StatusCode::FORBIDDEN,
            "このアカウントは現在使えません。管理者に連絡してください。",
            "This account cannot be used now. Please contact your administrator.",
            format!("account {} is disabled or locked", user.username),
        )
        .about(&user)));
    }
    let amr = asserted_amr(&upstream, &verified);
    // The board's rule for the role: an upstream sign-in counts as a password unless the
    // upstream said it checked more and the board trusts it.
    let grace_until = if amr.iter().any(|m| m == "mfa") || state.passkeys.is_none() {
        None
    } else {
        match crate::assurance::password_sign_in(state.store.as_ref(), &user.role, now).await? {
            PasswordSignIn::Counts => None,
            PasswordSignIn::CountsUntil(until) => Some(until),
            PasswordSignIn::Refused => {
                return Ok(Err(Refused::new(
                    StatusCode::FORBIDDEN,
                    "この役割の方は、パスキーでログインする決まりです。ログイン画面で「パスキーでログイン」を選んでください。",
                    "People in this role must sign in with a passkey. Choose “Sign in with a passkey” on the sign-in page.",
                    format!(
                        "account {} must sign in with a passkey (the board's rule for {})",
                        user.username, user.role
                    ),
                )
                .about(&user)));
            }
        }
    };
    state
        .audit
        .append(AuditEvent::admin_about(
            &callback_path(name),
            user.sourced_id.as_deref(),
            format!(
                "account {} signed in through upstream {name} (amr {})",
                user.username,
                if amr.is_empty() {
                    "none asserted".to_owned()
                } else {
                    amr.join(" ")
                }
            ),
        ))
        .await?;
    Ok(Ok(Finished::SignIn {
        user: Box::new(user),
        amr,
        request: flow.request,
        grace_until,
    }))
}

/// Whether `upstream` is for `user`'s school: one for the whole board is for everyone; one for
/// some schools only for the people who belong to one of them.
async fn serves(state: &AppState, upstream: &UpstreamRow, user: &UserRow) -> Result<bool> {
    if upstream.schools.is_empty() {
        return Ok(true);
    }
    for school in upstream.schools.split_whitespace() {
        if user.school_id.as_deref() == Some(school) {
            return Ok(true);
        }
        if let Some(sourced_id) = &user.sourced_id
            && state
                .directory
                .belongs_to_school(sourced_id, school)
                .await
                .map_err(|e| Error::internal(format!("the roster could not be read: {e}")))?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The refusal for a person whose school the upstream is not for.
fn not_served(upstream: &UpstreamRow, user: &UserRow) -> Refused {
    Refused::new(
        StatusCode::FORBIDDEN,
        "このログイン方法は、あなたの学校では使えません。ログイン画面に戻って、ほかの方法でログインしてください。",
        "This sign-in method is not for your school. Go back to the sign-in page and choose another.",
        format!(
            "account {} is not of a school upstream {} is for ({})",
            user.username, upstream.name, upstream.schools
        ),
    )
    .about(user)
}

/// The tenant (`tid`) and domain (`hd`, else the e-mail's) checks the administrator set.
fn organisation_matches(
    upstream: &UpstreamRow,
    verified: &Verified,
) -> std::result::Result<(), Refused> {
    let outside = |detail: String| {
        Refused::new(
            StatusCode::FORBIDDEN,
            "このアカウントは、この教育委員会・学校のアカウントではないため、ログインできません。学校から配られたアカウントでログインしてください。",
            "This account does not belong to the board or school, so it cannot sign in. Please use the account your school gave you.",
            detail,
        )
    };
    if let Some(tenant) = &upstream.tenant {
        let tid = verified.text("tid").unwrap_or_default();
        if !tid.eq_ignore_ascii_case(tenant) {
            return Err(outside(format!(
                "subject {} of upstream {} is of tenant {tid:?}, not {tenant}",
                verified.subject, upstream.name
            )));
        }
    }
    let allowed: Vec<&str> = upstream.allowed_domains.split_whitespace().collect();
    if !allowed.is_empty() {
        let domain = match verified.text("hd") {
            Some(hd) => Some(hd.to_ascii_lowercase()),
            // Google names a Workspace account's domain in `hd`; an account without it is a
            // consumer account, whatever its e-mail says.
            None if upstream.issuer == GOOGLE_ISSUER => None,
            None => verified
                .text("email")
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase()),
        };
        if !domain.as_deref().is_some_and(|d| allowed.contains(&d)) {
            return Err(outside(format!(
                "subject {} of upstream {} is of domain {domain:?}, not one of {}",
                verified.subject, upstream.name, upstream.allowed_domains
            )));
        }
    }
    Ok(())
}

/// The e-mail address the upstream vouches for, lower-cased: one it verified (Entra says so
/// with `xms_edov`, the e-mail domain owner verified), in ASCII; at Google, only a Workspace
/// account's (`hd`) or a Gmail address — a consumer account of another address was verified
/// once, and Google is not that address's authority.
fn trusted_email(upstream: &UpstreamRow, verified: &Verified) -> Option<String> {
    let email = verified.text("email")?.to_ascii_lowercase();
    let vouched = verified.flag("email_verified") || verified.flag("xms_edov");
    let authority = upstream.issuer != GOOGLE_ISSUER
        || verified.text("hd").is_some()
        || email.ends_with("@gmail.com");
    (vouched && authority && email.is_ascii() && email.contains('@')).then_some(email)
}

/// The `amr` values repeated from the upstream: RFC 8176's only, and those that claim more
/// than one factor only where the board trusts the upstream (a key alone, without `mfa`, is
/// not taken for two factors).
fn asserted_amr(upstream: &UpstreamRow, verified: &Verified) -> Vec<String> {
    let mut amr: Vec<String> = verified
        .amr()
        .into_iter()
        .filter(|m| KNOWN_AMR.contains(&m.as_str()))
        .collect();
    let multi = upstream.trust_mfa && amr.iter().any(|m| m == "mfa");
    amr.retain(|m| multi || !MULTI_FACTOR_AMR.contains(&m.as_str()));
    amr.sort();
    amr.dedup();
    amr
}

/// The Renkei account the upstream account is: its link, or a first link by the
/// administrator's rule (audited).
async fn person_of(
    state: &AppState,
    upstream: &UpstreamRow,
    verified: &Verified,
) -> Result<std::result::Result<UserRow, Refused>> {
    let gone = || {
        unknown_person(format!(
            "subject {} of upstream {} is linked to an account that no longer exists",
            verified.subject, upstream.name
        ))
    };
    if let Some(link) = state
        .store
        .upstream_link(&upstream.name, &verified.subject)
        .await?
    {
        return Ok(state.store.user(&link.user_id).await?.ok_or_else(gone));
    }
    let rule = LinkRule::parse(&upstream.link_by)?;
    let (field, value, how) = match &rule {
        LinkRule::Subject => {
            return Ok(Err(unknown_person(format!(
                "subject {} of upstream {} is not linked to any account (the rule is: linked beforehand)",
                verified.subject, upstream.name
            ))));
        }
        LinkRule::Email => match trusted_email(upstream, verified) {
            Some(email) => (RosterField::Email, email, "email"),
            None => {
                return Ok(Err(unknown_person(format!(
                    "subject {} of upstream {} has no verified e-mail address",
                    verified.subject, upstream.name
                ))));
            }
        },
        LinkRule::Claim(claim) => match verified.text(claim) {
            Some(value) => (RosterField::Username, value.to_owned(), "claim"),
            None => {
                return Ok(Err(unknown_person(format!(
                    "subject {} of upstream {} has no claim {claim}",
                    verified.subject, upstream.name
                ))));
            }
        },
    };
    let found = state
        .directory
        .roster_accounts_matching(field, &value)
        .await
        .map_err(|e| Error::internal(format!("the roster could not be read: {e}")))?;
    let [user_id] = found.as_slice() else {
        return Ok(Err(unknown_person(format!(
            "subject {} of upstream {}: {} roster account(s) match its {how} {value:?}",
            verified.subject,
            upstream.name,
            if found.is_empty() {
                "no"
            } else {
                "more than one"
            }
        ))));
    };
    let Some(user) = state.store.user(user_id).await? else {
        return Ok(Err(gone()));
    };
    // Nobody is linked whom this upstream would not sign in.
    if !user.enabled || !serves(state, upstream, &user).await? {
        return Ok(Err(not_served(upstream, &user)));
    }
    let row = UpstreamLinkRow {
        provider: upstream.name.clone(),
        subject: verified.subject.clone(),
        user_id: user.id.clone(),
        linked_at: now(),
        linked_by: how.to_owned(),
    };
    match state.store.insert_upstream_link(&row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Ok(Err(unknown_person(format!(
                "account {} is linked to another account of upstream {} already; the subject {} was not linked (an administrator can unlink the other)",
                user.username, upstream.name, verified.subject
            ))
            .about(&user)));
        }
        Err(error) => return Err(error.into()),
    }
    state
        .audit
        .append(AuditEvent::admin_about(
            &callback_path(&upstream.name),
            user.sourced_id.as_deref(),
            format!(
                "account {} linked to subject {} of upstream {} by its {how} at the first sign-in",
                user.username, verified.subject, upstream.name
            ),
        ))
        .await?;
    Ok(Ok(user))
}

/// Links the upstream account to the signed-in person `user_id` who asked for it (still
/// signed in in this browser), audited.
async fn link_own(
    state: &AppState,
    headers: &HeaderMap,
    upstream: &UpstreamRow,
    verified: &Verified,
    user_id: &str,
) -> Result<std::result::Result<(), Refused>> {
    let signed_in = crate::session::current(state, headers)
        .await?
        .is_some_and(|s| s.user_id == user_id);
    let user = state.store.user(user_id).await?.filter(|u| u.enabled);
    let (true, Some(user)) = (signed_in, user) else {
        return Ok(Err(Refused::new(
            StatusCode::FORBIDDEN,
            "連携を始めたときのログインが終わっています。もう一度ログインしてから連携してください。",
            "The sign-in that started linking has ended. Please sign in again and link again.",
            format!(
                "linking upstream {} without the session that asked",
                upstream.name
            ),
        )));
    };
    if !serves(state, upstream, &user).await? {
        return Ok(Err(not_served(upstream, &user)));
    }
    // The upstream account must be the person's by the board's own rule: their roster e-mail
    // (verified upstream, and nobody else's) or username. Any other account is linked by an
    // administrator, who can tell.
    let matching = match LinkRule::parse(&upstream.link_by)? {
        LinkRule::Email => trusted_email(upstream, verified).map(|e| (RosterField::Email, e)),
        LinkRule::Claim(claim) => verified
            .text(&claim)
            .map(|value| (RosterField::Username, value.to_owned())),
        LinkRule::Subject => None,
    };
    let theirs = match matching {
        Some((field, value)) => {
            state
                .directory
                .roster_accounts_matching(field, &value)
                .await
                .map_err(|e| Error::internal(format!("the roster could not be read: {e}")))?
                == [user.id.clone()]
        }
        None => false,
    };
    if !theirs {
        return Ok(Err(Refused::new(
            StatusCode::FORBIDDEN,
            "このアカウントは、名簿に登録されたあなたのアカウントと確認できませんでした。学校の名簿に登録されたメールアドレスのアカウントを使うか、管理者に連携を依頼してください。",
            "This account could not be confirmed as yours from the roster. Use the account of the e-mail address on the roster, or ask your administrator to link it.",
            format!(
                "account {} asked to link subject {} of upstream {}, which the roster does not confirm",
                user.username, verified.subject, upstream.name
            ),
        )
        .about(&user)));
    }
    let row = UpstreamLinkRow {
        provider: upstream.name.clone(),
        subject: verified.subject.clone(),
        user_id: user.id.clone(),
        linked_at: now(),
        linked_by: "person".into(),
    };
    match state.store.insert_upstream_link(&row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Ok(Err(Refused::new(
                StatusCode::CONFLICT,
                "このアカウントは、すでにほかの人と連携しているか、あなたはすでに別のアカウントと連携しています。連携を解除してからやり直すか、管理者に連絡してください。",
                "This account is linked to someone else, or you have linked another account already. Unlink it first, or contact your administrator.",
                format!(
                    "account {} asked to link subject {} of upstream {}, which is taken",
                    user.username, verified.subject, upstream.name
                ),
            )
            .about(&user)));
        }
        Err(error) => return Err(error.into()),
    }
    state
        .audit
        .append(AuditEvent::admin_about(
            &callback_path(&upstream.name),
            user.sourced_id.as_deref(),
            format!(
                "account {} linked to subject {} of upstream {} by the person",
                user.username, verified.subject, upstream.name
            ),
        ))
        .await?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn upstream(trust_mfa: bool, domains: &str, tenant: Option<&str>) -> UpstreamRow {
        UpstreamRow {
            name: "google".into(),
            issuer: "https://idp.example.jp".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            scopes: "openid email".into(),
            allowed_domains: domains.into(),
            tenant: tenant.map(str::to_owned),
            schools: String::new(),
            link_by: "email".into(),
            label_ja: "Google".into(),
            label_en: "Google".into(),
            only_way: false,
            trust_mfa,
            disabled_at: None,
            created_at: 0,
            created_by: "test".into(),
        }
    }

    fn verified(claims: serde_json::Value) -> Verified {
        Verified {
            subject: "s1".into(),
            claims,
        }
    }

    #[test]
    fn only_known_and_trusted_amr_values_are_repeated() {
        let said = verified(json!({"amr": ["pwd", "mfa", "otp", "made-up", "pwd"]}));
        assert_eq!(
            asserted_amr(&upstream(false, "", None), &said),
            ["otp", "pwd"]
        );
        assert_eq!(
            asserted_amr(&upstream(true, "", None), &said),
            ["mfa", "otp", "pwd"]
        );
        let key_alone = verified(json!({"amr": ["hwk"]}));
        assert!(asserted_amr(&upstream(true, "", None), &key_alone).is_empty());
        assert!(asserted_amr(&upstream(true, "", None), &verified(json!({}))).is_empty());
    }

    #[test]
    fn google_vouches_for_workspace_and_gmail_addresses_only() {
        let mut google = upstream(false, "", None);
        google.issuer = GOOGLE_ISSUER.into();
        let said = |claims| trusted_email(&google, &verified(claims));
        assert_eq!(
            said(
                json!({"email": "Taro@Sakura.ed.jp", "email_verified": true, "hd": "sakura.ed.jp"})
            ),
            Some("taro@sakura.ed.jp".into())
        );
        assert_eq!(
            said(json!({"email": "taro@gmail.com", "email_verified": true})),
            Some("taro@gmail.com".into())
        );
        assert_eq!(
            said(json!({"email": "taro@sakura.ed.jp", "email_verified": true})),
            None,
            "a consumer account of a school address"
        );
        assert_eq!(
            said(
                json!({"email": "taro@sakura.ed.jp", "email_verified": false, "hd": "sakura.ed.jp"})
            ),
            None
        );
        let entra = upstream(false, "", None);
        assert_eq!(
            trusted_email(
                &entra,
                &verified(json!({"email": "a@sakura.ed.jp", "xms_edov": true}))
            ),
            Some("a@sakura.ed.jp".into())
        );
        assert_eq!(
            trusted_email(&entra, &verified(json!({"email": "a@sakura.ed.jp"}))),
            None
        );
    }

    #[test]
    fn tenants_and_domains_are_checked() {
        let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let entra = upstream(false, "", Some(tenant));
        assert!(organisation_matches(&entra, &verified(json!({"tid": tenant}))).is_ok());
        assert!(organisation_matches(&entra, &verified(json!({"tid": "other"}))).is_err());
        assert!(organisation_matches(&entra, &verified(json!({}))).is_err());
        let school = upstream(false, "sakura.ed.jp", None);
        assert!(organisation_matches(&school, &verified(json!({"hd": "sakura.ed.jp"}))).is_ok());
        assert!(organisation_matches(&school, &verified(json!({"hd": "other.ed.jp"}))).is_err());
        assert!(
            organisation_matches(&school, &verified(json!({"email": "a@sakura.ed.jp"}))).is_ok()
        );
        let mut google = school.clone();
        google.issuer = GOOGLE_ISSUER.into();
        assert!(
            organisation_matches(&google, &verified(json!({"email": "a@sakura.ed.jp"}))).is_err(),
            "Google without hd: a consumer account"
        );
    }
}

//! The authorization endpoint (OpenID Connect Core §3.1.2): validates the request, decides
//! whether the user must sign in or consent, and answers the app with a code or an error.
//!
//! Until the app's redirect URI is known to be registered, errors are shown as a page; after
//! that they go back to the app, always with `iss` (RFC 9207).

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::client::ClientExt;
use crate::crypto::{random_id, random_secret, sha256};
use crate::error::{Error, Result};
use crate::scope;
use crate::server::AppState;
use crate::store::{ClientRow, CodeRow, GrantRow, SessionRow, SignedIn};
use renkei_platform::clock::now;

/// The parameters of an authorization request, as received (and as kept while the user signs
/// in or consents).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct AuthorizationRequest {
    /// The app.
    pub client_id: Option<String>,
    /// Where to send the answer; must be registered exactly.
    pub redirect_uri: Option<String>,
    /// Must be `code`.
    pub response_type: Option<String>,
    /// Requested scopes.
    pub scope: Option<String>,
    /// Opaque value echoed to the app.
    pub state: Option<String>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// Maximum age of the sign-in, in seconds.
    pub max_age: Option<String>,
    /// Authentication context classes the app asks for, in order of preference; Renkei acts on
    /// `urn:renkei:acr:passkey` (a passkey sign-in is then required) and ignores the others.
    pub acr_values: Option<String>,
    /// Username to pre-fill.
    pub login_hint: Option<String>,
    /// Preferred page languages.
    pub ui_locales: Option<String>,
    /// Only `query` is supported.
    pub response_mode: Option<String>,
    /// Request objects are not supported.
    pub request: Option<String>,
    /// Request objects by reference are not supported.
    pub request_uri: Option<String>,
    /// When the request arrived (set by us when it is kept).
    #[serde(default)]
    pub received_at: i64,
    /// The session the browser had when the request was kept because that session was not
    /// fresh enough for it (set by us, never by the client): only a sign-in after it counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_sid: Option<String>,
    /// The browser's address (set by us on arrival, never kept): what the limit on kept
    /// requests counts by.
    #[serde(skip)]
    pub from: Option<IpAddr>,
}

impl AuthorizationRequest {
    /// The first kept parameter longer than its limit: (name, its length, the limit). Every
    /// parameter kept with a pending request is bounded (`client_id` and `redirect_uri` must
    /// equal registered values, which are), so a request never keeps more than a few
    /// kilobytes; longer values are refused with `invalid_request`.
    fn oversized(&self) -> Option<(&'static str, usize, usize)> {
        [
            ("state", &self.state, 1024),
            ("nonce", &self.nonce, 512),
            ("scope", &self.scope, 1024),
            ("code_challenge", &self.code_challenge, 128),
            ("code_challenge_method", &self.code_challenge_method, 16),
            ("prompt", &self.prompt, 64),
            ("max_age", &self.max_age, 12),
            ("acr_values", &self.acr_values, 512),
            ("login_hint", &self.login_hint, 256),
            ("ui_locales", &self.ui_locales, 128),
            ("response_mode", &self.response_mode, 32),
        ]
        .into_iter()
        .find_map(|(name, value, max)| {
            let length = value.as_deref().map_or(0, str::len);
            (length > max).then_some((name, length, max))
        })
    }
}

/// An authorization request that passed validation.
pub struct ValidRequest {
    /// The request as received.
    pub raw: AuthorizationRequest,
    /// The app.
    pub client: ClientRow,
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age`.
    pub max_age: Option<i64>,
    /// The app asked for a phishing-resistant sign-in (`acr_values` names the passkey class
    /// and not the password one) and passkeys are on: only a passkey sign-in is enough for it.
    pub passkey_required: bool,
    /// A card sign-in is acceptable: the app named no class, or named the card's.
    pub card_accepted: bool,
}

/// An error to return to the app at its redirect URI.
pub struct Refusal {
    code: &'static str,
    description: String,
}

fn refuse(code: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        code,
        description: description.into(),
    }
}

/// `GET /authorize`.
pub async fn get(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(mut request): Query<AuthorizationRequest>,
) -> Response {
    request.from = crate::login::client_address(&state, connect_info.as_ref(), &headers);
    begin(state, headers, request).await
}

/// `POST /authorize` (form-encoded, as OpenID Connect Core §3.1.2.1 requires supporting).
pub async fn post(body: axum::body::Bytes) -> Response {
    // A cross-site POST carries no SameSite=Lax session cookie, so the request continues as a
    // GET (a top-level navigation, which does) with the same parameters.
    see_other_with_query("/authorize", &body)
}

/// A 303 to `path` with a form body as its query, for POSTs that must continue as GETs.
pub fn see_other_with_query(path: &str, body: &[u8]) -> Response {
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        Ok(pairs) => {
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            renkei_platform::web::see_other(&format!("{path}?{query}"), [])
        }
        Err(e) => Error::page(
            StatusCode::BAD_REQUEST,
            format!("要求の形式が正しくありません：{e}"),
            format!("Malformed form body: {e}"),
        )
        .into_response(),
    }
}

async fn begin(state: AppState, headers: HeaderMap, mut request: AuthorizationRequest) -> Response {
    request.received_at = now();
    request.stale_sid = None;
    let result = async {
        let valid = match validate(&state, request).await? {
            Ok(valid) => valid,
            Err((redirect, refusal)) => return Ok(redirect_error(&state, &redirect, &refusal)),
        };
        let signed_in = crate::session::current_for(&state, &headers, &valid.client.id).await?;
        proceed(&state, valid, signed_in, None).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Checks the request. `Err(page)` for errors that must not be redirected, `Ok(Err(..))` for
/// errors to send to the (verified) redirect URI of the client.
pub async fn validate(
    state: &AppState,
    raw: AuthorizationRequest,
) -> Result<std::result::Result<ValidRequest, (RedirectTarget, Refusal)>> {
    let client_id = raw.client_id.as_deref().filter(|id| !id.is_empty()).ok_or_else(|| {
        Error::page(
            StatusCode::BAD_REQUEST,
            "アプリの指定（client_id）がありません。アプリの提供者に連絡してください。",
            "The request names no app (client_id is missing). Please contact the app's provider.",
        )
    })?;
    let client = state.store.client(client_id).await?.ok_or_else(|| {
        Error::page(
            StatusCode::BAD_REQUEST,
            "このアプリは登録されていません。教育委員会の管理者に連絡してください。",
            "This app is not registered. Please contact your school board's administrator.",
        )
    })?;
    let redirect_uri = match raw.redirect_uri.as_deref() {
        Some(uri) if client.has_redirect_uri(uri) => uri.to_owned(),
        Some(_) => {
            return Err(Error::page(
                StatusCode::BAD_REQUEST,
                "アプリの戻り先（redirect_uri）が登録と一致しません。アプリの提供者に連絡してください。",
                "The app's redirect_uri does not exactly match a registered one. Please contact the app's provider.",
            ));
        }
        None => {
            return Err(Error::page(
                StatusCode::BAD_REQUEST,
                "アプリの戻り先（redirect_uri）がありません。アプリの提供者に連絡してください。",
                "The request has no redirect_uri. Please contact the app's provider.",
            ));
        }
    };
    let oversized = raw.oversized();
    let target = RedirectTarget {
        redirect_uri: redirect_uri.clone(),
        // An oversized state is not echoed either.
        state: raw.state.clone().filter(|_| oversized.is_none()),
    };
    let fail = |refusal: Refusal| Ok(Err((target.clone(), refusal)));
    if let Some((name, length, max)) = oversized {
        return fail(refuse(
            "invalid_request",
            format!("{name} is {length} bytes long; at most {max} are accepted"),
        ));
    }
    if raw.request.is_some() {
        return fail(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if raw.request_uri.is_some() {
        return fail(refuse(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match raw.response_type.as_deref() {
        Some("code") => {}
        None => {
            return fail(refuse(
                "invalid_request",
                "response_type is required and must be code",
            ));
        }
        Some(other) => {
            return fail(refuse(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }
    if !client.allows_grant("authorization_code") {
        return fail(refuse(
            "unauthorized_client",
            "this client is not registered for the authorization code flow",
        ));
    }
    if raw
        .response_mode
        .as_deref()
        .is_some_and(|mode| mode != "query")
    {
        return fail(refuse("invalid_request", "response_mode must be query"));
    }
    // Scopes Renkei does not know are ignored (OpenID Connect Core §3.1.2.1); known scopes the
    // client is not registered for are refused.
    let scopes: Vec<String> = scope::parse(raw.scope.as_deref().unwrap_or(""))
        .into_iter()
        .filter(|s| scope::SUPPORTED_SCOPES.contains(&s.as_str()))
        .collect();
    if scopes.is_empty() {
        return fail(refuse(
            "invalid_scope",
            "scope is required (at least openid)",
        ));
    }
    if let Some(unknown) = scopes.iter().find(|s| !client.allows_scope(s)) {
        return fail(refuse(
            "invalid_scope",
            format!("scope {unknown:?} is not allowed for this client"),
        ));
    }
    match (
        raw.code_challenge.as_deref(),
        raw.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.is_public() => {
            return fail(refuse(
                "invalid_request",
                "code_challenge is required (PKCE with S256) for public clients",
            ));
        }
        (None, None) => {}
        (None, Some(_)) => {
            return fail(refuse(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(_), method) if method != Some("S256") => {
            return fail(refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not allowed)",
            ));
        }
        (Some(challenge), _) => {
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return fail(refuse(
                    "invalid_request",
                    "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
                ));
            }
        }
    }
    let prompt = scope::parse(raw.prompt.as_deref().unwrap_or(""));
    if let Some(unknown) = prompt
        .iter()
        .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return fail(refuse(
            "invalid_request",
            format!("unknown prompt value {unknown:?}"),
        ));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return fail(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match raw.max_age.as_deref() {
        None => None,
        Some(value) => match value.parse::<i64>() {
            Ok(age) if age >= 0 => Some(age),
            _ => {
                return fail(refuse(
                    "invalid_request",
                    "max_age must be a non-negative number of seconds",
                ));
            }
        },
    };
    // Requested classes are a list in order of preference (OpenID Connect Core 3.1.2.1): a
    // passkey is required only when it is the one class Renkei knows that the list accepts
    // (with the password class also listed, a password sign-in is acceptable). A class Renkei
    // cannot check is not claimed; the ID token's `acr` says what was checked.
    let classes = scope::parse(raw.acr_values.as_deref().unwrap_or(""));
    let accepts = |class: &str| classes.iter().any(|c| c == class);
    let passkey_required = state.passkeys.is_some()
        && accepts(crate::passkey::ACR_PASSKEY)
        && !accepts(crate::session::ACR_PASSWORD);
    // A card is a weaker class than a password or a passkey: an app that names classes gets a
    // card sign-in only if it names the card's.
    let card_accepted = classes.is_empty() || accepts(crate::card::ACR_CARD);
    Ok(Ok(ValidRequest {
        raw,
        client,
        redirect_uri,
        scopes,
        prompt,
        max_age,
        passkey_required,
        card_accepted,
    }))
}

/// Decides the next step for a valid request: sign-in page, consent page, or code.
/// `signed_in` is the browser's session with what its user approved for this client;
/// `pending` is the id under which the request is already kept, if it is.
pub async fn proceed(
    state: &AppState,
    request: ValidRequest,
    signed_in: Option<SignedIn>,
    pending: Option<String>,
) -> Result<Response> {
    let target = RedirectTarget {
        redirect_uri: request.redirect_uri.clone(),
        state: request.raw.state.clone(),
    };
    let has = |p: &str| request.prompt.iter().any(|v| v == p);
    let present = signed_in.as_ref().map(|s| s.session.sid.clone());
    let signed_in = signed_in
        .filter(|SignedIn { session, .. }| fresh_enough(&request, session, pending.is_some()));
    // A session of one factor (a password, a card, a recovery code, an upstream's password) of
    // a role that must now use a passkey (the board's rule, or the end of its grace period) no
    // longer signs anyone in to an app.
    let signed_in = match signed_in {
        Some(s)
            if !crate::assurance::sign_in_counts(
                state.store.as_ref(),
                &s.session.user_id,
                &s.session.amr,
                renkei_platform::clock::now(),
            )
            .await? =>
        {
            None
        }
        other => other,
    };
    let Some(SignedIn { session, approved }) = signed_in else {
        if has("none") {
            return Ok(redirect_error(
                state,
                &target,
                &refuse("login_required", "the user is not signed in"),
            ));
        }
        // Remember the session that was not enough, so that only a sign-in after it counts.
        let mut raw = request.raw.clone();
        raw.stale_sid = raw.stale_sid.or(present);
        let id = keep(state, &raw, pending).await?;
        return Ok(renkei_platform::web::see_other(
            &crate::login::page_for(&id),
            [],
        ));
    };
    let needs_consent =
        has("consent") || !approved.is_some_and(|granted| scope::covers(&granted, &request.scopes));
    if needs_consent {
        if has("none") {
            return Ok(redirect_error(
                state,
                &target,
                &refuse("consent_required", "the user has not approved this app"),
            ));
        }
        let id = keep(state, &request.raw, pending).await?;
        return Ok(renkei_platform::web::see_other(
            &format!("/consent?request={id}"),
            [],
        ));
    }
    if let Some(id) = pending {
        state.store.delete_auth_request(&id).await?;
    }
    issue_code(state, &request, &session).await
}

/// Whether `session` is as fresh as the request asks (`max_age`, `prompt=login` or
/// `select_account`) and as strong (a passkey sign-in when [`ValidRequest::passkey_required`]). A sign-in made for a kept (`kept`) request — after it was received, and
/// not the session that was found not fresh enough when it was kept — always counts. Every step
/// that can issue a code asks, the approval page included, so that a request sent to sign in
/// again cannot be approved with the session it was sent away from.
pub fn fresh_enough(request: &ValidRequest, session: &SessionRow, kept: bool) -> bool {
    let has = |p: &str| request.prompt.iter().any(|v| v == p);
    let signed_in_for_this = kept
        && session.auth_time >= request.raw.received_at
        && request.raw.stale_sid.as_deref() != Some(session.sid.as_str());
    let recent = signed_in_for_this
        || request
            .max_age
            .is_none_or(|age| now() - session.auth_time <= age);
    let reauthenticated = !(has("login") || has("select_account")) || signed_in_for_this;
    let strong_enough = (!request.passkey_required || session.acr == crate::passkey::ACR_PASSKEY)
        && (request.card_accepted || session.acr != crate::card::ACR_CARD);
    recent && reauthenticated && strong_enough
}

/// Keeps the request while the user signs in or consents; returns its id.
async fn keep(
    state: &AppState,
    raw: &AuthorizationRequest,
    pending: Option<String>,
) -> Result<String> {
    if let Some(id) = pending {
        return Ok(id);
    }
    if !state.kept_requests.admit(raw.from, now()) {
        return Err(Error::page(
            StatusCode::TOO_MANY_REQUESTS,
            "このネットワークから短い間に多くのサインインが始められました。1分ほど待ってから、もう一度お試しください。",
            "Too many sign-ins were started from this network in a short time. Please wait a minute and try again.",
        ));
    }
    let id = random_secret();
    let params = serde_json::to_string(raw).map_err(|e| Error::internal(e.to_string()))?;
    state
        .store
        .insert_auth_request(&id, &params, now() + state.config.auth_request_ttl)
        .await?;
    Ok(id)
}

/// Loads a kept request and validates it again (the client may have changed meanwhile).
pub async fn resume(
    state: &AppState,
    id: &str,
) -> Result<Option<std::result::Result<ValidRequest, (RedirectTarget, Refusal)>>> {
    let Some(params) = state.store.auth_request(id, now()).await? else {
        return Ok(None);
    };
    let raw: AuthorizationRequest =
        serde_json::from_str(&params).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Some(validate(state, raw).await?))
}

/// Creates the grant and a single-use code, and sends the code to the app.
pub async fn issue_code(
    state: &AppState,
    request: &ValidRequest,
    session: &SessionRow,
) -> Result<Response> {
    let code = random_secret();
    let now = now();
    let grant = GrantRow {
        id: random_id(),
        client_id: request.client.id.clone(),
        user_id: session.user_id.clone(),
        scope: request.scopes.join(" "),
        sid: Some(session.sid.clone()),
        nonce: request.raw.nonce.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        acr: session.acr.clone(),
        created_at: now,
        expires_at: now + state.config.refresh_token_ttl,
        revoked_at: None,
    };
    let code_row = CodeRow {
        code_hash: sha256(code.as_bytes()),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.raw.code_challenge.clone(),
        expires_at: now + state.config.code_ttl,
    };
    state
        .store
        .insert_grant_with_code(&grant, &code_row)
        .await?;
    let target = RedirectTarget {
        redirect_uri: request.redirect_uri.clone(),
        state: request.raw.state.clone(),
    };
    Ok(target.send(state, &[("code", &code)]))
}

/// Where an answer to the app goes.
#[derive(Clone, Debug)]
pub struct RedirectTarget {
    redirect_uri: String,
    state: Option<String>,
}

impl RedirectTarget {
    /// Redirects the browser to the app with `params`, `state` and `iss` added to the query.
    pub fn send(&self, state: &AppState, params: &[(&str, &str)]) -> Response {
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(url) => url,
            Err(_) => {
                return Error::internal("registered redirect URI no longer parses").into_response();
            }
        };
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params {
                query.append_pair(key, value);
            }
            if let Some(app_state) = &self.state {
                query.append_pair("state", app_state);
            }
            query.append_pair("iss", &state.config.issuer);
        }
        renkei_platform::web::see_other(url.as_str(), [])
    }
}

/// Sends an error to the app.
pub fn redirect_error(state: &AppState, target: &RedirectTarget, refusal: &Refusal) -> Response {
    target.send(
        state,
        &[
            ("error", refusal.code),
            ("error_description", &refusal.description),
        ],
    )
}

/// Sends `access_denied` to the app (the user chose not to allow it).
pub fn deny(state: &AppState, request: &ValidRequest) -> Response {
    let target = RedirectTarget {
        redirect_uri: request.redirect_uri.clone(),
        state: request.raw.state.clone(),
    };
    redirect_error(
        state,
        &target,
        &refuse("access_denied", "the user did not allow the app"),
    )
}

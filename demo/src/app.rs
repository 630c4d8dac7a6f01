//! The demo learning app at `/demo-app/`: a relying party like any vendor's, run in the same
//! process so that a newcomer can try the whole path in a browser. It talks to Renkei only over
//! HTTP and the public protocol: discovery, the code flow with PKCE (the `openidconnect`
//! crate), token exchange for a capability token (RFC 8693), and reads at the data gateway
//! (OneRoster rostering and the school-affairs extension). Every page load reads afresh, so a
//! guardian's withdrawal shows on the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use renkei_idp::pages::{Locale, render};
use renkei_platform::crypto::{constant_time_eq, random_secret};
use renkei_platform::web::{CookiePolicy, Csrf, cookie, see_other, with_cookies};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::seed::{APP_PATH, ATTENDANCE, ROSTER, home_uri, redirect_uri};

/// Sign-ins in progress and signed-in browsers kept at most (oldest dropped first): what a
/// stranger can make the demo hold is bounded.
const KEPT: usize = 1000;
/// How long a sign-in may take, in seconds.
const FLOW_SECONDS: i64 = 600;
/// Longest the demo app keeps someone signed in, in seconds (at most as long as their access
/// token lasts).
const SESSION_SECONDS: i64 = 3600;
/// Classes and pupils read on one page: a bound on the requests one page load makes.
const CLASSES_READ: usize = 10;
const PUPILS_READ: usize = 60;
/// Cookie of a sign-in in progress (its key in [`Inner::flows`]).
const FLOW_COOKIE: &str = "renkei_demo_flow";
/// Cookie of a signed-in browser (its key in [`Inner::sessions`]).
const SESSION_COOKIE: &str = "renkei_demo_session";
/// The gateway's OneRoster rostering path.
const ROSTERING: &str = "/ims/oneroster/rostering/v1p2";
/// The gateway's school-affairs path.
const AFFAIRS: &str = "/ims/renkei/affairs/v1p0";

/// The demo learning app: its credentials at the provider and what it keeps in memory.
#[derive(Clone)]
pub struct DemoApp(Arc<Inner>);

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    cookies: CookiePolicy,
    csrf: Csrf,
    flows: Mutex<Kept<Flow>>,
    sessions: Mutex<Kept<Session>>,
}

/// A sign-in the demo app started: what it must check when the browser comes back.
#[derive(Clone)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    lang: Locale,
}

/// A signed-in person, as the demo app knows them.
#[derive(Clone)]
struct Session {
    name: String,
    id_token: String,
    access_token: String,
}

/// Entries kept until they expire, at most [`KEPT`].
struct Kept<T> {
    entries: HashMap<String, (i64, T)>,
}

impl<T: Clone> Kept<T> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }

    fn insert(&mut self, value: T, lifetime: i64) -> String {
        let now = renkei_platform::clock::now();
        self.entries.retain(|_, (expires, _)| *expires > now);
        if self.entries.len() >= KEPT
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (expires, _))| *expires)
                .map(|(key, _)| key.clone())
        {
            self.entries.remove(&oldest);
        }
        let key = random_secret();
        self.entries.insert(key.clone(), (now + lifetime, value));
        key
    }

    fn get(&self, key: &str) -> Option<T> {
        let now = renkei_platform::clock::now();
        self.entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, value)| value.clone())
    }

    fn remove(&mut self, key: &str) -> Option<T> {
        let now = renkei_platform::clock::now();
        self.entries
            .remove(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, value)| value)
    }
}

impl DemoApp {
    /// The demo app for the provider at `issuer`, registered there as `client_id` with
    /// `client_secret`.
    pub fn new(issuer: &str, client_id: String, client_secret: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the demo app's client: {e}")))?;
        let cookies = CookiePolicy::new(issuer.starts_with("https://"));
        let origin = url::Url::parse(issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Ok(DemoApp(Arc::new(Inner {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            http,
            csrf: Csrf::new(random_secret().into_bytes(), cookies.clone(), origin),
            cookies,
            flows: Mutex::new(Kept::new()),
            sessions: Mutex::new(Kept::new()),
        })))
    }

    /// The demo app's URL, for the start-up banner.
    pub fn url(&self) -> String {
        home_uri(&self.0.issuer)
    }

    /// The demo app's routes, under [`APP_PATH`].
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                APP_PATH,
                get(|| async { see_other(&format!("{APP_PATH}/"), []) }),
            )
            .route(&format!("{APP_PATH}/"), get(page))
            .route(&format!("{APP_PATH}/login"), get(login))
            .route(&format!("{APP_PATH}/callback"), get(callback))
            .route(&format!("{APP_PATH}/logout"), post(logout))
            .with_state(self.clone())
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let issuer = IssuerUrl::new(self.0.issuer.clone())
            .map_err(|e| Error::Internal(format!("the issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.0.http)
            .await
            .map_err(|e| Error::Internal(format!("discovery failed: {e}")))?;
        let redirect = RedirectUrl::new(redirect_uri(&self.0.issuer))
            .map_err(|e| Error::Internal(format!("the redirect URI is not a URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.0.client_id.clone()),
            Some(ClientSecret::new(self.0.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let key = cookie(headers, &self.0.cookies.name(SESSION_COOKIE))?;
        let session = self.0.sessions.lock().ok()?.get(key)?;
        Some((key.to_owned(), session))
    }
}

/// The page's language: the toggle, else the provider's remembered choice or the browser's.
fn locale(toggle: Option<&str>, app: &DemoApp, headers: &HeaderMap) -> Locale {
    let remembered = cookie(headers, &app.0.cookies.name(renkei_idp::pages::LANG_COOKIE));
    Locale::negotiate(toggle, None, remembered, headers)
}

/// Query of the demo app's pages.
#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// Query of the callback (the provider's answer).
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Form of the sign-out button.
#[derive(Deserialize)]
struct LogoutForm {
    csrf_token: String,
}

/// One pupil in a class list, with what the app could read of their attendance.
struct PupilView {
    name: String,
    attendance: String,
    refused: bool,
}

/// One class the app read.
struct ClassView {
    title: String,
    pupils: Vec<PupilView>,
}

#[derive(Template)]
#[template(path = "demo_app.html")]
struct DemoPage {
    t: &'static DemoTexts,
    toggle_href: String,
    name: Option<String>,
    notice: Option<String>,
    granted: Vec<&'static str>,
    classes: Vec<ClassView>,
    csrf_token: String,
}

async fn page(
    State(app): State<DemoApp>,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let locale = locale(query.lang.as_deref(), &app, &headers);
    let t = texts(locale);
    let toggle_href = format!("{APP_PATH}/?lang={}", other(locale).tag());
    let (csrf_token, csrf_cookie) = app.0.csrf.token(&headers);
    let mut view = DemoPage {
        t,
        toggle_href,
        name: None,
        notice: None,
        granted: Vec::new(),
        classes: Vec::new(),
        csrf_token,
    };
    if let Some((_, session)) = app.session(&headers) {
        view.name = Some(session.name.clone());
        read(&app, &session, t, &mut view).await?;
    }
    let mut cookies: Vec<HeaderValue> = csrf_cookie.into_iter().collect();
    if query.lang.is_some() {
        cookies.push(app.0.cookies.set(
            renkei_idp::pages::LANG_COOKIE,
            locale.tag(),
            Some(365 * 86400),
        ));
    }
    Ok(with_cookies(render(&view), cookies))
}

/// What a capability token answer says.
#[derive(Deserialize)]
struct Exchanged {
    access_token: String,
    scope: String,
}

/// Exchanges the person's access token for a capability and reads with it, filling the page.
async fn read(
    app: &DemoApp,
    session: &Session,
    t: &'static DemoTexts,
    view: &mut DemoPage,
) -> Result<()> {
    let inner = &app.0;
    let answer = inner
        .http
        .post(format!("{}/token", inner.issuer))
        .basic_auth(&inner.client_id, Some(&inner.client_secret))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            (
                "requested_token_type",
                "urn:renkei:params:oauth:token-type:biscuit",
            ),
            ("subject_token", session.access_token.as_str()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", &format!("{ROSTER} {ATTENDANCE}")),
        ])
        .send()
        .await
        .map_err(|e| Error::Internal(format!("token exchange failed: {e}")))?;
    if !answer.status().is_success() {
        let body: Value = answer.json().await.unwrap_or_default();
        view.notice = Some(match body["error"].as_str() {
            Some("invalid_grant" | "invalid_request") => t.expired.to_owned(),
            Some("invalid_scope") => t.nothing_granted.to_owned(),
            _ => format!(
                "{}{}",
                t.refused_exchange,
                body["error_description"].as_str().unwrap_or_default()
            ),
        });
        return Ok(());
    }
    let exchanged: Exchanged = answer
        .json()
        .await
        .map_err(|e| Error::Internal(format!("token exchange answered oddly: {e}")))?;
    let granted: Vec<&str> = exchanged.scope.split_whitespace().collect();
    view.granted = [(ROSTER, t.roster), (ATTENDANCE, t.attendance)]
        .into_iter()
        .filter(|(category, _)| granted.contains(category))
        .map(|(_, name)| name)
        .collect();
    let capability = exchanged.access_token;
    let classes = get_json(
        app,
        &capability,
        &format!("{ROSTERING}/classes?limit={CLASSES_READ}&sort=title"),
    )
    .await?;
    let mut pupils_read = 0;
    for class in classes
        .as_ref()
        .and_then(|c| c["classes"].as_array())
        .into_iter()
        .flatten()
        .take(CLASSES_READ)
    {
        let id = class["sourcedId"].as_str().unwrap_or_default();
        let students = get_json(
            app,
            &capability,
            &format!("{ROSTERING}/classes/{id}/students?limit={PUPILS_READ}&sort=familyName"),
        )
        .await?;
        let mut pupils = Vec::new();
        for pupil in students
            .as_ref()
            .and_then(|s| s["users"].as_array())
            .into_iter()
            .flatten()
        {
            if pupils_read == PUPILS_READ {
                break;
            }
            pupils_read += 1;
            let pupil_id = pupil["sourcedId"].as_str().unwrap_or_default();
            let (attendance, refused) = if granted.contains(&ATTENDANCE) {
                attendance_of(app, &capability, pupil_id, t).await?
            } else {
                (t.no_consent.to_owned(), true)
            };
            pupils.push(PupilView {
                name: format!(
                    "{} {}",
                    pupil["familyName"].as_str().unwrap_or_default(),
                    pupil["givenName"].as_str().unwrap_or_default()
                ),
                attendance,
                refused,
            });
        }
        view.classes.push(ClassView {
            title: class["title"].as_str().unwrap_or_default().to_owned(),
            pupils,
        });
    }
    Ok(())
}

/// The pupil's latest attendance record in words, or why it could not be read.
async fn attendance_of(
    app: &DemoApp,
    capability: &str,
    pupil: &str,
    t: &'static DemoTexts,
) -> Result<(String, bool)> {
    let Some(records) = get_json(
        app,
        capability,
        &format!("{AFFAIRS}/students/{pupil}/attendance?sort=date&orderBy=desc&limit=1"),
    )
    .await?
    else {
        return Ok((t.no_consent.to_owned(), true));
    };
    let Some(latest) = records["attendance"].as_array().and_then(|a| a.first()) else {
        return Ok((t.no_records.to_owned(), false));
    };
    let status = match latest["attendanceStatus"].as_str().unwrap_or_default() {
        "present" => t.present,
        "absent" => t.absent,
        "late" => t.late,
        other => other,
    };
    let date = latest["date"].as_str().unwrap_or_default();
    let day = time::Date::parse(
        date,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|day| t.locale.date(day.midnight().assume_utc().unix_timestamp()))
    .unwrap_or_else(|_| date.to_owned());
    Ok((format!("{day}{}{status}", t.date_separator), false))
}

/// A gateway read: its JSON on success, `None` when the capability does not reach it (403 or
/// 404, which the gateway answers alike for what a token does not cover).
async fn get_json(app: &DemoApp, capability: &str, path: &str) -> Result<Option<Value>> {
    let answer = app
        .0
        .http
        .get(format!("{}{path}", app.0.issuer))
        .bearer_auth(capability)
        .send()
        .await
        .map_err(|e| Error::Internal(format!("the gateway read {path} failed: {e}")))?;
    match answer.status() {
        StatusCode::OK => Ok(Some(answer.json().await.map_err(|e| {
            Error::Internal(format!("the gateway answered {path} oddly: {e}"))
        })?)),
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Ok(None),
        status => Err(Error::Internal(format!(
            "the gateway answered {path} with {status}"
        ))),
    }
}

/// Starts the code flow: PKCE, state and nonce kept under a fresh cookie.
async fn login(
    State(app): State<DemoApp>,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let locale = locale(query.lang.as_deref(), &app, &headers);
    let client = app.client().await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .add_extra_param("ui_locales", locale.tag())
        .url();
    let key = app
        .0
        .flows
        .lock()
        .map_err(|_| Error::Internal("the demo app's memory is poisoned".into()))?
        .insert(
            Flow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                lang: locale,
            },
            FLOW_SECONDS,
        );
    Ok(see_other(
        url.as_str(),
        [app.0.cookies.set(FLOW_COOKIE, &key, Some(FLOW_SECONDS))],
    ))
}

/// Finishes the code flow: checks state, redeems the code with the PKCE verifier, validates
/// the ID token (signature, issuer, audience, expiry, nonce) and signs the person in.
async fn callback(
    State(app): State<DemoApp>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let flow = cookie(&headers, &app.0.cookies.name(FLOW_COOKIE)).and_then(|key| {
        app.0
            .flows
            .lock()
            .ok()
            .and_then(|mut flows| flows.remove(key))
    });
    let clear_flow = app.0.cookies.clear(FLOW_COOKIE);
    let Some(flow) = flow.filter(|flow| {
        query
            .state
            .as_deref()
            .is_some_and(|state| constant_time_eq(state.as_bytes(), flow.state.as_bytes()))
    }) else {
        return Ok(with_cookies(
            message(locale(None, &app, &headers), MessageKind::Stale),
            [clear_flow],
        ));
    };
    let Some(code) = query.code.filter(|_| query.error.is_none()) else {
        return Ok(with_cookies(
            message(flow.lang, MessageKind::Declined),
            [clear_flow],
        ));
    };
    let client = app.client().await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Error::Internal(format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&app.0.http)
        .await
        .map_err(|e| Error::Internal(format!("the code was not redeemed: {e}")))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Error::Internal("the provider sent no ID token".into()))?;
    let claims: &CoreIdTokenClaims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce))
        .map_err(|e| Error::Internal(format!("the ID token is not valid: {e}")))?;
    let name = claims
        .name()
        .and_then(|name| name.get(None))
        .map(|name| name.as_str().to_owned())
        .unwrap_or_else(|| claims.subject().as_str().to_owned());
    // Signed in for as long as the access token lasts: the app reads with it.
    let lifetime = tokens.expires_in().map_or(SESSION_SECONDS, |d| {
        (d.as_secs() as i64).min(SESSION_SECONDS)
    });
    let key = app
        .0
        .sessions
        .lock()
        .map_err(|_| Error::Internal("the demo app's memory is poisoned".into()))?
        .insert(
            Session {
                name,
                id_token: id_token.to_string(),
                access_token: tokens.access_token().secret().clone(),
            },
            lifetime,
        );
    Ok(see_other(
        &format!("{APP_PATH}/"),
        [
            clear_flow,
            app.0.cookies.set(SESSION_COOKIE, &key, Some(lifetime)),
        ],
    ))
}

/// Signs out of the demo app, then of Renkei (RP-initiated logout), back to the demo app.
async fn logout(
    State(app): State<DemoApp>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if !app.0.csrf.verify(&headers, &form.csrf_token) {
        return message(locale(None, &app, &headers), MessageKind::Stale);
    }
    let ended = app.session(&headers).and_then(|(key, _)| {
        app.0
            .sessions
            .lock()
            .ok()
            .and_then(|mut sessions| sessions.remove(&key))
    });
    let clear = app.0.cookies.clear(SESSION_COOKIE);
    match ended {
        Some(session) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("id_token_hint", &session.id_token)
                .append_pair("post_logout_redirect_uri", &home_uri(&app.0.issuer))
                .append_pair("client_id", &app.0.client_id)
                .finish();
            see_other(&format!("{}/logout?{query}", app.0.issuer), [clear])
        }
        None => see_other(&format!("{APP_PATH}/"), [clear]),
    }
}

/// A page that explains why the sign-in did not finish.
enum MessageKind {
    /// The sign-in expired or was started elsewhere.
    Stale,
    /// The person declined.
    Declined,
}

fn message(locale: Locale, kind: MessageKind) -> Response {
    let t = texts(locale);
    let view = DemoPage {
        t,
        toggle_href: format!("{APP_PATH}/?lang={}", other(locale).tag()),
        name: None,
        notice: Some(
            match kind {
                MessageKind::Stale => t.stale,
                MessageKind::Declined => t.declined,
            }
            .to_owned(),
        ),
        granted: Vec::new(),
        classes: Vec::new(),
        csrf_token: String::new(),
    };
    let mut response = render(&view);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn other(locale: Locale) -> Locale {
    match locale {
        Locale::Ja => Locale::En,
        Locale::En => Locale::Ja,
    }
}

/// The demo app's words, in one language.
struct DemoTexts {
    locale: Locale,
    lang: &'static str,
    other_lang: &'static str,
    other_lang_name: &'static str,
    title: &'static str,
    intro: &'static str,
    sign_in: &'static str,
    sign_out: &'static str,
    renkei_home: &'static str,
    welcome: &'static str,
    honorific: &'static str,
    granted_title: &'static str,
    granted_none: &'static str,
    roster: &'static str,
    attendance: &'static str,
    classes_title: &'static str,
    classes_none: &'static str,
    pupil: &'static str,
    latest_attendance: &'static str,
    no_consent: &'static str,
    no_records: &'static str,
    no_records_note: &'static str,
    present: &'static str,
    absent: &'static str,
    late: &'static str,
    date_separator: &'static str,
    reload: &'static str,
    how_title: &'static str,
    how: &'static str,
    expired: &'static str,
    nothing_granted: &'static str,
    refused_exchange: &'static str,
    stale: &'static str,
    declined: &'static str,
    list_separator: &'static str,
}

fn texts(locale: Locale) -> &'static DemoTexts {
    match locale {
        Locale::Ja => &JA,
        Locale::En => &EN,
    }
}

static JA: DemoTexts = DemoTexts {
    locale: Locale::Ja,
    lang: "ja",
    other_lang: "en",
    other_lang_name: "English",
    title: "デモ学習アプリ",
    intro: "連携とつながる学習アプリの見本です。連携でログインすると、このアプリは連携から短い時間だけ使える鍵（能力トークン）を受け取り、学校と保護者が認めた情報だけを読みます。",
    sign_in: "連携でログイン",
    sign_out: "ログアウト",
    renkei_home: "連携のホームへ",
    welcome: "ようこそ、",
    honorific: "さん",
    granted_title: "このアプリがいま読める情報",
    granted_none: "いま読める情報はありません。",
    roster: "クラスの名簿",
    attendance: "出欠",
    classes_title: "読んだクラスの名簿と出欠",
    classes_none: "読めるクラスはありません。",
    pupil: "名前",
    latest_attendance: "最新の出欠",
    no_consent: "読めません（保護者の同意がありません）",
    no_records: "読める記録はありません",
    no_records_note: "「読める記録はありません」は、記録がないか、保護者が同意していないことを表します。どちらなのかを連携はアプリに知らせません。",
    present: "出席",
    absent: "欠席",
    late: "遅刻",
    date_separator: "　",
    reload: "もう一度読む",
    how_title: "試し方",
    how: "保護者（guardian1）として連携にログインし、「アプリに提供する情報」で出欠の提供に同意したり取り消したりしてから、このページを読み直してください。読んだ記録は保護者のページに表示されます。",
    expired: "ログインの有効期限が切れました。ログアウトして、もう一度ログインしてください。",
    nothing_granted: "このアプリが読める情報はいまありません（学校の決定も同意もありません）。",
    refused_exchange: "連携が鍵を発行しませんでした：",
    stale: "ログインの途中で時間が切れたか、別の画面で始めたログインです。もう一度ログインしてください。",
    declined: "ログインは取り消されました。アプリは何も受け取っていません。",
    list_separator: "、",
};

static EN: DemoTexts = DemoTexts {
    locale: Locale::En,
    lang: "en",
    other_lang: "ja",
    other_lang_name: "日本語",
    title: "Demo Learning App",
    intro: "An example of a learning app connected to Renkei. When you sign in with Renkei, this app receives a short-lived key (a capability token) from Renkei and reads only what the school and the guardians allow.",
    sign_in: "Sign in with Renkei",
    sign_out: "Sign out",
    renkei_home: "Renkei home",
    welcome: "Welcome, ",
    honorific: "",
    granted_title: "What this app may read now",
    granted_none: "Nothing at the moment.",
    roster: "the class list",
    attendance: "attendance",
    classes_title: "Class lists and attendance read",
    classes_none: "No class can be read.",
    pupil: "Name",
    latest_attendance: "Latest attendance",
    no_consent: "Cannot be read (no guardian consent)",
    no_records: "No records it may read",
    no_records_note: "“No records it may read” means that there are none, or that the guardian has not agreed: Renkei does not tell the app which.",
    present: "present",
    absent: "absent",
    late: "late",
    date_separator: ": ",
    reload: "Read again",
    how_title: "How to try it",
    how: "Sign in to Renkei as the guardian (guardian1), agree to or withdraw the attendance under “What apps receive”, then read this page again. The guardian's page lists what was read.",
    expired: "Your sign-in has expired. Sign out and sign in again.",
    nothing_granted: "This app may read nothing at the moment (neither a school decision nor a consent covers it).",
    refused_exchange: "Renkei issued no key: ",
    stale: "The sign-in timed out or was started in another window. Please sign in again.",
    declined: "The sign-in was cancelled. The app received nothing.",
    list_separator: ", ",
};

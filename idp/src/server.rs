//! The HTTP server: shared state, routes, middleware, background upkeep and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};

use crate::config::Config;
use crate::crypto::random_secret;
use crate::error::Result;
use crate::keys::KeyRing;
use crate::store::Store;
use renkei_directory::Directory;
use renkei_platform::clock::now;
use renkei_platform::web::{CookiePolicy, Csrf};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    /// Settings.
    pub config: Config,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The roster directory (people's roles, schools and classes for the claims).
    pub directory: Arc<dyn Directory>,
    /// Signing keys.
    pub keys: KeyRing,
    /// The audit log, for what the provider's own pages do (a passkey enrolled with a link).
    pub audit: renkei_platform::AuditLog,
    /// CSRF protection for forms.
    pub csrf: Csrf,
    /// Cookie names and attributes.
    pub cookies: CookiePolicy,
    /// The discovery document, computed once.
    pub metadata: Value,
    /// Passkeys (the WebAuthn relying party); none when the issuer has no domain name.
    pub passkeys: Option<crate::passkey::Passkeys>,
    /// Bounds how many Argon2id verifications run at once: one per core (each takes 19 MiB;
    /// more at once only share the cores and the cache).
    pub password_checks: tokio::sync::Semaphore,
    /// The upstream OpenID Connect providers' HTTP client and discovery documents.
    pub upstreams: crate::upstream::client::Clients,
    /// Authorization requests kept per client address ([`Config::kept_requests_per_address_minute`]).
    pub kept_requests: renkei_platform::rate::AddressLimit,
    /// Mints the token type of RFC 8693 exchanges, when a service built on the provider
    /// (the consent service) installed one.
    exchanger: Option<Arc<dyn crate::token::exchange::TokenExchanger>>,
    /// Lists the school-affairs data an app may read on the consent page, when installed.
    data_use: Option<Arc<dyn crate::approval::DataUseNotice>>,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Prepares the provider on `store` and `directory` (a migrated database): creates signing
    /// keys on first start and loads the installation's secrets.
    pub async fn new(
        store: Arc<dyn Store>,
        directory: Arc<dyn Directory>,
        config: Config,
        audit: renkei_platform::AuditLog,
    ) -> Result<Self> {
        let keys = KeyRing::load(store.as_ref(), config.key_retention()).await?;
        let csrf_key = store
            .setting_or_insert("csrf_key", random_secret().as_bytes())
            .await?;
        let cookies = CookiePolicy::new(config.is_https());
        let csrf = Csrf::new(csrf_key, cookies.clone(), config.origin());
        let passkeys = crate::passkey::Passkeys::load(store.as_ref(), &config.issuer).await?;
        let metadata = crate::discovery::metadata(&config, passkeys.is_some());
        let kept_requests =
            renkei_platform::rate::AddressLimit::new(config.kept_requests_per_address_minute, 60);
        Ok(AppState(Arc::new(Shared {
            upstreams: crate::upstream::client::Clients::new(config.upstream_timeout),
            kept_requests,
            audit,
            config,
            store,
            directory,
            keys,
            csrf,
            cookies,
            metadata,
            passkeys,
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            ),
            exchanger: None,
            data_use: None,
        })))
    }

    /// Installs the token exchanger and adds its members to the discovery document; call
    /// before the state is shared (before serving).
    pub fn with_token_exchange(
        mut self,
        exchanger: Arc<dyn crate::token::exchange::TokenExchanger>,
        metadata: serde_json::Map<String, Value>,
    ) -> Self {
        let shared = Arc::get_mut(&mut self.0)
            .expect("the token exchanger is installed before the state is shared");
        if let Value::Object(document) = &mut shared.metadata {
            if let Some(Value::Array(grants)) = document.get_mut("grant_types_supported") {
                grants.push(Value::from(crate::token::exchange::GRANT_TYPE));
            }
            document.extend(metadata);
        }
        shared.exchanger = Some(exchanger);
        self
    }

    /// Installs the consent page's data-use notice; call before the state is shared.
    pub fn with_data_use_notice(mut self, notice: Arc<dyn crate::approval::DataUseNotice>) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the data-use notice is installed before the state is shared")
            .data_use = Some(notice);
        self
    }

    /// The installed data-use notice.
    pub fn data_use(&self) -> Option<&dyn crate::approval::DataUseNotice> {
        self.data_use.as_deref()
    }

    /// The installed token exchanger.
    pub fn token_exchanger(&self) -> Option<&dyn crate::token::exchange::TokenExchanger> {
        self.exchanger.as_deref()
    }

    /// The page language for a request (see [`crate::pages::Locale::negotiate`]).
    pub fn locale(
        &self,
        toggle: Option<&str>,
        ui_locales: Option<&str>,
        headers: &axum::http::HeaderMap,
    ) -> crate::pages::Locale {
        let remembered =
            renkei_platform::web::cookie(headers, &self.cookies.name(crate::pages::LANG_COOKIE));
        crate::pages::Locale::negotiate(toggle, ui_locales, remembered, headers)
    }

    /// The cookie that remembers the language for a year, when the user chose one with the
    /// toggle (`toggle` is the request's `lang`).
    pub fn remember_locale(
        &self,
        toggle: Option<&str>,
        locale: crate::pages::Locale,
    ) -> Option<HeaderValue> {
        toggle.map(|_| {
            self.cookies
                .set(crate::pages::LANG_COOKIE, locale.tag(), Some(365 * 86400))
        })
    }
}

/// All routes of the provider, plus `extra` routes of the services built on it (already
/// given their state), under the same middleware.
pub fn router(state: AppState, extra: Router) -> Router {
    let https = state.config.is_https();
    // Endpoints a browser app (public client) calls from script: no cookies, so any origin.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    let api = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(crate::discovery::configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(crate::discovery::configuration),
        )
        .route("/jwks", get(crate::discovery::jwks))
        .route("/token", post(crate::token::endpoint))
        .route(
            "/userinfo",
            get(crate::userinfo::endpoint).post(crate::userinfo::endpoint),
        )
        .route("/revoke", post(crate::revocation::endpoint))
        .layer(cors)
        .with_state(state.clone());
    let pages = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/renkei.css", get(stylesheet))
        .route("/static/passkey.js", get(passkey_script))
        .route(
            "/authorize",
            get(crate::authorize::get).post(crate::authorize::post),
        )
        .route("/login", get(crate::login::page).post(crate::login::submit))
        .route(crate::login::LATER_PATH, post(crate::login::later))
        .route(
            crate::card::PATH,
            get(crate::card::page).post(crate::card::submit),
        )
        .route("/static/jsQR.js", get(qr_script))
        .route("/static/card.js", get(card_script))
        .route("/login/passkey", post(crate::passkey::sign_in))
        .route(
            "/login/passkey/options",
            post(crate::passkey::sign_in_options),
        )
        .route(
            crate::passkey::PAGE_PATH,
            get(crate::passkey::page).post(crate::passkey::register),
        )
        .route("/passkeys/options", post(crate::passkey::register_options))
        .route(
            crate::enrolment::PATH,
            get(crate::enrolment::page).post(crate::enrolment::enrol),
        )
        .route(
            crate::enrolment::OPTIONS_PATH,
            post(crate::enrolment::options),
        )
        .route("/passkeys/delete", post(crate::passkey::delete))
        .route(
            "/login/upstream/{name}",
            get(crate::upstream::broker::start),
        )
        .route(
            "/login/upstream/{name}/callback",
            get(crate::upstream::broker::callback),
        )
        .route(
            "/login/upstream/{name}/link",
            post(crate::upstream::broker::link),
        )
        .route(
            "/login/upstream/{name}/unlink",
            post(crate::upstream::broker::unlink),
        )
        .route(
            crate::recovery::PATH,
            get(crate::recovery::page).post(crate::recovery::submit),
        )
        .route(
            crate::recovery::RENEW_PATH,
            post(crate::recovery::renew_page),
        )
        .route(
            "/consent",
            get(crate::approval::page).post(crate::approval::submit),
        )
        .route("/introspect", post(crate::introspection::endpoint))
        .route(
            "/logout",
            get(crate::logout::endpoint).post(crate::logout::endpoint),
        )
        .fallback(not_found)
        .with_state(state.clone());
    // Pages (and unknown addresses) get error pages in the reader's language; the API's
    // routes and those of `extra` pass no extra layer (the portal adds it to its pages).
    let router = crate::error_page::localized(pages, &state)
        .merge(api)
        .merge(extra);
    renkei_platform::web::harden(router, https)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::error!(%error, "database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", crate::pages::STYLESHEET)
}

/// The vendored QR decoder of the card sign-in page (jsQR, from the npm registry).
async fn qr_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/vendor/jsQR.js"),
    )
}

async fn card_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/card.js"),
    )
}

async fn passkey_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/passkey.js"),
    )
}

/// One of our own static files, cached for a day.
fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    crate::error::Error::page(
        StatusCode::NOT_FOUND,
        "ページが見つかりません。",
        "Page not found.",
    )
    .into_response()
}

/// Serves until `shutdown` completes, then stops accepting and drains open requests. Keys are
/// re-read every minute (rotations by other processes) and expired rows purged every ten.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let upkeep = tokio::spawn(upkeep(state.clone()));
    let app = router(state, extra).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    upkeep.abort();
    result
}

async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    let mut minutes = 0u64;
    loop {
        tick.tick().await;
        minutes += 1;
        if let Err(error) = state.keys.refresh(state.store.as_ref()).await {
            tracing::error!(%error, "could not refresh signing keys");
        }
        if minutes.is_multiple_of(10) {
            match state.store.purge_expired(now()).await {
                Ok(purged) => tracing::debug!(purged, "expired rows purged"),
                Err(error) => tracing::error!(%error, "could not purge expired rows"),
            }
        }
    }
}

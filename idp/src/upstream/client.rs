//! Renkei as an OpenID Connect client of an upstream provider, through the `openidconnect`
//! crate: discovery (kept an hour per process, fetched again when a token names a key the
//! cached key set lacks: the upstream rotated its keys), the authorization request with PKCE
//! (S256), state and nonce, the code exchange, and the ID token's full validation — signature
//! from the upstream's JWKS, issuer, audience, expiry (with a minute's skew), nonce. Every
//! request has a time-out and follows no redirect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use crate::store::UpstreamRow;

/// How long a discovery document (and its keys) is kept.
const KEPT_FOR: Duration = Duration::from_secs(3600);
/// How long after an ID token's expiry it is still taken (our clock ahead of the upstream's).
const CLOCK_SKEW_SECONDS: i64 = 60;
/// Upstreams kept in the cache at most (a board has a handful).
const KEPT_UPSTREAMS: usize = 64;

/// Why talking to an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It did not answer in time.
    #[error("the upstream did not answer in time")]
    TimedOut,
    /// It could not be reached, or answered something that is not OpenID Connect.
    #[error("the upstream could not be reached: {0}")]
    Unreachable(String),
    /// Its token endpoint refused the code (or Renkei's client credentials).
    #[error("the upstream refused the code: {0}")]
    Refused(String),
    /// The ID token failed validation.
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
}

/// What the upstream proved, after validation.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The upstream's `sub`.
    pub subject: String,
    /// Every claim of the validated ID token.
    pub claims: Value,
}

impl Verified {
    /// A string claim.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A boolean claim (some providers send `"true"`).
    pub fn flag(&self, name: &str) -> bool {
        match self.claims.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }

    /// The `amr` values the upstream asserted.
    pub fn amr(&self) -> Vec<String> {
        self.claims
            .get("amr")
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An authorization request to send the browser with.
pub struct Started {
    /// The upstream's authorization URL with every parameter.
    pub url: String,
    /// The `state` sent (kept as a digest).
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code.
    pub pkce_verifier: String,
}

/// The upstreams' HTTP client and their discovery documents, shared by every request of a
/// process.
pub struct Clients {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl Clients {
    /// Clients whose every request to an upstream gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .expect("an HTTP client with rustls builds");
        Clients {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The discovery document of `issuer` (with its key set), from the cache unless `fresh`.
    pub async fn metadata(
        &self,
        issuer: &str,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, UpstreamError> {
        if !fresh
            && let Some((at, metadata)) =
                self.cache.lock().ok().and_then(|c| c.get(issuer).cloned())
            && at.elapsed() < KEPT_FOR
        {
            return Ok(metadata);
        }
        let url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| UpstreamError::Unreachable(format!("the issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| failure(&e, UpstreamError::Unreachable))?;
        // The secret goes to the token endpoint: every endpoint must be as safe as the issuer.
        let endpoints = [
            Some(metadata.authorization_endpoint().url()),
            metadata.token_endpoint().map(|t| t.url()),
            Some(metadata.jwks_uri().url()),
        ];
        if let Some(bad) = endpoints
            .into_iter()
            .flatten()
            .find(|endpoint| !endpoint_ok(issuer, endpoint))
        {
            return Err(UpstreamError::Unreachable(format!(
                "the discovery document names the endpoint {bad}, which is not https (http only for an issuer on the loopback)"
            )));
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= KEPT_UPSTREAMS {
                cache.clear();
            }
            cache.insert(issuer.to_owned(), (Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    /// The authorization request for `upstream`, returning to `redirect_uri`.
    pub async fn start(
        &self,
        upstream: &UpstreamRow,
        redirect_uri: &str,
    ) -> Result<Started, UpstreamError> {
        let metadata = self.metadata(&upstream.issuer, false).await?;
        let client = client_at(upstream, metadata, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // Shared tablets: Google and Microsoft ask which account, not sign the last one in
        // (`select_account`, which other providers need not know).
        if upstream.issuer == super::GOOGLE_ISSUER
            || upstream
                .issuer
                .starts_with("https://login.microsoftonline.com/")
        {
            request = request.add_extra_param("prompt", "select_account");
        }
        for scope in upstream
            .scopes
            .split_whitespace()
            .filter(|s| *s != "openid")
        {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        // Google shows only the accounts of the one domain allowed.
        let domains: Vec<&str> = upstream.allowed_domains.split_whitespace().collect();
        if upstream.issuer == super::GOOGLE_ISSUER && domains.len() == 1 {
            request = request.add_extra_param("hd", domains[0]);
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems `code` at `upstream` with the flow's PKCE verifier and validates the ID token
    /// against the flow's nonce.
    pub async fn redeem(
        &self,
        upstream: &UpstreamRow,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Verified, UpstreamError> {
        let metadata = self.metadata(&upstream.issuer, false).await?;
        let client = client_at(upstream, metadata, redirect_uri)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Unreachable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| failure(&e, UpstreamError::Refused))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::InvalidToken("the answer has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &Client| {
            let verifier = client
                .id_token_verifier()
                .set_time_fn(|| chrono::Utc::now() - chrono::Duration::seconds(CLOCK_SKEW_SECONDS));
            id_token
                .claims(&verifier, &nonce)
                .map(|claims| claims.subject().as_str().to_owned())
        };
        let subject = match verify(&client) {
            Ok(subject) => subject,
            // A key the cached set lacks: the upstream rotated its keys; fetch them once more.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let metadata = self.metadata(&upstream.issuer, true).await?;
                verify(&client_at(upstream, metadata, redirect_uri)?)
                    .map_err(|e| UpstreamError::InvalidToken(e.to_string()))?
            }
            Err(error) => return Err(UpstreamError::InvalidToken(error.to_string())),
        };
        // The signature holds: its payload is what the upstream said, every claim of it.
        let payload = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .ok_or_else(|| {
                UpstreamError::InvalidToken("the ID token's claims do not read".into())
            })?;
        Ok(Verified {
            subject,
            claims: payload,
        })
    }
}

/// Whether an upstream's `endpoint` is as safe as its `issuer`: https, or http on the
/// loopback for an issuer there.
fn endpoint_ok(issuer: &str, endpoint: &url::Url) -> bool {
    let loopback = |host: Option<&str>| matches!(host, Some("127.0.0.1" | "localhost" | "[::1]"));
    let issuer_on_loopback = url::Url::parse(issuer).is_ok_and(|u| loopback(u.host_str()));
    endpoint.scheme() == "https"
        || (endpoint.scheme() == "http" && issuer_on_loopback && loopback(endpoint.host_str()))
}

/// The client type discovery gives.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Renkei's client at `upstream`.
fn client_at(
    upstream: &UpstreamRow,
    metadata: CoreProviderMetadata,
    redirect_uri: &str,
) -> Result<Client, UpstreamError> {
    // client_secret_basic unless the upstream takes only the secret in the body.
    let basic = metadata
        .token_endpoint_auth_methods_supported()
        .is_none_or(|methods| methods.contains(&CoreClientAuthMethod::ClientSecretBasic));
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| UpstreamError::Unreachable(format!("the redirect URI is not a URL: {e}")))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(upstream.client_id.clone()),
        Some(ClientSecret::new(upstream.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    Ok(if basic {
        client
    } else {
        client.set_auth_type(AuthType::RequestBody)
    })
}

/// An HTTP or protocol failure as [`UpstreamError`]: a time-out as such, anything else with
/// its causes (`kind` says which).
fn failure(
    error: &(dyn std::error::Error + 'static),
    kind: fn(String) -> UpstreamError,
) -> UpstreamError {
    let mut causes = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        // oauth2 keeps reqwest's error boxed.
        let timed_out = cause
            .downcast_ref::<reqwest::Error>()
            .or_else(|| cause.downcast_ref::<Box<reqwest::Error>>().map(|b| &**b))
            .is_some_and(reqwest::Error::is_timeout);
        if timed_out {
            return UpstreamError::TimedOut;
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    kind(causes.join(": "))
}

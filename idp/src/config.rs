//! Provider settings: the issuer and the lifetimes of everything it hands out.

use crate::error::Error;

/// How the provider is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// Issuer identifier: scheme, host, optional port and path, no trailing slash.
    pub issuer: String,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl: i64,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_ttl: i64,
    /// Lifetime of authorization codes, in seconds (at most 60).
    pub code_ttl: i64,
    /// Absolute lifetime of a grant and its refresh tokens, in seconds.
    pub refresh_token_ttl: i64,
    /// Lifetime of a single-sign-on session, in seconds.
    pub session_ttl: i64,
    /// How long a user may take to sign in and consent, in seconds.
    pub auth_request_ttl: i64,
    /// Window over which failed sign-ins are counted, in seconds.
    pub login_window: i64,
    /// Failed sign-ins allowed per account in one window.
    pub login_failures_per_account: i64,
    /// Failed sign-ins allowed per client address in one window.
    pub login_failures_per_address: i64,
}

impl Config {
    /// Settings for `issuer` with the default lifetimes and limits.
    pub fn new(issuer: &str) -> Result<Self, Error> {
        let url = url::Url::parse(issuer).map_err(|e| {
            Error::Invalid(format!(
                "the issuer {issuer:?} is not a URL ({e}); give one like https://sso.example.jp"
            ))
        })?;
        if !matches!(url.scheme(), "https" | "http")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(Error::Invalid(format!(
                "the issuer {issuer:?} must be an https URL without query or fragment (http only for local testing)"
            )));
        }
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            access_token_ttl: 600,
            id_token_ttl: 600,
            code_ttl: 60,
            refresh_token_ttl: 30 * 86400,
            session_ttl: 12 * 3600,
            auth_request_ttl: 1800,
            login_window: 900,
            login_failures_per_account: 10,
            login_failures_per_address: 100,
        })
    }

    /// Whether the issuer is served over https (cookies are then `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The scheme, host and port of the issuer (the `Origin` of our own pages).
    pub fn origin(&self) -> String {
        url::Url::parse(&self.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// An absolute URL of one of our endpoints.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The longest life of any token we sign: retired keys stay published this long.
    pub fn max_token_lifetime(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}

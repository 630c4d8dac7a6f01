//! Provider settings: the issuer and the lifetimes of everything it hands out.

use std::net::IpAddr;

use crate::error::Error;
use crate::keys::SigningAlg;

/// How the provider is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// Issuer identifier: an https origin (scheme, host, optional port), no trailing slash.
    pub issuer: String,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl: i64,
    /// Signing algorithm of JWT access tokens (RFC 9068). RS256 by default, the one every
    /// resource server supports; ES256 or EdDSA make issuing a token several times cheaper
    /// (the RSA signature is most of a `client_credentials` grant's cost).
    pub access_token_alg: SigningAlg,
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
    /// Window over which an address's failed sign-ins are counted, in seconds.
    pub login_window: i64,
    /// Password attempts allowed per account per minute without a success: more wait for the
    /// minute to pass (a slow-down, not a lock: a classmate typing wrong passwords for a
    /// pupil's name delays the pupil by a minute at most).
    pub login_failures_per_account_minute: i64,
    /// Password attempts allowed per account per day without a success (NIST SP 800-63B:
    /// at most 100); past them, the account's password is tried at most once a quarter hour
    /// until the day passes or the password is reset, never locked. Passkeys are never held
    /// back by password failures.
    pub login_failures_per_account_day: i64,
    /// Failed sign-ins allowed per client address in one window (a whole school may share one
    /// address, so this is generous).
    pub login_failures_per_address: i64,
    /// Authorization requests kept (waiting for a sign-in or an approval) per client address
    /// per minute; more are answered 429. A school's tablets may share one address, so this
    /// is generous; with the bounds on each parameter it caps what one address keeps.
    pub kept_requests_per_address_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed (the TLS terminator in front of Renkei).
    pub trusted_proxies: Vec<IpAddr>,
    /// Seconds between a key rotation and the new key signing: longer than the JWK-set cache
    /// time (300 s) plus the key refresh interval (60 s), so every app and process knows it.
    pub key_activation_delay: i64,
    /// How long Renkei waits for an upstream provider (discovery, keys, the code exchange)
    /// before it tells the person the upstream did not answer.
    pub upstream_timeout: std::time::Duration,
}

impl Config {
    /// Settings for `issuer` with the default lifetimes and limits.
    pub fn new(issuer: &str) -> Result<Self, Error> {
        let url = url::Url::parse(issuer).map_err(|e| {
            Error::Invalid(format!("the issuer {issuer:?} is not a URL ({e}); give one like https://sso.board.example.jp"))
        })?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
            return Err(Error::Invalid(format!(
                "the issuer {issuer:?} must be an https origin without path, query or fragment, e.g. https://sso.board.example.jp (http only on 127.0.0.1 or localhost)"
            )));
        }
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            access_token_ttl: 600,
            access_token_alg: SigningAlg::Rs256,
            id_token_ttl: 600,
            code_ttl: 60,
            refresh_token_ttl: 30 * 86400,
            session_ttl: 12 * 3600,
            auth_request_ttl: 1800,
            login_window: 900,
            login_failures_per_account_minute: 5,
            login_failures_per_account_day: 100,
            login_failures_per_address: 300,
            kept_requests_per_address_minute: 600,
            trusted_proxies: Vec::new(),
            key_activation_delay: 600,
            upstream_timeout: std::time::Duration::from_secs(10),
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

    /// How long a retired signing key stays published: every token it signed has expired and
    /// every `id_token_hint` of a live session still verifies.
    pub fn key_retention(&self) -> i64 {
        self.access_token_ttl
            .max(self.id_token_ttl)
            .max(self.session_ttl)
            + 900
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_an_https_origin() {
        assert!(Config::new("https://sso.board.example.jp").is_ok());
        assert!(Config::new("http://127.0.0.1:8080").is_ok());
        assert!(
            Config::new("http://sso.board.example.jp").is_err(),
            "plain http off loopback"
        );
        assert!(
            Config::new("https://sso.board.example.jp/renkei").is_err(),
            "no path"
        );
        assert!(Config::new("https://sso.board.example.jp/?x=1").is_err());
    }
}

//! The web kit every Renkei server and page shares: cookies, CSRF tokens, security headers,
//! client addresses, redirects, and the hardening middleware.

use std::net::{IpAddr, SocketAddr};

use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::crypto::{constant_time_eq, random_secret};

/// Reads one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// Cookie names and attributes: `__Host-` prefixed and `Secure` when the issuer is https.
#[derive(Clone, Debug)]
pub struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    /// Policy for an issuer served over https (`secure`) or plain http (local development).
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The name a cookie has under this policy.
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure behind https.
    pub fn set(&self, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax",
            self.name(base)
        );
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&cookie).expect("cookie values are base64url or fixed words")
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub fn clear(&self, base: &str) -> HeaderValue {
        self.set(base, "", Some(0))
    }
}

/// Name of the cookie that binds CSRF tokens to one browser.
const CSRF_COOKIE: &str = "renkei_csrf";

/// CSRF protection for every form (signed double-submit): the browser holds a random cookie,
/// each form carries an HMAC of it, and a POST must present both. Cross-site POSTs are also
/// refused by `Sec-Fetch-Site` and `Origin`.
pub struct Csrf {
    key: Vec<u8>,
    cookies: CookiePolicy,
    origin: String,
}

impl Csrf {
    /// CSRF protection with the installation's secret `key`, for pages served from `origin`.
    pub fn new(key: Vec<u8>, cookies: CookiePolicy, origin: String) -> Self {
        Self {
            key,
            cookies,
            origin,
        }
    }

    fn sign(&self, binding: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(binding.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The token to put in a form, and the cookie to set if the browser has none yet.
    pub fn token(&self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        match cookie(headers, &self.cookies.name(CSRF_COOKIE)) {
            Some(binding) if binding.len() >= 32 => (self.sign(binding), None),
            _ => {
                let binding = random_secret();
                (
                    self.sign(&binding),
                    Some(self.cookies.set(CSRF_COOKIE, &binding, None)),
                )
            }
        }
    }

    /// Whether a submitted form is genuine: same-site request and a token matching the cookie.
    pub fn verify(&self, headers: &HeaderMap, token: &str) -> bool {
        let header_str = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if header_str(HeaderName::from_static("sec-fetch-site"))
            .is_some_and(|site| site != "same-origin" && site != "none")
        {
            return false;
        }
        let same_origin_fetch =
            header_str(HeaderName::from_static("sec-fetch-site")) == Some("same-origin");
        // Browsers send `Origin: null` for some same-origin form posts (privacy settings).
        if header_str(header::ORIGIN)
            .is_some_and(|origin| origin != self.origin && !(origin == "null" && same_origin_fetch))
        {
            return false;
        }
        let Some(binding) = cookie(headers, &self.cookies.name(CSRF_COOKIE)) else {
            return false;
        };
        constant_time_eq(self.sign(binding).as_bytes(), token.as_bytes())
    }
}

/// The content security policy of every response: no script at all.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// [`PAGE_POLICY`] for the pages that run our own script (`/static/passkey.js`): scripts and
/// `fetch` may reach this origin only.
pub const SCRIPT_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers every response carries (CSP, framing, sniffing, referrer).
pub async fn security_headers(request: Request<axum::body::Body>, next: Next) -> Response {
    let mut response = match too_long(&request) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, PAGE_POLICY);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
    response
}

/// Adds `Strict-Transport-Security` (only used when the issuer is https).
pub async fn strict_transport_security(request: Request<axum::body::Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// The address of the client, for per-address rate limits: the TCP peer, or — when the peer is
/// a trusted proxy — the right-most `X-Forwarded-For` address that is not a trusted proxy.
pub fn client_ip(
    connect_info: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = connect_info.map(|ConnectInfo(addr)| addr.ip().to_canonical())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // From the right: each trusted proxy names the address it received from; the first
    // address that is not a trusted proxy is the client. An entry that is not an address
    // ends the walk (what lies left of it cannot be believed): the last proxy is then the
    // address.
    let forwarded: Vec<&str> = headers
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.into_iter().rev() {
        if !trusted.contains(&client) {
            break;
        }
        // A bare address, or one with a port as some proxies write it (`ip:port`, `[v6]:port`).
        let parsed = entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()));
        match parsed {
            Ok(ip) => client = ip.to_canonical(),
            Err(_) => break,
        }
    }
    Some(client)
}

/// A 303 redirect (after a form POST) that may also set cookies.
pub fn see_other(location: &str, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = Redirect::to(location).into_response();
    *response.status_mut() = axum::http::StatusCode::SEE_OTHER;
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Appends `Set-Cookie` headers to a response.
pub fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Longest request target (path and query) served, in bytes: anything a client sends in it
/// is bounded before any handler reads, keeps or logs it.
pub const URI_MAX: usize = 8 * 1024;

/// The 414 for a request whose path and query exceed [`URI_MAX`] (checked by
/// [`security_headers`], which every server runs first, before any handler).
fn too_long(request: &Request<axum::body::Body>) -> Option<Response> {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    (length > URI_MAX).then(|| {
        (
            StatusCode::URI_TOO_LONG,
            format!(
                "the request's address is {length} bytes long; at most {URI_MAX} are accepted\n"
            ),
        )
            .into_response()
    })
}

/// The middleware every Renkei server runs under: security headers, bounds on the request
/// target and body, a request timeout, request tracing (paths only), and HSTS behind HTTPS.
pub fn harden(router: Router, https: bool) -> Router {
    let mut router = router
        .layer(axum::middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            // The path only: query strings can carry codes, hints and request ids.
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }));
    if https {
        router = router.layer(axum::middleware::from_fn(strict_transport_security));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn csrf_token_binds_to_cookie_and_origin() {
        let csrf = Csrf::new(
            vec![7; 32],
            CookiePolicy::new(false),
            "http://127.0.0.1:8080".into(),
        );
        let (token, set_cookie) = csrf.token(&HeaderMap::new());
        let cookie_value = set_cookie
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let good = headers(&[(header::COOKIE, &cookie_value)]);
        assert!(csrf.verify(&good, &token));
        assert!(!csrf.verify(&good, "forged"));
        assert!(!csrf.verify(&HeaderMap::new(), &token));
        let cross = headers(&[
            (header::COOKIE, &cookie_value),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(!csrf.verify(&cross, &token));
        let site = headers(&[
            (header::COOKIE, &cookie_value),
            (HeaderName::from_static("sec-fetch-site"), "cross-site"),
        ]);
        assert!(!csrf.verify(&site, &token));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let map = headers(&[(header::COOKIE, "a=1; b=2"), (header::COOKIE, "c=3")]);
        assert_eq!(cookie(&map, "b"), Some("2"));
        assert_eq!(cookie(&map, "c"), Some("3"));
        assert_eq!(cookie(&map, "d"), None);
    }

    #[test]
    fn forwarded_address_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let from = |peer: &str| Some(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 443)));
        let xff = headers(&[(
            HeaderName::from_static("x-forwarded-for"),
            "203.0.113.9, 198.51.100.7",
        )]);
        assert_eq!(
            client_ip(from("10.0.0.5").as_ref(), &xff, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            client_ip(from("192.0.2.1").as_ref(), &xff, &[proxy]),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(from("10.0.0.5").as_ref(), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        // An address with a port, as some proxies write it, is the address; an entry that is
        // no address at all ends the walk: what the client wrote to its left is not believed.
        let with_port = headers(&[(
            HeaderName::from_static("x-forwarded-for"),
            "203.0.113.9, 198.51.100.7:4711",
        )]);
        assert_eq!(
            client_ip(from("10.0.0.5").as_ref(), &with_port, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        let garbled = headers(&[(
            HeaderName::from_static("x-forwarded-for"),
            "203.0.113.9, unknown",
        )]);
        assert_eq!(
            client_ip(from("10.0.0.5").as_ref(), &garbled, &[proxy]),
            Some(proxy)
        );
        // A dual-stack listener sees IPv4 proxies as IPv4-mapped IPv6 addresses.
        assert_eq!(
            client_ip(from("::ffff:10.0.0.5").as_ref(), &xff, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        // Through two trusted proxies, the first untrusted address from the right.
        let second: IpAddr = "10.0.0.6".parse().unwrap();
        let chained = headers(&[(
            HeaderName::from_static("x-forwarded-for"),
            "203.0.113.9, 198.51.100.7, 10.0.0.6",
        )]);
        assert_eq!(
            client_ip(from("10.0.0.5").as_ref(), &chained, &[proxy, second]),
            Some("198.51.100.7".parse().unwrap())
        );
    }

    #[test]
    fn secure_cookies_use_host_prefix() {
        let value = CookiePolicy::new(true).set("renkei_session", "x", None);
        assert_eq!(
            value,
            "__Host-renkei_session=x; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
    }
}

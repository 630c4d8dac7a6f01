//! End-to-end tests of the OpenID Connect provider: a real server on a loopback port, driven
//! by a standard relying party (the `openidconnect` crate) and a cookie-keeping browser, on
//! SQLite and on PostgreSQL.

mod support;

use openidconnect::core::{
    CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LanguageTag, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use renkei_idp::client::NewClient;
use serde_json::Value;
use support::*;

on_both_databases!(
    standard_relying_party_completes_code_flow,
    eddsa_and_es256_id_tokens_per_client,
    refresh_tokens_rotate_and_reuse_revokes_family,
    replayed_code_is_refused_and_revokes_its_tokens,
    introspection_and_revocation,
    redirect_uri_must_match_exactly,
    pkce_is_enforced,
    deny_answers_access_denied,
    prompt_none_and_prompt_login,
    remembered_consent_is_not_asked_again,
    logout_ends_session_and_returns_to_app,
    client_authentication_methods,
    private_key_jwt_authenticates_and_refuses_replay,
    failed_sign_ins_are_uniform_and_rate_limited,
    an_address_cannot_spray_past_its_limit_by_sending_at_once,
    forms_require_csrf_token,
    pages_are_japanese_by_default_and_english_on_request,
    key_rotation_keeps_old_tokens_verifiable,
    browser_facing_protocol_details,
    authorization_requests_keep_bounded_state,
);

/// What an anonymous browser can make the provider keep is bounded: every kept parameter has a
/// length limit (refused with `invalid_request`, an oversized `state` not echoed, nothing kept),
/// and one address can start only so many sign-ins a minute.
async fn authorization_requests_keep_bounded_state(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let kept = || server.count_sql("SELECT COUNT(*) FROM auth_requests");
    let long_state = "s".repeat(6000);
    let long_nonce = "n".repeat(513);
    for (name, extra) in [
        ("state", ("state", long_state.as_str())),
        ("nonce", ("nonce", long_nonce.as_str())),
    ] {
        let url = code_request(&server, &app, "openid", &challenge, &[extra]);
        let response = browser.get(&url).await;
        assert_eq!(response.status(), 303, "{name}");
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert!(
            location.as_str().starts_with(&app.redirect_uri),
            "{location}"
        );
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request")
        );
        let description = query_param(&location, "error_description").unwrap();
        assert!(
            description.starts_with(&format!("{name} is ")),
            "{description}"
        );
        assert_eq!(query_param(&location, "state"), None, "{name}");
    }
    assert_eq!(kept().await, 0, "nothing kept for refused requests");
    let fine = code_request(&server, &app, "openid", &challenge, &[("state", "s1")]);
    assert_eq!(browser.get(&fine).await.status(), 303);
    assert_eq!(kept().await, 1);
    // The address uses up its kept requests for this minute.
    let second = renkei_platform::clock::now() % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let here: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let now = renkei_platform::clock::now();
    let limit = server.state.config.kept_requests_per_address_minute;
    while server.state.kept_requests.admit(Some(here), now) {}
    let over = browser.get(&fine).await;
    assert_eq!(over.status(), 429);
    assert!(over.text().await.unwrap().contains("1分ほど待って"));
    assert_eq!(
        kept().await,
        1,
        "no request kept past the limit ({limit} a minute)"
    );
    server.stop().await;
}

/// A standard relying party for `app`, configured from Renkei's discovery document.
async fn relying_party(
    server: &TestServer,
    app: &TestClient,
    http: &openidconnect::reqwest::Client,
) -> CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), http)
            .await
            .unwrap();
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap())
}

fn http_client() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn standard_relying_party_completes_code_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let student = server.user("student1", "student").await;
    let http = http_client();
    let client = relying_party(&server, &app, &http).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("school".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = Browser::new()
        .authorize(&server, url.as_str(), "student1", true)
        .await;
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("id_token");
    let id_verifier = client.id_token_verifier();
    let claims: &CoreIdTokenClaims = id_token.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), student.id);
    assert!(claims.auth_time().is_some());
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let kana = LanguageTag::new("ja-Kana-JP".into());
    assert_eq!(
        claims.family_name().unwrap().get(None).unwrap().as_str(),
        "山田"
    );
    assert_eq!(
        claims
            .family_name()
            .unwrap()
            .get(Some(&kana))
            .unwrap()
            .as_str(),
        "ヤマダ"
    );
    assert_eq!(
        claims
            .given_name()
            .unwrap()
            .get(Some(&kana))
            .unwrap()
            .as_str(),
        "タロウ"
    );
    assert_eq!(claims.email().unwrap().as_str(), "student1@school.example");
    assert!(tokens.refresh_token().is_some());

    let raw = decode_jwt_payload(&id_token.to_string());
    assert_eq!(raw["role"], "student");
    assert_eq!(raw["grade"], "P3");
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]));
    assert!(raw["sid"].is_string());

    let access = decode_jwt(tokens.access_token().secret());
    assert_eq!(access.0["typ"], "at+jwt", "RFC 9068 access token");
    assert_eq!(access.1["client_id"], app.id.as_str());
    assert_eq!(access.1["sub"], student.id.as_str());

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), student.id);
    assert_eq!(
        userinfo.name().unwrap().get(None).unwrap().as_str(),
        "山田 太郎"
    );

    let post = reqwest::Client::new()
        .post(server.url("/userinfo"))
        .form(&[("access_token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["school"], Value::Null, "user has no school");
    assert_eq!(body["family_name#ja-Kana-JP"], "ヤマダ");

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
    server.stop().await;
}

fn decode_jwt(token: &str) -> (Value, Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts.next().unwrap())
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(), part())
}

fn decode_jwt_payload(token: &str) -> Value {
    decode_jwt(token).1
}

async fn eddsa_and_es256_id_tokens_per_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.user("teacher1", "teacher").await;
    let http = http_client();
    for (alg, expected) in [
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let app = server
            .client(NewClient {
                name: format!("{alg} app"),
                redirect_uris: vec!["https://app.example.jp/cb".into()],
                id_token_alg: Some(alg.into()),
                ..NewClient::default()
            })
            .await;
        let client = relying_party(&server, &app, &http).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let back = Browser::new()
            .authorize(&server, url.as_str(), "teacher1", true)
            .await;
        let code = query_param(&back, "code").unwrap();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let id_token = tokens.id_token().unwrap();
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![expected.clone()]);
        let claims = id_token.claims(&id_verifier, &nonce).unwrap();
        assert_eq!(id_token.signing_alg().unwrap(), &expected);
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash), "{alg} at_hash");
    }
    server.stop().await;
}

async fn refresh_tokens_rotate_and_reuse_revokes_family(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let tokens =
        code_flow_tokens(&server, &app, &Browser::new(), "student1", "openid profile").await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let rotated: Value = refresh(&server, &app, &first).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(rotated["id_token"].is_string());
    assert!(
        decode_jwt_payload(rotated["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );
    let narrowed: Value = back_channel(
        &server,
        &app,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second),
            ("scope", "openid"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(narrowed["scope"], "openid");
    let third = narrowed["refresh_token"].as_str().unwrap().to_owned();
    let live_access = narrowed["access_token"].as_str().unwrap().to_owned();
    let widened = back_channel(
        &server,
        &app,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &third),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert_eq!(widened.status(), 400);
    assert_eq!(
        widened.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    let reuse = refresh(&server, &app, &first).await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(reuse.headers()["cache-control"], "no-store");
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let after = refresh(&server, &app, &third).await;
    assert_eq!(
        after.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the whole family is revoked"
    );
    let userinfo = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(&live_access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert!(
        userinfo.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    server.stop().await;
}

async fn replayed_code_is_refused_and_revokes_its_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let (verifier, challenge) = pkce();
    let url = code_request(&server, &app, "openid", &challenge, &[]);
    let back = Browser::new()
        .authorize(&server, &url, "student1", true)
        .await;
    let code = query_param(&back, "code").unwrap();
    let first = exchange(&server, &app, &code, &verifier).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let tokens: Value = first.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let ok = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let replay = exchange(&server, &app, &code, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let revoked = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoked.status(),
        401,
        "tokens of a replayed code are revoked"
    );
    let refresh = refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refresh.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    server.stop().await;
}

async fn introspection_and_revocation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let other = server.web_app().await;
    let user = server.user("teacher1", "teacher").await;
    let tokens =
        code_flow_tokens(&server, &app, &Browser::new(), "teacher1", "openid school").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let resource_server = server
        .client(NewClient {
            name: "校務データサービス".into(),
            grant_types: vec!["client_credentials".into()],
            may_introspect: true,
            ..NewClient::default()
        })
        .await;
    let seen_by_other: Value = back_channel(&server, &other, "/introspect", &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen_by_other,
        serde_json::json!({"active": false}),
        "another app learns nothing about the token"
    );
    let seen_by_resource_server: Value = back_channel(
        &server,
        &resource_server,
        "/introspect",
        &[("token", access)],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        seen_by_resource_server["active"], true,
        "a registered resource server may introspect"
    );

    let active: Value = back_channel(&server, &app, "/introspect", &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], user.id.as_str());
    assert_eq!(active["username"], "teacher1");
    assert_eq!(active["scope"], "openid school");
    let refresh_info: Value = back_channel(
        &server,
        &app,
        "/introspect",
        &[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(refresh_info["active"], true);
    let foreign: Value = back_channel(&server, &other, "/introspect", &[("token", refresh_token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        foreign,
        serde_json::json!({"active": false}),
        "refresh tokens of other clients are not disclosed"
    );
    let unauthenticated = reqwest::Client::new()
        .post(server.url("/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let not_mine = back_channel(&server, &other, "/revoke", &[("token", access)]).await;
    assert_eq!(not_mine.status(), 200);
    let still: Value = back_channel(&server, &app, "/introspect", &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        still["active"], true,
        "another client cannot revoke the token"
    );

    let revoke = back_channel(
        &server,
        &app,
        "/revoke",
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(revoke.status(), 200);
    let gone: Value = back_channel(&server, &app, "/introspect", &[("token", access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gone, serde_json::json!({"active": false}));

    let revoke_refresh = back_channel(&server, &app, "/revoke", &[("token", refresh_token)]).await;
    assert_eq!(revoke_refresh.status(), 200);
    let dead: Value = refresh(&server, &app, refresh_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dead["error"], "invalid_grant");
    let unknown = back_channel(&server, &app, "/revoke", &[("token", "never-issued")]).await;
    assert_eq!(unknown.status(), 200);
    server.stop().await;
}

async fn redirect_uri_must_match_exactly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    for redirect in [
        Some("https://drill.example.jp/callback/"),
        Some("https://evil.example/callback"),
        Some("https://drill.example.jp/callback?x=1"),
        None,
    ] {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", app.id.as_str()),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(uri) = redirect {
            params.push(("redirect_uri", uri));
        }
        let response = browser.get(&authorize_url(&server, &params)).await;
        assert_eq!(response.status(), 400, "{redirect:?}");
        assert!(
            response.headers().get("location").is_none(),
            "never redirect to an unregistered URI"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect_uri"), "{html}");
    }
    let unknown_client = browser
        .get(&authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", "nope"),
                ("redirect_uri", "https://drill.example.jp/callback"),
            ],
        ))
        .await;
    assert_eq!(unknown_client.status(), 400);
    assert!(unknown_client.headers().get("location").is_none());
    let narrow = server
        .client(NewClient {
            name: "名前だけのアプリ".into(),
            redirect_uris: vec!["https://names.example.jp/cb".into()],
            scopes: vec!["openid".into(), "profile".into()],
            ..NewClient::default()
        })
        .await;
    let (_, narrow_challenge) = pkce();
    let authorize_narrow = |scope: &'static str| {
        authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &narrow.id),
                ("redirect_uri", &narrow.redirect_uri),
                ("scope", scope),
                ("state", "xyz"),
                ("code_challenge", &narrow_challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    let bad_scope = browser.get(&authorize_narrow("openid school")).await;
    let target = url::Url::parse(&location(&bad_scope)).unwrap();
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("invalid_scope"),
        "a known scope the client may not ask for"
    );
    assert_eq!(query_param(&target, "state").as_deref(), Some("xyz"));
    assert_eq!(
        query_param(&target, "iss").as_deref(),
        Some(server.base.as_str())
    );
    let unknown_scope = browser
        .get(&authorize_narrow("openid offline_access some:vendor:scope"))
        .await;
    assert!(
        location(&unknown_scope).starts_with("/login?request="),
        "scopes Renkei does not know are ignored"
    );
    let implicit = browser
        .get(&authorize_url(
            &server,
            &[
                ("response_type", "id_token token"),
                ("client_id", &app.id),
                ("redirect_uri", &app.redirect_uri),
                ("scope", "openid"),
            ],
        ))
        .await;
    let target = url::Url::parse(&location(&implicit)).unwrap();
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("unsupported_response_type")
    );
    server.stop().await;
}

async fn pkce_is_enforced(backend: Backend) {
    let server = TestServer::start(backend).await;
    let public = server
        .client(NewClient {
            name: "タブレットアプリ".into(),
            redirect_uris: vec!["jp.example.tablet:/cb".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    assert!(public.secret.is_none());
    server.user("student1", "student").await;
    let browser = Browser::new();
    let error_of = |response: reqwest::Response| {
        let target = url::Url::parse(&location(&response)).unwrap();
        query_param(&target, "error")
    };
    let no_pkce = browser
        .get(&authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &public.id),
                ("redirect_uri", &public.redirect_uri),
                ("scope", "openid"),
            ],
        ))
        .await;
    assert_eq!(
        error_of(no_pkce).as_deref(),
        Some("invalid_request"),
        "public clients must use PKCE"
    );
    let plain = browser
        .get(&authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &public.id),
                ("redirect_uri", &public.redirect_uri),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "abcdefghijabcdefghijabcdefghijabcdefghij123",
                ),
                ("code_challenge_method", "plain"),
            ],
        ))
        .await;
    assert_eq!(
        error_of(plain).as_deref(),
        Some("invalid_request"),
        "plain is refused"
    );

    let (verifier, challenge) = pkce();
    let url = code_request(&server, &public, "openid", &challenge, &[]);
    let back = browser.authorize(&server, &url, "student1", true).await;
    let code = query_param(&back, "code").unwrap();
    let token = |verifier: String| {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", public.redirect_uri.clone()),
            ("client_id", public.id.clone()),
            ("code_verifier", verifier),
        ];
        let url = server.url("/token");
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = token(pkce().0).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let right = token(verifier.clone()).await;
    assert_eq!(
        right.status(),
        400,
        "the code was consumed by the failed attempt"
    );

    let url = code_request(&server, &public, "openid", &challenge, &[]);
    let back = browser.authorize(&server, &url, "student1", true).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", public.redirect_uri.as_str()),
        ("client_id", public.id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let ok = reqwest::Client::new()
        .post(server.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    server.stop().await;
}

async fn deny_answers_access_denied(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let (_, challenge) = pkce();
    let url = code_request(
        &server,
        &app,
        "openid profile",
        &challenge,
        &[("state", "st")],
    );
    let back = Browser::new()
        .authorize(&server, &url, "student1", false)
        .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str())
    );
    assert!(query_param(&back, "code").is_none());
    server.stop().await;
}

async fn prompt_none_and_prompt_login(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let params = |prompt: &'static str| {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", app.id.clone()),
            ("redirect_uri", app.redirect_uri.clone()),
            ("scope", "openid".to_owned()),
            ("state", "p".to_owned()),
            ("prompt", prompt.to_owned()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
        ]
    };
    let url_for = |prompt| {
        let p = params(prompt);
        let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorize_url(&server, &refs)
    };
    let none = browser.get(&url_for("none")).await;
    let target = url::Url::parse(&location(&none)).unwrap();
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&target, "state").as_deref(), Some("p"));

    assert_eq!(
        browser
            .sign_in(&server, "student1", PASSWORD)
            .await
            .status(),
        303
    );
    let consent_needed = browser.get(&url_for("none")).await;
    let target = url::Url::parse(&location(&consent_needed)).unwrap();
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("consent_required")
    );

    let back = browser
        .authorize(&server, &url_for("consent"), "student1", true)
        .await;
    assert!(query_param(&back, "code").is_some());
    let silent = browser.get(&url_for("none")).await;
    let target = url::Url::parse(&location(&silent)).unwrap();
    assert!(
        query_param(&target, "code").is_some(),
        "prompt=none succeeds with a session and a remembered consent"
    );

    let login = browser.get(&url_for("login")).await;
    assert!(
        location(&login).starts_with("/login?request="),
        "prompt=login asks for the password again"
    );
    // Going to the approval step instead of signing in again does not skip the sign-in: neither
    // the page nor an approval posted to it issues a code for the old session (even in the very
    // second that session signed in).
    let pending = location(&login)
        .trim_start_matches("/login?request=")
        .to_owned();
    let skipped = browser
        .get(&server.url(&format!("/consent?request={pending}")))
        .await;
    assert_eq!(skipped.status(), 303);
    assert!(
        location(&skipped).starts_with("/login?request="),
        "{}",
        location(&skipped)
    );
    let sign_in_page = browser
        .get(&server.url(&format!("/login?request={pending}")))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&sign_in_page, "csrf_token");
    let approved = browser
        .post_form(
            &server.url("/consent"),
            &[
                ("csrf_token", csrf.as_str()),
                ("request", pending.as_str()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert!(
        location(&approved).starts_with("/login?request="),
        "no code without signing in again: {}",
        location(&approved)
    );
    // A client cannot name the stale session itself to escape the rule.
    let forged = browser
        .get(&format!("{}&stale_sid=x", url_for("login")))
        .await;
    assert!(location(&forged).starts_with("/login?request="));
    let relogged = browser
        .authorize(&server, &url_for("login"), "student1", true)
        .await;
    assert!(
        query_param(&relogged, "code").is_some(),
        "after signing in again the app gets its code"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stale = browser.get(&format!("{}&max_age=0", url_for("none"))).await;
    let target = url::Url::parse(&location(&stale)).unwrap();
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("login_required"),
        "max_age=0 needs a fresh sign-in"
    );
    server.stop().await;
}

async fn remembered_consent_is_not_asked_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let url = code_request(&server, &app, "openid profile", &challenge, &[]);
    browser.authorize(&server, &url, "student1", true).await;
    let again = browser.get(&url).await;
    assert!(
        location(&again).starts_with(&app.redirect_uri),
        "no consent page the second time"
    );
    let wider = code_request(&server, &app, "openid profile email", &challenge, &[]);
    let asked = browser.get(&wider).await;
    assert!(
        location(&asked).starts_with("/consent?request="),
        "a new scope is asked for"
    );
    server.stop().await;
}

async fn logout_ends_session_and_returns_to_app(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    let tokens = code_flow_tokens(&server, &app, &browser, "student1", "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let unregistered = browser
        .get(&format!(
            "{}?{}",
            server.url("/logout"),
            serde_urlencoded::to_string([
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "https://evil.example/")
            ])
            .unwrap()
        ))
        .await;
    assert_eq!(unregistered.status(), 400);
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("山田 太郎"), "still signed in: {home}");

    let logout = browser
        .get(&format!(
            "{}?{}",
            server.url("/logout"),
            serde_urlencoded::to_string([
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "https://drill.example.jp/bye"),
                ("state", "bye1")
            ])
            .unwrap()
        ))
        .await;
    assert_eq!(location(&logout), "https://drill.example.jp/bye?state=bye1");
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(!home.contains("山田 太郎"), "signed out: {home}");

    browser.sign_in(&server, "student1", PASSWORD).await;
    let confirm = browser.get(&server.url("/logout")).await;
    assert_eq!(confirm.status(), 200, "without a hint the user is asked");
    let html = confirm.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let done = browser
        .post_form(&server.url("/logout"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status(), 200);
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(!home.contains("山田 太郎"));
    server.stop().await;
}

async fn client_authentication_methods(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let secret = app.secret.clone().unwrap();
    let http = reqwest::Client::new();
    let basic = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "school")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    assert_eq!(basic.headers()["cache-control"], "no-store");
    let body: Value = basic.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        decode_jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        app.id.as_str()
    );
    let post = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);

    let wrong = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let wrong_post = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.id),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_post.status(), 401);
    let unknown = http
        .post(server.url("/token"))
        .basic_auth("nobody", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let both = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        both.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let password = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        password.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let openid = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        openid.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let json_body = http
        .post(server.url("/token"))
        .basic_auth(&app.id, Some(&secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_body.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    server.stop().await;
}

async fn private_key_jwt_authenticates_and_refuses_replay(backend: Backend) {
    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let server = TestServer::start(backend).await;
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig"}]});
    let app = server
        .client(NewClient {
            name: "校務連携バッチ".into(),
            grant_types: vec!["client_credentials".into()],
            jwks: Some(jwks.to_string()),
            scopes: vec!["school".into()],
            ..NewClient::default()
        })
        .await;
    assert!(app.secret.is_none(), "key-based clients get no secret");
    let pem = key.to_pkcs8_pem(Default::default()).unwrap();
    let encoding = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let assertion = |jti: &str, aud: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let now = renkei_platform::clock::now();
        let claims = serde_json::json!({"iss": app.id, "sub": app.id, "aud": aud, "jti": jti, "exp": now + 60, "iat": now});
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    };
    let request = |assertion: String| {
        let url = server.url("/token");
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let token_endpoint = server.url("/token");
    let first = assertion("one", &server.base);
    assert_eq!(
        request(first.clone()).await.status(),
        200,
        "the issuer is the audience"
    );
    assert_eq!(request(first).await.status(), 401, "a jti is single use");
    assert_eq!(
        request(assertion("two", &token_endpoint)).await.status(),
        401,
        "endpoint URLs are not accepted audiences (rfc7523bis)"
    );
    assert_eq!(
        request(assertion("three", "https://other.example"))
            .await
            .status(),
        401,
        "wrong audience"
    );
    let other = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let forged_key = jsonwebtoken::EncodingKey::from_ed_pem(
        other.to_pkcs8_pem(Default::default()).unwrap().as_bytes(),
    )
    .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let now = renkei_platform::clock::now();
    let forged = jsonwebtoken::encode(&header, &serde_json::json!({"iss": app.id, "sub": app.id, "aud": server.base, "jti": "four", "exp": now + 60}), &forged_key).unwrap();
    assert_eq!(
        request(forged).await.status(),
        401,
        "signed by an unregistered key"
    );
    server.stop().await;
}

async fn failed_sign_ins_are_uniform_and_rate_limited(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    let wrong_password = browser
        .sign_in(&server, "student1", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let no_account = browser
        .sign_in(&server, "nobody", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let message = "ユーザー名またはパスワードがちがいます。";
    assert!(wrong_password.contains(message) && no_account.contains(message));
    assert_eq!(
        wrong_password.replace("student1", ""),
        no_account.replace("nobody", ""),
        "no account enumeration"
    );
    for _ in 0..4 {
        browser.sign_in(&server, "student1", "wrong password").await;
    }
    let paused = browser.sign_in(&server, "student1", PASSWORD).await;
    assert_eq!(
        paused.status(),
        429,
        "5 failures in a minute slow the account's password sign-in down"
    );
    assert!(paused.text().await.unwrap().contains("1分ほど待ってから"));
    let other_browser = Browser::new();
    assert_eq!(
        other_browser
            .sign_in(&server, "STUDENT1", PASSWORD)
            .await
            .status(),
        429,
        "the slow-down is per account, not per browser"
    );
    // A minute later the pupil signs in: a slow-down, not a lock.
    server
        .execute_sql(
            "UPDATE login_throttle SET window_start = window_start - 61 WHERE key = 'account:student1'",
        )
        .await;
    assert_eq!(
        other_browser
            .sign_in(&server, "student1", PASSWORD)
            .await
            .status(),
        303,
        "the pupil signs in once the minute has passed"
    );
    // Past a day's hundred failures, one try a quarter hour: slower, never locked.
    let attempt = |password: &'static str| {
        let base = server.base.clone();
        async move {
            Browser::new()
                .sign_in_at(&base, "student1", password)
                .await
                .status()
        }
    };
    server
        .execute_sql(&format!(
            "INSERT INTO login_throttle (key, window_start, failures) VALUES ('account-day:student1', {}, 100)",
            renkei_platform::clock::now()
        ))
        .await;
    assert_eq!(
        attempt("wrong password").await,
        200,
        "the quarter hour's one try"
    );
    let held = Browser::new()
        .sign_in(&server, "student1", "wrong password")
        .await;
    assert_eq!(held.status(), 429);
    let held = held.text().await.unwrap();
    assert!(
        held.contains("15分に1回しかためせません") && held.contains("先生か学校の管理者"),
        "how long it lasts and who can help: {held}"
    );
    server
        .execute_sql(
            "UPDATE login_throttle SET window_start = window_start - 901 WHERE key = 'account-slow:student1'",
        )
        .await;
    assert_eq!(
        attempt(PASSWORD).await,
        303,
        "a quarter hour later the owner signs in"
    );
    for _ in 0..2 {
        server
            .execute_sql(&format!(
                "INSERT INTO login_throttle (key, window_start, failures) VALUES ('account-day:student1', {0}, 100) \
                 ON CONFLICT (key) DO UPDATE SET failures = 100, window_start = {0}",
                renkei_platform::clock::now()
            ))
            .await;
        attempt("wrong password").await;
    }
    assert_eq!(attempt(PASSWORD).await, 429, "held again");
    renkei_idp::user::set_password(
        server.store.as_ref(),
        &server.audit,
        "test",
        "student1",
        "a-new-password-2026".into(),
    )
    .await
    .unwrap();
    assert_eq!(
        Browser::new()
            .sign_in(&server, "student1", "a-new-password-2026")
            .await
            .status(),
        303,
        "a password reset lifts the hold"
    );
    server.stop().await;
}

/// Guesses sent all at once from one address: each takes its place under the address's limit
/// before its password is checked, so no more than the limit's remaining places are checked.
async fn an_address_cannot_spray_past_its_limit_by_sending_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.user("student1", "student").await;
    // A successful sign-in does not use up the address's places.
    for _ in 0..3 {
        assert_eq!(
            Browser::new()
                .sign_in(&server, "student1", PASSWORD)
                .await
                .status(),
            303
        );
    }
    // The address has 10 places left in its window (the limit is 300 failures).
    server
        .execute_sql(&format!(
            "INSERT INTO login_throttle (key, window_start, failures) VALUES ('address:127.0.0.1', {}, 290) \
             ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 290",
            renkei_platform::clock::now()
        ))
        .await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let base = server.base.clone();
            tokio::spawn(async move {
                Browser::new()
                    .sign_in_at(&base, &format!("sprayed{i:02}"), "Password1!")
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    let mut throttled = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            200 => checked += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        checked <= 10,
        "{checked} guesses reached the password check"
    );
    assert_eq!(checked + throttled, 40);
    // The address is now at its limit: even the right password waits for the window.
    assert_eq!(
        Browser::new()
            .sign_in(&server, "student1", PASSWORD)
            .await
            .status(),
        429
    );
    server.stop().await;
}

async fn forms_require_csrf_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    browser.get(&server.url("/login")).await;
    let forged = browser
        .post_form(
            &server.url("/login"),
            &[
                ("csrf_token", "forged"),
                ("request", ""),
                ("username", "student1"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let html = browser
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let cross_site = browser
        .http
        .post(server.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request", ""),
            ("username", "student1"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let fine = browser
        .post_form(
            &server.url("/login"),
            &[
                ("csrf_token", &csrf),
                ("request", ""),
                ("username", "student1"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(fine.status(), 303);
    let cookie = fine.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    server.stop().await;
}

async fn pages_are_japanese_by_default_and_english_on_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    let http = Browser::new();
    let page = http.get(&server.url("/login")).await;
    let headers = page.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">") && html.contains("ログイン"));
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    let english = http
        .http
        .get(server.url("/login"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<html lang=\"en\">") && english.contains("Sign in"));
    let (_, challenge) = pkce();
    let url = code_request(&server, &app, "openid", &challenge, &[("ui_locales", "en")]);
    let login_path = location(&http.get(&url).await);
    let page = http
        .get(&server.url(&login_path))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("さくら学習ドリル"),
        "ui_locales=en and the app's name"
    );
    let toggled = http
        .get(&server.url("/?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(toggled.contains("<html lang=\"en\">"));
    let remembered = http.get(&server.url("/login")).await.text().await.unwrap();
    assert!(
        remembered.contains("<html lang=\"en\">"),
        "the toggle is remembered"
    );
    server.stop().await;
}

async fn key_rotation_keeps_old_tokens_verifiable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let kid_of = |token: &Value| {
        decode_jwt(token.as_str().unwrap()).0["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = code_flow_tokens(&server, &app, &Browser::new(), "student1", "openid").await;
    let old_kid = kid_of(&before["access_token"]);
    renkei_idp::keys::rotate(
        server.store.as_ref(),
        &server.audit,
        "test",
        2,
        server.state.config.key_retention(),
    )
    .await
    .unwrap();
    server
        .state
        .keys
        .refresh(server.store.as_ref())
        .await
        .unwrap();
    let jwks: Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids.len(),
        6,
        "three algorithms, old and new keys, all published"
    );
    assert!(kids.contains(&old_kid.as_str()));
    let client_credentials = || {
        back_channel(
            &server,
            &app,
            "/token",
            &[("grant_type", "client_credentials")],
        )
    };
    let staged: Value = client_credentials().await.json().await.unwrap();
    assert_eq!(
        kid_of(&staged["access_token"]),
        old_kid,
        "a new key does not sign before its activation"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let after: Value = client_credentials().await.json().await.unwrap();
    let new_kid = kid_of(&after["access_token"]);
    assert_ne!(new_kid, old_kid);
    assert!(kids.contains(&new_kid.as_str()));
    let old_still_works = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(before["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(old_still_works.status(), 200);
    server.stop().await;
}

async fn browser_facing_protocol_details(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = server.web_app().await;
    server.user("student1", "student").await;
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", app.id.as_str()),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("scope", "openid"),
        ("state", "s p a c e"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // A cross-site form POST to /authorize continues as a GET, which carries the session cookie.
    let posted = browser.post_form(&server.url("/authorize"), &params).await;
    let next = location(&posted);
    assert!(next.starts_with("/authorize?"), "{next}");
    let continued = browser.get(&server.url(&next)).await;
    assert!(location(&continued).starts_with("/login?request="));

    // UserInfo without a token: a bare challenge (RFC 6750 §3.1); scheme matched without case.
    let bare = reqwest::get(server.url("/userinfo")).await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(
        bare.headers()["www-authenticate"],
        "Bearer realm=\"renkei\""
    );
    let tokens = code_flow_tokens(&server, &app, &Browser::new(), "student1", "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let shouting = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .header("authorization", format!("BEARER {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(shouting.status(), 200);
    let in_query_body = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .body(format!("access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        in_query_body.status(),
        401,
        "a GET body is not a place for tokens"
    );

    // A same-origin form post whose Origin the browser blanked to "null" is accepted.
    let html = browser
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let signed_in = browser
        .http
        .post(server.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request", ""),
            ("username", "student1"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);

    // Browser apps may call the token endpoint from script.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.url("/token"))
        .header("origin", "https://spa.example.jp")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    server.stop().await;
}

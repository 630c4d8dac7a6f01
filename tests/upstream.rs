//! Sign-ins through the board's upstream providers (Renkei as identity broker), end to end on
//! both databases against a real, independent OpenID Connect provider (`oidc-provider` from
//! the npm registry, `tests/upstream/provider.mjs`) shaped like Google Workspace and like
//! Microsoft Entra ID: a pupil whose roster e-mail matches signs in to a learning app without
//! a Renkei password and the app receives the Renkei person; people outside the roster or the
//! board's domain or tenant, tampered tokens (audience, signature, nonce, expiry, issuer), a
//! refused or replayed answer, an answer in another browser, a slow or unreachable upstream
//! sign no one in, each with an audit record; pre-linked subjects, rotated upstream keys, a
//! flow that finishes on another process, a person linking their own account, the board's
//! passkey rule, a school that signs in only upstream, and the command line.

mod support;

use base64::Engine;
use renkei_idp::upstream::{self, NewUpstream};
use serde_json::{Value, json};
use support::{
    Backend, Browser, PASSWORD, TestServer, UpstreamProvider, code_request, hidden, location, pkce,
    query_param,
};

on_both_databases!(
    a_pupil_signs_in_to_an_app_through_the_boards_google,
    outsiders_and_broken_answers_sign_no_one_in,
    entra_checks_the_tenant_and_follows_key_rotation,
    a_slow_or_unreachable_upstream_gets_a_clear_page,
    a_person_links_their_own_account_and_the_board_rules_hold,
    the_command_line_manages_upstreams
);

/// Renkei's client id and secret at the test upstreams.
const CLIENT_ID: &str = "renkei";
const SECRET: &str = "upstream-client-secret";
/// The board's Entra tenant.
const TENANT: &str = "9c5a3b1e-4d2f-4a6b-8c7d-1e2f3a4b5c6d";

/// The console's board, every account with its roster e-mail `username@school.ed.jp`.
async fn board(backend: Backend) -> TestServer {
    let server = TestServer::start_on_localhost(backend).await;
    let export = support::fixture_zip("console-1.1", |file, text| {
        if file != "users.csv" {
            return text;
        }
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                if i == 0 {
                    return line.to_owned();
                }
                let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
                fields[12] = format!("{}@{}.ed.jp", fields[6], fields[4]);
                fields.join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let report = renkei_directory::import(
        server.directory.as_ref(),
        &server.audit,
        "test setup",
        &export,
        &renkei_directory::ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, "applied", "{report}");
    for username in ["misaki", "taro", "kaede-admin"] {
        server.set_password(username, PASSWORD).await;
    }
    server
}

/// An upstream provider of `flavour` that returns to `server`'s callbacks of `names`.
fn provider(server: &TestServer, flavour: &str, names: &[&str]) -> UpstreamProvider {
    let uris: Vec<String> = names
        .iter()
        .map(|name| upstream::redirect_uri(&server.state.config.issuer, name))
        .collect();
    let tenant = (flavour == "microsoft").then_some(TENANT);
    UpstreamProvider::start(flavour, tenant, CLIENT_ID, SECRET, &uris)
}

/// Adds upstream `name` for `provider` through the operation the console and command line
/// call, with `settings` changed from the Google-like defaults (the board's two domains).
async fn add(
    server: &TestServer,
    provider: &UpstreamProvider,
    name: &str,
    settings: impl FnOnce(&mut NewUpstream),
) -> upstream::Added {
    let mut new = NewUpstream {
        name: name.into(),
        issuer: Some(provider.issuer.clone()),
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        allowed_domains: vec!["sakura.ed.jp".into(), "kaede.ed.jp".into()],
        label_ja: Some("Googleでログイン".into()),
        label_en: Some("Sign in with Google".into()),
        ..NewUpstream::default()
    };
    settings(&mut new);
    let added = upstream::add(
        server.store.as_ref(),
        server.directory.as_ref(),
        &server.audit,
        &server.state.upstreams,
        "test",
        &server.state.config.issuer,
        new,
    )
    .await
    .unwrap();
    assert_eq!(added.discovery, "ok");
    added
}

/// The account at the Google-like upstream: `sub`, the e-mail (verified), the domain.
fn google_account(sub: &str, email: &str) -> Value {
    let hd = email.rsplit_once('@').unwrap().1;
    json!({"sub": sub, "email": email, "email_verified": true, "hd": hd, "name": sub, "amr": ["pwd"]})
}

/// Follows `browser`'s redirects from `start` through the upstream and back: Renkei's answer
/// to the callback (or the first page that is no redirect).
async fn through_upstream(browser: &Browser, start: &str) -> reqwest::Response {
    let mut url = url::Url::parse(start).unwrap();
    for _ in 0..12 {
        let response = browser.get(url.as_str()).await;
        if !response.status().is_redirection() || url.path().ends_with("/callback") {
            return response;
        }
        url = url.join(&location(&response)).unwrap();
    }
    panic!("too many redirects from {start}");
}

/// The upstream's answer for a sign-in started at `start` in `browser`, not yet given to
/// Renkei: the callback URL with its code and state.
async fn answer_of(browser: &Browser, start: &str) -> String {
    let mut url = url::Url::parse(start).unwrap();
    for _ in 0..12 {
        let response = browser.get(url.as_str()).await;
        assert!(response.status().is_redirection(), "{url}");
        url = url.join(&location(&response)).unwrap();
        if url.path().ends_with("/callback") {
            return url.to_string();
        }
    }
    panic!("the upstream did not answer");
}

/// Signs in through upstream `name` in a fresh browser, without an app: the browser and
/// Renkei's answer.
async fn sign_in_through(server: &TestServer, name: &str) -> (Browser, reqwest::Response) {
    let browser = Browser::new();
    let answer = through_upstream(&browser, &server.url(&format!("/login/upstream/{name}"))).await;
    (browser, answer)
}

/// The page of a refused sign-in: its status and text; and the browser has no session.
async fn refused(
    server: &TestServer,
    browser: &Browser,
    answer: reqwest::Response,
) -> (u16, String) {
    let status = answer.status().as_u16();
    let page = answer.text().await.unwrap();
    assert_eq!(
        signed_in_as(server, browser).await,
        "",
        "a refusal leaves no session"
    );
    (status, page)
}

/// Who the browser is signed in as, from the home page (empty: nobody).
async fn signed_in_as(server: &TestServer, browser: &Browser) -> String {
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    match home.split("<p class=\"whose\">").nth(1) {
        Some(rest) => rest[..rest.find("</p>").unwrap()].to_owned(),
        None => String::new(),
    }
}

/// The audit details written so far.
async fn audit_details(server: &TestServer) -> Vec<String> {
    server
        .audit_events(Default::default())
        .await
        .into_iter()
        .filter_map(|e| e.event.detail)
        .collect()
}

/// Approves the app on the consent page Renkei's answer `back` leads to, for the kept
/// `request`: where the browser is sent then (the app's redirect URI with its code).
async fn approve(
    server: &TestServer,
    browser: &Browser,
    back: &reqwest::Response,
    request: &str,
) -> url::Url {
    let consent = location(back);
    assert!(consent.starts_with("/consent?request="), "{consent}");
    let html = browser
        .get(&server.url(&consent))
        .await
        .text()
        .await
        .unwrap();
    let approved = browser
        .post_form(
            &server.url("/consent"),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("request", request),
                ("decision", "approve"),
            ],
        )
        .await;
    url::Url::parse(&location(&approved)).unwrap()
}

fn claims_of(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn a_pupil_signs_in_to_an_app_through_the_boards_google(backend: Backend) {
    let server = board(backend).await;
    let google = provider(&server, "google", &["google"]);
    let added = add(&server, &google, "google", |_| {}).await;
    assert_eq!(
        added.upstream.redirect_uri,
        server.url("/login/upstream/google/callback")
    );
    // A learning app the board registered for the pupils' classes too.
    let app = server
        .client(renkei_idp::client::NewClient {
            name: "さくら学習ドリル".into(),
            redirect_uris: vec!["https://drill.example.jp/callback".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: ["openid", "profile", "school", "classes"]
                .map(str::to_owned)
                .to_vec(),
            ..Default::default()
        })
        .await;
    let hanako = server
        .store
        .user_by_username("hanako")
        .await
        .unwrap()
        .unwrap();
    assert!(
        hanako.password_hash.is_none(),
        "Hanako has no Renkei password"
    );
    google
        .sign_in_as(json!({
            "sub": "g-hanako", "email": "Hanako@sakura.ed.jp", "email_verified": true,
            "hd": "sakura.ed.jp", "name": "Hanako Sato", "amr": ["pwd", "mfa"],
        }))
        .await;

    // The app sends Hanako to Renkei; the sign-in page offers the board's Google.
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    let to_login = browser
        .get(&code_request(
            &server,
            &app,
            "openid profile school classes",
            &challenge,
            &[("state", "s"), ("nonce", "n")],
        ))
        .await;
    let login = location(&to_login);
    let request = query_param(&url::Url::parse(&server.url(&login)).unwrap(), "request").unwrap();
    let page = browser.get(&server.url(&login)).await.text().await.unwrap();
    let button = format!("/login/upstream/google?request={request}");
    assert!(
        page.contains(&format!("href=\"{button}\"")) && page.contains("Googleでログイン"),
        "{page}"
    );

    // Through the upstream and back: approved once, the app gets its code.
    let back = through_upstream(&browser, &server.url(&button)).await;
    let back = approve(&server, &browser, &back, &request).await;
    assert_eq!(query_param(&back, "state").as_deref(), Some("s"));
    let code = query_param(&back, "code").unwrap();
    let tokens: Value = support::exchange(&server, &app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    // The Renkei person, never the upstream's identifiers; the roster's names and school.
    assert_eq!(claims["sub"], hanako.id);
    assert_eq!(claims["acr"], upstream::ACR_UPSTREAM);
    assert_eq!(
        claims["amr"],
        json!(["pwd"]),
        "the upstream's mfa is not trusted"
    );
    assert_eq!(claims["family_name"], "佐藤");
    assert_eq!(claims["given_name#ja-Kana-JP"], "ハナコ");
    assert_eq!(claims["school"]["id"], "sakura");
    assert_eq!(claims["classes"][0]["id"], "sakura-3-1", "{claims}");
    assert_eq!(claims["nonce"], "n");

    // Linked once, by the verified roster e-mail: later the link decides, whatever the
    // upstream's e-mail says.
    google
        .sign_in_as(google_account("g-hanako", "renamed@sakura.ed.jp"))
        .await;
    let (again, answer) = sign_in_through(&server, "google").await;
    assert_eq!(location(&answer), "/");
    assert!(signed_in_as(&server, &again).await.contains("佐藤 花子"));
    let details = audit_details(&server).await;
    for expected in [
        "upstream provider google added",
        "account hanako linked to subject g-hanako of upstream google by its email at the first sign-in",
        "account hanako signed in through upstream google (amr pwd)",
    ] {
        assert!(
            details.iter().any(|d| d.contains(expected)),
            "{expected}: {details:#?}"
        );
    }
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM upstream_links WHERE subject = 'g-hanako'")
            .await,
        1
    );

    // A flow started on one process finishes on another (as behind a load balancer).
    let second = server.second_process().await;
    google
        .sign_in_as(google_account("g-taro", "taro@sakura.ed.jp"))
        .await;
    let browser = Browser::new();
    let answer = answer_of(&browser, &server.url("/login/upstream/google")).await;
    let on_second = answer.replace(&server.base, &second.base);
    assert_ne!(answer, on_second);
    let finished = browser.get(&on_second).await;
    assert_eq!(location(&finished), "/");
    assert!(signed_in_as(&server, &browser).await.contains("山田 太郎"));
}

async fn outsiders_and_broken_answers_sign_no_one_in(backend: Backend) {
    let server = board(backend).await;
    let google = provider(&server, "google", &["google"]);
    add(&server, &google, "google", |_| {}).await;

    // Not on the roster; outside the board's domains; an e-mail the upstream did not verify.
    for (account, says, expected) in [
        (
            google_account("g-stranger", "stranger@sakura.ed.jp"),
            "名簿に登録された人と結び付いていない",
            "no roster account(s) match its email",
        ),
        (
            google_account("g-outside", "taro@other.ed.jp"),
            "この教育委員会・学校のアカウントではない",
            "is of domain Some(\"other.ed.jp\")",
        ),
        (
            json!({"sub": "g-unverified", "email": "taro@sakura.ed.jp", "email_verified": false, "hd": "sakura.ed.jp"}),
            "名簿に登録された人と結び付いていない",
            "has no verified e-mail address",
        ),
    ] {
        google.sign_in_as(account).await;
        let (browser, answer) = sign_in_through(&server, "google").await;
        let (status, page) = refused(&server, &browser, answer).await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains(says), "{page}");
        assert!(
            audit_details(&server)
                .await
                .iter()
                .any(|d| d.contains(expected)),
            "{expected}"
        );
    }

    // Tampered ID tokens: Taro is on the roster, but nothing proves it.
    google
        .sign_in_as(google_account("g-taro", "taro@sakura.ed.jp"))
        .await;
    for mode in ["audience", "signature", "nonce", "expired", "issuer"] {
        google.tamper(Some(mode)).await;
        let (browser, answer) = sign_in_through(&server, "google").await;
        let (status, page) = refused(&server, &browser, answer).await;
        assert_eq!(status, 400, "{mode}: {page}");
        assert!(page.contains("応答を確認できなかった"), "{mode}: {page}");
    }
    // The upstream refuses the sign-in.
    google.tamper(Some("access_denied")).await;
    let (browser, answer) = sign_in_through(&server, "google").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 403);
    assert!(page.contains("完了しませんでした"), "{page}");
    google.tamper(None).await;
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM upstream_links")
            .await,
        0,
        "nothing was linked"
    );
    let details = audit_details(&server).await;
    assert_eq!(
        details
            .iter()
            .filter(|d| d.contains("the ID token is not valid"))
            .count(),
        5,
        "{details:#?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("answered error access_denied"))
    );

    // An answer works once, and only in the browser that started the sign-in.
    let browser = Browser::new();
    let answer = answer_of(&browser, &server.url("/login/upstream/google")).await;
    let elsewhere = Browser::new();
    let (status, page) = refused(&server, &elsewhere, elsewhere.get(&answer).await).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("有効期限が切れたか、すでに使われています"));
    let browser = Browser::new();
    let answer = answer_of(&browser, &server.url("/login/upstream/google")).await;
    assert_eq!(location(&browser.get(&answer).await), "/");
    let replayed = Browser::new();
    let (status, _) = refused(&server, &replayed, replayed.get(&answer).await).await;
    assert_eq!(status, 400);
    let details = audit_details(&server).await;
    assert!(details.iter().any(|d| d.contains("another browser")));
    assert!(details.iter().any(|d| d.contains("a replayed answer")));

    // An app that asks for a passkey gets no upstream sign-in.
    let app = server.web_app().await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let to_login = browser
        .get(&code_request(
            &server,
            &app,
            "openid",
            &challenge,
            &[("acr_values", "urn:renkei:acr:passkey")],
        ))
        .await;
    let login = location(&to_login);
    let page = browser.get(&server.url(&login)).await.text().await.unwrap();
    assert!(!page.contains("/login/upstream/"), "{page}");
}

async fn entra_checks_the_tenant_and_follows_key_rotation(backend: Backend) {
    let server = board(backend).await;
    let entra = provider(&server, "microsoft", &["entra"]);
    assert!(entra.issuer.ends_with(&format!("/{TENANT}/v2.0")));
    add(&server, &entra, "entra", |new| {
        new.tenant = Some(TENANT.to_uppercase());
        new.allowed_domains.clear();
        new.link_by = Some("subject".into());
        new.label_ja = Some("Microsoftでログイン".into());
    })
    .await;
    // Misaki's account is linked beforehand (the rule: only linked accounts).
    let linked = support::run_renkei(
        &server.database.url,
        &[
            "upstream",
            "link",
            "--name",
            "entra",
            "--username",
            "misaki",
            "--subject",
            "m-misaki",
        ],
        None,
    );
    assert!(
        linked.status.success(),
        "{}",
        String::from_utf8_lossy(&linked.stderr)
    );
    entra
        .sign_in_as(json!({"sub": "m-misaki", "name": "Misaki"}))
        .await;
    let (browser, answer) = sign_in_through(&server, "entra").await;
    assert_eq!(location(&answer), "/");
    assert!(signed_in_as(&server, &browser).await.contains("田中 美咲"));

    // Another tenant's token, and a subject nobody linked: refused.
    entra.tamper(Some("tenant")).await;
    let (browser, answer) = sign_in_through(&server, "entra").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 403);
    assert!(
        page.contains("この教育委員会・学校のアカウントではない"),
        "{page}"
    );
    entra.tamper(None).await;
    entra.sign_in_as(json!({"sub": "m-stranger"})).await;
    let (browser, answer) = sign_in_through(&server, "entra").await;
    assert_eq!(refused(&server, &browser, answer).await.0, 403);

    // The upstream rotates its keys: the next token names a key Renkei has not seen, and
    // Renkei fetches the new set.
    entra.rotate_keys().await;
    entra.sign_in_as(json!({"sub": "m-misaki"})).await;
    let (browser, answer) = sign_in_through(&server, "entra").await;
    assert_eq!(location(&answer), "/");
    assert!(signed_in_as(&server, &browser).await.contains("田中 美咲"));

    // Unlinked: the subject signs no one in any more.
    let unlinked = support::run_renkei(
        &server.database.url,
        &[
            "upstream",
            "unlink",
            "--name",
            "entra",
            "--username",
            "misaki",
        ],
        None,
    );
    assert!(unlinked.status.success());
    let (browser, answer) = sign_in_through(&server, "entra").await;
    assert_eq!(refused(&server, &browser, answer).await.0, 403);
    let details = audit_details(&server).await;
    for expected in [
        "account misaki linked to subject m-misaki of upstream provider entra",
        "is of tenant",
        "is not linked to any account",
        "account misaki unlinked from upstream provider entra",
    ] {
        assert!(
            details.iter().any(|d| d.contains(expected)),
            "{expected}: {details:#?}"
        );
    }
}

async fn a_slow_or_unreachable_upstream_gets_a_clear_page(backend: Backend) {
    let server = board(backend).await;
    let google = provider(&server, "google", &["google"]);
    add(&server, &google, "google", |_| {}).await;
    google
        .sign_in_as(google_account("g-taro", "taro@sakura.ed.jp"))
        .await;

    // Slower than Renkei waits (3 s in the tests): a page, an audit record, no session.
    google.delay(4000).await;
    let (browser, answer) = sign_in_through(&server, "google").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 504, "{page}");
    assert!(page.contains("時間内に応答がありませんでした"), "{page}");
    google.delay(0).await;
    let (_, answer) = sign_in_through(&server, "google").await;
    assert_eq!(location(&answer), "/", "fast again");

    // Down: a process that has not read its discovery document yet cannot reach it.
    drop(google);
    let second = server.second_process().await;
    let browser = Browser::new();
    let answer = browser.get(&second.url("/login/upstream/google")).await;
    let (status, page) = refused(&second, &browser, answer).await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("接続できませんでした"), "{page}");
    let details = audit_details(&server).await;
    assert!(details.iter().any(|d| d.contains("did not answer in time")));
    assert!(details.iter().any(|d| d.contains("could not be reached")));
}

async fn a_person_links_their_own_account_and_the_board_rules_hold(backend: Backend) {
    use renkei_idp::assurance::{self, Requirement};
    let server = board(backend).await;
    let google = provider(&server, "google", &["google", "google-mfa", "kaede"]);
    add(&server, &google, "google", |_| {}).await;

    // Taro, signed in with his password, links his Google account from home. With a password
    // alone, only an account the roster confirms (his roster e-mail, verified) is linked.
    let browser = Browser::new();
    browser.sign_in(&server, "taro", PASSWORD).await;
    let link_from_home = |browser: &Browser| {
        let server = &server;
        let browser = browser.clone();
        async move {
            let home = browser.get(&server.url("/")).await.text().await.unwrap();
            assert!(
                home.contains("action=\"/login/upstream/google/link\""),
                "{home}"
            );
            let started = browser
                .post_form(
                    &server.url("/login/upstream/google/link"),
                    &[("csrf_token", &hidden(&home, "csrf_token"))],
                )
                .await;
            let upstream_url = location(&started);
            through_upstream(&browser, &upstream_url).await
        }
    };
    google
        .sign_in_as(google_account("g-classmate", "hanako@sakura.ed.jp"))
        .await;
    let answer = link_from_home(&browser).await;
    assert_eq!(answer.status(), 403);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("確認できませんでした")
    );
    google
        .sign_in_as(google_account("g-taro-tablet", "Taro@sakura.ed.jp"))
        .await;
    let answer = link_from_home(&browser).await;
    assert_eq!(location(&answer), "/");
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(
        home.contains("連携しました") && home.contains("action=\"/login/upstream/google/unlink\""),
        "{home}"
    );
    // The linked account signs Taro in whatever its e-mail becomes.
    google
        .sign_in_as(google_account("g-taro-tablet", "renamed@sakura.ed.jp"))
        .await;
    let (other, answer) = sign_in_through(&server, "google").await;
    assert_eq!(location(&answer), "/");
    assert!(signed_in_as(&server, &other).await.contains("山田 太郎"));
    // Someone holding Taro's printed card cannot link an account of theirs.
    let card = renkei_idp::card::issue(
        server.store.as_ref(),
        &server.audit,
        "test",
        &server.state.config.issuer,
        "taro",
        false,
    )
    .await
    .unwrap();
    let tablet = Browser::new();
    let page = tablet
        .get(&server.url("/login/card"))
        .await
        .text()
        .await
        .unwrap();
    let signed = tablet
        .post_form(
            &server.url("/login/card"),
            &[
                ("csrf_token", hidden(&page, "csrf_token").as_str()),
                ("request", ""),
                ("code", card.code.as_str()),
            ],
        )
        .await;
    assert_eq!(location(&signed), "/");
    let home = tablet.get(&server.url("/")).await.text().await.unwrap();
    let refused_link = tablet
        .post_form(
            &server.url("/login/upstream/google/link"),
            &[("csrf_token", &hidden(&home, "csrf_token"))],
        )
        .await;
    assert_eq!(refused_link.status(), 403);
    let unlink_by_card = tablet
        .post_form(
            &server.url("/login/upstream/google/unlink"),
            &[("csrf_token", &hidden(&home, "csrf_token"))],
        )
        .await;
    assert_eq!(unlink_by_card.status(), 403);
    // The administrator's new password for Taro (a compromise) removes what he linked.
    renkei_idp::user::set_password(
        server.store.as_ref(),
        &server.audit,
        "test",
        "taro",
        PASSWORD.to_owned(),
    )
    .await
    .unwrap();
    let (other, answer) = sign_in_through(&server, "google").await;
    assert_eq!(refused(&server, &other, answer).await.0, 403);

    // The board: teachers must use a passkey. An upstream password does not count…
    assurance::set(
        server.store.as_ref(),
        &server.audit,
        "test",
        "teacher",
        Requirement::Passkey,
        None,
    )
    .await
    .unwrap();
    google
        .sign_in_as(json!({
            "sub": "g-misaki", "email": "misaki@sakura.ed.jp", "email_verified": true,
            "hd": "sakura.ed.jp", "amr": ["pwd", "mfa"],
        }))
        .await;
    let (browser, answer) = sign_in_through(&server, "google").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 403);
    assert!(page.contains("パスキーでログインする決まり"), "{page}");
    // … unless the board trusts the upstream's word that it checked a second factor.
    add(&server, &google, "google-mfa", |new| new.trust_mfa = true).await;
    let app = server.web_app().await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    let to_login = browser
        .get(&code_request(&server, &app, "openid", &challenge, &[]))
        .await;
    let request = query_param(
        &url::Url::parse(&server.url(&location(&to_login))).unwrap(),
        "request",
    )
    .unwrap();
    let back = through_upstream(
        &browser,
        &server.url(&format!("/login/upstream/google-mfa?request={request}")),
    )
    .await;
    let back = approve(&server, &browser, &back, &request).await;
    let code = query_param(&back, "code").unwrap();
    let tokens: Value = support::exchange(&server, &app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["mfa", "pwd"]));
    assert_eq!(claims["acr"], upstream::ACR_UPSTREAM);

    // A school that signs in only through its own upstream: its page offers only that, and a
    // password signs none of its people in.
    add(&server, &google, "kaede", |new| {
        new.schools = vec!["kaede".into()];
        new.only = true;
        new.label_ja = Some("かえで小のGoogleでログイン".into());
    })
    .await;
    let page = Browser::new()
        .get(&server.url("/login?school=kaede"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("かえで小のGoogleでログイン")
            && !page.contains("href=\"/login/upstream/google\"")
            && !page.contains("name=\"password\""),
        "{page}"
    );
    let board_page = Browser::new()
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        board_page.contains("href=\"/login/upstream/google\"")
            && !board_page.contains("/login/upstream/kaede"),
        "{board_page}"
    );
    // A password neither signs its people in nor says whether it was right.
    for password in [PASSWORD, "wrong password"] {
        let answer = Browser::new()
            .sign_in(&server, "kaede-admin", password)
            .await;
        assert_eq!(answer.status(), 403, "{password}");
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("パスワードではログインできません")
        );
    }
    // Nor does the board's upstream sign in the people of a school that signs in only
    // through its own.
    google
        .sign_in_as(google_account("g-ren", "ren@kaede.ed.jp"))
        .await;
    let (browser, answer) = sign_in_through(&server, "google").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 403, "{page}");
    // A school's own upstream signs none of another school's people in.
    google
        .sign_in_as(google_account("g-hanako", "hanako@sakura.ed.jp"))
        .await;
    let (browser, answer) = sign_in_through(&server, "kaede").await;
    let (status, page) = refused(&server, &browser, answer).await;
    assert_eq!(status, 403);
    assert!(page.contains("あなたの学校では使えません"), "{page}");
}

async fn the_command_line_manages_upstreams(backend: Backend) {
    let server = board(backend).await;
    let google = provider(&server, "google", &["google"]);
    let url = server.database.url.clone();
    let issuer = server.state.config.issuer.clone();
    let renkei = |args: &[&str], stdin: Option<&str>| support::run_renkei(&url, args, stdin);
    let add_args = [
        "upstream",
        "add",
        "--name",
        "google",
        "--issuer",
        &google.issuer,
        "--client-id",
        CLIENT_ID,
        "--allowed-domain",
        "sakura.ed.jp",
        "--label-ja",
        "Googleでログイン",
        "--renkei-issuer",
        &issuer,
    ];

    // The secret is never an argument.
    let refused = renkei(&add_args, None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--client-secret-stdin"));
    let mut with_stdin = add_args.to_vec();
    with_stdin.push("--client-secret-stdin");
    let bad_name: Vec<&str> = with_stdin
        .iter()
        .map(|a| if *a == "google" { "Google!" } else { *a })
        .collect();
    let refused = renkei(&bad_name, Some(SECRET));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("lower-case letters"));
    let refused = renkei(
        &[
            "upstream",
            "add",
            "--name",
            "entra",
            "--preset",
            "microsoft",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        Some(SECRET),
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--tenant"));

    let added = renkei(&with_stdin, Some(SECRET));
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let printed: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(
        printed["redirect_uri"],
        format!("{issuer}/login/upstream/google/callback")
    );
    assert_eq!(printed["discovery"], "ok");
    assert_eq!(printed["link_by"], "email");
    let listed = renkei(&["upstream", "list", "--renkei-issuer", &issuer], None);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("\"name\":\"google\"") && !listed.contains(SECRET),
        "{listed}"
    );

    // It signs people in; switched off, its button goes and its sign-ins are refused.
    google
        .sign_in_as(google_account("g-taro", "taro@sakura.ed.jp"))
        .await;
    let (_, answer) = sign_in_through(&server, "google").await;
    assert_eq!(location(&answer), "/");
    let (signed_in, _) = sign_in_through(&server, "google").await;
    assert!(
        signed_in_as(&server, &signed_in)
            .await
            .contains("山田 太郎")
    );
    assert!(
        renkei(&["upstream", "disable", "--name", "google"], None)
            .status
            .success()
    );
    assert_eq!(
        signed_in_as(&server, &signed_in).await,
        "",
        "switching the upstream off ends its sign-ins"
    );
    let page = Browser::new()
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/login/upstream/google"), "{page}");
    let (browser, answer) = sign_in_through(&server, "google").await;
    assert_eq!(refused_status(&server, &browser, answer).await, 404);
    assert!(
        renkei(&["upstream", "enable", "--name", "google"], None)
            .status
            .success()
    );
    let (_, answer) = sign_in_through(&server, "google").await;
    assert_eq!(location(&answer), "/");
    // Removed, with its links.
    assert!(
        renkei(&["upstream", "remove", "--name", "google"], None)
            .status
            .success()
    );
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM upstream_links")
            .await,
        0
    );
    let gone = renkei(&["upstream", "remove", "--name", "google"], None);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("renkei upstream list"));
    let details = audit_details(&server).await;
    for expected in [
        "upstream provider google added",
        "upstream provider google switched off",
        "upstream provider google switched on",
        "upstream provider google removed",
    ] {
        assert!(details.iter().any(|d| d.contains(expected)), "{expected}");
    }
}

async fn refused_status(server: &TestServer, browser: &Browser, answer: reqwest::Response) -> u16 {
    refused(server, browser, answer).await.0
}

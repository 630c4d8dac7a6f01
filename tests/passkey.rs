//! Passkeys end to end over HTTP, on both databases: a signed-in pupil registers a passkey and
//! signs in with it without a username (through an app's code flow too), and every way a
//! passkey answer can be wrong is refused without a session: a replayed ceremony, a phishing
//! origin, a cloned key (counter gone backwards), a removed passkey, a disabled account,
//! another person's ceremony. The authenticator is `renkei_bench::authenticator::SoftPasskey`.

mod support;

use base64::Engine;
use renkei_bench::authenticator::SoftPasskey;
use serde_json::Value;
use support::{Backend, Browser, PASSWORD, TestServer, code_request, hidden, location, pkce};

/// The options a page's script fetches: `path` with the page's CSRF token in the header.
async fn options(browser: &Browser, server: &TestServer, path: &str, csrf: &str) -> Value {
    let response = browser
        .http
        .post(server.url(path))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "options from {path}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Opens a page with a passkey form (its script allowed to run, its form asking for options at
/// `options_path`) and does what the script does first: fetches the options. Returns the page's
/// CSRF token and the ceremony started.
async fn script_page(
    browser: &Browser,
    server: &TestServer,
    path: &str,
    options_path: &str,
) -> (String, Value) {
    let page = browser.get(&server.url(path)).await;
    assert_eq!(page.status(), 200, "{path}");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("data-passkey=\"{options_path}\"")),
        "{html}"
    );
    let csrf = hidden(&html, "csrf_token");
    let started = options(browser, server, options_path, &csrf).await;
    (csrf, started)
}

/// Posts a new credential for the ceremony `started` to the passkeys page's form.
async fn post_registration(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    started: &Value,
    credential: &Value,
    name: &str,
) -> reqwest::Response {
    let form = [
        ("csrf_token", csrf),
        ("ceremony", started["ceremony"].as_str().unwrap()),
        ("credential", &credential.to_string()),
        ("name", name),
    ];
    browser.post_form(&server.url("/passkeys"), &form).await
}

/// Signs `browser` in with its password and registers a passkey named `name`.
async fn register(
    browser: &Browser,
    server: &TestServer,
    username: &str,
    name: &str,
) -> SoftPasskey {
    register_as(browser, server, username, name, false).await
}

/// [`register`] a synced passkey (`synced`) or one held by one device.
async fn register_as(
    browser: &Browser,
    server: &TestServer,
    username: &str,
    name: &str,
    synced: bool,
) -> SoftPasskey {
    register_with_codes(browser, server, username, name, synced)
        .await
        .0
}

/// [`register_as`], with the recovery codes a first passkey comes with (none for a later one).
async fn register_with_codes(
    browser: &Browser,
    server: &TestServer,
    username: &str,
    name: &str,
    synced: bool,
) -> (SoftPasskey, Vec<String>) {
    let signed_in = browser.sign_in(server, username, support::PASSWORD).await;
    assert_eq!(location(&signed_in), "/");
    let (csrf, started) = script_page(browser, server, "/passkeys", "/passkeys/options").await;
    let public_key = &started["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    let (passkey, credential) = SoftPasskey::register_as(&server.base, public_key, synced).unwrap();
    let registered = post_registration(browser, server, &csrf, &started, &credential, name).await;
    // A first passkey comes with recovery codes, shown once; a later one goes back to the list.
    let codes = if registered.status() == 200 {
        let codes = recovery_codes_of(&registered.text().await.unwrap());
        assert_eq!(
            codes.len(),
            10,
            "a first passkey comes with ten recovery codes"
        );
        codes
    } else {
        assert_eq!(location(&registered), "/passkeys");
        Vec::new()
    };
    // A ceremony finishes once.
    let again = post_registration(browser, server, &csrf, &started, &credential, name).await;
    assert_eq!(again.status(), 400);
    (passkey, codes)
}

/// The recovery codes on the page that shows a new set.
fn recovery_codes_of(html: &str) -> Vec<String> {
    assert!(html.contains("<h1>回復コード</h1>"), "{html}");
    html.split("<li><code>")
        .skip(1)
        .map(|part| part[..part.find('<').unwrap()].to_owned())
        .collect()
}

/// A fresh browser asks to sign in with a passkey on `server`'s sign-in page (for `request`,
/// the kept authorization request, or none); returns its CSRF token and the ceremony started.
async fn start_sign_in(browser: &Browser, server: &TestServer, request: &str) -> (String, Value) {
    let path = if request.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?request={request}")
    };
    let (csrf, started) = script_page(browser, server, &path, "/login/passkey/options").await;
    assert_eq!(started["publicKey"]["rpId"], "localhost");
    assert_eq!(started["publicKey"]["userVerification"], "required");
    let allowed = started["publicKey"]["allowCredentials"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(allowed, 0, "a discoverable sign-in names no credential");
    (csrf, started)
}

/// Posts a passkey answer to the sign-in form.
async fn finish_sign_in(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    request: &str,
    ceremony: &Value,
    credential: &Value,
) -> reqwest::Response {
    browser
        .post_form(
            &server.url("/login/passkey"),
            &[
                ("csrf_token", csrf),
                ("request", request),
                ("ceremony", ceremony["ceremony"].as_str().unwrap()),
                ("credential", &credential.to_string()),
            ],
        )
        .await
}

/// An app's code flow in a fresh browser, signed in with `passkey` on `server`'s page and
/// finished on `second` (another process), approving if asked; the ID token's claims.
async fn app_sign_in_claims(
    server: &TestServer,
    second: &TestServer,
    app: &support::TestClient,
    passkey: &mut SoftPasskey,
) -> Value {
    app_sign_in_claims_asking(server, second, app, passkey, &[]).await
}

/// [`app_sign_in_claims`] with `extra` parameters in the authorization request.
async fn app_sign_in_claims_asking(
    server: &TestServer,
    second: &TestServer,
    app: &support::TestClient,
    passkey: &mut SoftPasskey,
    extra: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = support::pkce();
    let mut params = vec![("nonce", "n")];
    params.extend_from_slice(extra);
    let url = support::code_request(server, app, "openid profile", &challenge, &params);
    let browser = Browser::new();
    let to_login = browser.get(&url).await;
    let login = url::Url::parse(&server.url(&location(&to_login))).unwrap();
    let request = support::query_param(&login, "request").unwrap();
    let (csrf, started) = start_sign_in(&browser, server, &request).await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let mut back =
        location(&finish_sign_in(&browser, second, &csrf, &request, &started, &answer).await);
    if back.starts_with("/consent") {
        let consent = browser.get(&server.url(&back)).await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden(&consent, "csrf_token")),
            ("request", request.clone()),
            ("decision", "approve".to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        back = location(&browser.post_form(&server.url("/consent"), &form).await);
    }
    let back = url::Url::parse(&back).unwrap();
    let code = support::query_param(&back, "code").unwrap();
    let tokens: Value = support::exchange(server, app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// `username` signs in with the password and asks, on the passkeys page, to remove the passkey
/// `credential_id`.
async fn remove_on_page(
    server: &TestServer,
    username: &str,
    credential_id: &str,
) -> reqwest::Response {
    let browser = Browser::new();
    browser.sign_in(server, username, support::PASSWORD).await;
    let page = browser
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    browser
        .post_form(
            &server.url("/passkeys/delete"),
            &[
                ("csrf_token", hidden(&page, "csrf_token").as_str()),
                ("credential_id", credential_id),
            ],
        )
        .await
}

/// Whether `browser` has a session (the home page names its user).
async fn signed_in(browser: &Browser, server: &TestServer) -> bool {
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    home.contains("山田 太郎")
}

/// Asserts a refused passkey answer: the sign-in page again with the one message, no session.
async fn assert_refused(response: reqwest::Response, browser: &Browser, server: &TestServer) {
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("パスキーでログインできませんでした"),
        "{html}"
    );
    assert!(!signed_in(browser, server).await);
}

async fn a_pupil_signs_in_with_a_passkey_and_no_username(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    server.user("hanako", "student").await;
    let owner = Browser::new();
    let mut passkey = register(&owner, &server, "hanako", "学校のiPad").await;
    let listed = owner
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("学校のiPad") && listed.contains("未使用の回復コード：10"),
        "{listed}"
    );

    // Signing in on the provider's own page: home, with a session.
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_eq!(location(&response), "/");
    assert!(signed_in(&browser, &server).await);
    let listed = owner
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("最後に使った日"), "{listed}");
    // Dates in Japanese form (Japan time), facts joined without a Latin separator.
    let japanese = support::japanese_today();
    assert!(
        listed.contains(&format!("登録：{japanese}、最後に使った日：{japanese}")),
        "{listed}"
    );

    // The same answer again: its ceremony is spent.
    let replayed = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_eq!(replayed.status(), 400);

    // An app's code flow: the sign-in started on one process finishes on another, and the ID
    // token says how the pupil signed in.
    let second = server.second_process().await;
    let app = server.web_app().await;
    let claims = app_sign_in_claims(&server, &second, &app, &mut passkey).await;
    assert_eq!(claims["acr"], "urn:renkei:acr:passkey");
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "mfa"]));
    // A synced passkey (the authenticator says it may be backed up) is not a hardware key.
    let mut synced = register_as(&Browser::new(), &server, "hanako", "スマホ", true).await;
    let claims = app_sign_in_claims(&server, &second, &app, &mut synced).await;
    assert_eq!(claims["amr"], serde_json::json!(["swk", "mfa"]));
    let discovery: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("urn:renkei:acr:passkey"))
    );
    second.stop().await;
    server.stop().await;
}

async fn wrong_passkey_answers_sign_no_one_in(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    let pupil = server.user("hanako", "student").await;
    let taro = server.user("taro", "student").await;
    let mut passkey = register(&Browser::new(), &server, "hanako", "iPad").await;

    // Signed on a phishing page: the origin in the signed client data is not ours.
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let challenge = started["publicKey"]["challenge"].as_str().unwrap();
    let phished = passkey.assertion(challenge, "http://localhost.evil.example");
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &phished).await;
    assert_refused(response, &browser, &server).await;

    // A tampered answer: the signature no longer matches.
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let mut tampered = passkey.sign_in(&started["publicKey"]).unwrap();
    tampered["response"]["signature"] = Value::from("MEUCIQ");
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &tampered).await;
    assert_refused(response, &browser, &server).await;

    // Hanako's key answering in Taro's name: the passkey does not belong to that account.
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let taro_handle = uuid::Uuid::parse_str(&taro.id).unwrap();
    let mut impostor = passkey.sign_in(&started["publicKey"]).unwrap();
    impostor["response"]["userHandle"] = Value::from(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(taro_handle.as_bytes()),
    );
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &impostor).await;
    assert_refused(response, &browser, &server).await;

    // The device did not verify its user (no fingerprint, face or PIN): refused.
    passkey.set_user_verified(false);
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let unverified = passkey.sign_in(&started["publicKey"]).unwrap();
    passkey.set_user_verified(true);
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &unverified).await;
    assert_refused(response, &browser, &server).await;

    // A good sign-in, then a copy of the key whose counter has not moved on (a clone).
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_eq!(location(&response), "/");
    let clone_browser = Browser::new();
    passkey.set_counter(0);
    let (csrf, started) = start_sign_in(&clone_browser, &server, "").await;
    let cloned = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&clone_browser, &server, &csrf, "", &started, &cloned).await;
    assert_refused(response, &clone_browser, &server).await;
    passkey.set_counter(10);

    // The account is disabled: its passkey signs no one in.
    server
        .execute_sql(&format!(
            "UPDATE users SET enabled = FALSE WHERE id = '{}'",
            pupil.id
        ))
        .await;
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_refused(response, &browser, &server).await;
    server
        .execute_sql(&format!(
            "UPDATE users SET enabled = TRUE WHERE id = '{}'",
            pupil.id
        ))
        .await;

    // Someone else cannot remove it; its owner can, and then it signs no one in.
    let removed = remove_on_page(&server, "taro", &passkey.credential_id()).await;
    assert_eq!(location(&removed), "/passkeys");
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_eq!(
        location(&response),
        "/",
        "taro's attempt removed hanako's passkey"
    );

    let removed = remove_on_page(&server, "hanako", &passkey.credential_id()).await;
    assert_eq!(location(&removed), "/passkeys");
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_refused(response, &browser, &server).await;
    server.stop().await;
}

async fn registration_is_bound_to_its_person_and_page(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    server.user("hanako", "student").await;
    server.user("taro", "student").await;
    let hanako = Browser::new();
    hanako.sign_in(&server, "hanako", support::PASSWORD).await;
    let page = hanako
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");

    // The options need the page's CSRF token.
    let forged = hanako
        .http
        .post(server.url("/passkeys/options"))
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // Hanako's ceremony, finished in Taro's session: refused, nothing registered.
    let started = options(&hanako, &server, "/passkeys/options", &csrf).await;
    let (_, credential) = SoftPasskey::register(&server.base, &started["publicKey"]).unwrap();
    let taro = Browser::new();
    taro.sign_in(&server, "taro", support::PASSWORD).await;
    let taro_page = taro
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let taro_csrf = hidden(&taro_page, "csrf_token");
    let refused = post_registration(
        &taro,
        &server,
        &taro_csrf,
        &started,
        &credential,
        "盗んだ鍵",
    )
    .await;
    assert_eq!(refused.status(), 400);

    // A passkey made on another site's page is refused; a nameless one too.
    let started = options(&hanako, &server, "/passkeys/options", &csrf).await;
    let (_, credential) =
        SoftPasskey::register("http://localhost.evil.example", &started["publicKey"]).unwrap();
    let refused = post_registration(&hanako, &server, &csrf, &started, &credential, "iPad").await;
    assert_eq!(refused.status(), 400);
    let started = options(&hanako, &server, "/passkeys/options", &csrf).await;
    let (_, credential) = SoftPasskey::register(&server.base, &started["publicKey"]).unwrap();
    let nameless = post_registration(&hanako, &server, &csrf, &started, &credential, "  ").await;
    assert_eq!(nameless.status(), 400);
    assert!(nameless.text().await.unwrap().contains("60文字以内"));
    for browser in [&hanako, &taro] {
        let page = browser
            .get(&server.url("/passkeys"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("登録されているパスキーはありません"),
            "{page}"
        );
    }

    // A session from long ago may look at its passkeys but not add one.
    server
        .execute_sql("UPDATE sessions SET auth_time = auth_time - 3600")
        .await;
    let page = hanako
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("data-passkey=\"/passkeys/options\""),
        "{page}"
    );
    let stale = hanako
        .http
        .post(server.url("/passkeys/options"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
    server.stop().await;
}

/// Signs in with `passkey` from a fresh browser; whether a session came of it.
async fn passkey_signs_in(server: &TestServer, passkey: &mut SoftPasskey) -> bool {
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let response = finish_sign_in(&browser, server, &csrf, "", &started, &answer).await;
    response.status() == 303 && signed_in(&browser, server).await
}

async fn an_administrator_removes_a_lost_tablets_passkeys(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    server.user("hanako", "student").await;
    let mut lost = register(&Browser::new(), &server, "hanako", "なくしたiPad").await;
    let mut home = register(&Browser::new(), &server, "hanako", "家のパソコン").await;
    let url = server.database.url.clone();
    let list = |url: String| async move {
        let output = support::run_renkei(&url, &["user", "passkeys", "--username", "hanako"], None);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .collect::<Vec<_>>()
    };
    let listed = list(url.clone()).await;
    assert_eq!(listed.len(), 2);
    let lost_row = listed.iter().find(|p| p["name"] == "なくしたiPad").unwrap();
    assert_eq!(lost_row["credential_id"], lost.credential_id());

    // A passkey the account does not have: an error that says how to find the right one.
    let wrong = support::run_renkei(
        &url,
        &[
            "user",
            "remove-passkeys",
            "--username",
            "hanako",
            "--credential-id",
            "nope",
        ],
        None,
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("renkei user passkeys --username hanako")
    );
    assert_eq!(list(url.clone()).await.len(), 2, "nothing removed");

    // The lost tablet's passkey goes; the other still signs in.
    let removed = support::run_renkei(
        &url,
        &[
            "user",
            "remove-passkeys",
            "--username",
            "hanako",
            "--credential-id",
            &lost.credential_id(),
        ],
        None,
    );
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!passkey_signs_in(&server, &mut lost).await);
    assert!(passkey_signs_in(&server, &mut home).await);

    // All of them, while a tablet is signed in: it is signed out too.
    let tablet = Browser::new();
    let (csrf, started) = start_sign_in(&tablet, &server, "").await;
    let answer = home.sign_in(&started["publicKey"]).unwrap();
    finish_sign_in(&tablet, &server, &csrf, "", &started, &answer).await;
    assert!(signed_in(&tablet, &server).await);
    let removed = support::run_renkei(
        &url,
        &["user", "remove-passkeys", "--username", "hanako"],
        None,
    );
    assert!(removed.status.success());
    let removed: Value = serde_json::from_slice(&removed.stdout).unwrap();
    assert_eq!(removed["removed"], 1);
    assert!(
        removed["sessions_ended"].as_u64().unwrap() >= 1,
        "{removed}"
    );
    assert!(!signed_in(&tablet, &server).await);
    assert!(list(url.clone()).await.is_empty());
    assert!(!passkey_signs_in(&server, &mut home).await);

    let exported = support::run_renkei(&url, &["audit", "export"], None);
    let audit = String::from_utf8_lossy(&exported.stdout);
    assert!(
        audit.contains("1 passkey(s) of account hanako removed: なくしたiPad"),
        "{audit}"
    );
    assert!(
        audit.contains("1 passkey(s) of account hanako removed: 家のパソコン"),
        "{audit}"
    );
    server.stop().await;
}

async fn passkeys_are_off_when_the_issuer_is_an_ip_address(backend: Backend) {
    let server = TestServer::start(backend).await;
    let login = Browser::new().get(&server.url("/login")).await;
    let policy = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!policy.contains("script-src"), "{policy}");
    let html = login.text().await.unwrap();
    assert!(!html.contains("data-passkey"), "{html}");
    assert_eq!(
        Browser::new().get(&server.url("/passkeys")).await.status(),
        404
    );
    let discovery: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["urn:renkei:acr:password", "urn:renkei:acr:card"]),
        "no passkey class without passkeys"
    );
    server.stop().await;
}

/// An app that asks for a phishing-resistant sign-in (`acr_values`) gets one: a password
/// session is not enough, the sign-in page offers only the passkey (and refuses a password
/// posted anyway), and the ID token says a passkey was checked.
async fn an_app_that_asks_for_a_passkey_gets_a_passkey_sign_in(backend: Backend) {
    const PASSKEY: &str = "urn:renkei:acr:passkey";
    let server = TestServer::start_on_localhost(backend).await;
    server.user("hanako", "student").await;
    let owner = Browser::new();
    let mut passkey = register(&owner, &server, "hanako", "学校のiPad").await;
    let app = server.web_app().await;
    let (_, challenge) = support::pkce();
    // The owner's browser holds a password session: enough for an app that does not ask…
    let plain = support::code_request(&server, &app, "openid", &challenge, &[]);
    let answered = location(&owner.get(&plain).await);
    assert!(!answered.starts_with("/login"), "{answered}");
    // …but not for one that asks for a passkey.
    // A list that also accepts the password class requires nothing.
    let either = support::code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", &format!("{PASSKEY} urn:renkei:acr:password"))],
    );
    let answered = location(&owner.get(&either).await);
    assert!(!answered.starts_with("/login"), "{answered}");
    let asking = support::code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", &format!("{PASSKEY} urn:example:unknown"))],
    );
    let to_login = location(&owner.get(&asking).await);
    assert!(to_login.starts_with("/login?request="), "{to_login}");
    let login = url::Url::parse(&server.url(&to_login)).unwrap();
    let request = support::query_param(&login, "request").unwrap();
    let page = owner
        .get(&server.url(&to_login))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("このアプリを使うには、パスキーでのログインが必要です。"),
        "{page}"
    );
    assert!(!page.contains("name=\"password\""), "no password form");
    assert!(
        page.contains("data-passkey-unsupported hidden>このブラウザーではパスキーを使えません。")
            && page
                .contains("<noscript><p class=\"error\">このブラウザーではパスキーを使えません。"),
        "a browser without passkeys (or without script) is told so: {page}"
    );
    let refused = owner
        .post_form(
            &server.url("/login"),
            &[
                ("csrf_token", hidden(&page, "csrf_token").as_str()),
                ("request", request.as_str()),
                ("username", "hanako"),
                ("password", support::PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status(), 200, "a password is not enough: no code");
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("このアプリには、パスワードではログインできません。")
    );
    // Signed in with the passkey for the request, the pupil is asked to approve; a password
    // sign-in made meanwhile outside the request does not carry the approval through.
    let (csrf, started) = start_sign_in(&owner, &server, &request).await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let to_approval =
        location(&finish_sign_in(&owner, &server, &csrf, &request, &started, &answer).await);
    assert!(
        to_approval.starts_with("/consent?request="),
        "{to_approval}"
    );
    owner.sign_in(&server, "hanako", support::PASSWORD).await;
    let approval = owner.get(&server.url(&to_approval)).await;
    assert!(
        location(&approval).starts_with("/login?request="),
        "the password session is sent back to sign in with the passkey"
    );
    let claims = app_sign_in_claims_asking(
        &server,
        &server,
        &app,
        &mut passkey,
        &[("acr_values", PASSKEY)],
    )
    .await;
    assert_eq!(claims["acr"], PASSKEY);
    // prompt=none cannot sign in: the app is told so.
    let silent = support::code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", PASSKEY), ("prompt", "none")],
    );
    let answer = url::Url::parse(&location(&owner.get(&silent).await)).unwrap();
    assert_eq!(
        support::query_param(&answer, "error").as_deref(),
        Some("login_required")
    );
    server.stop().await;
}

/// Removing a passkey signs out the devices signed in with a passkey (a lost tablet that
/// holds it), and ends their apps' grants; the person's own session stays.
async fn removing_a_passkey_signs_out_passkey_sessions_elsewhere(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    server.user("hanako", "student").await;
    let owner = Browser::new();
    let mut passkey = register(&owner, &server, "hanako", "なくしたiPad").await;
    let tablet = Browser::new();
    let (csrf, started) = start_sign_in(&tablet, &server, "").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    finish_sign_in(&tablet, &server, &csrf, "", &started, &answer).await;
    assert!(signed_in(&tablet, &server).await);
    let page = owner
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let removed = owner
        .post_form(
            &server.url("/passkeys/delete"),
            &[
                ("csrf_token", hidden(&page, "csrf_token").as_str()),
                ("credential_id", passkey.credential_id().as_str()),
            ],
        )
        .await;
    assert_eq!(location(&removed), "/passkeys");
    assert!(
        !signed_in(&tablet, &server).await,
        "the tablet is signed out"
    );
    assert!(
        signed_in(&owner, &server).await,
        "the owner's own session stays"
    );
    server.stop().await;
}

on_both_databases!(
    staff_must_use_a_passkey_once_the_board_says_so,
    removing_a_passkey_signs_out_passkey_sessions_elsewhere,
    an_app_that_asks_for_a_passkey_gets_a_passkey_sign_in,
    a_pupil_signs_in_with_a_passkey_and_no_username,
    wrong_passkey_answers_sign_no_one_in,
    registration_is_bound_to_its_person_and_page,
    an_administrator_removes_a_lost_tablets_passkeys,
    passkeys_are_off_when_the_issuer_is_an_ip_address,
    a_recovery_code_brings_back_a_lost_passkey,
);

/// The board's assurance policy: teachers must use a passkey. During the grace period a
/// teacher's password sign-in works and is followed by a page asking to enrol one ("later"
/// continues to the app); after it, a password alone signs no teacher in, while the teacher's
/// passkey does and pupils' passwords still do. Setting the policy is audited.
async fn staff_must_use_a_passkey_once_the_board_says_so(backend: Backend) {
    use renkei_idp::assurance::{self, Requirement};
    let server = TestServer::start_on_localhost(backend).await;
    server.user("sensei", "teacher").await;
    server.user("hanako", "student").await;
    let mut passkey = register(&Browser::new(), &server, "sensei", "職員室のPC").await;
    let tomorrow = time::OffsetDateTime::now_utc()
        .to_offset(renkei_platform::clock::JAPAN)
        .date()
        .next_day()
        .unwrap()
        .to_string();
    let rule = assurance::set(
        server.store.as_ref(),
        &server.audit,
        "test",
        "teacher",
        Requirement::Passkey,
        Some(&tomorrow),
    )
    .await
    .unwrap();
    assert_eq!(rule.grace_until.as_deref(), Some(tomorrow.as_str()));

    // Within the grace period: signed in, asked to enrol; "later" goes on to the app.
    let app = server.web_app().await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    let start = browser
        .get(&code_request(
            &server,
            &app,
            "openid",
            &challenge,
            &[("state", "s")],
        ))
        .await;
    let login = location(&start);
    let html = browser.get(&server.url(&login)).await.text().await.unwrap();
    let request = hidden(&html, "request");
    let prompt = browser
        .post_form(
            &server.url("/login"),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("request", &request),
                ("username", "sensei"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(prompt.status(), 200);
    let prompt = prompt.text().await.unwrap();
    let register_now = format!("/passkeys?continue={request}");
    assert!(
        prompt.contains("パスキーを登録してください")
            && prompt.contains(&format!("href=\"{register_now}\"")),
        "register now, keeping the app's sign-in: {prompt}"
    );
    let passkeys_page = browser
        .get(&server.url(&register_now))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        passkeys_page.contains(&format!("name=\"continue\" value=\"{request}\""))
            && passkeys_page.contains("action=\"/login/later\"")
            && passkeys_page.contains("アプリに進む"),
        "the passkeys page goes on to the app afterwards: {passkeys_page}"
    );
    // Registering there keeps the way on to the app.
    let (csrf, started) = script_page(&browser, &server, &register_now, "/passkeys/options").await;
    let (_, credential) =
        SoftPasskey::register_as(&server.base, &started["publicKey"], false).unwrap();
    let registered = browser
        .post_form(
            &server.url("/passkeys"),
            &[
                ("csrf_token", csrf.as_str()),
                ("ceremony", started["ceremony"].as_str().unwrap()),
                ("credential", &credential.to_string()),
                ("name", "職員室のiPad"),
                ("continue", request.as_str()),
            ],
        )
        .await;
    assert_eq!(location(&registered), register_now);
    let later = browser
        .post_form(
            &server.url("/login/later"),
            &[
                ("csrf_token", &hidden(&prompt, "csrf_token")),
                ("request", &request),
            ],
        )
        .await;
    let consent = location(&later);
    assert!(consent.starts_with("/consent?"), "on to the app: {consent}");
    let page = browser
        .get(&server.url(&consent))
        .await
        .text()
        .await
        .unwrap();
    let approved = browser
        .post_form(
            &server.url("/consent"),
            &[
                ("csrf_token", &hidden(&page, "csrf_token")),
                ("request", &hidden(&page, "request")),
                ("decision", "approve"),
            ],
        )
        .await;
    let back = url::Url::parse(&location(&approved)).unwrap();
    let code = support::query_param(&back, "code").expect("a code for the app");
    let tokens: Value = support::exchange(&server, &app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // After the grace period: a teacher's password alone is refused; a passkey is not.
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
    let refused = Browser::new();
    let answer = refused.sign_in(&server, "sensei", PASSWORD).await;
    assert_eq!(answer.status(), 403);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("パスキーでのログインが必要です") && text.contains("学校の管理者"),
        "{text}"
    );
    let wrong = Browser::new()
        .sign_in(&server, "sensei", "not the password")
        .await;
    assert_eq!(
        wrong.status(),
        403,
        "the same answer for a wrong password: it confirms no password"
    );
    // What the grace-period sign-in made stops counting too: its session signs nobody in to
    // an app, and its refresh token is refused.
    let (_, challenge) = pkce();
    let again = browser
        .get(&code_request(
            &server,
            &app,
            "openid",
            &challenge,
            &[("state", "t")],
        ))
        .await;
    assert!(
        location(&again).starts_with("/login?"),
        "the password session no longer counts: {}",
        location(&again)
    );
    let refreshed = support::refresh(&server, &app, &refresh_token).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(
        refreshed.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let home = refused.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("ログインしていません"), "no session: {home}");
    assert!(
        passkey_signs_in(&server, &mut passkey).await,
        "the passkey signs the teacher in"
    );
    assert_eq!(
        location(&Browser::new().sign_in(&server, "hanako", PASSWORD).await),
        "/",
        "pupils are not under the teachers' rule"
    );
    assert!(
        assurance::set(
            server.store.as_ref(),
            &server.audit,
            "test",
            "principal",
            Requirement::Passkey,
            None,
        )
        .await
        .is_err()
    );
    server.audit.flush().await;
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM audit_events WHERE event LIKE '%assurance policy of role teacher%'")
            .await,
        2
    );
    server.stop().await;
}

/// Posts the recovery sign-in form in `browser` (a fresh page's CSRF token), for the pending
/// authorization `request` (empty: none).
async fn recover(
    browser: &Browser,
    server: &TestServer,
    username: &str,
    password: &str,
    code: &str,
    request: &str,
) -> reqwest::Response {
    let page = browser.get(&server.url("/login/recovery")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    browser
        .post_form(
            &server.url("/login/recovery"),
            &[
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("request", request),
                ("username", username),
                ("password", password),
                ("code", code),
            ],
        )
        .await
}

/// An administrator whose only passkey is lost signs in with the password and a printed
/// recovery code (once each; a wrong password or code signs no one in and leaves the code),
/// lands on the passkeys page, registers a new passkey there (which the password alone may
/// not), and reaches no app with the recovery session where the board requires a passkey; new
/// codes need a passkey sign-in and void the old ones; the administrator's reset voids them
/// too; each step is audited.
async fn a_recovery_code_brings_back_a_lost_passkey(backend: Backend) {
    use renkei_idp::assurance::{self, Requirement};
    let server = TestServer::start_on_localhost(backend).await;
    server.user("kocho", "administrator").await;
    let (mut lost, codes) =
        register_with_codes(&Browser::new(), &server, "kocho", "なくしたPC", false).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3)
    );
    assert!(passkey_signs_in(&server, &mut lost).await);
    // With a passkey registered, the administrator's password alone adds no other.
    let password_only = Browser::new();
    password_only.sign_in(&server, "kocho", PASSWORD).await;
    let page = password_only
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let refused = password_only
        .http
        .post(server.url("/passkeys/options"))
        .header("x-csrf-token", hidden(&page, "csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // The board: administrators must use a passkey.
    assurance::set(
        server.store.as_ref(),
        &server.audit,
        "test",
        "administrator",
        Requirement::Passkey,
        None,
    )
    .await
    .unwrap();

    // The sign-in page leads to the recovery page.
    let login = Browser::new()
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(login.contains("href=\"/login/recovery\""), "{login}");

    // A wrong code, a malformed one, or the right code with a wrong password: refused, with
    // one message, no session, and the code left unused.
    let device = Browser::new();
    for (password, code) in [
        (PASSWORD, "abcd-efgh-jkmn-pqrs"),
        (PASSWORD, "not a code"),
        ("wrong password", codes[0].as_str()),
    ] {
        let refused = recover(&device, &server, "kocho", password, code, "").await;
        assert_eq!(refused.status(), 200);
        let html = refused.text().await.unwrap();
        assert!(
            html.contains("ユーザー名、パスワード、または回復コードが正しくありません")
                && html.contains("aria-invalid=\"true\""),
            "{html}"
        );
        assert!(!signed_in(&device, &server).await);
    }

    // The password and a code, typed in capitals without hyphens: signed in, sent to register
    // a new passkey.
    let typed = codes[0].replace('-', "").to_uppercase();
    let recovered = recover(&device, &server, "kocho", PASSWORD, &typed, "").await;
    assert_eq!(location(&recovered), "/passkeys");
    let page = device
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("回復コードでログインしました") && page.contains("未使用の回復コード：9"),
        "{page}"
    );
    assert!(
        page.contains("パスキーでログインし直してください")
            && !page.contains("action=\"/passkeys/recovery-codes\""),
        "a recovery session makes no new codes: {page}"
    );
    // A code works once.
    let again = recover(&Browser::new(), &server, "kocho", PASSWORD, &codes[0], "").await;
    assert_eq!(again.status(), 200);

    // The recovery session reaches no app while the board requires a passkey.
    let app = server.web_app().await;
    let (_, challenge) = pkce();
    let to_app = device
        .get(&code_request(&server, &app, "openid", &challenge, &[]))
        .await;
    assert!(
        location(&to_app).starts_with("/login?request="),
        "{to_app:?}"
    );

    // The recovery session adds a passkey (which the administrator's password alone may not).
    let (csrf, started) = script_page(&device, &server, "/passkeys", "/passkeys/options").await;
    let (mut new_passkey, credential) =
        SoftPasskey::register(&server.base, &started["publicKey"]).unwrap();
    let registered =
        post_registration(&device, &server, &csrf, &started, &credential, "新しいPC").await;
    assert_eq!(
        location(&registered),
        "/passkeys",
        "codes are left: no new set"
    );

    // Signed in with the new passkey: new codes, and the old ones stop working.
    let browser = Browser::new();
    let (csrf, started) = start_sign_in(&browser, &server, "").await;
    let answer = new_passkey.sign_in(&started["publicKey"]).unwrap();
    let signed = finish_sign_in(&browser, &server, &csrf, "", &started, &answer).await;
    assert_eq!(location(&signed), "/");
    let page = browser
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("action=\"/passkeys/recovery-codes\""),
        "{page}"
    );
    let forged = browser
        .post_form(
            &server.url("/passkeys/recovery-codes"),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let renewed = browser
        .post_form(
            &server.url("/passkeys/recovery-codes"),
            &[("csrf_token", hidden(&page, "csrf_token").as_str())],
        )
        .await;
    assert_eq!(renewed.status(), 200);
    assert_eq!(renewed.headers()["cache-control"], "no-store");
    let new_codes = recovery_codes_of(&renewed.text().await.unwrap());
    assert_eq!(new_codes.len(), 10);
    let old = recover(&Browser::new(), &server, "kocho", PASSWORD, &codes[1], "").await;
    assert_eq!(old.status(), 200, "an old code no longer works");
    // The recovery session itself cannot renew.
    let page = device
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let refused = device
        .post_form(
            &server.url("/passkeys/recovery-codes"),
            &[("csrf_token", hidden(&page, "csrf_token").as_str())],
        )
        .await;
    assert_eq!(refused.status(), 403);

    // The administrator's reset (every passkey removed) voids the codes too.
    let reset = support::run_renkei(
        &server.database.url,
        &["user", "remove-passkeys", "--username", "kocho"],
        None,
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let reset: Value = serde_json::from_slice(&reset.stdout).unwrap();
    assert_eq!(reset["recovery_codes_voided"], 10);
    let voided = recover(
        &Browser::new(),
        &server,
        "kocho",
        PASSWORD,
        &new_codes[0],
        "",
    )
    .await;
    assert_eq!(voided.status(), 200);
    assert!(!passkey_signs_in(&server, &mut new_passkey).await);

    // Audited: the codes made, the recovery sign-in, the reset.
    let details: Vec<String> = server
        .audit_events(Default::default())
        .await
        .into_iter()
        .map(|e| e.event.detail.unwrap_or_default())
        .collect();
    for expected in [
        "10 new recovery codes made for account kocho",
        "account kocho signed in with its password and a recovery code (9 left)",
        "10 unused recovery code(s) voided",
    ] {
        assert!(
            details.iter().any(|d| d.contains(expected)),
            "{expected}: {details:#?}"
        );
    }
}

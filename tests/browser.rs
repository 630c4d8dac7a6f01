//! The sign-in pages in a real browser: headless Chromium (Debian's `chromium` with
//! `chromium-driver`) driven over WebDriver signs in a pupil through the Japanese pages and
//! approves an app, which receives its code; and a pupil creates a passkey in Chromium's
//! virtual authenticator (WebDriver's WebAuthn extension) and signs in with it through our
//! script. Screenshots land in `target/screenshots/`.
//! The test fails (never skips) when Chromium or ChromeDriver is missing.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use renkei_idp::client::NewClient;
use serde_json::{Value, json};
use support::*;

on_both_databases!(
    administrator_runs_the_console_in_chromium,
    newcomer_tries_the_demo_in_chromium,
    guardian_agrees_on_the_account_page_in_chromium,
    pupil_signs_in_and_approves_in_chromium,
    pupil_creates_a_passkey_and_signs_in_with_it_in_chromium,
    a_class_signs_in_with_printed_cards_in_chromium,
    a_pupil_signs_in_through_the_boards_google_in_chromium
);

/// WebDriver's WebAuthn extension: gives the browsing session a virtual platform
/// authenticator that keeps discoverable credentials and verifies its user.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// ChromeDriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
    profile: std::path::PathBuf,
}

impl Driver {
    fn start() -> Self {
        for binary in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: install Debian's chromium and chromium-driver packages (./scripts/test does this)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("renkei-chromium-{}", uuid::Uuid::new_v4().simple()));
        Self {
            child,
            port,
            profile,
        }
    }

    /// A new browsing session, with its own profile (its own cookies): two sessions are two
    /// people on two devices.
    async fn client(&self) -> fantoccini::Client {
        self.client_with(&[]).await
    }

    /// [`Driver::client`] with more command-line switches for Chromium (a fake camera).
    async fn client_with(&self, extra: &[String]) -> fantoccini::Client {
        let profile = self.profile.join(uuid::Uuid::new_v4().simple().to_string());
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=820,1180",
            "--lang=ja",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend_from_slice(extra);
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": {"intl.accept_languages": "ja-JP,ja"}
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{}", self.port);
        for _ in 0..50 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return client,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("chromedriver did not answer on {url}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A relying party's callback on a loopback port: records the query it is called with.
async fn callback_server() -> (String, tokio::sync::mpsc::Receiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |uri: axum::http::Uri| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(uri.query().unwrap_or_default().to_owned()).await;
                "アプリに戻りました"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/callback"), rx)
}

/// The page's main heading.
async fn heading_of(client: &fantoccini::Client) -> String {
    text_of(client, "h1").await
}

/// Waits until the page's main heading is `expected` (after a click that navigates), and
/// fails with the heading it kept showing.
async fn wait_for_heading(client: &fantoccini::Client, expected: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = match client.find(Locator::Css("h1")).await {
            Ok(h1) => h1.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if seen == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the heading stayed {seen:?}, expected {expected:?}");
}

/// Uploads `export` on the roster page with the button `action` (`dry-run` or `apply`) and
/// follows the import's page until it is done: what it says then.
async fn upload_roster(
    client: &fantoccini::Client,
    export: &std::path::Path,
    action: &str,
) -> String {
    client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(export.to_str().unwrap())
        .await
        .unwrap();
    click(client, &format!("button[value={action}]")).await;
    let mut state = text_of(client, "#job-state").await;
    for _ in 0..50 {
        if state != "取り込んでいます。しばらくしてから状況を更新してください。"
        {
            break;
        }
        click(client, "a.button.primary").await;
        state = text_of(client, "#job-state").await;
    }
    state
}

/// Waits until the first element `css` selects holds `needle` (after a form that reloads the
/// same page), and fails with the text it kept showing.
async fn wait_for_text(client: &fantoccini::Client, css: &str, needle: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if seen.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} stayed {seen:?}, without {needle:?}");
}

/// The text of the first element `css` selects, once there is one, as a reader reads it:
/// furigana (ruby readings) left out.
async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    let element = client.wait().for_element(Locator::Css(css)).await.unwrap();
    let text = client
        .execute(
            "const copy = arguments[0].cloneNode(true); \
             copy.querySelectorAll('rt, rp').forEach(e => e.remove()); \
             return copy.innerText;",
            vec![serde_json::to_value(element).unwrap()],
        )
        .await
        .unwrap();
    text.as_str().unwrap_or_default().to_owned()
}

/// Clicks the first element `css` selects, once there is one.
async fn click(client: &fantoccini::Client, css: &str) {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Types `username` and the test password into the sign-in page's form.
async fn type_password(client: &fantoccini::Client, username: &str) {
    type_credentials(client, username, PASSWORD).await;
}

/// Types `username` and `password` into the sign-in page's form.
async fn type_credentials(client: &fantoccini::Client, username: &str, password: &str) {
    for (field, text) in [("username", username), ("password", password)] {
        client
            .find(Locator::Css(&format!("input[name={field}]")))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
}

/// axe-core, as `scripts/test` installs it from the npm registry (or `RENKEI_AXE`).
fn axe_source() -> String {
    let path = std::env::var("RENKEI_AXE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: install axe-core from the npm registry (./scripts/test does: npm install --prefix target/axe axe-core@4.10.3)",
            path.display()
        )
    })
}

/// Runs axe-core on the page: no violation of WCAG 2.0–2.2 A and AA.
async fn assert_accessible(client: &fantoccini::Client, name: &str) {
    let violations = axe_violations(client).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
}

/// What axe-core finds wrong with the page, one line per rule.
async fn axe_violations(client: &fantoccini::Client) -> Vec<String> {
    client
        .execute(&format!("{}\nreturn true;", axe_source()), vec![])
        .await
        .unwrap();
    let found = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
              .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join('; '))))
              .catch(e => done(['axe-core failed: ' + e]));"#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The accessibility check can fail: a page with an unlabelled field and an image without a
/// text alternative is reported, rule by rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_reports_a_page_that_breaks_the_rules() {
    let driver = Driver::start();
    let client = driver.client().await;
    client
        .goto("data:text/html;charset=utf-8,<!doctype html><html lang=ja><title>t</title><main><img src=x.png><input type=text></main></html>")
        .await
        .unwrap();
    let violations = axe_violations(&client).await;
    for rule in ["image-alt", "label"] {
        assert!(
            violations.iter().any(|v| v.starts_with(rule)),
            "{rule}: {violations:#?}"
        );
    }
    client.close().await.unwrap();
}

/// Saves a screenshot of the page (under `target/screenshots/`) and checks it with axe-core.
async fn screenshot(client: &fantoccini::Client, name: &str) {
    assert_accessible(client, name).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn pupil_signs_in_and_approves_in_chromium(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.user("student1", "student").await;
    let (redirect_uri, mut callbacks) = callback_server().await;
    let app = server
        .client(NewClient {
            name: "さくら学習ドリル".into(),
            redirect_uris: vec![redirect_uri.clone()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &app.id),
            ("redirect_uri", &redirect_uri),
            ("scope", "openid profile"),
            ("state", "tablet-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&url).await.unwrap();
    let heading = heading_of(&client).await;
    assert_eq!(heading, "ログイン", "the sign-in page is in Japanese");
    // No Latin space around full-width punctuation or before a particle.
    let lead = text_of(&client, "main").await;
    assert!(
        lead.contains("使います：さくら学習ドリル"),
        "names the app: {lead}"
    );
    assert!(
        client.find(Locator::Css("main a[href='/']")).await.is_ok(),
        "the sign-in page leads home"
    );
    screenshot(&client, &format!("login-{backend:?}")).await;
    type_password(&client, "student1").await;
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The form post navigates: wait for the consent page before reading it.
    client
        .wait()
        .for_element(Locator::Css("button[value=approve]"))
        .await
        .unwrap();
    let heading = heading_of(&client).await;
    assert_eq!(
        heading, "アプリに見せる情報",
        "the consent page follows, in a grade-3 pupil's words"
    );
    let lead = text_of(&client, "main").await;
    assert!(
        lead.contains("さくら学習ドリルが、つぎの情報") && lead.contains("ログインしている人："),
        "{lead}"
    );
    assert!(!lead.contains("ログインしている人： "), "{lead}");
    for link in ["main a[href='/']", "main a[href='/logout']"] {
        assert!(
            client.find(Locator::Css(link)).await.is_ok(),
            "the approval page has {link}"
        );
    }
    screenshot(&client, &format!("consent-{backend:?}")).await;
    client
        .find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let query = tokio::time::timeout(Duration::from_secs(10), callbacks.recv())
        .await
        .expect("the app is called back")
        .unwrap();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(param("state").as_deref(), Some("tablet-1"));
    assert_eq!(param("iss").as_deref(), Some(server.base.as_str()));
    let code = param("code").expect("a code");
    let tokens: Value = reqwest::Client::new()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &app.id),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    client.goto(&server.url("/?lang=en")).await.unwrap();
    let body = text_of(&client, "main").await;
    assert!(body.contains("Signed in as 山田 太郎"), "{body}");
    screenshot(&client, &format!("home-en-{backend:?}")).await;
    client.close().await.unwrap();
    server.stop().await;
}

async fn pupil_creates_a_passkey_and_signs_in_with_it_in_chromium(backend: Backend) {
    let server = TestServer::start_on_localhost(backend).await;
    server.user("student1", "student").await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.issue_cmd(AddVirtualAuthenticator).await.unwrap();

    // Signed in with the password, the pupil opens the passkeys page from home and creates one.
    client.goto(&server.url("/login")).await.unwrap();
    type_password(&client, "student1").await;
    click(&client, "form[action='/login'] button[type=submit]").await;
    click(&client, "a[href='/passkeys']").await;
    assert_eq!(heading_of(&client).await, "パスキー");
    screenshot(&client, &format!("passkeys-empty-{backend:?}")).await;
    click(&client, "#passkey-add").await;
    // A first passkey comes with its recovery codes, shown once, to print.
    wait_for_heading(&client, "回復コード").await;
    let codes = text_of(&client, "ol.recovery-codes").await;
    assert_eq!(codes.split_whitespace().count(), 10, "{codes}");
    screenshot(&client, &format!("recovery-codes-{backend:?}")).await;
    click(&client, "a.button.primary").await;
    let list = text_of(&client, "ul.passkeys").await;
    assert!(list.contains("パスキー"), "{list}");
    screenshot(&client, &format!("passkeys-added-{backend:?}")).await;

    // An app that asks for a passkey (acr_values): the password session is not enough, and the
    // sign-in page offers the passkey alone.
    let app = server.web_app().await;
    let (_, challenge) = pkce();
    let asking = code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", "urn:renkei:acr:passkey")],
    );
    client.goto(&asking).await.unwrap();
    assert_eq!(
        text_of(&client, "p.notice").await,
        "このアプリを使うには、パスキーでのログインが必要です。"
    );
    assert!(
        client
            .find(Locator::Css("input[name=password]"))
            .await
            .is_err(),
        "no password form"
    );
    screenshot(&client, &format!("login-passkey-required-{backend:?}")).await;
    click(&client, "#passkey-sign-in").await;
    let approval = client
        .wait()
        .for_element(Locator::Css("form[action='/consent']"))
        .await;
    assert!(
        approval.is_ok(),
        "signed in with the passkey, the pupil is asked to approve the app"
    );

    // Signed out (cookies gone), the pupil signs in with the passkey alone: no username.
    client.delete_all_cookies().await.unwrap();
    client.goto(&server.url("/login")).await.unwrap();
    click(&client, "#passkey-sign-in").await;
    let signed_in = client
        .wait()
        .for_element(Locator::Css("a[href='/passkeys']"))
        .await;
    assert!(signed_in.is_ok(), "the passkey signed the pupil in");
    let body = text_of(&client, "main").await;
    assert!(body.contains("ログインしている人：山田 太郎"), "{body}");
    client.close().await.unwrap();
    server.stop().await;
}

/// A guardian finds the consent page from home, agrees for a child, and sees it in force.
async fn guardian_agrees_on_the_account_page_in_chromium(backend: Backend) {
    let (server, _) = consent_board(backend).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&server.url("/login")).await.unwrap();
    type_password(&client, "g001").await;
    click(&client, "form[action='/login'] button[type=submit]").await;
    text_of(&client, "dl.facts").await;
    screenshot(&client, &format!("home-guardian-{backend:?}")).await;
    click(&client, "a[href='/account']").await;
    assert_eq!(heading_of(&client).await, "アプリに提供する情報");
    let first = text_of(&client, "section.child").await;
    assert!(first.contains("要配慮個人情報"), "{first}");
    screenshot(&client, &format!("account-{backend:?}")).await;
    click(&client, "section.child form button.primary").await;
    assert_eq!(
        text_of(&client, "p.notice").await,
        "同意しました。アプリはすぐにこの情報を読めるようになります。"
    );
    let first = text_of(&client, "section.child").await;
    assert!(first.contains("同意済み"), "{first}");
    screenshot(&client, &format!("account-granted-{backend:?}")).await;
    // On a phone-sized screen.
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&server.url("/account")).await.unwrap();
    text_of(&client, "section.child").await;
    screenshot(&client, &format!("account-phone-{backend:?}")).await;
    client.close().await.unwrap();
    server.stop().await;
}

/// README's demo in a browser: a teacher signs in to the demo learning app and approves it; the
/// app reads the class list through a capability token, and no attendance (no guardian has
/// agreed). The guardian (on another device) sees the read in words and agrees; the app's next
/// read covers the child. The guardian withdraws; the app's next read of the child is refused.
async fn newcomer_tries_the_demo_in_chromium(backend: Backend) {
    let server = TestServer::demo(backend).await;
    let driver = Driver::start();
    let teacher = driver.client().await;
    teacher.goto(&server.url("/demo-app/")).await.unwrap();
    assert_eq!(heading_of(&teacher).await, "デモ学習アプリ");
    screenshot(&teacher, &format!("demo-app-{backend:?}")).await;
    click(&teacher, "a[href^='/demo-app/login']").await;
    wait_for_heading(&teacher, "ログイン").await;
    type_credentials(&teacher, "teacher1", renkei_demo::DEMO_PASSWORD).await;
    click(&teacher, "form[action='/login'] button[type=submit]").await;
    text_of(&teacher, "button[value=approve]").await;
    screenshot(&teacher, &format!("demo-approval-{backend:?}")).await;
    click(&teacher, "button[value=approve]").await;
    wait_for_heading(&teacher, "ようこそ、田中 美咲さん").await;
    let row = |name: &'static str| {
        let teacher = teacher.clone();
        async move {
            let rows = teacher
                .find_all(Locator::Css("table.reads tbody tr"))
                .await
                .unwrap();
            for row in rows {
                let text = row.text().await.unwrap();
                if text.contains(name) {
                    return text;
                }
            }
            panic!("no row for {name}");
        }
    };
    let before = row("山田 太郎").await;
    assert!(
        before.contains("読める記録はありません"),
        "before consent: {before}"
    );
    screenshot(&teacher, &format!("demo-app-read-{backend:?}")).await;

    let guardian = driver.client().await;
    guardian.goto(&server.url("/login")).await.unwrap();
    type_credentials(&guardian, "guardian1", renkei_demo::DEMO_PASSWORD).await;
    click(&guardian, "form[action='/login'] button[type=submit]").await;
    text_of(&guardian, "dl.facts").await;
    // The guardian opens the demo app: its approval screen shows the child's state.
    guardian.goto(&server.url("/demo-app/login")).await.unwrap();
    text_of(&guardian, "button[value=approve]").await;
    let approval = text_of(&guardian, "main").await;
    assert!(
        approval.contains("お子さま（山田 太郎）の情報です。")
            && approval.contains("山田 太郎：まだ決めていません（同意が必要です）"),
        "the state for a child without consent: {approval}"
    );
    screenshot(&guardian, &format!("demo-approval-guardian-{backend:?}")).await;
    guardian.goto(&server.url("/")).await.unwrap();
    click(&guardian, "a[href='/account']").await;
    let reads = text_of(&guardian, "table.reads").await;
    assert!(
        reads.contains("デモ学習アプリ") && reads.contains("名簿（基本）"),
        "the class-list read in words: {reads}"
    );
    click(&guardian, "section.child form button.primary").await;
    assert!(
        text_of(&guardian, "p.notice")
            .await
            .starts_with("同意しました")
    );

    teacher.goto(&server.url("/demo-app/")).await.unwrap();
    let after_grant = row("山田 太郎").await;
    assert!(after_grant.contains("欠席"), "{after_grant}");
    assert!(
        row("佐藤 花子").await.contains("読める記録はありません"),
        "another family's child stays out"
    );
    screenshot(&teacher, &format!("demo-app-granted-{backend:?}")).await;

    guardian.goto(&server.url("/account")).await.unwrap();
    let reads = text_of(&guardian, "table.reads").await;
    assert!(
        reads.contains("出欠"),
        "the attendance read in words: {reads}"
    );
    click(&guardian, "section.child form button:not(.primary)").await;
    assert!(
        text_of(&guardian, "p.notice")
            .await
            .contains("取り消しました")
    );

    teacher.goto(&server.url("/nowhere")).await.unwrap();
    wait_for_heading(&teacher, "エラーが発生しました").await;
    screenshot(&teacher, &format!("not-found-{backend:?}")).await;
    teacher.goto(&server.url("/demo-app/")).await.unwrap();
    let after_withdrawal = row("山田 太郎").await;
    assert!(
        !after_withdrawal.contains("欠席") && after_withdrawal.contains("読め"),
        "the next read after the withdrawal gets nothing: {after_withdrawal}"
    );
    click(&teacher, "form[action='/demo-app/logout'] button").await;
    wait_for_heading(&teacher, "デモ学習アプリ").await;

    // A grade-3 pupil's home page: plain words with furigana.
    let pupil = driver.client().await;
    pupil.goto(&server.url("/login")).await.unwrap();
    type_credentials(&pupil, "student1", renkei_demo::DEMO_PASSWORD).await;
    click(&pupil, "form[action='/login'] button[type=submit]").await;
    assert_eq!(text_of(&pupil, "dl.facts ruby rt").await, "じどう");
    screenshot(&pupil, &format!("home-young-pupil-{backend:?}")).await;
    pupil.close().await.unwrap();
    teacher.close().await.unwrap();
    guardian.close().await.unwrap();
    server.stop().await;
}

/// The board's administrator, from their first password sign-in: led to register a passkey,
/// signs in with it, registers an app, previews and saves a guardian-basis policy, finds it all
/// in the audit log and searches people; every console page passes axe-core, in Japanese and
/// in English, on a tablet-sized window.
async fn administrator_runs_the_console_in_chromium(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.issue_cmd(AddVirtualAuthenticator).await.unwrap();

    // First visit: a password sign-in; home offers the console, which asks for a passkey first.
    client.goto(&server.url("/login")).await.unwrap();
    type_password(&client, "board-admin").await;
    click(&client, "form[action='/login'] button[type=submit]").await;
    click(&client, "a[href='/admin']").await;
    wait_for_heading(&client, "管理画面").await;
    let said = text_of(&client, "main").await;
    assert!(said.contains("はじめにこの端末でパスキーを登録"), "{said}");
    screenshot(&client, &format!("admin-enrol-first-{backend:?}")).await;
    click(&client, "a[href='/passkeys']").await;
    click(&client, "#passkey-add").await;
    wait_for_heading(&client, "回復コード").await;
    assert_eq!(
        text_of(&client, "p.notice").await,
        "パスキーを登録しました。次の回復コードを保管してください。"
    );

    // Signed in again with the passkey: the dashboard.
    client.delete_all_cookies().await.unwrap();
    client.goto(&server.url("/login")).await.unwrap();
    click(&client, "#passkey-sign-in").await;
    click(&client, "a[href='/admin']").await;
    wait_for_heading(&client, "管理画面").await;
    let dashboard = text_of(&client, "main").await;
    assert!(
        dashboard.contains("教育委員会全体を管理しています。"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("みなと市立さくら小学校、みなと市立かえで小学校")
            || dashboard.contains("みなと市立かえで小学校、みなと市立さくら小学校"),
        "{dashboard}"
    );
    screenshot(&client, &format!("admin-dashboard-{backend:?}")).await;

    // Register an app: its secret once.
    click(&client, ".console-nav a[href='/admin/apps']").await;
    wait_for_heading(&client, "アプリ").await;
    screenshot(&client, &format!("admin-apps-{backend:?}")).await;
    for (field, text) in [
        ("#name", "算数ドリル"),
        ("#vendor", "さんすう株式会社"),
        ("#policy_uri", "https://drill.example/privacy"),
        ("#redirect_uris", "https://drill.example/callback"),
    ] {
        client
            .find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    click(&client, "input[name=classes]").await;
    click(&client, "form[action='/admin/apps'] button[type=submit]").await;
    wait_for_heading(&client, "アプリを登録しました").await;
    let registered = server.store.clients().await.unwrap();
    let drill = registered.iter().find(|c| c.name == "算数ドリル").unwrap();
    assert!(
        drill.scopes.split_whitespace().any(|s| s == "classes"),
        "the pupils' classes, asked for: {}",
        drill.scopes
    );
    let secret = text_of(&client, "#client-secret").await;
    assert!(secret.len() >= 32, "{secret}");
    screenshot(&client, &format!("admin-app-registered-{backend:?}")).await;

    // A guardian-basis policy for さくら: preview, then save.
    click(&client, "a.button.primary").await;
    wait_for_heading(&client, "算数ドリル").await;
    client
        .find(Locator::Css("#category"))
        .await
        .unwrap()
        .select_by_value("urn:renkei:scope:attendance.readonly")
        .await
        .unwrap();
    click(&client, "input[name=basis][value=guardian]").await;
    click(&client, "input[name=school][value=sakura]").await;
    client
        .find(Locator::Css("#purpose_ja"))
        .await
        .unwrap()
        .send_keys("出席状況に合わせて課題を調整するため")
        .await
        .unwrap();
    click(&client, "button[value=preview]").await;
    assert_eq!(text_of(&client, "#preview-waiting").await, "3人");
    assert_eq!(text_of(&client, "#preview-visible").await, "0人");
    let pupils = text_of(&client, "#preview-pupils").await;
    assert!(
        pupils.contains("山田\u{3000}太郎") && pupils.contains("同意待ち"),
        "{pupils}"
    );
    // The form kept what was chosen.
    assert!(
        client
            .find(Locator::Css("input[name=school][value=sakura]:checked"))
            .await
            .is_ok()
    );
    screenshot(&client, &format!("admin-policy-preview-{backend:?}")).await;
    click(&client, "button[value=save]").await;
    assert_eq!(
        text_of(&client, "p.notice").await,
        "利用方針を保存しました。"
    );
    let policies = text_of(&client, "#policies-in-force").await;
    assert!(
        policies.contains("出欠") && policies.contains("保護者の同意") && policies.contains("有効"),
        "{policies}"
    );
    screenshot(&client, &format!("admin-app-{backend:?}")).await;

    // The audit log shows both changes, by this administrator, through the console.
    click(&client, ".console-nav a[href='/admin/audit']").await;
    wait_for_heading(&client, "監査ログ").await;
    let events = text_of(&client, "#events").await;
    assert!(
        events.contains("admin console (board-admin)")
            && events.contains("registered")
            && events.contains("policy version 1"),
        "{events}"
    );
    screenshot(&client, &format!("admin-audit-{backend:?}")).await;
    click(&client, "#verify").await;
    assert!(
        text_of(&client, "#verified")
            .await
            .contains("改ざんは見つかりませんでした")
    );

    // People: search by name.
    click(&client, ".console-nav a[href='/admin/people']").await;
    wait_for_heading(&client, "利用者").await;
    client
        .find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys("山田")
        .await
        .unwrap();
    click(&client, "form[role=search] button[type=submit]").await;
    let people = text_of(&client, "#people").await;
    assert!(
        people.contains("ヤマダ\u{3000}タロウ") && people.contains("3年1組"),
        "{people}"
    );
    screenshot(&client, &format!("admin-people-{backend:?}")).await;

    // The roster: a dry run of the board's export, its report as a table.
    click(&client, ".console-nav a[href='/admin/roster']").await;
    wait_for_heading(&client, "名簿の取り込み").await;
    screenshot(&client, &format!("admin-roster-{backend:?}")).await;
    let export = support::fixture_zip("console-1.1", |_, text| text);
    assert_eq!(
        upload_roster(&client, &export, "dry-run").await,
        "試行（変更なし）"
    );
    let files = text_of(&client, "#files").await;
    assert!(files.contains("users.csv"), "{files}");
    screenshot(&client, &format!("admin-roster-report-{backend:?}")).await;
    // Then the import itself, which the audit log shows.
    click(&client, ".console-nav a[href='/admin/roster']").await;
    wait_for_heading(&client, "名簿の取り込み").await;
    assert_eq!(upload_roster(&client, &export, "apply").await, "反映済み");
    click(&client, ".console-nav a[href='/admin/audit']").await;
    wait_for_heading(&client, "監査ログ").await;
    let events = text_of(&client, "#events").await;
    assert!(
        events.contains("OneRoster import") && events.contains("applied"),
        "{events}"
    );
    let _ = std::fs::remove_file(export);

    // Consents: さくら's 3年1組, then Taro's page, where Keiko's paper consent is recorded.
    click(&client, ".console-nav a[href='/admin/consents']").await;
    wait_for_heading(&client, "同意の状況").await;
    client
        .find(Locator::Css("#school"))
        .await
        .unwrap()
        .select_by_value("sakura")
        .await
        .unwrap();
    click(
        &client,
        "form[action='/admin/consents'] button[type=submit]",
    )
    .await;
    screenshot(&client, &format!("admin-consents-{backend:?}")).await;
    click(&client, "a[href='/admin/consents/classes/sakura-3-1']").await;
    wait_for_heading(&client, "同意の状況、3年1組").await;
    let table = text_of(&client, "#consents").await;
    assert!(
        table.contains("算数ドリル") && table.contains("未回答"),
        "{table}"
    );
    screenshot(&client, &format!("admin-consents-class-{backend:?}")).await;
    click(&client, "#consents a[href='/admin/consents/pupils/s-taro']").await;
    wait_for_heading(&client, "同意の状況、山田\u{3000}太郎").await;
    client
        .find(Locator::Css("#guardian"))
        .await
        .unwrap()
        .select_by_index(1)
        .await
        .unwrap();
    click(
        &client,
        "form[action^='/admin/consents/pupils'] button[type=submit]",
    )
    .await;
    assert_eq!(text_of(&client, "p.notice").await, "記録しました。");
    assert!(text_of(&client, "#standings").await.contains("同意あり"));
    let history = text_of(&client, "#history").await;
    assert!(history.contains("山田 恵子さんの紙の同意書"), "{history}");
    screenshot(&client, &format!("admin-consents-pupil-{backend:?}")).await;

    // Security: the sign-in rules and the keys.
    click(&client, ".console-nav a[href='/admin/security']").await;
    wait_for_heading(&client, "セキュリティ").await;
    assert!(text_of(&client, "#key-list").await.contains("署名中"));
    click(
        &client,
        "form[action^='/admin/security/assurance'] button[type=submit]",
    )
    .await;
    assert_eq!(
        text_of(&client, "p.notice").await,
        "ログイン方法の決まりを保存しました。"
    );
    assert!(
        text_of(&client, "#rule-list")
            .await
            .contains("パスキー（パスワードだけでは不可）")
    );
    screenshot(&client, &format!("admin-security-{backend:?}")).await;
    // The outside sign-in form, further down the same page: a refused provider says why.
    client
        .find(Locator::Css("#upstream-name"))
        .await
        .unwrap()
        .send_keys("entra")
        .await
        .unwrap();
    for (field, text) in [
        ("#upstream-client-id", "renkei"),
        ("#upstream-client-secret", "secret"),
    ] {
        client
            .find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    click(&client, "#preset option[value=microsoft]").await;
    click(
        &client,
        "form[action^='/admin/security/upstreams'] button[type=submit]",
    )
    .await;
    wait_for_text(&client, "#upstream-error", "--tenant").await;
    client
        .execute(
            "document.getElementById('upstream-form').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&client, &format!("admin-upstreams-{backend:?}")).await;
    // Back to password sign-ins for teachers, for the class view below.
    click(&client, "input[name=require][value=password]").await;
    click(
        &client,
        "form[action^='/admin/security/assurance'] button[type=submit]",
    )
    .await;
    wait_for_text(&client, "#rule-list tbody tr", "どの方法でも可").await;

    // A passkey enrolment link for Misaki, with its QR code.
    click(&client, ".console-nav a[href='/admin/people']").await;
    client
        .find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys("misaki")
        .await
        .unwrap();
    click(&client, "form[role=search] button[type=submit]").await;
    click(&client, "form[action$='/enrolment'] button").await;
    wait_for_heading(&client, "パスキー登録用リンク").await;
    assert!(client.find(Locator::Css("figure.qr svg")).await.is_ok());
    let enrolment_url = text_of(&client, "#enrolment-url").await;
    screenshot(&client, &format!("admin-enrolment-{backend:?}")).await;

    // Disabling the app: back on the list, said once.
    click(&client, ".console-nav a[href='/admin/apps']").await;
    click(&client, "table.list a[href^='/admin/apps/']").await;
    wait_for_heading(&client, "算数ドリル").await;
    click(&client, "form[action$='/disable'] button").await;
    wait_for_heading(&client, "アプリ").await;
    assert_eq!(text_of(&client, "p.notice").await, "アプリを停止しました。");
    assert!(
        text_of(&client, "main")
            .await
            .contains("登録されたアプリはまだありません。")
    );

    // In English.
    click(&client, ".console-nav a[href='/admin']").await;
    click(&client, "a.toggle").await;
    wait_for_heading(&client, "Admin console").await;
    screenshot(&client, &format!("admin-dashboard-en-{backend:?}")).await;
    client.close().await.unwrap();

    // Misaki opens the link on her own device and registers a passkey; the address bar forgets
    // the link's secret.
    let teacher = driver.client().await;
    teacher.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    teacher.goto(&enrolment_url).await.unwrap();
    wait_for_heading(&teacher, "パスキーの登録").await;
    assert!(!teacher.current_url().await.unwrap().as_str().contains('#'));
    screenshot(&teacher, &format!("enrol-{backend:?}")).await;
    // In English: the toggle keeps the link.
    click(&teacher, "a.toggle").await;
    wait_for_heading(&teacher, "Register a passkey").await;
    click(&teacher, "#passkey-enrol").await;
    // Registered, with the recovery codes to print.
    wait_for_heading(&teacher, "Recovery codes").await;
    assert!(
        text_of(&teacher, "p.notice")
            .await
            .starts_with("Your passkey is registered.")
    );
    screenshot(&teacher, &format!("enrol-done-{backend:?}")).await;

    // The teacher's class view, from home (in Japanese again).
    teacher.goto(&server.url("/login?lang=ja")).await.unwrap();
    type_password(&teacher, "misaki").await;
    click(&teacher, "form[action='/login'] button[type=submit]").await;
    click(&teacher, "a[href='/class']").await;
    wait_for_heading(&teacher, "担当の学級").await;
    let roll = text_of(&teacher, "table.roll").await;
    assert!(
        roll.contains("山田\u{3000}太郎") && !roll.contains("中村"),
        "{roll}"
    );
    screenshot(&teacher, &format!("class-view-{backend:?}")).await;
    // A new password slip for Taro, to print.
    click(
        &teacher,
        "form[action='/class/pupils/s-taro/password'] button",
    )
    .await;
    wait_for_heading(&teacher, "ログイン用紙").await;
    assert_eq!(
        text_of(&teacher, "#slip-password").await.chars().count(),
        12
    );
    screenshot(&teacher, &format!("class-slip-{backend:?}")).await;
    teacher.close().await.unwrap();
    server.stop().await;
}

/// The QR codes in a PNG picture, read back (rqrr): their texts.
fn qr_codes_in(png: &[u8]) -> Vec<String> {
    let picture = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// A Y4M video (one frame, which Chromium's fake camera loops) of the PNG picture `png` on a
/// white 640×480 frame: what the tablet's camera sees when a card is held up to it.
fn camera_video_of(png: &[u8]) -> Vec<u8> {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 480;
    let picture = image::load_from_memory(png).unwrap().to_rgb8();
    let scale = (f64::from(WIDTH) / f64::from(picture.width()))
        .min(f64::from(HEIGHT) / f64::from(picture.height()))
        .min(1.0);
    let (w, h) = (
        (f64::from(picture.width()) * scale) as u32,
        (f64::from(picture.height()) * scale) as u32,
    );
    let picture = image::imageops::resize(&picture, w, h, image::imageops::FilterType::Triangle);
    let mut frame = image::RgbImage::from_pixel(WIDTH, HEIGHT, image::Rgb([255, 255, 255]));
    image::imageops::overlay(
        &mut frame,
        &picture,
        i64::from((WIDTH - w) / 2),
        i64::from((HEIGHT - h) / 2),
    );
    // BT.601 full range (C420jpeg), 4:2:0 chroma from each 2×2 block's top-left pixel.
    let yuv = |p: &image::Rgb<u8>| {
        let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
        (
            (0.299 * r + 0.587 * g + 0.114 * b)
                .round()
                .clamp(0.0, 255.0) as u8,
            (128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b)
                .round()
                .clamp(0.0, 255.0) as u8,
            (128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b)
                .round()
                .clamp(0.0, 255.0) as u8,
        )
    };
    let mut video =
        format!("YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    video.extend(frame.pixels().map(|p| yuv(p).0));
    for plane in [1, 2] {
        for y in (0..HEIGHT).step_by(2) {
            for x in (0..WIDTH).step_by(2) {
                let (_, u, v) = yuv(frame.get_pixel(x, y));
                video.push(if plane == 1 { u } else { v });
            }
        }
    }
    video
}

async fn a_class_signs_in_with_printed_cards_in_chromium(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let driver = Driver::start();

    // Misaki prints her class's cards.
    let teacher = driver.client().await;
    teacher.goto(&server.url("/login")).await.unwrap();
    type_password(&teacher, "misaki").await;
    click(&teacher, "form[action='/login'] button[type=submit]").await;
    click(&teacher, "a[href='/class']").await;
    wait_for_heading(&teacher, "担当の学級").await;
    click(
        &teacher,
        "form[action='/class/sakura-3-1/cards'] button[type=submit]",
    )
    .await;
    wait_for_heading(&teacher, "ログインカード").await;
    screenshot(&teacher, &format!("cards-sheet-{backend:?}")).await;
    // One QR code per pupil, which reads back as the card's sign-in address.
    let codes: Vec<String> = teacher
        .execute(
            "return [...document.querySelectorAll('.card-code span')].map(e => e.textContent);",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 2);
    let cards = teacher.find_all(Locator::Css("li.card")).await.unwrap();
    let mut pictures = Vec::new();
    for (card, code) in cards.iter().zip(&codes) {
        let png = card.screenshot().await.unwrap();
        assert_eq!(
            qr_codes_in(&png),
            [server.url(&format!("/login/card#{code}"))],
            "the printed QR code holds the card's address"
        );
        pictures.push(png);
    }
    teacher.close().await.unwrap();

    // Taro holds his card up to the tablet: the camera is Chromium's fake capture, fed with
    // the picture of his printed card (no code is injected).
    let video =
        std::env::temp_dir().join(format!("renkei-card-{}.y4m", uuid::Uuid::new_v4().simple()));
    std::fs::write(&video, camera_video_of(&pictures[0])).unwrap();
    let tablet = driver
        .client_with(&[
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-video-capture={}", video.display()),
        ])
        .await;
    tablet.goto(&server.url("/login")).await.unwrap();
    click(&tablet, "#card-link").await;
    wait_for_heading(&tablet, "カードでログイン").await;
    screenshot(&tablet, &format!("card-sign-in-{backend:?}")).await;
    click(&tablet, "#card-camera").await;
    let mut path = String::new();
    for _ in 0..150 {
        path = tablet.current_url().await.unwrap().path().to_owned();
        if path == "/" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(path, "/", "the camera read the card and signed Taro in");
    let home = text_of(&tablet, "main").await;
    assert!(home.contains("山田"), "{home}");
    screenshot(&tablet, &format!("card-signed-in-{backend:?}")).await;
    tablet.close().await.unwrap();
    let _ = std::fs::remove_file(video);
    server.stop().await;
}

/// A pupil taps the board's Google button on Renkei's sign-in page; the upstream (a real
/// oidc-provider on a loopback port, which signs its account in without asking) sends the
/// browser back and Renkei signs the roster person in; home shows the linked account. The
/// recovery sign-in page is looked at too.
async fn a_pupil_signs_in_through_the_boards_google_in_chromium(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let callback = renkei_idp::upstream::redirect_uri(&server.state.config.issuer, "google");
    let google = UpstreamProvider::start("google", None, "renkei", "s3cret", &[callback]);
    let added = renkei_idp::upstream::add(
        server.store.as_ref(),
        server.directory.as_ref(),
        &server.audit,
        &server.state.upstreams,
        "test",
        &server.state.config.issuer,
        renkei_idp::upstream::NewUpstream {
            name: "google".into(),
            issuer: Some(google.issuer.clone()),
            client_id: "renkei".into(),
            client_secret: "s3cret".into(),
            link_by: Some("subject".into()),
            label_ja: Some("Google アカウントでログイン".into()),
            label_en: Some("Sign in with Google".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(added.discovery, "ok");
    renkei_idp::upstream::link(
        server.store.as_ref(),
        &server.audit,
        "test",
        "google",
        "hanako",
        "g-hanako",
    )
    .await
    .unwrap();
    google
        .sign_in_as(json!({"sub": "g-hanako", "name": "Hanako"}))
        .await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&server.url("/login")).await.unwrap();
    wait_for_heading(&client, "ログイン").await;
    screenshot(&client, &format!("login-upstream-{backend:?}")).await;
    click(&client, "ul.upstreams a[href='/login/upstream/google']").await;
    wait_for_text(&client, "p.whose", "佐藤 花子").await;
    let home = text_of(&client, "main").await;
    assert!(
        home.contains("佐藤 花子") && home.contains("Google アカウントでログイン"),
        "{home}"
    );
    screenshot(&client, &format!("home-upstream-{backend:?}")).await;
    client.goto(&server.url("/login/recovery")).await.unwrap();
    wait_for_heading(&client, "回復コードでログイン").await;
    screenshot(&client, &format!("recovery-sign-in-{backend:?}")).await;
    client.close().await.unwrap();
}

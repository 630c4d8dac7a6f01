//! The administrators' console and the JSON admin API, end to end over HTTP on both databases:
//! the API describes itself (OpenAPI, generated) and refuses strangers with problem details; an
//! app registered for the admin scope registers an app, sets a policy after previewing exactly
//! which pupils it would see, and finds all of it in the audit log, each change audited once;
//! a school administrator signed in with a passkey reaches their own school and nothing beyond
//! it, in the API and on the pages; a password sign-in does not open the console.

mod support;

use renkei_bench::authenticator::SoftPasskey;
use renkei_idp::client::NewClient;
use serde_json::{Value, json};
use support::{Backend, Browser, PASSWORD, TestServer, hidden, location};

on_both_databases!(
    the_api_describes_itself_and_refuses_strangers,
    an_app_with_the_admin_scope_runs_the_board,
    a_school_administrator_reaches_only_their_school,
    a_password_sign_in_does_not_open_the_console,
    a_teacher_sees_their_class_and_no_other,
    the_board_imports_the_roster_from_the_console,
    consents_are_seen_by_class_and_recorded_on_paper,
    administrators_lock_unlock_and_sign_people_out,
    the_board_sets_sign_in_rules_and_rotates_keys,
    a_teacher_prints_a_new_slip_for_a_pupil_of_their_class,
    an_apps_reads_of_the_week_are_summed_up,
    a_teacher_enrols_a_passkey_with_a_one_time_link,
    an_admin_app_limited_to_a_school_reaches_that_school_only,
    the_board_manages_upstream_sign_in_in_the_console
);

const ROSTER_CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";

/// An app registered for the admin API (client credentials) and its access token.
async fn admin_app_token(server: &TestServer) -> String {
    let app = server
        .client(NewClient {
            name: "教育委員会の自動化".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["urn:renkei:scope:admin".into()],
            ..NewClient::default()
        })
        .await;
    app_token(
        server,
        &app.id,
        app.secret.as_deref().unwrap(),
        "urn:renkei:scope:admin",
    )
    .await
}

async fn app_token(server: &TestServer, id: &str, secret: &str, scope: &str) -> String {
    let granted: Value = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    granted["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {granted}"))
        .to_owned()
}

/// Keiko, Taro's guardian, agrees that the app reads his attendance (the consent service's
/// own operation, as her consent page calls it).
async fn keiko_agrees_for_taro(server: &TestServer, client_id: &str) {
    let keiko = renkei_idp::user::by_username(server.store.as_ref(), "keiko")
        .await
        .unwrap();
    renkei_consent::record::record(
        server.consent.store.as_ref(),
        server.directory.as_ref(),
        &server.audit,
        "test: the guardian's consent page",
        &keiko,
        renkei_consent::record::ConsentInput {
            student_id: "s-taro".into(),
            client_id: client_id.to_owned(),
            category_id: ATTENDANCE.into(),
            action: renkei_consent::record::Action::Grant,
            until: None,
            paper_from: None,
        },
        renkei_platform::clock::now(),
    )
    .await
    .unwrap();
}

/// The board registers 漢字アプリ and sets `policy` for it; its client id.
async fn app_with_policy(server: &TestServer, token: &str, policy: Value) -> String {
    let (status, registered) = call(
        server,
        token,
        reqwest::Method::POST,
        "/admin/api/apps",
        Some(json!({"name": "漢字アプリ", "redirect_uris": ["https://kanji.example/cb"]})),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let client_id = registered["app"]["client_id"].as_str().unwrap().to_owned();
    let path = format!("/admin/api/apps/{client_id}/policies");
    let (status, saved) = call(server, token, reqwest::Method::PUT, &path, Some(policy)).await;
    assert_eq!(status, 200, "{saved}");
    client_id
}

/// `username` signs in to `app` with the password, asking for the admin scope; the admin API
/// refuses the token (403): the problem it answers.
async fn refused_after_password_sign_in(
    server: &TestServer,
    app: &support::TestClient,
    username: &str,
) -> Value {
    let tokens = support::code_flow_tokens(
        server,
        app,
        &Browser::new(),
        username,
        "openid urn:renkei:scope:admin",
    )
    .await;
    let token = tokens["access_token"].as_str().unwrap();
    let (status, problem) = call(
        server,
        token,
        reqwest::Method::GET,
        "/admin/api/overview",
        None,
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    problem
}

/// A call of the API with a bearer token; the status and the JSON (or problem) answered.
async fn call(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status >= 400 {
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    (status, response.json().await.unwrap_or(Value::Null))
}

/// What a passkey form's script does first: opens `page`, and asks `options` (with the page's
/// CSRF token) to start a ceremony; the token and the ceremony.
async fn ceremony(
    browser: &Browser,
    server: &TestServer,
    page: &str,
    options: &str,
) -> (String, Value) {
    let html = browser.get(&server.url(page)).await.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let started: Value = browser
        .http
        .post(server.url(options))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (csrf, started)
}

/// A browser signed in as `username` with a passkey it registered after a password sign-in
/// (the first administrator's first visit), and the API's CSRF token for it.
async fn passkey_browser(server: &TestServer, username: &str) -> (Browser, String) {
    let owner = Browser::new();
    let signed_in = owner.sign_in(server, username, PASSWORD).await;
    assert_eq!(location(&signed_in), "/");
    // The console sends a password session to register a passkey first.
    let refused = owner.get(&server.url("/admin")).await;
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("パスキーを登録する") && page.contains("href=\"/passkeys\""),
        "{page}"
    );
    let (csrf, started) = ceremony(&owner, server, "/passkeys", "/passkeys/options").await;
    let (mut passkey, credential) =
        SoftPasskey::register(&server.base, &started["publicKey"]).unwrap();
    let registered = owner
        .post_form(
            &server.url("/passkeys"),
            &[
                ("csrf_token", &csrf),
                ("ceremony", started["ceremony"].as_str().unwrap()),
                ("credential", &credential.to_string()),
                ("name", "職員室のPC"),
            ],
        )
        .await;
    // A first passkey: recovery codes to print.
    assert_eq!(registered.status(), 200);
    assert!(
        registered
            .text()
            .await
            .unwrap()
            .contains("class=\"recovery-codes\"")
    );
    // A new sign-in with the passkey.
    let browser = passkey_sign_in(server, &mut passkey).await;
    let session: Value = browser
        .get(&server.url("/admin/api/session"))
        .await
        .json()
        .await
        .unwrap();
    let token = session["csrf_token"].as_str().unwrap().to_owned();
    (browser, token)
}

/// A browser signed in with `passkey` on the sign-in page.
async fn passkey_sign_in(server: &TestServer, passkey: &mut SoftPasskey) -> Browser {
    let browser = Browser::new();
    let (csrf, started) = ceremony(&browser, server, "/login", "/login/passkey/options").await;
    let answer = passkey.sign_in(&started["publicKey"]).unwrap();
    let done = browser
        .post_form(
            &server.url("/login/passkey"),
            &[
                ("csrf_token", &csrf),
                ("request", ""),
                ("ceremony", started["ceremony"].as_str().unwrap()),
                ("credential", &answer.to_string()),
            ],
        )
        .await;
    assert_eq!(location(&done), "/");
    browser
}

/// A call of the API from a signed-in browser (changes carry the CSRF header).
async fn browser_call(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = browser
        .http
        .request(method, server.url(&path))
        .header("x-csrf-token", csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn the_api_describes_itself_and_refuses_strangers(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let document: Value = reqwest::get(server.url("/admin/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/admin/api/overview",
        "/admin/api/apps",
        "/admin/api/apps/{client_id}/policies",
        "/admin/api/apps/{client_id}/policies/preview",
        "/admin/api/people",
        "/admin/api/audit",
        "/admin/api/audit/export",
        "/admin/api/consents",
        "/admin/api/consents/pupils/{student_id}",
        "/admin/api/people/{account_id}/lock",
        "/admin/api/people/{account_id}/unlock",
        "/admin/api/people/{account_id}/sign-out",
        "/admin/api/people/{account_id}/enrolment-link",
        "/admin/api/apps/{client_id}/reads",
        "/admin/api/keys",
        "/admin/api/keys/rotate",
        "/admin/api/assurance",
        "/admin/api/assurance/{role}",
    ] {
        assert!(paths.contains_key(path), "{path} is not described");
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());

    // No credentials: 401 with the scheme to use.
    let response = reqwest::get(server.url("/admin/api/overview"))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("urn:renkei:scope:admin")
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["type"], "urn:renkei:problem:unauthenticated");

    // A token that is not ours.
    let (status, problem) = call(
        &server,
        "not-a-token",
        reqwest::Method::GET,
        "/admin/api/overview",
        None,
    )
    .await;
    assert_eq!(status, 401, "{problem}");

    // An app's token without the admin scope.
    let other = server
        .client(NewClient {
            name: "時間割サービス".into(),
            grant_types: vec!["client_credentials".into()],
            ..NewClient::default()
        })
        .await;
    let token = app_token(&server, &other.id, other.secret.as_deref().unwrap(), "").await;
    let (status, problem) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/apps",
        None,
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("urn:renkei:scope:admin")
    );

    // A teacher's token from an app registered for the admin scope: a teacher is no
    // administrator, whatever the scope.
    let console_app = server
        .client(NewClient {
            name: "管理ツール".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            scopes: vec!["openid".into(), "urn:renkei:scope:admin".into()],
            ..NewClient::default()
        })
        .await;
    let problem = refused_after_password_sign_in(&server, &console_app, "misaki").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("administrators"),
        "{problem}"
    );
    // An administrator's token from a password sign-in is not enough either.
    let problem = refused_after_password_sign_in(&server, &console_app, "board-admin").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("passkey"),
        "{problem}"
    );

    // A client registered without a scope list does not get the admin scope.
    let plain = server.web_app().await;
    let stored = server.store.client(&plain.id).await.unwrap().unwrap();
    assert!(
        !stored.scopes.contains("urn:renkei:scope:admin"),
        "{}",
        stored.scopes
    );

    // Unknown endpoints and bad bodies are problems too.
    let admin = admin_app_token(&server).await;
    let (status, _) = call(
        &server,
        &admin,
        reqwest::Method::GET,
        "/admin/api/nothing",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, problem) = call(
        &server,
        &admin,
        reqwest::Method::POST,
        "/admin/api/apps",
        Some(json!({"nme": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field"),
        "{problem}"
    );
    server.stop().await;
}

async fn an_app_with_the_admin_scope_runs_the_board(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let get = |path: &'static str| call(&server, &token, reqwest::Method::GET, path, None);

    let (status, overview) = get("/admin/api/overview").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["administers"], "board");
    let schools: Vec<&str> = overview["schools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(schools, ["kaede", "sakura"]);
    let pupils = overview["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "student")
        .unwrap();
    assert_eq!(pupils["count"], 5);

    // Register an app: its secret once; refused input changes nothing.
    let (status, problem) = call(
        &server,
        &token,
        reqwest::Method::POST,
        "/admin/api/apps",
        Some(json!({"name": "算数ドリル", "redirect_uris": ["http://example.com/cb"]})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let (status, registered) = call(
        &server,
        &token,
        reqwest::Method::POST,
        "/admin/api/apps",
        Some(json!({
            "name": "算数ドリル",
            "vendor": "さんすう株式会社",
            "policy_uri": "https://drill.example/privacy",
            "redirect_uris": ["https://drill.example/callback"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let client_id = registered["app"]["client_id"].as_str().unwrap().to_owned();
    assert!(registered["client_secret"].as_str().unwrap().len() >= 32);
    let (_, apps) = get("/admin/api/apps").await;
    assert!(
        apps.as_array()
            .unwrap()
            .iter()
            .any(|a| a["client_id"] == client_id.as_str() && a["vendor"] == "さんすう株式会社")
    );

    // Preview a guardian-basis policy for さくら: three pupils reached, none readable yet.
    let policy = json!({
        "category": ATTENDANCE,
        "basis": "guardian",
        "schools": ["sakura"],
        "purpose_ja": "出席状況に合わせて課題を調整するため",
        "purpose_en": "To fit assignments to attendance",
    });
    let preview_path = format!("/admin/api/apps/{client_id}/policies/preview");
    let policies_path = format!("/admin/api/apps/{client_id}/policies");
    let (status, preview) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &preview_path,
        Some(policy.clone()),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            preview["reached"].as_u64(),
            preview["visible"].as_u64(),
            preview["waiting"].as_u64()
        ),
        (Some(3), Some(0), Some(3))
    );
    assert_eq!(preview["current_version"], Value::Null);
    let classes: Vec<(&str, u64)> = preview["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["class_id"].as_str().unwrap(),
                c["reached"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(classes, [("sakura-1-1", 1), ("sakura-3-1", 2)]);
    let names: Vec<&str> = preview["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["中村\u{3000}結衣", "佐藤\u{3000}花子", "山田\u{3000}太郎"]
    );
    // Nothing was saved by previewing.
    let (_, listed) = call(&server, &token, reqwest::Method::GET, &policies_path, None).await;
    assert!(listed["latest"].as_array().unwrap().is_empty(), "{listed}");

    let (status, saved) = call(
        &server,
        &token,
        reqwest::Method::PUT,
        &policies_path,
        Some(policy.clone()),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["in_force"], true);

    // Keiko consents for Taro: the app reads one pupil; a changed policy would start over.
    keiko_agrees_for_taro(&server, &client_id).await;
    let mut wider = policy.clone();
    wider["schools"] = json!(["sakura", "kaede"]);
    let (_, preview) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &preview_path,
        Some(wider),
    )
    .await;
    assert_eq!(preview["visible_today"], 1, "{preview}");
    assert_eq!(preview["reached"], 5);
    assert_eq!(preview["visible"], 0);
    assert_eq!(preview["removed"], 1);
    assert_eq!(preview["consents_start_over"], true);
    // The same reach on the school's decision: everyone, at once.
    let mut decided = policy.clone();
    decided["basis"] = json!("school");
    decided["category"] = json!(ROSTER_CORE);
    let (_, preview) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &preview_path,
        Some(decided),
    )
    .await;
    assert_eq!(
        (preview["visible"].as_u64(), preview["waiting"].as_u64()),
        (Some(3), Some(0)),
        "{preview}"
    );
    // Bad input is explained and changes nothing.
    for (bad, says) in [
        (
            json!({"category": ATTENDANCE, "basis": "parents", "schools": ["sakura"]}),
            "basis",
        ),
        (
            json!({"category": ATTENDANCE, "basis": "guardian", "schools": ["nowhere"]}),
            "nowhere",
        ),
        (
            json!({"category": ATTENDANCE, "basis": "guardian"}),
            "at least one",
        ),
        (
            json!({"category": ATTENDANCE, "basis": "guardian", "schools": ["sakura"], "valid_until": "31/12/2026"}),
            "YYYY-MM-DD",
        ),
    ] {
        let (status, problem) = call(
            &server,
            &token,
            reqwest::Method::PUT,
            &policies_path,
            Some(bad),
        )
        .await;
        assert_eq!(status, 400, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    let (_, listed) = call(&server, &token, reqwest::Method::GET, &policies_path, None).await;
    assert_eq!(listed["history"].as_array().unwrap().len(), 1, "{listed}");

    let (_, overview) = get("/admin/api/overview").await;
    let coverage = &overview["coverage"].as_array().unwrap()[0];
    assert_eq!(
        (
            coverage["reached"].as_u64(),
            coverage["visible"].as_u64(),
            coverage["waiting"].as_u64()
        ),
        (Some(3), Some(1), Some(2)),
        "{overview}"
    );

    // People: by kana, by role, by school; a page at a time.
    let (_, found) = get("/admin/api/people?q=%E3%83%A4%E3%83%9E").await; // ヤマ
    let usernames: Vec<&str> = found["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(usernames, ["keiko", "taro"]);
    let (_, found) = get("/admin/api/people?role=student&school=kaede").await;
    assert_eq!(found["people"].as_array().unwrap().len(), 2, "{found}");
    let (_, found) = get("/admin/api/people?limit=2").await;
    assert_eq!(found["next_offset"], 2);
    let (status, _) = get("/admin/api/people?role=pupil").await;
    assert_eq!(status, 400);

    // The audit log holds each change once, by the app that made it.
    let filter = format!("/admin/api/audit?app={client_id}");
    let (_, events) = call(&server, &token, reqwest::Method::GET, &filter, None).await;
    let details: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        details.iter().filter(|d| d.contains("registered")).count(),
        1,
        "{details:?}"
    );
    assert_eq!(
        details
            .iter()
            .filter(|d| d.starts_with("policy version 1"))
            .count(),
        1,
        "{details:?}"
    );
    let registration = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"].as_str().unwrap().contains("registered"))
        .unwrap();
    assert!(
        registration["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("admin API (app "),
        "{registration}"
    );

    // Export: CSV that a spreadsheet opens without running anything, and JSON lines.
    let csv = reqwest::Client::new()
        .get(server.url(&format!(
            "/admin/api/audit/export?format=csv&app={client_id}"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("seq,at,kind,client_id"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + details.len(), "{csv}");
    let lines = reqwest::Client::new()
        .get(server.url("/admin/api/audit/export?format=jsonl"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in lines.lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
    let (_, checked) = get("/admin/api/audit/verify").await;
    assert_eq!(checked["intact"], true, "{checked}");

    // Rotate and disable: the old secret stops, the app is gone.
    let (status, rotated) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &format!("/admin/api/apps/{client_id}/secret"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["client_secret"], registered["client_secret"]);
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &format!("/admin/api/apps/{client_id}/disable"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, &token, reqwest::Method::GET, &policies_path, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

async fn a_school_administrator_reaches_only_their_school(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let board_token = admin_app_token(&server).await;
    // The board's policy for かえで, which さくら's administrator must not see.
    let client_id = app_with_policy(
        &server,
        &board_token,
        json!({"category": ROSTER_CORE, "basis": "school", "schools": ["kaede"]}),
    )
    .await;

    let (browser, csrf) = passkey_browser(&server, "sakura-admin").await;
    let api = |method: reqwest::Method, path: String, body: Option<Value>| {
        browser_call(&browser, &server, &csrf, method, path, body)
    };
    let (status, overview) = api(reqwest::Method::GET, "/admin/api/overview".into(), None).await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["administers"], "sakura");
    assert_eq!(overview["schools"].as_array().unwrap().len(), 1);
    assert!(
        overview["coverage"].as_array().unwrap().is_empty(),
        "{overview}"
    );
    let pupils = overview["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "student")
        .unwrap();
    assert_eq!(pupils["count"], 3);

    // People of かえで are not found, and asking for かえで is refused.
    let (_, found) = api(
        reqwest::Method::GET,
        "/admin/api/people?q=%E5%B0%8F%E6%9E%97".into(),
        None,
    )
    .await; // 小林
    assert!(found["people"].as_array().unwrap().is_empty(), "{found}");
    let (status, _) = api(
        reqwest::Method::GET,
        "/admin/api/people?school=kaede".into(),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (_, found) = api(
        reqwest::Method::GET,
        "/admin/api/people?class=kaede-3-1".into(),
        None,
    )
    .await;
    assert!(found["people"].as_array().unwrap().is_empty(), "{found}");

    // The board's かえで policy is not listed; policies beyond the school are refused.
    let policies = format!("/admin/api/apps/{client_id}/policies");
    let (_, listed) = api(reqwest::Method::GET, policies.clone(), None).await;
    assert!(listed["latest"].as_array().unwrap().is_empty(), "{listed}");
    for beyond in [
        json!({"schools": ["kaede"]}),
        json!({"classes": ["kaede-3-1"]}),
        json!({"grades": ["P3"]}),
    ] {
        let mut body = json!({"category": ATTENDANCE, "basis": "guardian"});
        body.as_object_mut()
            .unwrap()
            .extend(beyond.as_object().unwrap().clone());
        let (status, problem) = api(
            reqwest::Method::POST,
            format!("{policies}/preview"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 403, "{problem}");
        let (status, _) = api(reqwest::Method::PUT, policies.clone(), Some(body)).await;
        assert_eq!(status, 403);
    }
    // The board's own policy of a category may not be overwritten from a school.
    let (status, problem) = api(
        reqwest::Method::PUT,
        policies.clone(),
        Some(json!({"category": ROSTER_CORE, "basis": "school", "schools": ["sakura"]})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    // Within the school: fine, and previewed pupils are its own.
    let own = json!({"category": ATTENDANCE, "basis": "guardian", "classes": ["sakura-3-1"]});
    let (status, preview) = api(
        reqwest::Method::POST,
        format!("{policies}/preview"),
        Some(own.clone()),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["reached"], 2);
    let (status, saved) = api(reqwest::Method::PUT, policies.clone(), Some(own.clone())).await;
    assert_eq!(status, 200, "{saved}");
    // Special-care data on the school's own decision is the board's call, justified or not.
    let (status, problem) = api(reqwest::Method::PUT, policies.clone(), Some(json!({
        "category": "urn:renkei:scope:health.readonly", "basis": "school", "classes": ["sakura-3-1"],
        "justification": "保健室の記録"
    }))).await;
    assert_eq!(status, 403, "{problem}");
    // Answers are never cached.
    let response = browser.get(&server.url("/admin/api/apps")).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    // With a passkey registered, the administrator's password alone cannot add another (which
    // would open the console to whoever knows the password).
    let intruder = Browser::new();
    intruder.sign_in(&server, "sakura-admin", PASSWORD).await;
    let html = intruder
        .get(&server.url("/passkeys"))
        .await
        .text()
        .await
        .unwrap();
    let refused = intruder
        .http
        .post(server.url("/passkeys/options"))
        .header("x-csrf-token", hidden(&html, "csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // A change from the browser without the CSRF header is refused.
    let response = browser
        .http
        .put(server.url(&policies))
        .json(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // A forgotten password: a new one, shown once, works; beyond the school, nothing.
    let account = |found: &Value, username: &str| -> String {
        found["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["username"] == username)
            .map(|p| p["account_id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{username} in {found}"))
    };
    let (_, found) = api(reqwest::Method::GET, "/admin/api/people".into(), None).await;
    let taro = account(&found, "taro");
    let (status, issued) = api(
        reqwest::Method::POST,
        format!("/admin/api/people/{taro}/password"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{issued}");
    let password = issued["password"].as_str().unwrap();
    assert_eq!(password.len(), 12);
    let pupil = Browser::new();
    assert_eq!(
        location(&pupil.sign_in(&server, "taro", password).await),
        "/"
    );
    let old = Browser::new().sign_in(&server, "taro", PASSWORD).await;
    assert!(
        !old.status().is_redirection(),
        "the old password no longer signs in"
    );
    let (status, _) = api(
        reqwest::Method::POST,
        format!(
            "/admin/api/people/{}/password",
            account(&found, "sakura-admin")
        ),
        None,
    )
    .await;
    assert_eq!(status, 403, "administrators are the board's");
    let ren = renkei_idp::user::by_username(server.store.as_ref(), "ren")
        .await
        .unwrap()
        .id;
    let (status, _) = api(
        reqwest::Method::POST,
        format!("/admin/api/people/{ren}/password"),
        None,
    )
    .await;
    assert_eq!(status, 404, "another school's pupil is unknown here");
    let (status, removed) = api(
        reqwest::Method::POST,
        format!("/admin/api/people/{taro}/passkeys/remove"),
        None,
    )
    .await;
    assert_eq!(
        (status, removed["removed"].as_u64()),
        (200, Some(0)),
        "{removed}"
    );
    // Board-only actions.
    let (status, _) = api(
        reqwest::Method::POST,
        "/admin/api/apps".into(),
        Some(json!({"name": "x", "redirect_uris": ["https://x.example/cb"]})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api(
        reqwest::Method::POST,
        format!("/admin/api/apps/{client_id}/disable"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api(reqwest::Method::GET, "/admin/api/audit/verify".into(), None).await;
    assert_eq!(status, 403);

    // The audit log: their own change is there, the board's かえで policy is not.
    let (_, events) = api(reqwest::Method::GET, "/admin/api/audit".into(), None).await;
    let endpoints: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["endpoint"].as_str().unwrap())
        .collect();
    assert!(
        endpoints.contains(&"admin API (sakura-admin)"),
        "{endpoints:?}"
    );
    assert!(
        !endpoints.iter().any(|e| e.starts_with("admin API (app ")),
        "{endpoints:?}"
    );

    // The pages show the same: the console's dashboard, people of the school only.
    let dashboard = browser.get(&server.url("/admin")).await;
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.unwrap();
    assert!(
        html.contains("管理している学校：みなと市立さくら小学校"),
        "{html}"
    );
    assert!(!html.contains("かえで"), "{html}");
    let html = browser
        .get(&server.url("/admin/people?q=%E5%B0%8F%E6%9E%97"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("見つかりませんでした"), "{html}");
    let html = browser
        .get(&server.url("/admin/people?q=%E5%B1%B1%E7%94%B0"))
        .await
        .text()
        .await
        .unwrap(); // 山田
    assert!(
        html.contains("山田\u{3000}太郎") && html.contains("3年1組"),
        "{html}"
    );
    // Page forms without their CSRF token are refused as expired, before anything else.
    let refused = browser
        .post_form(&server.url("/admin/audit/verify"), &[])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("ページの有効期限が切れました")
    );
    // A page form without its CSRF token changes nothing.
    let response = browser
        .post_form(
            &server.url(&format!("/admin/apps/{client_id}/policies")),
            &[
                ("category", ATTENDANCE),
                ("basis", "school"),
                ("class", "sakura-1-1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    // The page's preview and save.
    let html = browser
        .get(&server.url(&format!("/admin/apps/{client_id}")))
        .await
        .text()
        .await
        .unwrap();
    let page_csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", page_csrf.as_str()),
        ("category", ATTENDANCE),
        ("basis", "guardian"),
        ("class", "sakura-3-1"),
        ("class", "sakura-1-1"),
        ("purpose_ja", "出席に合わせた課題"),
        ("action", "preview"),
    ];
    let previewed = browser
        .post_form(
            &server.url(&format!("/admin/apps/{client_id}/policies")),
            &form,
        )
        .await;
    assert_eq!(previewed.status(), 200);
    let html = previewed.text().await.unwrap();
    assert!(html.contains("id=\"preview-waiting\">3人"), "{html}");
    // Nobody had consented to the version in force: nothing starts over.
    assert!(!html.contains("これまでの同意はやり直し"), "{html}");
    let mut save = form.to_vec();
    save.pop();
    save.push(("action", "save"));
    let saved = browser
        .post_form(
            &server.url(&format!("/admin/apps/{client_id}/policies")),
            &save,
        )
        .await;
    assert_eq!(location(&saved), format!("/admin/apps/{client_id}"));
    let html = browser
        .get(&server.url(&format!("/admin/apps/{client_id}")))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("利用方針を保存しました。"), "{html}");
    server.stop().await;
}

async fn a_password_sign_in_does_not_open_the_console(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let signed_out = reqwest::get(server.url("/admin")).await.unwrap();
    assert_eq!(signed_out.status(), 401);
    assert!(signed_out.text().await.unwrap().contains("href=\"/login\""));
    // A teacher is refused; the home page offers no console.
    let teacher = Browser::new();
    teacher.sign_in(&server, "misaki", PASSWORD).await;
    assert_eq!(teacher.get(&server.url("/admin")).await.status(), 403);
    assert!(
        !teacher
            .get(&server.url("/"))
            .await
            .text()
            .await
            .unwrap()
            .contains("/admin")
    );
    // An administrator with a password session: led to sign in with a passkey, API refused.
    let admin = Browser::new();
    admin.sign_in(&server, "board-admin", PASSWORD).await;
    assert!(
        admin
            .get(&server.url("/"))
            .await
            .text()
            .await
            .unwrap()
            .contains("href=\"/admin\"")
    );
    let page = admin.get(&server.url("/admin/apps")).await;
    assert_eq!(page.status(), 403);
    let response = admin.get(&server.url("/admin/api/apps")).await;
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("passkey"),
        "{problem}"
    );
    server.stop().await;
}

async fn a_teacher_sees_their_class_and_no_other(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let client_id = app_with_policy(
        &server,
        &token,
        json!({"category": ATTENDANCE, "basis": "guardian", "schools": ["sakura", "kaede"]}),
    )
    .await;
    keiko_agrees_for_taro(&server, &client_id).await;

    let teacher = Browser::new();
    teacher.sign_in(&server, "misaki", PASSWORD).await;
    assert!(
        teacher
            .get(&server.url("/"))
            .await
            .text()
            .await
            .unwrap()
            .contains("href=\"/class\"")
    );
    let page = teacher.get(&server.url("/class")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // 3年1組 of さくら, by roll number; not 1年1組, not かえで.
    let taro = html.find("山田\u{3000}太郎").expect("Taro is listed");
    let hanako = html.find("佐藤\u{3000}花子").expect("Hanako is listed");
    assert!(taro < hanako, "by roll number");
    assert!(html.contains("3年1組、みなと市立さくら小学校"), "{html}");
    for elsewhere in ["中村", "小林", "加藤"] {
        assert!(
            !html.contains(elsewhere),
            "{elsewhere} is not in Misaki's class: {html}"
        );
    }
    // The app reads Taro (his guardian agreed); Hanako waits.
    assert!(
        html.contains("漢字アプリ")
            && html.contains("<td class=\"n\">1人</td><td>佐藤\u{3000}花子</td>"),
        "{html}"
    );
    // The view was audited as a read of the class's pupils (through the background writer).
    server.audit.flush().await;
    let (_, events) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/audit?kind=read&person=s-hanako",
        None,
    )
    .await;
    let event = &events["events"][0];
    assert_eq!(event["endpoint"], "class view (misaki)", "{events}");
    assert_eq!(event["records"], 2);

    // A guardian, or nobody, gets no class view.
    let guardian = Browser::new();
    guardian.sign_in(&server, "keiko", PASSWORD).await;
    assert_eq!(guardian.get(&server.url("/class")).await.status(), 403);
    assert_eq!(
        reqwest::get(server.url("/class")).await.unwrap().status(),
        403
    );
    server.stop().await;
}

/// Uploads `zip` to the admin API and waits for the import to finish; its job.
async fn import_through_api(
    server: &TestServer,
    token: &str,
    zip: &std::path::Path,
    dry_run: bool,
) -> Value {
    let response = reqwest::Client::new()
        .post(server.url(&format!("/admin/api/roster?dry_run={dry_run}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(std::fs::read(zip).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let job: Value = response.json().await.unwrap();
    let path = format!("/admin/api/roster/jobs/{}", job["id"].as_str().unwrap());
    for _ in 0..300 {
        let (status, job) = call(server, token, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

async fn the_board_imports_the_roster_from_the_console(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    // April: a new pupil in さくら's 1年1組.
    let april = support::fixture_zip("console-1.1", |file, text| match file {
        "users.csv" => {
            text + "s-mio,,,true,sakura,student,mio,,美緒,松本,,,,,,,P1,,ミオ,マツモト,,sakura-1-1\n"
        }
        "enrollments.csv" => text + "e-mio,,,sakura-1-1,sakura,s-mio,student,false,2026-04-01,,2\n",
        _ => text,
    });
    let checked = import_through_api(&server, &token, &april, true).await;
    assert_eq!(checked["state"], "done", "{checked}");
    assert_eq!(checked["report"]["outcome"], "dry-run");
    assert_eq!(
        checked["report"]["files"]["users.csv"]["created"], 1,
        "{checked}"
    );
    let (_, found) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/people?q=mio",
        None,
    )
    .await;
    assert!(
        found["people"].as_array().unwrap().is_empty(),
        "a dry run changes nothing"
    );
    let applied = import_through_api(&server, &token, &april, false).await;
    assert_eq!(applied["report"]["outcome"], "applied", "{applied}");
    let (_, found) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/people?q=mio",
        None,
    )
    .await;
    assert_eq!(found["people"][0]["classes"][0], "1年1組", "{found}");

    // Problems are reported by file, line and column, and nothing changes.
    let broken = support::fixture_zip("console-1.1", |file, text| match file {
        "users.csv" => text.replace("k-aoi,,,true,kaede,student", "k-aoi,,,true,kaede,pupil"),
        _ => text,
    });
    let rejected = import_through_api(&server, &token, &broken, false).await;
    assert_eq!(rejected["report"]["outcome"], "rejected", "{rejected}");
    let problem = &rejected["report"]["problems"][0];
    assert_eq!(
        (problem["file"].as_str(), problem["column"].as_str()),
        (Some("users.csv"), Some("role")),
        "{problem}"
    );
    assert!(problem["line"].as_u64().is_some());
    // かえで grows by twelve pupils; then they all leave at once: held until confirmed, then
    // applied with the same files.
    let extra = |file: &str, mut text: String| {
        for n in 1..=12 {
            match file {
                "users.csv" => text.push_str(&format!(
                    "k-x{n},,,true,kaede,student,x{n},,花,森,,,,,,,P3,,ハナ,モリ,,kaede-3-1\n"
                )),
                "enrollments.csv" => text.push_str(&format!(
                    "e-x{n},,,kaede-3-1,kaede,k-x{n},student,false,2026-04-01,,{}\n",
                    n + 2
                )),
                _ => {}
            }
        }
        text
    };
    let grown = support::fixture_zip("console-1.1", extra);
    let applied = import_through_api(&server, &token, &grown, false).await;
    assert_eq!(applied["report"]["outcome"], "applied", "{applied}");
    let leaving = support::fixture_zip("console-1.1", |_, text| text);
    let held = import_through_api(&server, &token, &leaving, false).await;
    assert_eq!(held["report"]["outcome"], "held", "{held}");
    let held_id = held["report"]["id"].as_str().unwrap();
    let (status, confirmed) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &format!("/admin/api/roster/held/{held_id}/confirm"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{confirmed}");
    let path = format!(
        "/admin/api/roster/jobs/{}",
        confirmed["id"].as_str().unwrap()
    );
    let mut job = confirmed;
    for _ in 0..300 {
        if job["state"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        job = call(&server, &token, reqwest::Method::GET, &path, None)
            .await
            .1;
    }
    assert_eq!(job["report"]["outcome"], "applied", "{job}");
    // A held import is confirmed once.
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::POST,
        &format!("/admin/api/roster/held/{held_id}/confirm"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Not a zip: said at once.
    let response = reqwest::Client::new()
        .post(server.url("/admin/api/roster"))
        .bearer_auth(&token)
        .body("sourcedId,status")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // The imports are in the history, by the app that ran them.
    let (_, overview) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/overview",
        None,
    )
    .await;
    // The dashboard lists the latest five (several finished within one second here), a held
    // one marked as such.
    let imports = overview["imports"].as_array().unwrap();
    assert_eq!(imports.len(), 5, "{overview}");
    assert!(
        imports
            .iter()
            .all(|i| i["held"] == (i["outcome"] == "held")),
        "{overview}"
    );

    // A school's administrator does not import the board's roster.
    let (browser, csrf) = passkey_browser(&server, "sakura-admin").await;
    let response = browser
        .http
        .post(server.url("/admin/api/roster"))
        .header("x-csrf-token", &csrf)
        .body(std::fs::read(&april).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    for zip in [april, broken, grown, leaving] {
        let _ = std::fs::remove_file(zip);
    }
    server.stop().await;
}

/// The details of the administrative audit events whose text holds `text` (URL-encoded).
async fn admin_details(server: &TestServer, token: &str, text: &str) -> Vec<String> {
    let (_, events) = call(
        server,
        token,
        reqwest::Method::GET,
        &format!("/admin/api/audit?kind=admin&text={text}"),
        None,
    )
    .await;
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

/// The account id of `username`.
async fn account(server: &TestServer, username: &str) -> String {
    renkei_idp::user::by_username(server.store.as_ref(), username)
        .await
        .unwrap()
        .id
}

async fn consents_are_seen_by_class_and_recorded_on_paper(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let client_id = app_with_policy(
        &server,
        &token,
        json!({"category": ATTENDANCE, "basis": "guardian", "schools": ["sakura", "kaede"]}),
    )
    .await;
    let class = |token: String| {
        let server = &server;
        async move {
            call(
                server,
                &token,
                reqwest::Method::GET,
                "/admin/api/consents?class=sakura-3-1",
                None,
            )
            .await
        }
    };
    let (status, seen) = class(token.clone()).await;
    assert_eq!(status, 200, "{seen}");
    let states = |seen: &Value| -> Vec<(String, String)> {
        seen["pupils"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["sourced_id"].as_str().unwrap().to_owned(),
                    p["standings"][0]["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        states(&seen),
        [
            ("s-taro".into(), "none".into()),
            ("s-hanako".into(), "none".into())
        ]
    );
    keiko_agrees_for_taro(&server, &client_id).await;
    let (_, seen) = class(token.clone()).await;
    assert_eq!(states(&seen)[0].1, "granted");
    let decision = &seen["pupils"][0]["standings"][0]["decision"];
    assert_eq!(decision["by"], "山田 恵子", "{decision}");
    assert_eq!(decision["by_role"], "guardian");

    // A paper consent is recorded by a person, not by an app.
    let paper = |action: &str, guardian: Option<String>| json!({"client_id": client_id, "category_id": ATTENDANCE, "action": action, "guardian": guardian});
    let keiko = account(&server, "keiko").await;
    let (status, problem) = call(
        &server,
        &token,
        reqwest::Method::POST,
        "/admin/api/consents/pupils/s-taro",
        Some(paper("withdraw", Some(keiko.clone()))),
    )
    .await;
    assert_eq!(status, 403, "{problem}");

    let (board, csrf) = passkey_browser(&server, "board-admin").await;
    // Keiko is not Hanako's guardian: her paper does not count for Hanako.
    let (status, problem) = browser_call(
        &board,
        &server,
        &csrf,
        reqwest::Method::POST,
        "/admin/api/consents/pupils/s-hanako".into(),
        Some(paper("grant", Some(keiko.clone()))),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a guardian"),
        "{problem}"
    );
    // Keiko withdraws on paper, then agrees again on paper.
    for (action, state) in [("withdraw", "withdrawn"), ("grant", "granted")] {
        let (status, recorded) = browser_call(
            &board,
            &server,
            &csrf,
            reqwest::Method::POST,
            "/admin/api/consents/pupils/s-taro".into(),
            Some(paper(action, Some(keiko.clone()))),
        )
        .await;
        assert_eq!(status, 201, "{recorded}");
        assert_eq!(recorded["paper_from"], "山田 恵子");
        assert_eq!(recorded["by_role"], "administrator");
        let (_, seen) = class(token.clone()).await;
        assert_eq!(states(&seen)[0].1, state);
    }
    // The pupil's page: guardians, and the history oldest first.
    let (status, pupil) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/consents/pupils/s-taro",
        None,
    )
    .await;
    assert_eq!(status, 200, "{pupil}");
    assert_eq!(pupil["guardians"][0]["account_id"], keiko);
    let actions: Vec<&str> = pupil["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["grant", "withdraw", "grant"]);
    // Each paper record is audited once, naming the guardian who signed.
    let (_, events) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/audit?kind=consent&person=s-taro",
        None,
    )
    .await;
    let on_paper = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("on paper signed by guardian {keiko}"))
                && e["endpoint"] == "admin API (board-admin)"
        })
        .count();
    assert_eq!(on_paper, 2, "{events}");

    // The pages: the class's table and the pupil's form, which records with its CSRF token.
    let html = board
        .get(&server.url("/admin/consents/classes/sakura-3-1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("同意あり") && html.contains("未回答") && html.contains("山田\u{3000}太郎"),
        "{html}"
    );
    let html = board
        .get(&server.url("/admin/consents/pupils/s-taro"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("紙の同意書"), "{html}");
    let page_csrf = hidden(&html, "csrf_token");
    let subject = format!("{client_id}|{ATTENDANCE}");
    let forged = board
        .post_form(
            &server.url("/admin/consents/pupils/s-taro"),
            &[
                ("csrf_token", "forged"),
                ("subject", &subject),
                ("action", "withdraw"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let recorded = board
        .post_form(
            &server.url("/admin/consents/pupils/s-taro"),
            &[
                ("csrf_token", &page_csrf),
                ("subject", &subject),
                ("action", "withdraw"),
                ("guardian", &keiko),
            ],
        )
        .await;
    assert_eq!(location(&recorded), "/admin/consents/pupils/s-taro");
    let (_, seen) = class(token.clone()).await;
    assert_eq!(
        states(&seen)[0].1,
        "withdrawn",
        "the forged form changed nothing else"
    );

    // A school administrator sees and records for their own school only.
    let (sakura, sakura_csrf) = passkey_browser(&server, "sakura-admin").await;
    for path in [
        "/admin/api/consents?class=kaede-3-1",
        "/admin/api/consents/pupils/k-ren",
    ] {
        let (status, problem) = browser_call(
            &sakura,
            &server,
            &sakura_csrf,
            reqwest::Method::GET,
            path.into(),
            None,
        )
        .await;
        assert_eq!(status, 404, "{path}: {problem}");
    }
    let mai = account(&server, "mai").await;
    let (status, _) = browser_call(
        &sakura,
        &server,
        &sakura_csrf,
        reqwest::Method::POST,
        "/admin/api/consents/pupils/k-ren".into(),
        Some(paper("grant", Some(mai))),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = browser_call(
        &sakura,
        &server,
        &sakura_csrf,
        reqwest::Method::GET,
        "/admin/api/consents?class=sakura-3-1".into(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

async fn administrators_lock_unlock_and_sign_people_out(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let taro = account(&server, "taro").await;
    // An app's automation token does not lock people, nor issue enrolment links: a person does.
    for what in [
        "lock",
        "sign-out",
        "enrolment-link",
        "password",
        "passkeys/remove",
    ] {
        let (status, problem) = call(
            &server,
            &token,
            reqwest::Method::POST,
            &format!("/admin/api/people/{taro}/{what}"),
            None,
        )
        .await;
        assert_eq!(status, 403, "{what}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("in person"),
            "{problem}"
        );
    }
    let (board, board_csrf) = passkey_browser(&server, "board-admin").await;
    let access = |what: &'static str, id: String| {
        let server = &server;
        let board = &board;
        let csrf = board_csrf.clone();
        async move {
            browser_call(
                board,
                server,
                &csrf,
                reqwest::Method::POST,
                format!("/admin/api/people/{id}/{what}"),
                None,
            )
            .await
        }
    };
    // Taro is signed in on a tablet; signing him out everywhere ends that session.
    let tablet = Browser::new();
    assert_eq!(
        location(&tablet.sign_in(&server, "taro", PASSWORD).await),
        "/"
    );
    let (status, done) = access("sign-out", taro.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["sessions_ended"], 1);
    let home = tablet.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("href=\"/login\""), "signed out: {home}");

    // Locked: no sign-in, whatever the roster says, even after the next import.
    assert_eq!(
        location(&tablet.sign_in(&server, "taro", PASSWORD).await),
        "/"
    );
    let (status, locked) = access("lock", taro.clone()).await;
    assert_eq!(status, 200, "{locked}");
    assert_eq!(locked["locked"], true);
    assert_eq!(locked["enabled"], false);
    assert_eq!(locked["sessions_ended"], 1);
    let (status, again) = access("lock", taro.clone()).await;
    assert_eq!(status, 400, "{again}");
    let refused = Browser::new().sign_in(&server, "taro", PASSWORD).await;
    assert!(
        !refused.status().is_redirection(),
        "a locked account does not sign in"
    );
    let same = support::fixture_zip("console-1.1", |_, text| text);
    let applied = import_through_api(&server, &token, &same, false).await;
    assert_eq!(applied["report"]["outcome"], "applied", "{applied}");
    let (_, found) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/people?q=taro",
        None,
    )
    .await;
    assert_eq!(found["people"][0]["locked"], true, "{found}");
    assert_eq!(
        found["people"][0]["enabled"], false,
        "the import kept the lock"
    );
    let refused = Browser::new().sign_in(&server, "taro", PASSWORD).await;
    assert!(!refused.status().is_redirection());

    // Unlocked: the roster's word again.
    let (status, unlocked) = access("unlock", taro.clone()).await;
    assert_eq!(status, 200, "{unlocked}");
    assert_eq!(unlocked["enabled"], true);
    assert_eq!(
        location(&Browser::new().sign_in(&server, "taro", PASSWORD).await),
        "/"
    );
    let (status, _) = access("unlock", taro.clone()).await;
    assert_eq!(status, 400, "not locked");

    // Audited once each, by the provider's operations.
    let details = admin_details(&server, &token, "account%20taro").await;
    for what in ["taro unlocked", "taro locked;", "signed out everywhere"] {
        assert_eq!(
            details.iter().filter(|d| d.contains(what)).count(),
            1,
            "{what}: {details:?}"
        );
    }

    // A school administrator acts on their own school only, and nobody locks themself out.
    let (sakura, csrf) = passkey_browser(&server, "sakura-admin").await;
    let ren = account(&server, "ren").await;
    let (status, _) = browser_call(
        &sakura,
        &server,
        &csrf,
        reqwest::Method::POST,
        format!("/admin/api/people/{ren}/lock"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let own = account(&server, "sakura-admin").await;
    let (status, problem) = browser_call(
        &sakura,
        &server,
        &csrf,
        reqwest::Method::POST,
        format!("/admin/api/people/{own}/lock"),
        None,
    )
    .await;
    assert!(status == 400 || status == 403, "{status} {problem}");
    // The people page finds a class's pupils.
    let html = sakura
        .get(&server.url("/admin/people?q=&class=sakura-3-1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("山田\u{3000}太郎")
            && html.contains("佐藤\u{3000}花子")
            && !html.contains("中村"),
        "{html}"
    );
    assert!(html.contains("<optgroup"), "{html}");
    // The page's buttons post with the CSRF token.
    let html = sakura
        .get(&server.url("/admin/people?q=hanako"))
        .await
        .text()
        .await
        .unwrap();
    let hanako = account(&server, "hanako").await;
    assert!(
        html.contains(&format!("/admin/people/{hanako}/lock")),
        "{html}"
    );
    let page = sakura
        .post_form(
            &server.url(&format!("/admin/people/{hanako}/lock")),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("利用を停止しました"));
    server.stop().await;
}

async fn the_board_sets_sign_in_rules_and_rotates_keys(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let (status, keys) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/keys",
        None,
    )
    .await;
    assert_eq!(status, 200, "{keys}");
    let signing = |keys: &Value, purpose: &str| -> Vec<String> {
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["purpose"] == purpose && k["state"] == "signing")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(signing(&keys, "id_token").len(), 3, "{keys}");
    assert_eq!(signing(&keys, "capability").len(), 1, "{keys}");
    assert!(
        !keys.to_string().contains("private"),
        "no private key leaves the server"
    );
    // Rotating the keys and setting the sign-in rules is a person's act, not an app's.
    for (method, path, body) in [
        (reqwest::Method::POST, "/admin/api/keys/rotate", None),
        (
            reqwest::Method::PUT,
            "/admin/api/assurance/teacher",
            Some(json!({"require": "password"})),
        ),
    ] {
        let (status, problem) = call(&server, &token, method, path, body).await;
        assert_eq!(status, 403, "{path}: {problem}");
    }
    let (board, board_csrf) = passkey_browser(&server, "board-admin").await;
    let (status, rotated) = browser_call(
        &board,
        &server,
        &board_csrf,
        reqwest::Method::POST,
        "/admin/api/keys/rotate".into(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let (_, keys_after) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/keys",
        None,
    )
    .await;
    for kid in rotated["new_kids"].as_array().unwrap() {
        let key = keys_after
            .as_array()
            .unwrap()
            .iter()
            .find(|k| &k["kid"] == kid)
            .unwrap_or_else(|| panic!("{kid} is listed: {keys_after}"));
        assert_eq!(key["state"], "waiting", "{key}");
    }
    assert_eq!(
        signing(&keys_after, "id_token"),
        signing(&keys, "id_token"),
        "the old keys sign until the new ones' time"
    );
    // The new keys are published at once.
    let jwks: Value = reqwest::get(server.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = rotated["new_kids"][0].as_str().unwrap();
    assert!(jwks.to_string().contains(first), "{jwks}");

    // Sign-in rules: every role listed; the board sets one.
    let (status, rules) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/assurance",
        None,
    )
    .await;
    assert_eq!(status, 200, "{rules}");
    assert_eq!(rules.as_array().unwrap().len(), 4);
    let (status, set) = browser_call(
        &board,
        &server,
        &board_csrf,
        reqwest::Method::PUT,
        "/admin/api/assurance/teacher".into(),
        Some(json!({"require": "passkey", "grace_until": "2099-03-31"})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["grace_until"], "2099-03-31");
    let (status, problem) = browser_call(
        &board,
        &server,
        &board_csrf,
        reqwest::Method::PUT,
        "/admin/api/assurance/teacher".into(),
        Some(json!({"require": "sometimes"})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let (_, rules) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/assurance",
        None,
    )
    .await;
    assert_eq!(rules[0]["role"], "teacher");
    assert_eq!(
        rules[0]["require"], "passkey",
        "the bad rule changed nothing"
    );

    // A school administrator sees the rules, but neither keys nor changes.
    let (sakura, csrf) = passkey_browser(&server, "sakura-admin").await;
    for (method, path, body) in [
        (reqwest::Method::GET, "/admin/api/keys", None),
        (reqwest::Method::POST, "/admin/api/keys/rotate", None),
        (
            reqwest::Method::PUT,
            "/admin/api/assurance/teacher",
            Some(json!({"require": "password"})),
        ),
    ] {
        let (status, problem) =
            browser_call(&sakura, &server, &csrf, method, path.into(), body).await;
        assert_eq!(status, 403, "{path}: {problem}");
    }
    let html = sakura
        .get(&server.url("/admin/security"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("パスキー（パスワードだけでは不可）"),
        "{html}"
    );
    assert!(!html.contains("key-list"), "no keys for a school: {html}");
    server.stop().await;
}

async fn a_teacher_prints_a_new_slip_for_a_pupil_of_their_class(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let teacher = Browser::new();
    teacher.sign_in(&server, "misaki", PASSWORD).await;
    let html = teacher
        .get(&server.url("/class"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("/class/pupils/s-taro/password"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    // Taro was signed in; the new slip signs him out.
    let tablet = Browser::new();
    assert_eq!(
        location(&tablet.sign_in(&server, "taro", PASSWORD).await),
        "/"
    );
    let forged = teacher
        .post_form(
            &server.url("/class/pupils/s-taro/password"),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let slip = teacher
        .post_form(
            &server.url("/class/pupils/s-taro/password"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(slip.status(), 200);
    assert_eq!(slip.headers()["cache-control"], "no-store");
    let slip = slip.text().await.unwrap();
    assert!(
        slip.contains("<rt>ヤマダ\u{3000}タロウ</rt>") || slip.contains("<rt>ヤマダ"),
        "{slip}"
    );
    let start = slip.find("id=\"slip-password\">").unwrap() + "id=\"slip-password\">".len();
    let password = &slip[start..start + slip[start..].find('<').unwrap()];
    assert_eq!(password.chars().count(), 12, "{password}");
    let home = tablet.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("href=\"/login\""), "signed out: {home}");
    assert_eq!(
        location(&Browser::new().sign_in(&server, "taro", password).await),
        "/"
    );
    let old = Browser::new().sign_in(&server, "taro", PASSWORD).await;
    assert!(
        !old.status().is_redirection(),
        "the old password no longer works"
    );
    // Yui is in 1年1組 and Ren at かえで: not Misaki's pupils.
    for pupil in ["s-yui", "k-ren"] {
        let refused = teacher
            .post_form(
                &server.url(&format!("/class/pupils/{pupil}/password")),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(refused.status(), 404, "{pupil}");
    }
    // A guardian gets no slips.
    let guardian = Browser::new();
    guardian.sign_in(&server, "keiko", PASSWORD).await;
    let guardian_csrf = hidden(
        &guardian.get(&server.url("/")).await.text().await.unwrap(),
        "csrf_token",
    );
    let refused = guardian
        .post_form(
            &server.url("/class/pupils/s-taro/password"),
            &[("csrf_token", &guardian_csrf)],
        )
        .await;
    assert_eq!(refused.status(), 403);
    // Audited by the provider's operation, naming the teacher.
    let events = server
        .audit_events(renkei_platform::audit::search::AuditFilter {
            text: Some("password of account taro".into()),
            ..Default::default()
        })
        .await;
    let by_teacher: Vec<_> = events
        .iter()
        .filter(|e| e.event.endpoint == "class view (misaki)")
        .collect();
    assert_eq!(by_teacher.len(), 1, "once, besides the test's own setting");
    server.stop().await;
}

async fn an_apps_reads_of_the_week_are_summed_up(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let client_id = app_with_policy(
        &server,
        &token,
        json!({"category": ATTENDANCE, "basis": "school", "schools": ["sakura", "kaede"]}),
    )
    .await;
    // The gateway's records of three reads: two of さくら's pupils, one of かえで's, and one
    // refused request.
    let read = |children: &[&str], records: i64, outcome: &str| {
        let mut event = renkei_platform::AuditEvent::change(
            "read",
            Some(&client_id),
            vec![ATTENDANCE.into()],
            children.iter().map(|c| (*c).to_owned()).collect(),
            "GET /ims/oneroster/v1p1/attendance",
            "test: the gateway's read".into(),
        );
        event.records = records;
        event.outcome = outcome.into();
        event
    };
    for event in [
        read(&["s-taro", "s-hanako"], 6, "allowed"),
        read(&["s-taro"], 3, "allowed"),
        read(&["k-ren"], 2, "allowed"),
        read(&[], 0, "refused"),
    ] {
        server.audit.append(event).await.unwrap();
    }
    let path = format!("/admin/api/apps/{client_id}/reads");
    let (status, reads) = call(&server, &token, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{reads}");
    assert_eq!(reads["complete"], true);
    assert_eq!(reads["refused"], 1);
    let attendance = &reads["categories"][0];
    assert_eq!(attendance["category"], ATTENDANCE);
    assert_eq!(attendance["reads"], 3);
    assert_eq!(attendance["records"], 11);
    assert_eq!(attendance["pupils"], 3);
    // さくら's administrator counts さくら's pupils only.
    let (sakura, csrf) = passkey_browser(&server, "sakura-admin").await;
    let (status, reads) = browser_call(
        &sakura,
        &server,
        &csrf,
        reqwest::Method::GET,
        path.clone(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reads}");
    assert_eq!(reads["categories"][0]["reads"], 2, "{reads}");
    assert_eq!(reads["categories"][0]["pupils"], 2, "{reads}");
    assert_eq!(
        reads["categories"][0]["records"],
        Value::Null,
        "a request's records are not split by school"
    );
    // The app's page leads to the week's page.
    let html = sakura
        .get(&server.url(&format!("/admin/apps/{client_id}")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("/admin/apps/{client_id}/reads")),
        "{html}"
    );
    let html = sakura
        .get(&server.url(&format!("/admin/apps/{client_id}/reads")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("この1週間に読み取ったデータ") && html.contains("id=\"app-reads\""),
        "{html}"
    );
    server.stop().await;
}

/// Asks `/enrol/options` for a ceremony with the link's `secret`, as the enrolment page's
/// script does: the status and the answer.
async fn enrolment_options(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    secret: &str,
) -> (u16, Value) {
    let response = browser
        .http
        .post(server.url("/enrol/options"))
        .header("x-csrf-token", csrf)
        .form(&[("token", secret)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_teacher_enrols_a_passkey_with_a_one_time_link(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let token = admin_app_token(&server).await;
    let misaki = account(&server, "misaki").await;
    let (board, board_csrf) = passkey_browser(&server, "board-admin").await;
    let issue = |id: String| {
        let server = &server;
        let board = &board;
        let csrf = board_csrf.clone();
        async move {
            browser_call(
                board,
                server,
                &csrf,
                reqwest::Method::POST,
                format!("/admin/api/people/{id}/enrolment-link"),
                None,
            )
            .await
        }
    };
    let (status, first) = issue(misaki.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, link) = issue(misaki.clone()).await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    let (page, secret) = url.split_once('#').expect("the secret is in the fragment");
    assert_eq!(page, server.url("/enrol"));
    let old_secret = first["url"].as_str().unwrap().split_once('#').unwrap().1;

    // Misaki opens the link on her own device.
    let device = Browser::new();
    let html = device
        .get(&server.url("/enrol"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-from-fragment"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let (status, _) = enrolment_options(&device, &server, &csrf, old_secret).await;
    assert_eq!(status, 404, "a newer link replaced the first");
    let (status, _) = enrolment_options(&device, &server, &csrf, "not-a-link").await;
    assert_eq!(status, 404);
    let (status, started) = enrolment_options(&device, &server, &csrf, secret).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["publicKey"]["user"]["name"], "misaki");
    let (mut passkey, credential) =
        SoftPasskey::register(&server.base, &started["publicKey"]).unwrap();
    let enrol = |csrf: String, secret: String, ceremony: String, credential: String| {
        let device = &device;
        let server = &server;
        async move {
            device
                .post_form(
                    &server.url("/enrol"),
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("token", secret.as_str()),
                        ("ceremony", ceremony.as_str()),
                        ("credential", credential.as_str()),
                        ("name", "美咲のスマートフォン"),
                    ],
                )
                .await
        }
    };
    let sealed = started["ceremony"].as_str().unwrap().to_owned();
    let forged = enrol(
        "forged".into(),
        secret.into(),
        sealed.clone(),
        credential.to_string(),
    )
    .await;
    assert_eq!(forged.status(), 403);
    let done = enrol(
        csrf.clone(),
        secret.into(),
        sealed.clone(),
        credential.to_string(),
    )
    .await;
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("パスキーを登録しました")
    );
    // The link worked once.
    let (status, _) = enrolment_options(&device, &server, &csrf, secret).await;
    assert_eq!(status, 404);

    // The passkey signs Misaki in, as a passkey.
    let browser = passkey_sign_in(&server, &mut passkey).await;
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("田中"), "{home}");

    // A link enrols the first passkey only: Misaki adds another after signing in with hers.
    let (status, problem) = issue(misaki.clone()).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already has a passkey"),
        "{problem}"
    );
    // Links are for staff, within the administrator's reach.
    let taro = account(&server, "taro").await;
    let (status, problem) = issue(taro).await;
    assert_eq!(status, 400, "{problem}");
    // Locking the account voids its link, and unlocking does not bring it back.
    let sakura_admin = account(&server, "sakura-admin").await;
    let (status, link) = issue(sakura_admin.clone()).await;
    assert_eq!(status, 200, "{link}");
    let sakura_secret = link["url"]
        .as_str()
        .unwrap()
        .split_once('#')
        .unwrap()
        .1
        .to_owned();
    for what in ["lock", "unlock"] {
        let (status, done) = browser_call(
            &board,
            &server,
            &board_csrf,
            reqwest::Method::POST,
            format!("/admin/api/people/{sakura_admin}/{what}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{what}: {done}");
    }
    let (status, _) = enrolment_options(&device, &server, &csrf, &sakura_secret).await;
    assert_eq!(status, 404, "the lock voided the link");
    let (kaede, kaede_csrf) = passkey_browser(&server, "kaede-admin").await;
    let (status, _) = browser_call(
        &kaede,
        &server,
        &kaede_csrf,
        reqwest::Method::POST,
        format!("/admin/api/people/{misaki}/enrolment-link"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // The console's page shows a link with its QR code.
    let html = board
        .get(&server.url("/admin/people?q=sakura-admin"))
        .await
        .text()
        .await
        .unwrap();
    let page = board
        .post_form(
            &server.url(&format!("/admin/people/{sakura_admin}/enrolment")),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert_eq!(page.status(), 200, "{:?}", page.url());
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    assert!(page.contains("<svg") && page.contains("/enrol#"), "{page}");

    // Issuing and using were audited.
    let details = admin_details(&server, &token, "misaki").await;
    assert_eq!(
        details
            .iter()
            .filter(|d| d.contains("enrolment link for account misaki issued"))
            .count(),
        2,
        "{details:?}"
    );
    assert_eq!(
        details
            .iter()
            .filter(|d| d.contains("registered for account misaki with an enrolment link"))
            .count(),
        1,
        "{details:?}"
    );
    server.stop().await;
}

async fn an_admin_app_limited_to_a_school_reaches_that_school_only(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let register = |admin_school: &str, scopes: Vec<String>| {
        renkei_idp::client::register(
            server.store.as_ref(),
            server.directory.as_ref(),
            &server.audit,
            "test",
            NewClient {
                name: "さくら小の自動化".into(),
                grant_types: vec!["client_credentials".into()],
                scopes,
                admin_school: Some(admin_school.into()),
                ..NewClient::default()
            },
        )
    };
    let admin = vec!["urn:renkei:scope:admin".to_owned()];
    let unknown = register("nowhere", admin.clone()).await.err().unwrap();
    assert!(unknown.to_string().contains("no school"), "{unknown}");
    let without_scope = register("sakura", Vec::new()).await.err().unwrap();
    assert!(
        without_scope.to_string().contains("urn:renkei:scope:admin"),
        "{without_scope}"
    );
    let app = register("sakura", admin).await.unwrap();
    let token = app_token(
        &server,
        &app.client.id,
        app.secret.as_deref().unwrap(),
        "urn:renkei:scope:admin",
    )
    .await;
    let (status, overview) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/overview",
        None,
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["administers"], "sakura");
    for (path, refused) in [
        ("/admin/api/people?school=kaede", 403),
        ("/admin/api/consents?class=kaede-3-1", 404),
        ("/admin/api/consents/pupils/k-ren", 404),
    ] {
        let (status, problem) = call(&server, &token, reqwest::Method::GET, path, None).await;
        assert_eq!(status, refused, "{path}: {problem}");
    }
    let (status, seen) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/admin/api/consents?class=sakura-3-1",
        None,
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    server.stop().await;
}

/// The board's administrator adds an upstream provider through the API and the security page
/// (the redirect URI to register shown, the secret never), switches it off and removes it, and
/// unlinks a person's upstream account; an app's token changes nothing; a school administrator
/// sees none of it.
async fn the_board_manages_upstream_sign_in_in_the_console(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let callback = renkei_idp::upstream::redirect_uri(&server.state.config.issuer, "google");
    let google = support::UpstreamProvider::start(
        "google",
        None,
        "renkei",
        "s3cret",
        std::slice::from_ref(&callback),
    );
    let (browser, csrf) = passkey_browser(&server, "board-admin").await;
    let body = json!({
        "name": "google", "issuer": google.issuer, "client_id": "renkei",
        "client_secret": "s3cret", "allowed_domains": ["sakura.ed.jp"],
        "label_ja": "Googleでログイン", "label_en": "Sign in with Google",
    });
    // An app's token adds no sign-in method: a person does.
    let app = admin_app_token(&server).await;
    let (status, _) = call(
        &server,
        &app,
        reqwest::Method::POST,
        "/admin/api/upstreams",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let mut bad = body.clone();
    bad["name"] = json!("Google!");
    let (status, problem) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::POST,
        "/admin/api/upstreams".into(),
        Some(bad),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("lower-case letters"),
        "{problem}"
    );
    let (status, added) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::POST,
        "/admin/api/upstreams".into(),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["upstream"]["redirect_uri"], callback);
    assert_eq!(added["discovery"], "ok");
    let (status, listed) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::GET,
        "/admin/api/upstreams".into(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["name"], "google");
    assert!(!listed.to_string().contains("s3cret"), "{listed}");

    // The security page lists it with its redirect URI; its form explains a refusal.
    let page = browser
        .get(&server.url("/admin/security"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"upstream-list\"") && page.contains(&callback),
        "{page}"
    );
    let form_csrf = hidden(&page, "csrf_token");
    let refused = browser
        .post_form(
            &server.url("/admin/security/upstreams"),
            &[
                ("csrf_token", form_csrf.as_str()),
                ("preset", "microsoft"),
                ("name", "entra"),
                ("client_id", "renkei"),
                ("client_secret", "x"),
                ("link_by", "email"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("--tenant") && html.contains("aria-invalid=\"true\""),
        "{html}"
    );
    assert!(
        !html.contains("value=\"x\""),
        "the secret is not written back"
    );

    // A person's link, unlinked by the administrator.
    let taro = server
        .store
        .user_by_username("taro")
        .await
        .unwrap()
        .unwrap();
    renkei_idp::upstream::link(
        server.store.as_ref(),
        &server.audit,
        "test",
        "google",
        "taro",
        "g-taro",
    )
    .await
    .unwrap();
    let (status, unlinked) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::POST,
        format!("/admin/api/people/{}/upstreams/google/unlink", taro.id),
        None,
    )
    .await;
    assert_eq!((status, unlinked), (200, json!(true)));

    // Switched off from the page, then removed.
    let off = browser
        .post_form(
            &server.url("/admin/security/upstreams/google/disable"),
            &[("csrf_token", form_csrf.as_str())],
        )
        .await;
    assert_eq!(location(&off), "/admin/security");
    let page = browser
        .get(&server.url("/admin/security"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("停止中") && page.contains("外部のログインを変更しました"),
        "{page}"
    );
    let login = Browser::new()
        .get(&server.url("/login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!login.contains("/login/upstream/google"));
    let (status, _) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::POST,
        "/admin/api/upstreams/google/remove".into(),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, listed) = browser_call(
        &browser,
        &server,
        &csrf,
        reqwest::Method::GET,
        "/admin/api/upstreams".into(),
        None,
    )
    .await;
    assert_eq!(listed, json!([]));

    // A school administrator sees none of it.
    let (school, school_csrf) = passkey_browser(&server, "sakura-admin").await;
    let (status, _) = browser_call(
        &school,
        &server,
        &school_csrf,
        reqwest::Method::GET,
        "/admin/api/upstreams".into(),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let details = admin_details(&server, &app, "upstream").await;
    for expected in [
        "upstream provider google added",
        "account taro unlinked from upstream provider google",
        "upstream provider google switched off",
        "upstream provider google removed",
    ] {
        assert!(
            details.iter().any(|d| d.contains(expected)),
            "{expected}: {details:#?}"
        );
    }
}

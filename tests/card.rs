//! Sign-in cards, end to end over HTTP on both databases: a teacher prints their class's
//! cards; a pupil signs in with one (the next pupil's card ends the previous session on a
//! shared tablet); the ID token says a card was used; a PIN is asked from the chosen grade and
//! wrong PINs pause the card; a reissued or voided card no longer signs in; a card never signs
//! in a teacher; an app asking for a passkey gets no card sign-in; every use is audited; the
//! command line issues a class's cards as JSON and as a printable sheet.

mod support;

use base64::Engine;
use serde_json::Value;
use support::{Backend, Browser, PASSWORD, TestServer, hidden, location};

on_both_databases!(
    a_class_signs_in_with_printed_cards,
    pins_reissues_and_voids,
    the_command_line_issues_a_class_sheet
);

/// The cards' codes on a printed sheet, in the sheet's order (by 出席番号).
fn codes_of(sheet: &str) -> Vec<String> {
    sheet
        .split("<p class=\"card-code\">")
        .skip(1)
        .map(|part| {
            let start = part.find("<span>").unwrap() + "<span>".len();
            part[start..start + part[start..].find('<').unwrap()].to_owned()
        })
        .collect()
}

/// The PINs on a printed sheet, in order.
fn pins_of(sheet: &str) -> Vec<String> {
    sheet
        .split("<p class=\"card-pin\">")
        .skip(1)
        .map(|part| {
            let start = part.find("<strong>").unwrap() + "<strong>".len();
            part[start..start + 4].to_owned()
        })
        .collect()
}

/// The signed-in `teacher` posts a form of the class view to `path`, with the page's CSRF token
/// and `fields`.
async fn post_from_class(
    server: &TestServer,
    teacher: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = teacher
        .get(&server.url("/class"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    teacher.post_form(&server.url(path), &form).await
}

/// Misaki, signed in, prints `path` (a class's sheet or one pupil's card) with `pin_from`.
async fn print(server: &TestServer, teacher: &Browser, path: &str, pin_from: &str) -> String {
    let sheet = post_from_class(server, teacher, path, &[("pin_from", pin_from)]).await;
    assert_eq!(sheet.status(), 200, "{path}");
    assert_eq!(sheet.headers()["cache-control"], "no-store");
    sheet.text().await.unwrap()
}

/// Shows `code` (and `pin`) to the card sign-in page of `tablet`, for the pending
/// authorization `request` (empty: none).
async fn show_card(
    server: &TestServer,
    tablet: &Browser,
    code: &str,
    pin: &str,
    request: &str,
) -> reqwest::Response {
    let page = tablet
        .get(&server.url("/login/card"))
        .await
        .text()
        .await
        .unwrap();
    tablet
        .post_form(
            &server.url("/login/card"),
            &[
                ("csrf_token", &hidden(&page, "csrf_token")),
                ("request", request),
                ("code", code),
                ("pin", pin),
            ],
        )
        .await
}

/// The name the home page greets.
async fn signed_in_as(server: &TestServer, tablet: &Browser) -> String {
    tablet.get(&server.url("/")).await.text().await.unwrap()
}

async fn a_class_signs_in_with_printed_cards(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let teacher = Browser::new();
    teacher.sign_in(&server, "misaki", PASSWORD).await;
    let sheet = print(&server, &teacher, "/class/sakura-3-1/cards", "").await;
    // One card per pupil of 3年1組, by 出席番号, each with its QR code.
    assert_eq!(sheet.matches("<li class=\"card\">").count(), 2, "{sheet}");
    assert_eq!(sheet.matches("<svg").count(), 2);
    let taro_at = sheet.find("山田\u{3000}太郎").unwrap();
    assert!(taro_at < sheet.find("佐藤\u{3000}花子").unwrap());
    assert!(sheet.contains("<rt>ヤマダ\u{3000}タロウ</rt>"), "{sheet}");
    let codes = codes_of(&sheet);
    assert_eq!(codes.len(), 2);
    assert!(codes.iter().all(|c| c.len() >= 43), "{codes:?}");
    assert!(pins_of(&sheet).is_empty(), "no PIN was asked for");
    // Misaki prints her own classes only.
    let refused = post_from_class(&server, &teacher, "/class/kaede-3-1/cards", &[]).await;
    assert_eq!(refused.status(), 404);

    // At 8:30 on a shared tablet: Taro shows his card, then Hanako hers.
    let tablet = Browser::new();
    let signed_in = show_card(&server, &tablet, &codes[0], "", "").await;
    assert_eq!(location(&signed_in), "/");
    let home = signed_in_as(&server, &tablet).await;
    assert!(home.contains("山田"), "{home}");
    // "Not you?" leads the next pupil to the sign-in page, which offers the card.
    assert!(home.contains("id=\"not-you\""), "{home}");
    let sign_in = tablet.get(&server.url("/login")).await;
    assert_eq!(sign_in.status(), 200);
    assert!(sign_in.text().await.unwrap().contains("id=\"card-link\""));
    let taro = renkei_idp::user::by_username(server.store.as_ref(), "taro")
        .await
        .unwrap();
    let now = renkei_platform::clock::now();
    assert_eq!(
        server.store.sessions_of(&taro.id, now).await.unwrap().len(),
        1
    );
    // Taro uses an app on the tablet (it keeps a refresh token).
    let app = server.web_app().await;
    let tokens =
        support::code_flow_tokens(&server, &app, &tablet, "taro", "openid offline_access").await;
    let taro_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let next = show_card(&server, &tablet, &codes[1], "", "").await;
    assert_eq!(location(&next), "/");
    // The app can no longer act for Taro: the next pupil's sign-in ended his grant.
    let refreshed = support::refresh(&server, &app, &taro_refresh).await;
    assert_eq!(refreshed.status(), 400, "Taro's refresh token was revoked");
    assert!(signed_in_as(&server, &tablet).await.contains("佐藤"));
    assert!(
        server
            .store
            .sessions_of(&taro.id, now)
            .await
            .unwrap()
            .is_empty(),
        "the next pupil's card ended Taro's session"
    );

    // An app sees that a card was used.
    let (verifier, challenge) = support::pkce();
    let url = support::code_request(
        &server,
        &app,
        "openid profile",
        &challenge,
        &[("state", "s"), ("nonce", "n")],
    );
    let back = tablet.authorize(&server, &url, "hanako", true).await;
    let code = support::query_param(&back, "code").expect("a code");
    let tokens: Value = support::exchange(&server, &app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["acr"], "urn:renkei:acr:card", "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["card"]), "{claims}");
    // Discovery lists the class.
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
            .contains(&Value::from("urn:renkei:acr:card"))
    );

    // An app that asks for a passkey gets no card sign-in.
    let (_, challenge) = support::pkce();
    let url = support::code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", "urn:renkei:acr:passkey")],
    );
    let fresh = Browser::new();
    let first = fresh.get(&url).await;
    let login = format!("{}{}", server.base, location(&first));
    let html = fresh.get(&login).await.text().await.unwrap();
    let request = hidden(&html, "request");
    let refused = show_card(&server, &fresh, &codes[0], "", &request).await;
    assert_eq!(refused.status(), 200);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("カードではログインできません"),
        "no card sign-in for a passkey-only app"
    );

    // Neither does an app that names the classes it takes without the card's.
    let (_, challenge) = support::pkce();
    let url = support::code_request(
        &server,
        &app,
        "openid",
        &challenge,
        &[("acr_values", "urn:renkei:acr:password")],
    );
    let other = Browser::new();
    let first = other.get(&url).await;
    let login = format!("{}{}", server.base, location(&first));
    let html = other.get(&login).await.text().await.unwrap();
    assert!(!html.contains("card-link"), "no card offered: {html}");
    let refused = show_card(&server, &other, &codes[0], "", &hidden(&html, "request")).await;
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("カードではログインできません")
    );
    // A card session does not sign the pupil in to such an app either: it asks again.
    let again = tablet.get(&url).await;
    assert!(
        location(&again).starts_with("/login"),
        "{}",
        location(&again)
    );

    // A page opened from another site with a card's code in its address waits for a tap.
    let cross = reqwest::Client::new()
        .get(server.url("/login/card"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!cross.contains("data-card-autosubmit"), "{cross}");
    let typed = reqwest::Client::new()
        .get(server.url("/login/card"))
        .header("sec-fetch-site", "none")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(typed.contains("data-card-autosubmit"), "{typed}");

    // A card never signs in a teacher, and unknown codes sign in no one.
    let teacher_card = renkei_idp::card::issue(
        server.store.as_ref(),
        &server.audit,
        "test",
        &server.base,
        "misaki",
        false,
    )
    .await
    .err()
    .unwrap();
    assert!(
        teacher_card.to_string().contains("for pupils"),
        "{teacher_card}"
    );
    let unknown = show_card(&server, &Browser::new(), "not-a-card", "", "").await;
    assert_eq!(unknown.status(), 200);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("このカードではログインできません")
    );

    // Printing and each sign-in were audited, naming the pupil.
    let events = server
        .audit_events(renkei_platform::audit::search::AuditFilter {
            child: Some("s-taro".into()),
            ..Default::default()
        })
        .await;
    let details: Vec<String> = events
        .iter()
        .filter_map(|e| e.event.detail.clone())
        .collect();
    assert_eq!(
        details
            .iter()
            .filter(|d| d.contains("account taro signed in with a sign-in card"))
            .count(),
        1,
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("sign-in card for account taro issued")),
        "{details:?}"
    );
    server.stop().await;
}

async fn pins_reissues_and_voids(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let teacher = Browser::new();
    teacher.sign_in(&server, "misaki", PASSWORD).await;
    // 3年1組 is P3: PINs from 小3 on.
    let sheet = print(&server, &teacher, "/class/sakura-3-1/cards", "3").await;
    let codes = codes_of(&sheet);
    let pins = pins_of(&sheet);
    assert_eq!(pins.len(), 2, "{sheet}");
    assert!(pins.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())));

    // The card alone asks for its PIN; a wrong PIN is refused; the right one signs in.
    let tablet = Browser::new();
    let asked = show_card(&server, &tablet, &codes[0], "", "").await;
    assert_eq!(asked.status(), 200);
    let page = asked.text().await.unwrap();
    assert!(page.contains("id=\"pin\""), "{page}");
    let wrong = if pins[0] == "0000" { "1111" } else { "0000" };
    let refused = show_card(&server, &tablet, &codes[0], wrong, "").await;
    assert_eq!(refused.status(), 200);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("aria-invalid=\"true\"")
    );
    let signed_in = show_card(&server, &tablet, &codes[0], &pins[0], "").await;
    assert_eq!(location(&signed_in), "/");
    // Wrong PINs pause the card.
    let mut last = 0;
    for _ in 0..6 {
        last = show_card(&server, &Browser::new(), &codes[1], wrong_for(&pins[1]), "")
            .await
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "wrong PINs pause the card");
    let paused = show_card(&server, &Browser::new(), &codes[1], &pins[1], "").await;
    assert_eq!(paused.status(), 429, "even the right PIN waits");

    // A new card for Taro: the old one stops working.
    let one = print(
        &server,
        &teacher,
        "/class/sakura-3-1/pupils/s-taro/card",
        "",
    )
    .await;
    let new_code = codes_of(&one).remove(0);
    assert_eq!(codes_of(&one).len(), 1);
    let old = show_card(&server, &Browser::new(), &codes[0], &pins[0], "").await;
    assert_eq!(old.status(), 200, "the old card is refused");
    assert_eq!(
        location(&show_card(&server, &Browser::new(), &new_code, "", "").await),
        "/"
    );
    // Voided: lost on the way home; whoever found it and signed in is signed out.
    let finder = Browser::new();
    assert_eq!(
        location(&show_card(&server, &finder, &new_code, "", "").await),
        "/"
    );
    let voided = post_from_class(
        &server,
        &teacher,
        "/class/sakura-3-1/pupils/s-taro/card/void",
        &[],
    )
    .await;
    assert_eq!(voided.status(), 200);
    let after = show_card(&server, &Browser::new(), &new_code, "", "").await;
    assert_eq!(after.status(), 200, "a voided card is refused");
    assert!(
        after
            .text()
            .await
            .unwrap()
            .contains("このカードではログインできません")
    );
    let home = finder.get(&server.url("/")).await.text().await.unwrap();
    assert!(
        home.contains("href=\"/login\""),
        "the finder is signed out: {home}"
    );
    assert!(!home.contains("山田"), "{home}");

    // A board that requires passkeys of pupils: a card no longer counts.
    renkei_idp::assurance::set(
        server.store.as_ref(),
        &server.audit,
        "test",
        "student",
        renkei_idp::assurance::Requirement::Passkey,
        None,
    )
    .await
    .unwrap();
    let hanako = show_card(&server, &Browser::new(), &codes[1], &pins[1], "").await;
    assert_eq!(hanako.status(), 403, "the board's rule holds for cards too");
    // A forged form prints nothing.
    let forged = teacher
        .post_form(
            &server.url("/class/sakura-3-1/cards"),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    server.stop().await;
}

/// A PIN that is not `pin`.
fn wrong_for(pin: &str) -> &'static str {
    if pin == "0000" { "1111" } else { "0000" }
}

async fn the_command_line_issues_a_class_sheet(backend: Backend) {
    let server = TestServer::console_board(backend).await;
    let url = server.database.url.clone();
    let out = support::run_renkei(
        &url,
        &[
            "card",
            "issue",
            "--class",
            "sakura-3-1",
            "--issuer",
            &server.base,
            "--pin-from-grade",
            "1",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["student"], "s-taro");
    assert_eq!(lines[0]["number"], 1);
    let code = lines[0]["code"].as_str().unwrap();
    assert_eq!(
        lines[0]["url"].as_str().unwrap(),
        format!("{}/login/card#{code}", server.base)
    );
    let pin = lines[0]["pin"].as_str().unwrap();
    assert_eq!(
        location(&show_card(&server, &Browser::new(), code, pin, "").await),
        "/"
    );
    // The printable sheet, standing alone.
    let out = support::run_renkei(
        &url,
        &[
            "card",
            "issue",
            "--class",
            "sakura-3-1",
            "--issuer",
            &server.base,
            "--format",
            "html",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(
        html.contains("<style>") && html.matches("<svg").count() == 2,
        "{html}"
    );
    assert!(!html.contains("/logout"), "a standalone sheet has no links");
    // Voiding from the command line.
    let new_code = codes_of(&html).remove(0);
    let out = support::run_renkei(&url, &["card", "void", "--student", "s-taro"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = show_card(&server, &Browser::new(), &new_code, "", "").await;
    assert_eq!(after.status(), 200);
    let bad = support::run_renkei(
        &url,
        &[
            "card",
            "issue",
            "--class",
            "nowhere",
            "--issuer",
            &server.base,
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no class"));
    server.stop().await;
}

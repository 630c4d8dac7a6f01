//! The guardians' and pupils' consent page (`/account`) over HTTP, on SQLite and PostgreSQL: a
//! guardian sees each child's apps with purpose, basis state and special-care marks, agrees
//! and withdraws with the page's own forms (in force at once, audited), and reads the child's
//! read history in words; pupils see their own; staff and strangers see no child.

mod support;

use serde_json::Value;
use support::*;

on_both_databases!(
    a_young_pupils_pages_carry_furigana,
    the_home_page_says_who_you_are_and_what_you_use,
    every_error_page_leads_home_in_the_readers_language,
    the_approval_screen_shows_each_persons_state,
    a_guardian_agrees_and_withdraws_on_the_page,
    the_read_history_is_in_words,
    the_page_is_for_guardians_and_pupils_only,
);

const CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";

/// `username`'s browser, signed in.
async fn signed_in(server: &TestServer, username: &str) -> Browser {
    let browser = Browser::new();
    let response = browser.sign_in(server, username, PASSWORD).await;
    assert_eq!(location(&response), "/");
    browser
}

async fn page(browser: &Browser, server: &TestServer, path: &str) -> String {
    let response = browser.get(&server.url(path)).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The section of the page about the child named `name`.
fn section<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!(">{name}</h2>"))
        .expect("the child's section");
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// Posts a consent change for `student` (attendance, agree) as `browser`, with `token`.
async fn post_grant(
    browser: &Browser,
    server: &TestServer,
    token: &str,
    student: &str,
    app: &TestClient,
) -> reqwest::Response {
    browser
        .post_form(
            &server.url("/account/consent"),
            &[
                ("csrf_token", token),
                ("student_id", student),
                ("client_id", app.id.as_str()),
                ("category_id", ATTENDANCE),
                ("action", "grant"),
            ],
        )
        .await
}

/// Posts the form of `section` whose hidden `category_id` is `category`.
async fn press(
    browser: &Browser,
    server: &TestServer,
    html: &str,
    child: &str,
    category: &str,
) -> reqwest::Response {
    let part = section(html, child);
    let at = part
        .find(&format!("name=\"category_id\" value=\"{category}\""))
        .expect("a form for the category");
    let form = &part[part[..at].rfind("<form").unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    let fields: Vec<(String, String)> = [
        "csrf_token",
        "student_id",
        "client_id",
        "category_id",
        "action",
    ]
    .iter()
    .map(|name| ((*name).to_owned(), hidden(form, name)))
    .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser
        .post_form(&server.url("/account/consent"), &fields)
        .await
}

async fn a_guardian_agrees_and_withdraws_on_the_page(backend: Backend) {
    let (server, app) = consent_board(backend).await;
    let guardian = signed_in(&server, "g001").await;
    let home = page(&guardian, &server, "/").await;
    assert!(home.contains("href=\"/account\""), "home leads to the page");
    let html = page(&guardian, &server, "/account").await;
    for child in ["山田 太郎", "山田 花子"] {
        let part = section(&html, child);
        assert!(part.contains("さくら学習ドリル"), "{part}");
        assert!(part.contains("出欠") && part.contains("保健"), "{part}");
        assert!(part.contains("利用目的：学習支援"), "{part}");
        assert!(
            part.contains("まだ決めていません（同意が必要です）"),
            "{part}"
        );
        assert_eq!(
            part.matches("要配慮個人情報").count(),
            1,
            "health is special-care data, attendance is not"
        );
        let school = &part[part
            .find("学校の判断で提供している情報")
            .expect("what the school provides is shown too")..];
        let school = &school[..school.find("読まれた記録").unwrap()];
        assert!(school.contains("名簿（基本）"), "{school}");
        assert!(
            !part.contains(&format!("name=\"category_id\" value=\"{CORE}\"")),
            "the board's decision has nothing to agree to"
        );
    }
    assert!(html.contains("<a href=\"/logout\">"), "a way out");

    // Agree for 太郎's attendance: in force at once, recorded and audited.
    let agreed = press(&guardian, &server, &html, "山田 太郎", ATTENDANCE).await;
    assert_eq!(location(&agreed), "/account");
    let html = page(&guardian, &server, "/account").await;
    assert!(html.contains("同意しました。アプリはすぐにこの情報を読めるようになります。"));
    let taro = section(&html, "山田 太郎");
    assert!(taro.contains("同意済み"), "{taro}");
    assert!(taro.contains("同意を取り消す"), "{taro}");
    assert!(
        section(&html, "山田 花子").contains("まだ決めていません"),
        "花子 is decided apart"
    );
    let decided = server
        .consent
        .store
        .consents(Some("s001"), None)
        .await
        .unwrap();
    let last = decided.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.client_id.as_str()),
        ("grant", app.id.as_str())
    );

    // Withdraw: the page says the app can no longer read it.
    let withdrawn = press(&guardian, &server, &html, "山田 太郎", ATTENDANCE).await;
    assert_eq!(location(&withdrawn), "/account");
    let html = page(&guardian, &server, "/account").await;
    assert!(html.contains("同意を取り消しました。アプリはこの情報をもう読めません。"));
    assert!(section(&html, "山田 太郎").contains("同意は取り消されています"));

    // A form without its CSRF token changes nothing.
    let forged = post_grant(&guardian, &server, "forged", "s001", &app).await;
    assert_eq!(forged.status(), 403);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("変更できませんでした")
    );
    let decisions = || async {
        server
            .consent
            .store
            .consents(Some("s001"), None)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(decisions().await, 2, "the forged form changed nothing");
    // Staff may not use a guardian's page, even with a valid form: administrators record
    // paper consents on the command line.
    for staff in ["a001", "t001"] {
        let browser = signed_in(&server, staff).await;
        let home = page(&browser, &server, "/").await;
        let token = hidden(&home, "csrf_token");
        let refused = post_grant(&browser, &server, &token, "s001", &app).await;
        assert_eq!(refused.status(), 403, "{staff}");
        assert_eq!(decisions().await, 2, "{staff} changed nothing");
    }
    // Nor may a guardian decide for another family's child.
    let html = page(&guardian, &server, "/account").await;
    let token = hidden(&html, "csrf_token");
    let stranger = post_grant(&guardian, &server, &token, "s003", &app).await;
    assert_eq!(stranger.status(), 403);
    assert_eq!(
        server
            .consent
            .store
            .consents(Some("s003"), None)
            .await
            .unwrap()
            .len(),
        0
    );
    let english = page(&guardian, &server, "/account?lang=en").await;
    assert!(english.contains("What apps may read") && english.contains("Special-care information"));
    server.stop().await;
}

async fn the_read_history_is_in_words(backend: Backend) {
    let (server, app) = consent_board(backend).await;
    let before_read = japanese_today();
    let exchanged = back_channel(
        &server,
        &app,
        "/token",
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("requested_token_type", renkei_capability::TOKEN_TYPE),
            ("scope", CORE),
            ("resource", "urn:renkei:school:sakura-es"),
        ],
    )
    .await;
    assert_eq!(exchanged.status(), 200);
    let token: Value = exchanged.json().await.unwrap();
    let read = reqwest::Client::new()
        .get(server.url("/ims/oneroster/rostering/v1p2/students/s001"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    server.gateway.audit.flush().await;
    let guardian = signed_in(&server, "g001").await;
    let html = page(&guardian, &server, "/account").await;
    let taro = section(&html, "山田 太郎");
    let days = [before_read, japanese_today()];
    let table = &taro[taro.find("<table class=\"reads\"").expect("a read history")..];
    let row = table
        .split("<tr>")
        .find(|row| row.contains("さくら学習ドリル"))
        .unwrap_or_else(|| panic!("the read is listed: {taro}"));
    assert!(
        days.iter().any(|day| row.contains(&format!("<td>{day} "))),
        "{row}"
    );
    assert!(
        row.contains("<td>名簿（基本）</td>") && row.contains("<td>1</td>"),
        "{row}"
    );
    assert!(
        section(&html, "山田 花子").contains("まだ読まれていません。"),
        "花子 was not read"
    );
    let pupil = signed_in(&server, "s001").await;
    let own = page(&pupil, &server, "/account").await;
    assert!(
        own.contains(
            "アプリがあなたのどの<ruby>情報<rp>（</rp><rt>じょうほう</rt><rp>）</rp></ruby>を"
        ),
        "a grade-3 pupil's words: {own}"
    );
    assert!(section(&own, "山田 太郎").contains("さくら学習ドリル"));
    server.stop().await;
}

async fn the_page_is_for_guardians_and_pupils_only(backend: Backend) {
    let (server, _) = consent_board(backend).await;
    let signed_out = Browser::new().get(&server.url("/account")).await;
    assert_eq!(location(&signed_out), "/login");
    let teacher = signed_in(&server, "t001").await;
    let html = page(&teacher, &server, "/account").await;
    assert!(html.contains("このページは、保護者の方と児童生徒のためのページです。"));
    assert!(!html.contains("<h2"), "no child");
    assert!(
        !page(&teacher, &server, "/")
            .await
            .contains("href=\"/account\""),
        "staff are not led there"
    );
    server.stop().await;
}

/// The approval page of `app`'s sign-in for `browser` (already signed in), in `lang`.
async fn approval_page(
    browser: &Browser,
    server: &TestServer,
    app: &TestClient,
    lang: &str,
) -> String {
    let (_, challenge) = pkce();
    let url = code_request(
        server,
        app,
        "openid profile",
        &challenge,
        &[("ui_locales", lang)],
    );
    let response = browser.get(&url).await;
    let consent = location(&response);
    assert!(consent.starts_with("/consent?"), "{consent}");
    page(browser, server, &consent).await
}

/// The part of a page from `from` up to `to`.
fn between<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(to).unwrap_or(rest.len())]
}

/// The app-approval screen says whose data it is, separates the board's decision from what
/// needs consent, marks special-care data, and shows this person's decision for each child:
/// politely to a guardian and to staff, plainly to a pupil, in English with the English purpose.
async fn the_approval_screen_shows_each_persons_state(backend: Backend) {
    let (server, app) = consent_board(backend).await;
    let guardian = signed_in(&server, "g001").await;
    let html = approval_page(&guardian, &server, &app, "ja").await;
    assert!(
        html.contains("</strong>が次の情報の利用を求めています。"),
        "polite: {html}"
    );
    assert!(
        html.contains("お子さま（山田 太郎、山田 花子）の情報です。"),
        "{html}"
    );
    let board = between(
        &html,
        "教育委員会の決定で提供される情報",
        "同意が必要な情報",
    );
    assert!(
        board.contains("名簿（基本）") && board.contains("利用目的：学習支援"),
        "{board}"
    );
    assert!(!board.contains("出欠"), "{board}");
    let needed = between(&html, "同意が必要な情報", "</ul>");
    assert!(
        needed.contains("出欠") && needed.contains("保健"),
        "{needed}"
    );
    assert_eq!(
        needed.matches("要配慮個人情報").count(),
        1,
        "health only: {needed}"
    );
    assert!(
        needed.contains("保護者の同意がある場合だけ提供されます。"),
        "{needed}"
    );
    assert_eq!(
        needed
            .matches("山田 太郎：まだ決めていません（同意が必要です）")
            .count(),
        2,
        "attendance and health, not decided: {needed}"
    );

    // Agreed for 太郎's attendance: the next approval screen says so, for him only.
    let token = hidden(&page(&guardian, &server, "/account").await, "csrf_token");
    let agreed = post_grant(&guardian, &server, &token, "s001", &app).await;
    assert_eq!(agreed.status(), 303);
    let html = approval_page(&guardian, &server, &app, "ja").await;
    let attendance = between(&html, "<strong>出欠", "</li>");
    assert!(attendance.contains("山田 太郎：同意済み"), "{attendance}");
    assert!(
        attendance.contains("山田 花子：まだ決めていません（同意が必要です）"),
        "{attendance}"
    );
    let english = approval_page(&guardian, &server, &app, "en").await;
    assert!(
        english.contains("</strong> asks to use the following information."),
        "{english}"
    );
    assert!(english.contains("Purpose: Learning support"), "{english}");
    assert!(english.contains("山田 太郎: Agreed"), "{english}");
    assert!(english.contains("Special-care information"), "{english}");

    let pupil = signed_in(&server, "s001").await;
    let html = approval_page(&pupil, &server, &app, "ja").await;
    assert!(
        html.contains("</strong>が、つぎの<ruby>情報<rp>（</rp><rt>じょうほう</rt><rp>）</rp></ruby>をつかいたいと"),
        "plain: {html}"
    );
    assert!(html.contains("あなたの<ruby>情報"), "{html}");
    let teacher = signed_in(&server, "t001").await;
    let html = approval_page(&teacher, &server, &app, "ja").await;
    assert!(
        html.contains("</strong>が次の情報の利用を求めています。"),
        "{html}"
    );
    assert!(html.contains("担当する児童生徒の情報です。"), "{html}");
    assert!(
        !html.contains("山田 太郎："),
        "staff decide for no child: {html}"
    );
    server.stop().await;
}

/// A browser's GET or POST asking for HTML.
async fn navigate(
    browser: &Browser,
    method: reqwest::Method,
    url: &str,
    body: Option<String>,
) -> (u16, String) {
    let mut request = browser
        .http
        .request(method, url)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Every error page a browser sees — an unknown address, an expired form, a form over the size
/// limit, a form's address opened directly — is in the reader's language with a way home, to
/// sign in or out, and the language toggle; apps calling without asking for HTML get the page
/// in both languages.
async fn every_error_page_leads_home_in_the_readers_language(backend: Backend) {
    let (server, _) = consent_board(backend).await;
    let browser = Browser::new();
    let (status, html) = navigate(
        &browser,
        reqwest::Method::GET,
        &server.url("/nowhere?x=1"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(html.contains("<html lang=\"ja\">"), "{html}");
    assert!(html.contains("ページが見つかりません。"), "{html}");
    assert!(html.contains("<a href=\"/\">ホームにもどる</a>"), "{html}");
    assert!(html.contains("<a href=\"/login\">ログイン</a>"), "{html}");
    assert!(
        html.contains("href=\"/nowhere?x=1&#38;lang=en\""),
        "the toggle: {html}"
    );
    assert!(!html.contains("Page not found"), "one language: {html}");
    let (status, html) = navigate(
        &browser,
        reqwest::Method::GET,
        &server.url("/nowhere?lang=en"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Page not found."),
        "{html}"
    );
    assert!(html.contains("href=\"/nowhere?lang=ja\""), "{html}");

    let (status, html) = navigate(
        &browser,
        reqwest::Method::POST,
        &server.url("/login"),
        Some(format!("username={}", "a".repeat(100 * 1024))),
    )
    .await;
    assert_eq!(status, 413);
    assert!(html.contains("送信された内容が大きすぎます。"), "{html}");
    assert!(html.contains("href=\"/?lang=en\""), "{html}");

    let guardian = signed_in(&server, "g001").await;
    let (status, html) = navigate(
        &guardian,
        reqwest::Method::GET,
        &server.url("/account/consent"),
        None,
    )
    .await;
    assert_eq!(status, 405);
    assert!(
        html.contains("このページは、この方法では開けません。"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/logout\">ログアウト</a>"),
        "signed in: {html}"
    );
    let (status, html) = navigate(
        &guardian,
        reqwest::Method::POST,
        &server.url("/account/consent"),
        Some("csrf_token=forged&student_id=s001&client_id=x&category_id=y&action=grant".into()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        html.contains("<a href=\"/logout\">ログアウト</a>"),
        "{html}"
    );
    assert!(html.contains("<html lang=\"ja\">"), "{html}");

    let plain = reqwest::get(server.url("/nowhere")).await.unwrap();
    assert_eq!(plain.status(), 404);
    let html = plain.text().await.unwrap();
    assert!(
        html.contains("ページが見つかりません。") && html.contains("Page not found."),
        "both languages for a caller that did not ask for HTML: {html}"
    );
    server.stop().await;
}

/// The home page says who you are, lists the apps you approved (stopping one ends its tokens
/// and its approval) and your signed-in devices (signing the others out ends their sessions);
/// what a form did is said once, and a link cannot make the page say it.
async fn the_home_page_says_who_you_are_and_what_you_use(backend: Backend) {
    let (server, app) = consent_board(backend).await;
    let guardian = signed_in(&server, "g001").await;
    let tokens = code_flow_tokens(&server, &app, &guardian, "g001", "openid profile").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let guardians_capability = capability_for(&server, &app, &access).await;
    let pupil_browser = signed_in(&server, "s001").await;
    let pupils_tokens =
        code_flow_tokens(&server, &app, &pupil_browser, "s001", "openid profile").await;
    let pupils_capability = capability_for(
        &server,
        &app,
        pupils_tokens["access_token"].as_str().unwrap(),
    )
    .await;
    for capability in [&guardians_capability, &pupils_capability] {
        assert_eq!(read_as(&server, capability).await, 200);
    }
    let home = page(&guardian, &server, "/").await;
    assert!(home.contains("ログイン中：山田 恵子"), "{home}");
    assert!(home.contains("<dt>役割</dt><dd>保護者</dd>"), "{home}");
    assert!(
        home.contains("<dt>学校</dt><dd>みなと市立さくら小学校</dd>"),
        "{home}"
    );
    assert!(
        home.contains("<dt>お子さま</dt><dd>山田 太郎、山田 花子</dd>"),
        "{home}"
    );
    assert!(home.contains("href=\"/account\""), "{home}");
    assert!(home.contains("<strong>さくら学習ドリル</strong>"), "{home}");
    assert!(
        home.contains(&format!("許可した日：{}", japanese_today())),
        "{home}"
    );
    assert!(home.contains("パスワード：設定されています"), "{home}");
    assert!(
        home.contains("ログインしているのは、この端末だけです。"),
        "{home}"
    );
    assert!(home.contains("<a href=\"/logout\">") || home.contains("action=\"/logout\""));

    // A second device; the first signs it out.
    let tablet = signed_in(&server, "g001").await;
    let home = page(&guardian, &server, "/?done=stopped").await;
    assert!(
        home.contains("この端末のほかに、1台の端末でログインしています。"),
        "{home}"
    );
    assert!(
        !home.contains("role=\"status\""),
        "a link says nothing: {home}"
    );
    let token = hidden(&home, "csrf_token");
    let forged = guardian
        .post_form(&server.url("/sessions/others"), &[("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(
        page(&tablet, &server, "/").await.contains("山田 恵子"),
        "nothing ended"
    );
    let done = guardian
        .post_form(&server.url("/sessions/others"), &[("csrf_token", &token)])
        .await;
    assert_eq!(location(&done), "/");
    let home = page(&guardian, &server, "/").await;
    assert!(
        home.contains("ほかの端末からログアウトしました。"),
        "{home}"
    );
    assert!(
        home.contains("ログインしているのは、この端末だけです。"),
        "{home}"
    );
    assert!(
        !page(&guardian, &server, "/")
            .await
            .contains("role=\"status\""),
        "said once"
    );
    assert!(
        page(&tablet, &server, "/")
            .await
            .contains("ログインしていません。"),
        "the other device is signed out"
    );

    // Stop using the app: its tokens end, and it must ask again.
    let stopped = guardian
        .post_form(
            &server.url("/apps/stop"),
            &[("csrf_token", &token), ("client_id", app.id.as_str())],
        )
        .await;
    assert_eq!(location(&stopped), "/");
    let home = page(&guardian, &server, "/").await;
    assert!(home.contains("アプリの利用をやめました。"), "{home}");
    assert!(home.contains("まだアプリを使っていません。"), "{home}");
    let introspected: Value = back_channel(&server, &app, "/introspect", &[("token", &access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false, "the access token ended");
    assert_eq!(refresh(&server, &app, &refresh_token).await.status(), 400);
    assert_eq!(
        read_as(&server, &guardians_capability).await,
        401,
        "the guardian's capability from the app is revoked"
    );
    assert_eq!(
        read_as(&server, &pupils_capability).await,
        200,
        "another person's stays valid"
    );
    let (_, challenge) = pkce();
    let again = guardian
        .get(&code_request(
            &server,
            &app,
            "openid profile",
            &challenge,
            &[],
        ))
        .await;
    assert!(location(&again).starts_with("/consent?"), "asked again");
    server.audit.flush().await;
    assert_eq!(
        server
            .count_sql(
                "SELECT COUNT(*) FROM audit_events WHERE event LIKE '%stopped using the app%'"
            )
            .await,
        1,
        "audited"
    );

    let pupil = page(&signed_in(&server, "s001").await, &server, "/").await;
    assert!(pupil.contains("<dt>あなたは</dt><dd><ruby>児童"), "{pupil}");
    assert!(pupil.contains("<dt>クラス</dt><dd>3年1組</dd>"), "{pupil}");
    let teacher = page(&signed_in(&server, "t001").await, &server, "/").await;
    assert!(
        teacher.contains("<dt>役割</dt><dd>教職員</dd>"),
        "{teacher}"
    );
    assert!(teacher.contains("<dt>クラス</dt><dd>3年1組"), "{teacher}");
    assert!(!teacher.contains("href=\"/account\""), "{teacher}");
    server.stop().await;
}

/// A pupil in grades 1–3 (the roster's grade) reads plain Japanese with furigana on the home,
/// consent and approval pages; titles and button names for screen readers carry no readings;
/// English pages and older readers get none.
async fn a_young_pupils_pages_carry_furigana(backend: Backend) {
    let (server, app) = consent_board(backend).await;
    let pupil = signed_in(&server, "s001").await; // grade P3
    let home = page(&pupil, &server, "/").await;
    assert!(
        home.contains("<ruby>連携<rp>（</rp><rt>れんけい</rt><rp>）</rp></ruby>"),
        "{home}"
    );
    assert!(
        home.contains("<title>連携 Renkei · 連携 Renkei</title>"),
        "plain titles: {home}"
    );
    assert!(
        home.contains("<dt>あなたは</dt><dd><ruby>児童<rp>（</rp><rt>じどう</rt>"),
        "{home}"
    );
    let account = page(&pupil, &server, "/account").await;
    assert!(
        account.contains("アプリに<ruby>見<rp>（</rp><rt>み</rt><rp>）</rp></ruby>せる<ruby>情報<rp>（</rp><rt>じょうほう</rt>"),
        "{account}"
    );
    assert!(!account.contains("｜"), "no mark left unwritten: {account}");
    let approval = approval_page(&pupil, &server, &app, "ja").await;
    assert!(
        approval.contains(">いいよ</button>") && approval.contains(">だめ</button>"),
        "{approval}"
    );
    assert!(
        approval.contains("<ruby>言<rp>（</rp><rt>い</rt><rp>）</rp></ruby>っています。"),
        "{approval}"
    );
    assert!(
        !approval.contains("｜") && !approval.contains("《"),
        "{approval}"
    );
    let english = page(&pupil, &server, "/?lang=en").await;
    assert!(!english.contains("<ruby>"), "{english}");
    let guardian = signed_in(&server, "g001").await;
    for path in ["/", "/account"] {
        let html = page(&guardian, &server, path).await;
        assert!(!html.contains("<ruby>"), "{path}: {html}");
    }
    server
        .execute_sql("UPDATE users SET grade = 'P4' WHERE username = 's001'")
        .await;
    let older = page(&pupil, &server, "/account?lang=ja").await;
    assert!(!older.contains("<ruby>"), "{older}");
    assert!(
        older.contains("アプリがあなたのどの情報を読むかを"),
        "{older}"
    );
    server.stop().await;
}

/// A capability for the roster core, exchanged by `app` for the person of `access_token`.
async fn capability_for(server: &TestServer, app: &TestClient, access_token: &str) -> String {
    let exchanged = back_channel(
        server,
        app,
        "/token",
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("requested_token_type", renkei_capability::TOKEN_TYPE),
            ("subject_token", access_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", CORE),
        ],
    )
    .await;
    assert_eq!(exchanged.status(), 200);
    let token: Value = exchanged.json().await.unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// The status of a gateway read of s001 with `capability`.
async fn read_as(server: &TestServer, capability: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/ims/oneroster/rostering/v1p2/students/s001"))
        .bearer_auth(capability)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

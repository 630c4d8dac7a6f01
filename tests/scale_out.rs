//! Two `renkei serve` processes on one database behave as one provider: a sign-in started on
//! one completes on the other, tokens issued by one work at the other, revocations and sign-in
//! rate limits hold across both.

mod support;

use serde_json::Value;
use support::*;

on_both_databases!(
    two_processes_behave_as_one_provider,
    replicas_starting_together_on_an_empty_database_all_start_and_share_keys,
);

async fn replicas_starting_together_on_an_empty_database_all_start_and_share_keys(
    backend: Backend,
) {
    let database = TestDatabase::new(backend).await;
    renkei::open_database(&database.url).await.unwrap();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move {
                let config = renkei_idp::Config::new("http://127.0.0.1:8080").unwrap();
                let app = renkei::App::open(&url, config).await?;
                Ok::<u32, renkei::Error>(app.consent.keys.snapshot().signing().0)
            })
        })
        .collect();
    for start in starts {
        let signing = start.await.unwrap().expect("every replica starts");
        assert_eq!(signing, 1, "all sign with the first key");
    }
}

async fn two_processes_behave_as_one_provider(backend: Backend) {
    let a = TestServer::start(backend).await;
    let b = a.second_process().await;
    let app = a.web_app().await;
    a.user("student1", "student").await;
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", app.id.as_str()),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", "lb"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // The authorization request reaches process A; the sign-in page and form go to B.
    let started = browser.get(&authorize_url(&a, &params)).await;
    let login_path = location(&started);
    let html = browser.get(&b.url(&login_path)).await.text().await.unwrap();
    let request = hidden(&html, "request");
    let signed_in = browser
        .post_form(
            &b.url("/login"),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("request", &request),
                ("username", "student1"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let consent_path = location(&signed_in);
    assert!(
        consent_path.starts_with("/consent?request="),
        "{consent_path}"
    );
    // The consent page comes from A, and is approved there.
    let html = browser
        .get(&a.url(&consent_path))
        .await
        .text()
        .await
        .unwrap();
    let back = browser
        .post_form(
            &a.url("/consent"),
            &[
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("request", &hidden(&html, "request")),
                ("decision", "approve"),
            ],
        )
        .await;
    let back = url::Url::parse(&location(&back)).unwrap();
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(a.base.as_str()),
        "one issuer"
    );
    let code = query_param(&back, "code").unwrap();
    // The code is redeemed at B; UserInfo answers at A.
    let tokens: Value = exchange(&b, &app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = reqwest::Client::new()
        .get(a.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    // A replay of the code at A is detected and revokes what B issued.
    let replay = exchange(&a, &app, &code, &verifier).await;
    assert_eq!(replay.status(), 400);
    let revoked = reqwest::Client::new()
        .get(b.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401, "revocation holds across processes");
    // The single-sign-on session is shared: B sees the browser as signed in.
    let home = browser.get(&b.url("/")).await.text().await.unwrap();
    assert!(home.contains("山田 太郎"), "{home}");
    // Sign-in rate limits count across processes.
    let attacker_a = Browser::new();
    let attacker_b = Browser::new();
    for attempt in 0..10 {
        let (server, browser) = if attempt % 2 == 0 {
            (&a, &attacker_a)
        } else {
            (&b, &attacker_b)
        };
        browser.sign_in(server, "student1", "guess").await;
    }
    assert_eq!(
        Browser::new()
            .sign_in(&b, "student1", PASSWORD)
            .await
            .status(),
        429
    );
    assert_eq!(
        Browser::new()
            .sign_in(&a, "student1", PASSWORD)
            .await
            .status(),
        429
    );
    b.stop().await;
    a.stop().await;
}

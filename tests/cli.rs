//! The `renkei` binary as an administrator uses it: registering apps and accounts, rotating
//! keys, and `serve --demo` on a fresh database, on SQLite and on PostgreSQL.

mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

on_both_databases!(
    assurance_commands,
    client_and_user_commands,
    bad_input_is_one_clear_sentence,
    serve_demo_signs_in_and_drains,
    serve_signs_access_tokens_with_the_chosen_algorithm,
    database_passwords_are_never_printed,
);

fn renkei(database_url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let output = run_renkei(database_url, args, stdin);
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn client_and_user_commands(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        renkei(
            &url,
            &[
                "client",
                "add",
                "--name",
                "漢字ドリル",
                "--redirect-uri",
                "https://kanji.example.jp/cb",
                "--redirect-uri",
                "https://kanji.example.jp/cb2",
                "--scope",
                "openid",
                "--scope",
                "profile",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let confidential: Value = serde_json::from_str(out.trim()).unwrap();
    let client_id = confidential["client_id"].as_str().unwrap();
    assert!(
        client_id.len() == 32 && client_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "client ids never start with '-', which command lines would take for an option: {client_id}"
    );
    assert_eq!(confidential["client_secret"].as_str().unwrap().len(), 43);
    let url = database.url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || {
        renkei(
            &url,
            &[
                "client",
                "add",
                "--name",
                "Tablet",
                "--redirect-uri",
                "jp.example.tablet:/cb",
                "--public",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(ok);
    let public: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        public.get("client_secret").is_none(),
        "public clients get no secret"
    );
    let url = database.url.clone();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || renkei(&url, &["client", "list"], None))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let listed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{out}");
    let listed_as = |id: &Value| {
        listed
            .iter()
            .find(|c| &c["client_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {out}"))
            .clone()
    };
    let kanji = listed_as(&confidential["client_id"]);
    assert_eq!(kanji["name"], "漢字ドリル");
    assert_eq!(kanji["public"], false);
    assert_eq!(kanji["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(listed_as(&public["client_id"])["public"], true);
    assert!(
        !out.contains("secret"),
        "no secret or digest is listed: {out}"
    );
    let (url, id) = (database.url.clone(), client_id.to_owned());
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        renkei(&url, &["client", "rotate-secret", "--client", &id], None)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let rotated: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rotated["client_id"], client_id);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_eq!(new_secret.len(), 43);
    assert_ne!(new_secret, confidential["client_secret"].as_str().unwrap());
    let (url, id) = (
        database.url.clone(),
        public["client_id"].as_str().unwrap().to_owned(),
    );
    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        renkei(&url, &["client", "rotate-secret", "--client", &id], None)
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("has no secret to rotate"), "{err}");

    let url = database.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        renkei(
            &url,
            &[
                "user",
                "add",
                "--username",
                "hanako",
                "--role",
                "student",
                "--family-name",
                "佐藤",
                "--given-name",
                "花子",
                "--password-stdin",
            ],
            Some("sakura-2026-pass\n"),
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["username"],
        "hanako"
    );
    let url = database.url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || renkei(&url, &["keys", "rotate"], None))
        .await
        .unwrap();
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["new_kids"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let server = TestServer::start_on(database).await;
    let browser = Browser::new();
    let signed_in = browser.sign_in(&server, "hanako", "sakura-2026-pass").await;
    assert_eq!(
        signed_in.status(),
        303,
        "the account made on the command line signs in"
    );
    assert!(
        browser
            .get(&server.url("/"))
            .await
            .text()
            .await
            .unwrap()
            .contains("佐藤 花子")
    );
    server.stop().await;
}

async fn bad_input_is_one_clear_sentence(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec![
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "http://app.example.jp/cb",
            ],
            None,
            "must use https",
        ),
        (
            vec![
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.example/cb",
                "--grant-type",
                "password",
            ],
            None,
            "unknown grant type",
        ),
        (
            vec![
                "client",
                "add",
                "--name",
                "X",
                "--public",
                "--grant-type",
                "client_credentials",
            ],
            None,
            "public client cannot use client_credentials",
        ),
        (
            vec![
                "user",
                "add",
                "--username",
                "u1",
                "--role",
                "wizard",
                "--password-stdin",
            ],
            Some("long-enough-pw\n"),
            "unknown role",
        ),
        (
            vec![
                "user",
                "add",
                "--username",
                "u2",
                "--role",
                "student",
                "--password-stdin",
            ],
            Some("short\n"),
            "too short",
        ),
        (
            vec![
                "user",
                "add",
                "--username",
                "u3",
                "--role",
                "student",
                "--password-stdin",
            ],
            Some(""),
            "no password on standard input",
        ),
    ];
    for (args, stdin, expected) in cases {
        let url = database.url.clone();
        let args_owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let stdin = stdin.map(str::to_owned);
        let (ok, out, err) = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args_owned.iter().map(String::as_str).collect();
            renkei(&url, &refs, stdin.as_deref())
        })
        .await
        .unwrap();
        assert!(!ok, "{args:?} should fail");
        assert!(out.is_empty());
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    }
    let add_dup = |url: String| {
        tokio::task::spawn_blocking(move || {
            let args = [
                "user",
                "add",
                "--username",
                "dup",
                "--role",
                "teacher",
                "--password-stdin",
            ];
            renkei(&url, &args, Some("long-enough-pw\n"))
        })
    };
    let (ok, _, _) = add_dup(database.url.clone()).await.unwrap();
    assert!(ok);
    let (ok, _, err) = add_dup(database.url.clone()).await.unwrap();
    assert!(!ok && err.contains("already taken"), "{err}");
    let (ok, _, err) =
        tokio::task::spawn_blocking(|| renkei("mysql://nowhere/db", &["migrate"], None))
            .await
            .unwrap();
    assert!(!ok && err.contains("unsupported database URL"), "{err}");
}

/// `serve --demo` on a fresh database seeds the board and serves the demo learning app, whose
/// sign-in completes; started again on the same database, it seeds nothing and the demo app
/// still signs people in (its secret was rotated, since only a digest was kept).
async fn serve_demo_signs_in_and_drains(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    for start in ["first", "again"] {
        let mut child = spawn_renkei(
            &database.url,
            &[
                "serve",
                "--demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--issuer",
                &base,
            ],
        );
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut printed = Vec::new();
        while !printed
            .iter()
            .any(|l: &String| l.contains("Demo learning app:"))
        {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("demo start-up output ({start}): {printed:?}"));
            printed.push(line);
        }
        let output = printed.join("\n");
        assert!(output.contains(&format!("{base}/.well-known/openid-configuration")));
        assert!(output.contains(&format!("Demo learning app: {base}/demo-app/")));
        assert!(!output.contains("secret"), "{output}");
        if start == "first" {
            assert!(output.contains("student1") && output.contains("山田 太郎"));
        } else {
            assert!(output.contains("no demo data was added"), "{output}");
        }
        assert_eq!(
            reqwest::get(format!("{base}/readyz"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "ready"
        );
        let browser = Browser::with_password(renkei_demo::DEMO_PASSWORD);
        let back = browser
            .authorize_at(&base, &format!("{base}/demo-app/login"), "student1", true)
            .await;
        assert_eq!(back.path(), "/demo-app/callback", "{start}");
        let signed_in = browser.get(back.as_str()).await;
        assert_eq!(location(&signed_in), "/demo-app/", "{start}");
        let page = browser
            .get(&format!("{base}/demo-app/"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("ようこそ、山田 太郎さん"), "{start}: {page}");
        assert!(page.contains("3年1組"), "{start}: {page}");
        let status = terminate(child).await;
        assert!(status.success(), "SIGTERM drains and exits cleanly");
        let rest: Vec<String> = rx.try_iter().collect();
        assert!(
            rest.iter().any(|l| l.contains("Renkei stopped")),
            "{rest:?}"
        );
    }
}

/// `serve --access-token-alg ES256`: access tokens are signed with the board's ES256 key, verify
/// against the published JWK set, and are accepted back (introspection); a name Renkei does not
/// sign with is refused before anything starts.
async fn serve_signs_access_tokens_with_the_chosen_algorithm(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let refused = renkei(&url, &["serve", "--access-token-alg", "HS256"], None);
        assert!(!refused.0);
        assert!(
            refused.2.contains(
                "\"HS256\" is not an algorithm Renkei signs with; use RS256, ES256 or EdDSA"
            ),
            "{}",
            refused.2
        );
        renkei(
            &url,
            &[
                "client",
                "add",
                "--name",
                "時間割サービス",
                "--grant-type",
                "client_credentials",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let registered: Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (
        registered["client_id"].as_str().unwrap(),
        registered["client_secret"].as_str().unwrap(),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = spawn_renkei(
        &database.url,
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            &base,
            "--access-token-alg",
            "ES256",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/readyz")).await.is_err() {
        assert!(Instant::now() < deadline, "renkei serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let as_app = |path: &str, form: Vec<(&'static str, String)>| {
        reqwest::Client::new()
            .post(format!("{base}{path}"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
    };
    let granted: Value = as_app("/token", vec![("grant_type", "client_credentials".into())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = granted["access_token"].as_str().expect("an access token");
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{base}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("key published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[&base]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("signature verifies with the published key")
    .claims;
    assert_eq!(claims["client_id"], id);
    let introspected: Value = as_app("/introspect", vec![("token", token.to_owned())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert!(terminate(child).await.success());
}

/// A database URL's password appears nowhere the command prints: not in what `migrate` reports,
/// not in `serve`'s start-up lines, not in the error when the database cannot be reached.
async fn database_passwords_are_never_printed(backend: Backend) {
    const SECRET: &str = "s3cret-db-pw";
    let database = TestDatabase::new(backend).await;
    let with_password = match backend {
        // The test server trusts every local connection, so a password in the URL is accepted.
        Backend::Postgres => {
            let mut url = url::Url::parse(&database.url).unwrap();
            url.set_password(Some(SECRET)).unwrap();
            url.to_string()
        }
        Backend::Sqlite => database.url.clone(),
    };
    let (ok, out, err) = renkei(&with_password, &["migrate"], None);
    assert!(ok, "{err}");
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "{out}{err}");
    if matches!(backend, Backend::Postgres) {
        assert!(out.contains(":***@"), "the URL is shown redacted: {out}");
        let port = free_port();
        let mut serve = spawn_renkei(
            &with_password,
            &[
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--issuer",
                &format!("http://127.0.0.1:{port}"),
            ],
        );
        // Read every line the server prints (a closed pipe would fail its later lines).
        let stdout = serve.stdout.take().unwrap();
        let (first_line, first) = tokio::sync::oneshot::channel();
        let printed = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let first = lines.next().unwrap_or_default();
            let _ = first_line.send(first.clone());
            std::iter::once(first)
                .chain(lines)
                .collect::<Vec<_>>()
                .join("\n")
        });
        let first = first.await.unwrap();
        assert!(first.starts_with("Renkei is serving"), "{first}");
        terminate(serve).await;
        let printed = printed.join().unwrap();
        assert!(!printed.contains(SECRET), "{printed}");
    }
    let unreachable = format!(
        "postgres://renkei:{SECRET}@127.0.0.1:{}/renkei",
        free_port()
    );
    let (ok, out, err) = renkei(&unreachable, &["migrate"], None);
    assert!(!ok);
    assert!(
        err.starts_with("error: cannot open the database postgres://renkei:***@"),
        "{err}"
    );
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "{err}");
}

/// `renkei assurance set` and `show`: a rule per role as JSON; bad input is one sentence and
/// changes nothing.
async fn assurance_commands(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let run = |args: &'static [&'static str]| {
        let url = database.url.clone();
        tokio::task::spawn_blocking(move || renkei(&url, args, None))
    };
    let (ok, out, err) = run(&[
        "assurance",
        "set",
        "--role",
        "teacher",
        "--require",
        "passkey",
        "--grace-until",
        "2027-03-31",
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    let rule: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rule["role"], "teacher");
    assert_eq!(rule["require"], "passkey");
    assert_eq!(rule["grace_until"], "2027-03-31");
    for (args, says) in [
        (
            &[
                "assurance",
                "set",
                "--role",
                "principal",
                "--require",
                "passkey",
            ][..],
            "unknown role",
        ),
        (
            &["assurance", "set", "--role", "teacher", "--require", "card"][..],
            "unknown requirement",
        ),
        (
            &[
                "assurance",
                "set",
                "--role",
                "teacher",
                "--require",
                "passkey",
                "--grace-until",
                "31/03/2027",
            ][..],
            "write it as YYYY-MM-DD",
        ),
    ] {
        let (ok, _, err) = run(args).await.unwrap();
        assert!(!ok && err.contains(says), "{err}");
    }
    let (ok, out, _) = run(&["assurance", "show"]).await.unwrap();
    assert!(ok);
    let rules: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rules.len(), 1, "bad input changed nothing: {out}");
    assert_eq!(rules[0]["grace_until"], "2027-03-31");
}

//! Test support: a real Renkei server on a free loopback port, on a fresh database of either
//! kind, and a browser-like HTTP client that signs in through the real pages.

#![allow(dead_code)]

use std::sync::Arc;

use renkei_idp::client::{NewClient, register};
use renkei_idp::store::Store;
use renkei_idp::user::{NewUser, create};
use renkei_idp::{AppState, Config};
use renkei_platform::AuditLog;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named async test function (taking a [`Backend`]) once on SQLite and once on
/// PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Backend::Postgres).await })*
        }
    };
}

/// The OneRoster fixture folder `name` under `tests/fixtures/oneroster`.
pub fn roster_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oneroster")
        .join(name)
}

/// Password of every test account.
pub const PASSWORD: &str = "correct horse battery";

/// A fresh, empty database that disappears with the value.
pub struct TestDatabase {
    pub url: String,
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        let name = format!("renkei_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("renkei-tests");
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{name}.db"));
                let url = format!("sqlite://{}", path.display());
                let cleanup = move || {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                };
                Self {
                    url,
                    cleanup: Some(Box::new(cleanup)),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = admin_connection(&admin_url).await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let url = replace_database(&admin_url, &name);
                let cleanup = move || {
                    std::thread::spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        runtime.block_on(async {
                            if let Ok(mut admin) =
                                <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
                            {
                                let _ = sqlx::query(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .execute(&mut admin)
                                .await;
                            }
                        });
                    })
                    .join()
                    .unwrap();
                };
                Self {
                    url,
                    cleanup: Some(Box::new(cleanup)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

/// The PostgreSQL server the tests use: `RENKEI_TEST_POSTGRES_URL`, by default the machine's
/// local server. Tests fail (never skip) when it cannot be reached.
pub fn postgres_admin_url() -> String {
    std::env::var("RENKEI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn replace_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

async fn admin_connection(url: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for the tests but {url} cannot be reached ({e}). \
             Run ./scripts/test, which starts a throwaway server, or set RENKEI_TEST_POSTGRES_URL."
            )
        })
}

/// A running server.
pub struct TestServer {
    pub base: String,
    /// The server's parts, as `renkei serve` builds them.
    pub app: renkei::App,
    /// The process's audit log (what operations called by a test write to).
    pub audit: AuditLog,
    pub store: Arc<dyn Store>,
    /// The roster directory.
    pub directory: Arc<dyn renkei_directory::Directory>,
    pub state: AppState,
    pub consent: Arc<renkei_consent::service::ConsentService>,
    pub gateway: renkei_gateway::Gateway,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub database: TestDatabase,
}

/// A registered confidential client.
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        let database = TestDatabase::new(backend).await;
        Self::start_on(database).await
    }

    /// A server with the OneRoster fixture `name` (under `tests/fixtures/oneroster`) imported,
    /// audited like any import.
    pub async fn with_board(backend: Backend, name: &str) -> Self {
        let server = Self::start(backend).await;
        let report = renkei_directory::import(
            server.directory.as_ref(),
            &server.audit,
            "test setup",
            &roster_fixture(name),
            &renkei_directory::ImportOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, "applied", "{report}");
        server
    }

    /// The console's board on `localhost` (passkeys work): two schools (さくら and かえで),
    /// their pupils, a guardian each, a teacher, the board's administrator and each school's;
    /// every account with the test password.
    pub async fn console_board(backend: Backend) -> Self {
        let server = Self::start_on_localhost(backend).await;
        let report = renkei_directory::import(
            server.directory.as_ref(),
            &server.audit,
            "test setup",
            &roster_fixture("console-1.1"),
            &renkei_directory::ImportOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, "applied", "{report}");
        for username in [
            "board-admin",
            "sakura-admin",
            "kaede-admin",
            "misaki",
            "keiko",
            "taro",
        ] {
            server.set_password(username, PASSWORD).await;
        }
        server
    }

    pub async fn start_on(database: TestDatabase) -> Self {
        Self::start_process(database, None, "127.0.0.1").await
    }

    /// A server as `renkei serve --demo` starts it: the demo board seeded and the demo
    /// learning app served at `/demo-app/`.
    pub async fn demo(backend: Backend) -> Self {
        Self::start_with(TestDatabase::new(backend).await, None, "127.0.0.1", true).await
    }

    /// A server whose issuer is `http://localhost:PORT`: a domain name, so that passkeys
    /// (WebAuthn, which refuses IP addresses) are on.
    pub async fn start_on_localhost(backend: Backend) -> Self {
        Self::start_process(TestDatabase::new(backend).await, None, "localhost").await
    }

    /// A second `renkei serve` process on the same database and issuer (as behind a load
    /// balancer), listening on its own port.
    pub async fn second_process(&self) -> Self {
        let shared = TestDatabase {
            url: self.database.url.clone(),
            cleanup: None,
        };
        let host = url::Url::parse(&self.base)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned();
        Self::start_process(shared, Some(self.state.config.issuer.clone()), &host).await
    }

    /// Runs one `SELECT COUNT(*) …` on the server's database directly.
    pub async fn count_sql(&self, sql: &str) -> i64 {
        use renkei_platform::Database;
        match &Database::connect(&self.database.url).await.unwrap() {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap()
    }

    /// Runs one SQL statement on the server's database directly (to set up what no endpoint
    /// does, or to tamper with what one wrote).
    pub async fn execute_sql(&self, sql: &str) {
        use renkei_platform::Database;
        match &Database::connect(&self.database.url).await.unwrap() {
            Database::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Database::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }

    async fn start_process(database: TestDatabase, issuer: Option<String>, host: &str) -> Self {
        Self::start_with(database, issuer, host, false).await
    }

    async fn start_with(
        database: TestDatabase,
        issuer: Option<String>,
        host: &str,
        demo: bool,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://{host}:{port}");
        let mut config = Config::new(issuer.as_deref().unwrap_or(&base)).unwrap();
        // An upstream that keeps a test waiting longer is "slow".
        config.upstream_timeout = std::time::Duration::from_secs(3);
        let mut app = renkei::App::open(&database.url, config).await.unwrap();
        if demo {
            app.prepare_demo()
                .await
                .unwrap()
                .expect("a new database is seeded");
        }
        let (tx, rx) = oneshot::channel::<()>();
        let served = app.clone();
        let task = tokio::spawn(async move {
            served
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            base,
            audit: app.audit.clone(),
            store: app.store().clone(),
            directory: app.provider.directory.clone(),
            state: app.provider.clone(),
            consent: app.consent.clone(),
            gateway: app.gateway.clone(),
            app,
            shutdown: Some(tx),
            task: Some(task),
            database,
        }
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn user(&self, username: &str, role: &str) -> renkei_idp::store::UserRow {
        create(
            self.store.as_ref(),
            &self.audit,
            "test",
            NewUser {
                username: username.into(),
                role: role.into(),
                family_name: Some("山田".into()),
                given_name: Some("太郎".into()),
                family_name_kana: Some("ヤマダ".into()),
                given_name_kana: Some("タロウ".into()),
                email: Some(format!("{username}@school.example")),
                password: Some(PASSWORD.into()),
                school_id: None,
                grade: Some("P3".into()),
            },
        )
        .await
        .unwrap()
    }

    /// Sets an account's password, as an administrator would.
    pub async fn set_password(&self, username: &str, password: &str) {
        renkei_idp::user::set_password(
            self.store.as_ref(),
            &self.audit,
            "test",
            username,
            password.into(),
        )
        .await
        .unwrap();
    }

    pub async fn client(&self, new: NewClient) -> TestClient {
        let redirect_uri = new.redirect_uris.first().cloned().unwrap_or_default();
        let registered = register(
            self.store.as_ref(),
            self.directory.as_ref(),
            &self.audit,
            "test",
            new,
        )
        .await
        .unwrap();
        TestClient {
            id: registered.client.id,
            secret: registered.secret,
            redirect_uri,
        }
    }

    /// The newest audit events (at most a page) that match `filter`, through the log's own
    /// search.
    pub async fn audit_events(
        &self,
        filter: renkei_platform::audit::search::AuditFilter,
    ) -> Vec<renkei_platform::audit::ChainedEvent> {
        renkei_platform::audit::search::search(
            self.audit.store(),
            &filter,
            None,
            renkei_platform::audit::search::MAX_PAGE,
            |_| true,
        )
        .await
        .unwrap()
        .events
    }

    /// A confidential web app with the usual grants.
    pub async fn web_app(&self) -> TestClient {
        self.client(NewClient {
            name: "さくら学習ドリル".into(),
            redirect_uris: vec!["https://drill.example.jp/callback".into()],
            post_logout_redirect_uris: vec!["https://drill.example.jp/bye".into()],
            grant_types: vec![
                "authorization_code".into(),
                "refresh_token".into(),
                "client_credentials".into(),
            ],
            ..NewClient::default()
        })
        .await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A browser: keeps cookies, does not follow redirects.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    /// Password typed on the sign-in page during [`Browser::authorize`].
    pub password: String,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            password: PASSWORD.to_owned(),
        }
    }

    /// A browser whose user types `password` when asked to sign in.
    pub fn with_password(password: &str) -> Self {
        Self {
            password: password.to_owned(),
            ..Self::new()
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(url).form(form).send().await.unwrap()
    }

    /// Follows the authorization request through sign-in (if asked) and consent (approve or
    /// deny, if asked) until the browser is sent back to the app; returns that final URL.
    pub async fn authorize(
        &self,
        server: &TestServer,
        authorize_url: &str,
        username: &str,
        approve: bool,
    ) -> url::Url {
        self.authorize_at(&server.base, authorize_url, username, approve)
            .await
    }

    /// [`Browser::authorize`] at the provider at `base` (a server of another process).
    pub async fn authorize_at(
        &self,
        base: &str,
        authorize_url: &str,
        username: &str,
        approve: bool,
    ) -> url::Url {
        let mut response = self.get(authorize_url).await;
        loop {
            let location = location(&response);
            let absolute = if location.starts_with('/') {
                format!("{base}{location}")
            } else {
                location.clone()
            };
            let path = url::Url::parse(&absolute).unwrap().path().to_owned();
            // Back at the app: outside the provider, or one of its own paths (the demo app).
            if !absolute.starts_with(base)
                || !matches!(path.as_str(), "/authorize" | "/login" | "/consent")
            {
                return url::Url::parse(&absolute).unwrap();
            }
            let page = self.get(&absolute).await;
            if page.status().is_redirection() {
                response = page;
                continue;
            }
            assert_eq!(page.status(), 200, "page {absolute}");
            let html = page.text().await.unwrap();
            let csrf = hidden(&html, "csrf_token");
            let request = hidden(&html, "request");
            response = match path.as_str() {
                "/login" => {
                    self.post_form(
                        &format!("{base}/login"),
                        &[
                            ("csrf_token", &csrf),
                            ("request", &request),
                            ("username", username),
                            ("password", self.password.as_str()),
                        ],
                    )
                    .await
                }
                "/consent" => {
                    let decision = if approve { "approve" } else { "deny" };
                    self.post_form(
                        &format!("{base}/consent"),
                        &[
                            ("csrf_token", &csrf),
                            ("request", &request),
                            ("decision", decision),
                        ],
                    )
                    .await
                }
                other => panic!("unexpected page {other}: {html}"),
            };
            assert!(
                response.status().is_redirection(),
                "expected a redirect from {path}, got {}",
                response.status()
            );
        }
    }

    /// Signs in on the provider's own sign-in page (no app involved).
    pub async fn sign_in(
        &self,
        server: &TestServer,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.sign_in_at(&server.base, username, password).await
    }

    /// Signs in on the sign-in page of the provider at `base` (a server of another process).
    pub async fn sign_in_at(
        &self,
        base: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let html = self
            .get(&format!("{base}/login"))
            .await
            .text()
            .await
            .unwrap();
        let csrf = hidden(&html, "csrf_token");
        self.post_form(
            &format!("{base}/login"),
            &[
                ("csrf_token", &csrf),
                ("request", ""),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

/// The `Location` header of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {} for {}",
        response.status(),
        response.url()
    );
    response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of a hidden form field.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#x2d;", "-")
        .replace("&#x5f;", "_")
}

/// A query parameter of a URL.
pub fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = renkei_idp::crypto::random_secret();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorization URL with the given parameters.
pub fn authorize_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    format!(
        "{}?{}",
        server.url("/authorize"),
        serde_urlencoded::to_string(params).unwrap()
    )
}

/// An authorization-code request URL for `client` with `scope`, PKCE `challenge` and `extra`
/// parameters.
pub fn code_request(
    server: &TestServer,
    client: &TestClient,
    scope: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", scope),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    authorize_url(server, &params)
}

/// Runs the whole code flow by hand and returns the token response JSON.
pub async fn code_flow_tokens(
    server: &TestServer,
    client: &TestClient,
    browser: &Browser,
    username: &str,
    scope: &str,
) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let url = code_request(
        server,
        client,
        scope,
        &challenge,
        &[("state", "s1"), ("nonce", "n1")],
    );
    let back = browser.authorize(server, &url, username, true).await;
    let code = query_param(&back, "code").expect("code");
    exchange(server, client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap()
}

/// Redeems a code at the token endpoint with client_secret_basic.
pub async fn exchange(
    server: &TestServer,
    client: &TestClient,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// Redeems a refresh token (client_secret_basic).
pub async fn refresh(
    server: &TestServer,
    client: &TestClient,
    refresh_token: &str,
) -> reqwest::Response {
    back_channel(
        server,
        client,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A token-endpoint style POST with client_secret_basic.
pub async fn back_channel(
    server: &TestServer,
    client: &TestClient,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Runs the `renkei` binary on `database_url` with `args`, feeding `stdin` if given.
pub fn run_renkei(database_url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(args)
        .env("RENKEI_DATABASE_URL", database_url)
        .env("RENKEI_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// A loopback port nothing listens on (for a server started as its own process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the `renkei` binary with `args` on `database_url` as a long-running process, its
/// standard output piped to the test.
pub fn spawn_renkei(database_url: &str, args: &[&str]) -> std::process::Child {
    use std::process::{Command, Stdio};
    Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(args)
        .env("RENKEI_DATABASE_URL", database_url)
        .env("RENKEI_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Sends SIGTERM and waits for the process to exit; returns how it exited.
pub async fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}

/// The board, an app, and its policies for sakura-es: the roster on the board's decision,
/// attendance and health on the guardian's consent; `g001` (guardian of `s001` and `s002`),
/// `s001`, `t001` and `a001` get the test password.
pub async fn consent_board(backend: Backend) -> (TestServer, TestClient) {
    use renkei_consent::policy::Basis;
    let server = TestServer::with_board(backend, "board-1.1").await;
    let app = server.web_app().await;
    for (category, basis) in [
        (
            "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",
            Basis::School,
        ),
        ("urn:renkei:scope:attendance.readonly", Basis::Guardian),
        ("urn:renkei:scope:health.readonly", Basis::Guardian),
    ] {
        server.school_policy(&app, category, basis, None).await;
    }
    for username in ["g001", "s001", "t001", "a001"] {
        renkei_idp::user::set_password(
            server.store.as_ref(),
            &server.audit,
            "test",
            username,
            PASSWORD.into(),
        )
        .await
        .unwrap();
    }
    (server, app)
}

impl TestServer {
    /// Sets the policy for `app` and `category` at sakura-es on `basis` (purpose 学習支援 /
    /// Learning support; `justification` for class I data on the board's decision).
    pub async fn school_policy(
        &self,
        app: &TestClient,
        category: &str,
        basis: renkei_consent::policy::Basis,
        justification: Option<&str>,
    ) {
        use renkei_consent::policy::{self, PolicyInput, Reach};
        policy::set(
            self.consent.store.as_ref(),
            self.directory.as_ref(),
            &self.audit,
            "test",
            PolicyInput {
                client_id: app.id.clone(),
                category_id: category.into(),
                basis,
                reach: vec![Reach::School("sakura-es".into())],
                purpose_ja: Some("学習支援".into()),
                purpose_en: Some("Learning support".into()),
                valid_until: None,
                justification: justification.map(str::to_owned),
                by: "a001".into(),
            },
            renkei_platform::clock::now(),
        )
        .await
        .unwrap();
    }
}

/// Today in Japan, written the Japanese way (2026年12月6日).
pub fn japanese_today() -> String {
    let today = time::OffsetDateTime::now_utc()
        .to_offset(renkei_platform::clock::JAPAN)
        .date();
    format!(
        "{}年{}月{}日",
        today.year(),
        u8::from(today.month()),
        today.day()
    )
}

/// A zip of `entries` (path in the archive, bytes), deflated.
pub fn zip_of(entries: &[(String, Vec<u8>)]) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("renkei-zip-{}.zip", uuid::Uuid::new_v4().simple()));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// The OneRoster fixture `name` as a zip, each file's text passed through `edit` (file name,
/// text) first: an export as a board uploads it.
pub fn fixture_zip(name: &str, edit: impl Fn(&str, String) -> String) -> std::path::PathBuf {
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(roster_fixture(name))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let file = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let edited = edit(&file, text);
            (file, edited.into_bytes())
        })
        .collect();
    entries.sort();
    zip_of(&entries)
}

/// A real, independent OpenID Connect provider (`oidc-provider` from the npm registry, started
/// by `tests/upstream/provider.mjs` on a loopback port) shaped like Google Workspace
/// (`google`) or Microsoft Entra ID (`microsoft`, with a tenant), with its test controls: who
/// signs in next, tampered ID tokens, delays, key rotation. Stopped when dropped.
pub struct UpstreamProvider {
    child: std::process::Child,
    /// Its issuer.
    pub issuer: String,
    control: String,
}

impl UpstreamProvider {
    /// Starts a `flavour` provider (`tenant` for `microsoft`) for the client `client_id` /
    /// `client_secret` that returns to `redirect_uris`.
    pub fn start(
        flavour: &str,
        tenant: Option<&str>,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
    ) -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci --prefix tests/upstream` (./scripts/test does)"
        );
        let mut command = Command::new("node");
        command
            .arg(dir.join("provider.mjs"))
            .env("FLAVOUR", flavour)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", client_secret)
            .env("REDIRECT_URIS", redirect_uris.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(tenant) = tenant {
            command.env("TENANT", tenant);
        }
        let mut child = command.spawn().expect("node starts (Debian's nodejs)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the upstream provider did not start ({e}): {line:?}"));
        UpstreamProvider {
            child,
            issuer: started["issuer"].as_str().unwrap().to_owned(),
            control: started["control"].as_str().unwrap().to_owned(),
        }
    }

    async fn control(&self, path: &str, body: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// The account the next sign-ins at the upstream are (`sub`, `email`, `email_verified`,
    /// `name`, `hd`, `amr`).
    pub async fn sign_in_as(&self, account: serde_json::Value) {
        self.control("/account", account).await;
    }

    /// From now on the ID token is broken this way (`audience`, `signature`, `nonce`,
    /// `expired`, `issuer`, `tenant`), or the sign-in refused (`access_denied`); `None`: fixed.
    pub async fn tamper(&self, mode: Option<&str>) {
        self.control("/tamper", serde_json::json!({ "mode": mode }))
            .await;
    }

    /// Every answer of discovery, keys and the token endpoint waits `ms` first.
    pub async fn delay(&self, ms: u64) {
        self.control("/delay", serde_json::json!({ "ms": ms }))
            .await;
    }

    /// A new signing key replaces the old one (the old one leaves the key set).
    pub async fn rotate_keys(&self) {
        self.control("/rotate", serde_json::json!({})).await;
    }
}

impl Drop for UpstreamProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

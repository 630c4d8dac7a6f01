//! The load harness: starts `renkei serve` (release build) on SQLite and on PostgreSQL, drives
//! it from this separate process over loopback, and reports throughput, latency percentiles
//! (p50/p99) and the server's memory for each scenario of a school morning; optionally the
//! same client_credentials load against a widely used open-source provider (`oidc-provider`
//! from the npm registry, access and ID tokens signed like Renkei's: RS256, or the algorithm
//! given with `--alg`) for a ratio.
//!
//! ```sh
//! cargo build --release -p renkei -p renkei-bench
//! ./target/release/load [--seconds 10] [--connections 16] [--backends sqlite,postgres] [--peer]
//!     [--only NAME] [--alg RS256|ES256|EdDSA] [--students 600]
//! ```
//!
//! PostgreSQL: `RENKEI_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! is used to create and drop a throwaway database.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use renkei_bench::authenticator::SoftPasskey;
use sha2::Digest;
use tokio::sync::Mutex;

const CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "bench-password-2026";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const CAPABILITY: &str = "urn:renkei:params:oauth:token-type:biscuit";

type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Command-line settings.
struct Settings {
    seconds: u64,
    connections: usize,
    backends: Vec<String>,
    peer: bool,
    /// Run only the scenarios whose name contains this.
    only: Option<String>,
    /// Signing algorithm of access tokens and of the app's ID tokens, for Renkei and the peer
    /// alike.
    alg: String,
    /// Pupils of the generated board (schools of 600): 100000 for the console's search at
    /// board scale.
    students: usize,
}

fn settings() -> Settings {
    let mut settings = Settings {
        seconds: 10,
        connections: 16,
        backends: vec!["sqlite".into(), "postgres".into()],
        peer: false,
        only: None,
        alg: "RS256".into(),
        students: 600,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                settings.seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(10)
            }
            "--connections" => {
                settings.connections = args.next().and_then(|v| v.parse().ok()).unwrap_or(16)
            }
            "--backends" => {
                settings.backends = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--peer" => settings.peer = true,
            "--only" => settings.only = args.next(),
            "--alg" => settings.alg = args.next().unwrap_or_default(),
            "--students" => {
                settings.students = args.next().and_then(|v| v.parse().ok()).unwrap_or(600)
            }
            other => {
                panic!("unknown argument {other}; see the doc comment of bench/src/bin/load.rs")
            }
        }
    }
    settings
}

/// What one scenario measured.
struct Measured {
    name: String,
    ops: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    /// CPU time the server (and its PostgreSQL backends) used while measuring.
    cpu: Cpu,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU microseconds per operation: (server, database backends).
    fn cpu_per_op(&self) -> (f64, Option<f64>) {
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / self.ops.max(1) as f64;
        (per_op(self.cpu.server), self.cpu.database.map(per_op))
    }

    fn row(&self, backend: &str, peak_mb: f64) -> String {
        let (server, database) = self.cpu_per_op();
        let database = database.map_or_else(|| "—".to_owned(), |d| format!("{d:.0} µs"));
        format!(
            "| {} | {backend} | {:.0}/s | {:.2} ms | {:.2} ms | {server:.0} µs | {database} | {} | {peak_mb:.0} MB |",
            self.name,
            self.rate(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.errors,
        )
    }
}

/// Runs `op` on `connections` workers for `seconds`, after a one-second warm-up.
async fn drive(name: &str, settings: &Settings, server: &Server, op: Op) -> Measured {
    let (connections, seconds) = (settings.connections, settings.seconds);
    if let Some(only) = &settings.only
        && !name.contains(only.as_str())
    {
        return Measured {
            name: name.into(),
            ops: 0,
            errors: 0,
            elapsed: Duration::from_secs(1),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            cpu: Cpu::default(),
        };
    }
    let warm_until = Instant::now() + Duration::from_secs(1);
    let warm: Vec<_> = (0..connections)
        .map(|i| {
            let op = op.clone();
            tokio::spawn(async move {
                while Instant::now() < warm_until {
                    op(i).await;
                }
            })
        })
        .collect();
    for task in warm {
        let _ = task.await;
    }
    let cpu_before = server.cpu();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|i| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < until {
                    let began = Instant::now();
                    if op(i).await {
                        latencies.push(began.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mine, failed) = worker.await.expect("worker");
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = started.elapsed();
    let cpu = server.cpu().since(cpu_before);
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Measured {
        name: name.into(),
        ops: latencies.len(),
        errors,
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
        cpu,
    }
}

/// CPU time (user + system) of a server process and, on PostgreSQL, of the backends serving
/// its database: throughput varies with whatever else the machine runs, CPU per operation
/// less (and it tells which process a scenario's cost sits in).
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: Duration,
    database: Option<Duration>,
}

impl Cpu {
    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server.saturating_sub(before.server),
            database: self
                .database
                .zip(before.database)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }
}

/// User + system CPU time of process `pid` (`/proc/PID/stat`, in clock ticks of 1/100 s).
fn process_cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, fields)| {
            let fields: Vec<&str> = fields.split_whitespace().collect();
            // After the command: state is field 3, utime 14 and stime 15.
            [11, 12]
                .iter()
                .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// A server process, its address and, on PostgreSQL, its database's name.
struct Server {
    child: Child,
    base: String,
    database: Option<String>,
}

impl Server {
    /// CPU used so far by the server and by the PostgreSQL backends of its database (found by
    /// their process titles, `postgres: USER DATABASE …`).
    fn cpu(&self) -> Cpu {
        let server = process_cpu(&self.child.id().to_string());
        let database = self.database.as_ref().map(|name| {
            let title = format!(" {name} ");
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                        let cmdline = String::from_utf8_lossy(&cmdline);
                        cmdline.starts_with("postgres: ") && cmdline.contains(&title)
                    })
                })
                .map(|pid| process_cpu(&pid))
                .sum()
        });
        Cpu { server, database }
    }

    /// `VmRSS` and `VmHWM` (peak) of the process, in MB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    async fn wait_ready(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::get(format!("{}{path}", self.base)).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server at {} did not become ready", self.base);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .expect("own path")
        .with_file_name(name)
}

/// Runs the `renkei` command line on `url`; returns standard output.
fn renkei(url: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(sibling("renkei"))
        .args(args)
        .env("RENKEI_DATABASE_URL", url)
        .env("RENKEI_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("target/release/renkei (cargo build --release -p renkei)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("renkei runs");
    assert!(
        output.status.success(),
        "renkei {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The board, app and accounts every scenario uses.
struct Fixture {
    client_id: String,
    client_secret: String,
    /// An app registered for the admin API (client credentials, board-wide).
    admin_id: String,
    admin_secret: String,
    class_id: String,
    users: Vec<String>,
    /// Sign-in cards of the first class's pupils (code only), and of the second class's (code
    /// and PIN).
    cards: Vec<(String, Option<String>)>,
    pin_cards: Vec<(String, Option<String>)>,
}

/// Issues the cards of `class` from the command line, as a board that mail-merges does: each
/// card's code and PIN.
fn issue_cards(url: &str, class: &str, pin_from: Option<&str>) -> Vec<(String, Option<String>)> {
    let mut args = vec![
        "card",
        "issue",
        "--class",
        class,
        "--issuer",
        "https://bench.invalid",
    ];
    if let Some(from) = pin_from {
        args.extend(["--pin-from-grade", from]);
    }
    renkei(url, &args, None)
        .lines()
        .map(|line| {
            let card: serde_json::Value = serde_json::from_str(line).expect("card JSON");
            (
                card["code"].as_str().expect("code").to_owned(),
                card["pin"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn set_up(url: &str, connections: usize, alg: &str, students: usize) -> Fixture {
    renkei(url, &["migrate"], None);
    let roster = std::env::temp_dir().join(format!("renkei-load-roster-{}", std::process::id()));
    let status = Command::new(sibling("roster-gen"))
        .args([&students.to_string(), roster.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .status()
        .expect("target/release/roster-gen");
    assert!(status.success());
    renkei(
        url,
        &["import", "oneroster", roster.to_str().expect("path")],
        None,
    );
    let classes = std::fs::read_to_string(roster.join("classes.csv")).expect("classes.csv");
    let mut first = classes.lines().nth(1).expect("a class").split(',');
    let class_id = first.next().expect("sourcedId").to_owned();
    let second_class = classes
        .lines()
        .nth(2)
        .and_then(|line| line.split(',').next())
        .expect("a second class")
        .to_owned();
    let school = classes
        .lines()
        .next()
        .and_then(|header| header.split(',').position(|h| h == "schoolSourcedId"))
        .and_then(|i| classes.lines().nth(1)?.split(',').nth(i))
        .expect("schoolSourcedId")
        .to_owned();
    let _ = std::fs::remove_dir_all(&roster);
    let registered: serde_json::Value = serde_json::from_str(&renkei(
        url,
        &[
            "client",
            "add",
            "--name",
            "Load",
            "--redirect-uri",
            REDIRECT,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--grant-type",
            "client_credentials",
            "--may-introspect",
            "--id-token-alg",
            alg,
        ],
        None,
    ))
    .expect("client JSON");
    let client_id = registered["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    let client_secret = registered["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    renkei(
        url,
        &[
            "policy",
            "set",
            "--client",
            &client_id,
            "--category",
            CORE,
            "--basis",
            "school",
            "--school",
            &school,
            "--purpose-ja",
            "負荷試験",
        ],
        None,
    );
    let admin: serde_json::Value = serde_json::from_str(&renkei(
        url,
        &[
            "client",
            "add",
            "--name",
            "Load admin",
            "--grant-type",
            "client_credentials",
            "--scope",
            "urn:renkei:scope:admin",
        ],
        None,
    ))
    .expect("client JSON");
    let users: Vec<String> = (0..connections).map(|i| format!("load-user-{i}")).collect();
    for user in &users {
        renkei(
            url,
            &[
                "user",
                "add",
                "--username",
                user,
                "--role",
                "teacher",
                "--password-stdin",
            ],
            Some(PASSWORD),
        );
    }
    Fixture {
        client_id,
        client_secret,
        admin_id: admin["client_id"].as_str().expect("client_id").to_owned(),
        admin_secret: admin["client_secret"].as_str().expect("secret").to_owned(),
        cards: issue_cards(url, &class_id, None),
        pin_cards: issue_cards(url, &second_class, Some("1")),
        class_id,
        users,
    }
}

fn start(url: &str, alg: &str) -> Server {
    let port = free_port();
    // A domain name, not an IP address: WebAuthn (passkeys) needs one. The load clients
    // resolve `localhost` to 127.0.0.1 without asking the system (see `client`).
    let base = format!("http://localhost:{port}");
    let child = Command::new(sibling("renkei"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            &base,
            // The load's tablets stand behind this proxy (see `upstream_sign_in`).
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .env("RENKEI_DATABASE_URL", url)
        .env("RENKEI_ACCESS_TOKEN_ALG", alg)
        // The caller's RENKEI_LOG reaches the server (e.g. `sqlx=debug` to time statements).
        .env(
            "RENKEI_LOG",
            std::env::var("RENKEI_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("renkei serve");
    let database = url
        .starts_with("postgres")
        .then(|| url.rsplit('/').next().unwrap_or_default().to_owned());
    Server {
        child,
        base,
        database,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .resolve("localhost", ([127, 0, 0, 1], 0).into())
        .build()
        .expect("HTTP client")
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.replace("&#x2F;", "/").replace("&amp;", "&"))
        .unwrap_or_default()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Signs `user` in on `browser` (password page).
async fn sign_in(browser: &reqwest::Client, base: &str, user: &str) -> bool {
    let Ok(page) = browser.get(format!("{base}/login")).send().await else {
        return false;
    };
    let html = page.text().await.unwrap_or_default();
    let csrf = hidden(&html, "csrf_token");
    browser
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request", ""),
            ("username", user),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 303)
}

/// One card sign-in on a fresh browser: the card page, then its form with the code (and PIN).
async fn card_sign_in(
    browser: &reqwest::Client,
    base: &str,
    code: &str,
    pin: Option<&str>,
) -> bool {
    let Ok(page) = browser.get(format!("{base}/login/card")).send().await else {
        return false;
    };
    let html = page.text().await.unwrap_or_default();
    let csrf = hidden(&html, "csrf_token");
    browser
        .post(format!("{base}/login/card"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request", ""),
            ("code", code),
            ("pin", pin.unwrap_or_default()),
        ])
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 303)
}

/// Renkei's client secret at the load's upstream provider.
const UPSTREAM_SECRET: &str = "load-upstream-secret";

/// The upstream provider of the load (`tests/upstream/provider.mjs`, Google-like, its packages
/// installed by `npm ci --prefix tests/upstream`), stopped when dropped.
struct Upstream {
    child: Child,
    issuer: String,
}

impl Upstream {
    /// Starts it for Renkei's client returning to `redirect_uri`.
    fn start(redirect_uri: &str) -> Self {
        use std::io::BufRead;
        let script = Path::new("tests/upstream/provider.mjs");
        assert!(
            Path::new("tests/upstream/node_modules/oidc-provider").is_dir(),
            "the upstream sign-in scenario needs `npm ci --prefix tests/upstream` (run from the repository)"
        );
        let mut child = Command::new("node")
            .arg(script)
            .env("FLAVOUR", "google")
            .env("CLIENT_ID", "renkei")
            .env("CLIENT_SECRET", UPSTREAM_SECRET)
            .env("REDIRECT_URIS", redirect_uri)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the upstream provider");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the upstream's first line");
        let started: serde_json::Value =
            serde_json::from_str(&line).expect("the upstream announces its issuer");
        Upstream {
            child,
            issuer: started["issuer"].as_str().expect("issuer").to_owned(),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sign-in through the upstream `load` in a fresh browser: follows the redirects from
/// the button to the upstream and back; true when Renkei's callback signs the person in.
async fn upstream_sign_in(browser: &reqwest::Client, base: &str) -> bool {
    let Ok(mut url) = url::Url::parse(&format!("{base}/login/upstream/load")) else {
        return false;
    };
    // A tablet of its own, behind the board's proxy: the per-address limits on sign-ins in
    // progress measure one address each, as in schools with many.
    let tablet = format!(
        "10.{}.{}.{}",
        rand::random::<u8>(),
        rand::random::<u8>(),
        rand::random::<u8>()
    );
    for _ in 0..6 {
        let Ok(response) = browser
            .get(url.clone())
            .header("x-forwarded-for", &tablet)
            .send()
            .await
        else {
            return false;
        };
        if !response.status().is_redirection() {
            return false;
        }
        let next = location(&response);
        if url.path().ends_with("/callback") {
            return next == "/";
        }
        let Ok(joined) = url.join(&next) else {
            return false;
        };
        url = joined;
    }
    false
}

/// The options a page's script fetches from `path`, with the page's CSRF token.
async fn passkey_options(
    browser: &reqwest::Client,
    base: &str,
    path: &str,
    csrf: &str,
) -> Option<serde_json::Value> {
    let response = browser
        .post(format!("{base}{path}"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Registers a passkey for the browser's signed-in user, as the passkeys page does.
async fn register_passkey(browser: &reqwest::Client, base: &str) -> Option<SoftPasskey> {
    let page = browser.get(format!("{base}/passkeys")).send().await.ok()?;
    let csrf = hidden(&page.text().await.ok()?, "csrf_token");
    let started = passkey_options(browser, base, "/passkeys/options", &csrf).await?;
    let (passkey, credential) = SoftPasskey::register(base, &started["publicKey"]).ok()?;
    let registered = browser
        .post(format!("{base}/passkeys"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("ceremony", started["ceremony"].as_str()?),
            ("credential", &credential.to_string()),
            ("name", "load"),
        ])
        .send()
        .await
        .ok()?;
    // A first passkey comes with its recovery codes (a page); a later one goes back to the list.
    let registered = if registered.status().is_success() {
        registered
            .text()
            .await
            .ok()?
            .contains("class=\"recovery-codes\"")
    } else {
        location(&registered) == "/passkeys"
    };
    registered.then_some(passkey)
}

/// One passkey sign-in on a fresh browser: sign-in page, options, signed assertion.
async fn passkey_sign_in(
    browser: &reqwest::Client,
    base: &str,
    passkey: &Mutex<SoftPasskey>,
) -> Option<()> {
    let page = browser.get(format!("{base}/login")).send().await.ok()?;
    let csrf = hidden(&page.text().await.ok()?, "csrf_token");
    let started = passkey_options(browser, base, "/login/passkey/options", &csrf).await?;
    let assertion = passkey.lock().await.sign_in(&started["publicKey"]).ok()?;
    let response = browser
        .post(format!("{base}/login/passkey"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request", ""),
            ("ceremony", started["ceremony"].as_str()?),
            ("credential", &assertion.to_string()),
        ])
        .send()
        .await
        .ok()?;
    (location(&response) == "/").then_some(())
}

/// One authorization-code + PKCE flow with the browser's session: authorize, code, token,
/// ID-token signature check. Approves consent if asked (set-up only). Returns the tokens.
async fn code_flow(
    browser: &reqwest::Client,
    back: &reqwest::Client,
    base: &str,
    fixture: &Fixture,
    keys: &jsonwebtoken::jwk::JwkSet,
) -> Option<serde_json::Value> {
    let verifier = renkei_idp::crypto::random_secret();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", fixture.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "load"),
        ("nonce", "n"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .ok()?;
    let mut response = browser
        .get(format!("{base}/authorize?{query}"))
        .send()
        .await
        .ok()?;
    let mut target = location(&response);
    if target.starts_with("/consent") {
        let html = browser
            .get(format!("{base}{target}"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        response = browser
            .post(format!("{base}/consent"))
            .form(&[
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("request", hidden(&html, "request").as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .ok()?;
        target = location(&response);
    }
    let code = url::Url::parse(&target)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")?
        .1
        .into_owned();
    let tokens: serde_json::Value = back
        .post(format!("{base}/token"))
        .basic_auth(&fixture.client_id, Some(&fixture.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let id_token = tokens["id_token"].as_str()?;
    let header = jsonwebtoken::decode_header(id_token).ok()?;
    let jwk = keys.find(header.kid.as_deref()?)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&fixture.client_id]);
    validation.set_issuer(&[base]);
    jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &validation).ok()?;
    Some(tokens)
}

async fn client_credentials(
    back: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> Option<String> {
    let response = back
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

/// A capability token for the app's own job (no subject token): the class's roster.
async fn capability(back: &reqwest::Client, base: &str, fixture: &Fixture) -> Option<String> {
    let resource = format!("urn:renkei:class:{}", fixture.class_id);
    let response = back
        .post(format!("{base}/token"))
        .basic_auth(&fixture.client_id, Some(&fixture.client_secret))
        .form(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("requested_token_type", CAPABILITY),
            ("scope", CORE),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        if std::env::var_os("RENKEI_LOAD_DEBUG").is_some() {
            eprintln!(
                "exchange refused: {}",
                response.text().await.unwrap_or_default()
            );
        }
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

/// Every scenario against one backend; returns the report's rows and the client_credentials
/// rate.
async fn scenarios(backend: &str, url: &str, settings: &Settings) -> (Vec<String>, f64) {
    let n = settings.connections;
    let fixture = Arc::new(
        tokio::task::spawn_blocking({
            let (url, alg, students) = (url.to_owned(), settings.alg.clone(), settings.students);
            move || set_up(&url, n, &alg, students)
        })
        .await
        .expect("set-up"),
    );
    let server = start(url, &settings.alg);
    eprintln!("{backend}: renkei serve is process {}", server.child.id());
    server.wait_ready("/readyz").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, _) = server.memory();
    let base: Arc<str> = server.base.clone().into();
    let back = client();
    let mut rows = vec![format!(
        "| idle (after start-up) | {backend} | | | | | | | {idle:.0} MB (RSS) |"
    )];
    let mut client_credentials_rate = 0.0;
    let mut report = |measured: Measured, server: &Server| {
        if measured.ops == 0 && measured.errors == 0 {
            return;
        }
        let (_, peak) = server.memory();
        if measured.name == "client_credentials" {
            client_credentials_rate = measured.rate();
        }
        eprintln!(
            "{backend}: {} {:.0}/s p99 {:?}",
            measured.name,
            measured.rate(),
            measured.p99
        );
        rows.push(measured.row(backend, peak));
    };

    // 1. client_credentials.
    let op: Op = {
        let (back, base, fixture) = (back.clone(), base.clone(), fixture.clone());
        Arc::new(move |_| {
            let (back, base, fixture) = (back.clone(), base.clone(), fixture.clone());
            Box::pin(async move {
                client_credentials(&back, &base, &fixture.client_id, &fixture.client_secret)
                    .await
                    .is_some()
            })
        })
    };
    report(
        drive("client_credentials", settings, &server, op).await,
        &server,
    );

    // 2. Code + PKCE flows for users with a session (consent given once, at set-up).
    let keys: jsonwebtoken::jwk::JwkSet = back
        .get(format!("{base}/jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks JSON");
    let keys = Arc::new(keys);
    let browsers: Arc<Vec<reqwest::Client>> = Arc::new((0..n).map(|_| client()).collect());
    let mut refresh_tokens = Vec::new();
    for (browser, user) in browsers.iter().zip(&fixture.users) {
        assert!(
            sign_in(browser, &base, user).await,
            "set-up sign-in of {user}"
        );
        let tokens = code_flow(browser, &back, &base, &fixture, &keys)
            .await
            .expect("set-up code flow");
        refresh_tokens.push(Mutex::new(
            tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let op: Op = {
        let (back, base, fixture, keys, browsers) = (
            back.clone(),
            base.clone(),
            fixture.clone(),
            keys.clone(),
            browsers.clone(),
        );
        Arc::new(move |i| {
            let (back, base, fixture, keys, browsers) = (
                back.clone(),
                base.clone(),
                fixture.clone(),
                keys.clone(),
                browsers.clone(),
            );
            Box::pin(async move {
                code_flow(&browsers[i], &back, &base, &fixture, &keys)
                    .await
                    .is_some()
            })
        })
    };
    report(
        drive("code + PKCE flow with a session", settings, &server, op).await,
        &server,
    );

    // 3. Password sign-ins.
    let op: Op = {
        let (base, fixture) = (base.clone(), fixture.clone());
        Arc::new(move |i| {
            let (base, fixture) = (base.clone(), fixture.clone());
            Box::pin(async move { sign_in(&client(), &base, &fixture.users[i]).await })
        })
    };
    report(
        drive("password sign-in", settings, &server, op).await,
        &server,
    );

    // 3a. Card sign-ins, as a class at 8:30 on shared tablets: a fresh browser opens the card
    // page and posts the code its camera read (and, from the chosen grade, the PIN: one
    // argon2id check, as a password's).
    for (name, cards) in [
        ("card sign-in", fixture.cards.clone()),
        ("card + PIN sign-in", fixture.pin_cards.clone()),
    ] {
        assert!(!cards.is_empty(), "the roster's classes have pupils");
        let cards = Arc::new(cards);
        let op: Op = {
            let (base, cards) = (base.clone(), cards.clone());
            Arc::new(move |i| {
                let (base, cards) = (base.clone(), cards.clone());
                Box::pin(async move {
                    let (code, pin) = &cards[i % cards.len()];
                    card_sign_in(&client(), &base, code, pin.as_deref()).await
                })
            })
        };
        report(drive(name, settings, &server, op).await, &server);
    }

    // 3b. Passkey sign-ins: each user registers a passkey (set-up, in its signed-in browser);
    // then a fresh browser opens the sign-in page, fetches the options, and posts the signed
    // assertion, as our page's script does.
    let mut passkeys = Vec::new();
    for browser in browsers.iter() {
        passkeys.push(Mutex::new(
            register_passkey(browser, &base)
                .await
                .expect("set-up passkey registration"),
        ));
    }
    let passkeys = Arc::new(passkeys);
    let op: Op = {
        let (base, passkeys) = (base.clone(), passkeys.clone());
        Arc::new(move |i| {
            let (base, passkeys) = (base.clone(), passkeys.clone());
            Box::pin(async move {
                passkey_sign_in(&client(), &base, &passkeys[i])
                    .await
                    .is_some()
            })
        })
    };
    report(
        drive("passkey sign-in", settings, &server, op).await,
        &server,
    );

    // 3c. Sign-ins through an upstream provider: a real oidc-provider on a loopback port (the
    // tests' `tests/upstream/provider.mjs`, signing its account in without asking), added and
    // its account linked to a roster person with the command line; each sign-in is the
    // button's redirect, the upstream's authorization, and the callback (code exchange, ID
    // token validation, the roster person's session).
    let wanted = settings
        .only
        .as_deref()
        .is_none_or(|only| "upstream sign-in".contains(only));
    if wanted {
        let upstream = Upstream::start(&format!("{base}/login/upstream/load/callback"));
        renkei(
            url,
            &[
                "upstream",
                "add",
                "--name",
                "load",
                "--issuer",
                &upstream.issuer,
                "--client-id",
                "renkei",
                "--client-secret-stdin",
                "--link-by",
                "subject",
                "--renkei-issuer",
                &base,
            ],
            Some(UPSTREAM_SECRET),
        );
        renkei(
            url,
            &[
                "upstream",
                "link",
                "--name",
                "load",
                "--username",
                &fixture.users[0],
                "--subject",
                "upstream-default",
            ],
            None,
        );
        let op: Op = {
            let base = base.clone();
            Arc::new(move |_| {
                let base = base.clone();
                Box::pin(async move { upstream_sign_in(&client(), &base).await })
            })
        };
        report(
            drive("upstream sign-in", settings, &server, op).await,
            &server,
        );
        drop(upstream);
    }

    // 4. Refresh-token rotations, and introspections.
    let refresh_tokens = Arc::new(refresh_tokens);
    let op: Op = {
        let (back, base, fixture, tokens) = (
            back.clone(),
            base.clone(),
            fixture.clone(),
            refresh_tokens.clone(),
        );
        Arc::new(move |i| {
            let (back, base, fixture, tokens) =
                (back.clone(), base.clone(), fixture.clone(), tokens.clone());
            Box::pin(async move {
                let mut current = tokens[i].lock().await;
                let Ok(response) = back
                    .post(format!("{base}/token"))
                    .basic_auth(&fixture.client_id, Some(&fixture.client_secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", current.as_str()),
                    ])
                    .send()
                    .await
                else {
                    return false;
                };
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                match body["refresh_token"].as_str() {
                    Some(next) => {
                        *current = next.to_owned();
                        true
                    }
                    None => false,
                }
            })
        })
    };
    report(
        drive("refresh-token rotation", settings, &server, op).await,
        &server,
    );
    let access = client_credentials(&back, &base, &fixture.client_id, &fixture.client_secret)
        .await
        .expect("access token");
    let op: Op = {
        let (back, base, fixture, access) = (
            back.clone(),
            base.clone(),
            fixture.clone(),
            Arc::<str>::from(access.as_str()),
        );
        Arc::new(move |_| {
            let (back, base, fixture, access) =
                (back.clone(), base.clone(), fixture.clone(), access.clone());
            Box::pin(async move {
                back.post(format!("{base}/introspect"))
                    .basic_auth(&fixture.client_id, Some(&fixture.client_secret))
                    .form(&[("token", &*access)])
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
        })
    };
    report(drive("introspection", settings, &server, op).await, &server);

    // 5. Capability tokens for a class of 40, and gateway reads of its roster.
    let op: Op = {
        let (back, base, fixture) = (back.clone(), base.clone(), fixture.clone());
        Arc::new(move |_| {
            let (back, base, fixture) = (back.clone(), base.clone(), fixture.clone());
            Box::pin(async move { capability(&back, &base, &fixture).await.is_some() })
        })
    };
    report(
        drive("capability token for a class of 40", settings, &server, op).await,
        &server,
    );
    let token: Arc<str> = capability(&back, &base, &fixture)
        .await
        .expect("capability")
        .into();
    let roster_url: Arc<str> = format!(
        "{base}/ims/oneroster/rostering/v1p2/classes/{}/students",
        fixture.class_id
    )
    .into();
    let op: Op = {
        let (back, roster_url, token) = (back.clone(), roster_url.clone(), token.clone());
        Arc::new(move |_| {
            let (back, roster_url, token) = (back.clone(), roster_url.clone(), token.clone());
            Box::pin(async move {
                match back.get(&*roster_url).bearer_auth(&*token).send().await {
                    // The load generator shares the server's cores: it checks the answer's
                    // shape (40 users) without building a JSON tree of it.
                    Ok(response) if response.status().is_success() => response
                        .bytes()
                        .await
                        .ok()
                        .and_then(|body| serde_json::from_slice::<Roster>(&body).ok())
                        .is_some_and(|roster| roster.users.len() == 40),
                    _ => false,
                }
            })
        })
    };
    report(
        drive(
            "gateway class-roster read (40 pupils)",
            settings,
            &server,
            op,
        )
        .await,
        &server,
    );
    // 6. The console's people search over the whole board, beside the same authenticated API
    // call without a search (its peer: what the search itself adds).
    let admin: Arc<str> = admin_token(&back, &base, &fixture)
        .await
        .expect("an admin API token")
        .into();
    let searches: Arc<[Vec<(&str, &str)>]> = Arc::new([
        vec![("q", "ヤマダハナコ")],
        vec![("q", "st4242")],
        vec![("q", "タカハシ"), ("role", "student"), ("school", "sch3")],
        vec![("q", "見つからない名前")],
    ]);
    for (name, path, queries) in [
        (
            "admin API session (search's peer)",
            "/admin/api/session",
            Arc::from(vec![Vec::new()]),
        ),
        (
            "people search, whole board",
            "/admin/api/people",
            searches.clone(),
        ),
    ] {
        let op: Op = {
            let (back, base, admin) = (back.clone(), base.clone(), admin.clone());
            let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            Arc::new(move |_| {
                let (back, base, admin, queries) =
                    (back.clone(), base.clone(), admin.clone(), queries.clone());
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Box::pin(async move {
                    let query = &queries[n % queries.len()];
                    back.get(format!("{base}{path}"))
                        .query(query)
                        .bearer_auth(&*admin)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                })
            })
        };
        report(drive(name, settings, &server, op).await, &server);
    }
    drop(server);
    (rows, client_credentials_rate)
}

/// An access token of the admin-API app (client credentials with the admin scope).
async fn admin_token(back: &reqwest::Client, base: &str, fixture: &Fixture) -> Option<String> {
    let response = back
        .post(format!("{base}/token"))
        .basic_auth(&fixture.admin_id, Some(&fixture.admin_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "urn:renkei:scope:admin"),
        ])
        .send()
        .await
        .ok()?;
    let body: serde_json::Value = response.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

/// A class roster as the load generator checks it: the users, each skipped unread.
#[derive(serde::Deserialize)]
struct Roster {
    users: Vec<serde::de::IgnoredAny>,
}

/// The raw argon2id rate on this machine with Renkei's parameters, one verification per core.
fn argon2id_rate(seconds: u64) -> f64 {
    let hash = renkei_idp::crypto::hash_password(PASSWORD);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || {
                let mut done = 0u64;
                while Instant::now() < until {
                    assert!(renkei_idp::crypto::verify_password(PASSWORD, &hash));
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    total as f64 / seconds as f64
}

/// `oidc-provider` from the npm registry, client_credentials with RS256 JWT access tokens.
async fn peer(settings: &Settings) -> Option<Measured> {
    let dir = std::env::temp_dir().join(format!("renkei-load-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer");
    for file in ["package.json", "server.mjs"] {
        std::fs::copy(here.join(file), dir.join(file)).ok()?;
    }
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .ok()?;
    if !installed.success() {
        eprintln!("npm install of oidc-provider failed; no peer figures");
        return None;
    }
    let port = free_port();
    let child = Command::new("node")
        .arg("server.mjs")
        .env("PORT", port.to_string())
        .env("ALG", &settings.alg)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        database: None,
    };
    server.wait_ready("/.well-known/openid-configuration").await;
    let back = client();
    let base: Arc<str> = server.base.clone().into();
    let op: Op = Arc::new(move |_| {
        let (back, base) = (back.clone(), base.clone());
        Box::pin(async move {
            client_credentials(
                &back,
                &base,
                "bench",
                "bench-secret-0123456789abcdef0123456789abcdef",
            )
            .await
            .is_some()
        })
    });
    let measured = drive(
        "client_credentials (oidc-provider)",
        &Settings {
            only: None,
            backends: Vec::new(),
            alg: settings.alg.clone(),
            ..*settings
        },
        &server,
        op,
    )
    .await;
    let (_, peak) = server.memory();
    eprintln!("peer: {:.0}/s, peak {peak:.0} MB", measured.rate());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Some(measured)
}

#[tokio::main]
async fn main() {
    let settings = settings();
    let mut rows = Vec::new();
    let mut client_credentials_rates = HashMap::new();
    for backend in &settings.backends {
        let (url, cleanup): (String, Box<dyn FnOnce()>) = match backend.as_str() {
            "sqlite" => {
                let file =
                    std::env::temp_dir().join(format!("renkei-load-{}.db", std::process::id()));
                let url = format!("sqlite://{}", file.display());
                (
                    url,
                    Box::new(move || {
                        for suffix in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                        }
                    }),
                )
            }
            "postgres" => {
                let admin = std::env::var("RENKEI_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("renkei_load_{}", std::process::id());
                let psql = admin.clone();
                let run = move |sql: String| {
                    let status = Command::new("psql")
                        .args([psql.as_str(), "-q", "-c", &sql])
                        .status()
                        .expect("psql");
                    assert!(status.success(), "{sql}");
                };
                let create = run.clone();
                create(format!("CREATE DATABASE {name}"));
                let url = format!(
                    "{}/{name}",
                    admin.rsplit_once('/').map_or(admin.as_str(), |(a, _)| a)
                );
                (
                    url,
                    Box::new(move || run(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))),
                )
            }
            other => panic!("unknown backend {other}: use sqlite or postgres"),
        };
        let (backend_rows, rate) = scenarios(backend, &url, &settings).await;
        client_credentials_rates.insert(backend.clone(), rate);
        rows.extend(backend_rows);
        cleanup();
    }
    let argon = argon2id_rate(settings.seconds.min(5));
    println!(
        "\n{} connections, {} s per scenario, release build; server peak memory is VmHWM so far.\n",
        settings.connections, settings.seconds
    );
    println!(
        "| scenario | backend | throughput | p50 | p99 | Renkei CPU per op | PostgreSQL CPU per op | errors | server memory (peak) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        println!("{row}");
    }
    println!(
        "\nraw argon2id verifications (Renkei's parameters, all cores, in this process): {argon:.1}/s"
    );
    if settings.peer
        && let Some(peer) = peer(&settings).await
    {
        println!(
            "\noidc-provider client_credentials (same machine, same load): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {:.0} µs CPU per grant, {} errors",
            peer.rate(),
            peer.p50.as_secs_f64() * 1e3,
            peer.p99.as_secs_f64() * 1e3,
            peer.cpu_per_op().0,
            peer.errors
        );
        for (backend, rate) in &client_credentials_rates {
            println!(
                "Renkei on {backend} / oidc-provider: {:.1}x",
                rate / peer.rate().max(1e-9)
            );
        }
    }
}

//! The data gateway end to end, on SQLite and PostgreSQL: OneRoster REST reads filtered by the
//! capability token (children, counts, fields), pagination and filters, refusals, and the
//! tamper-evident audit chain.

mod support;

use std::path::Path;
use std::sync::Arc;

use biscuit_auth::{Biscuit, BlockBuilder};
use renkei_consent::capability::TOKEN_TYPE;
use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_consent::store::ConsentStore;
use renkei_idp::roster::{ImportOptions, import};
use renkei_idp::store::Database;
use serde_json::Value;
use support::*;

on_both_databases!(
    a_guardian_consent_token_reads_exactly_the_consenting_children,
    pagination_filter_sort_and_fields_follow_the_specification,
    reads_are_refused_without_the_right_token,
    the_audit_chain_verifies_and_detects_tampering,
);

const CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";
const BASE: &str = "/ims/oneroster/rostering/v1p2";

struct Board {
    server: TestServer,
    consent: Arc<dyn ConsentStore>,
    app: TestClient,
}

async fn board(backend: Backend, basis: Basis) -> Board {
    let server = TestServer::start(backend).await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oneroster/board-1.1");
    import(server.store.as_ref(), &fixture, &ImportOptions::default())
        .await
        .unwrap();
    let consent =
        renkei_consent::store::open(&Database::connect(&server.database.url).await.unwrap());
    let app = server.web_app().await;
    for category in [CORE, ATTENDANCE] {
        policy::set(
            consent.as_ref(),
            PolicyInput {
                client_id: app.id.clone(),
                category_id: category.into(),
                basis,
                reach: vec![Reach::School("sakura-es".into())],
                purpose_ja: Some("学習支援".into()),
                purpose_en: None,
                valid_until: None,
                justification: None,
                by: "a001".into(),
            },
            renkei_idp::crypto::now(),
        )
        .await
        .unwrap();
    }
    Board {
        server,
        consent,
        app,
    }
}

impl Board {
    async fn decide(&self, guardian: &str, child: &str, action: Action) {
        let by = self
            .server
            .store
            .user_by_username(guardian)
            .await
            .unwrap()
            .unwrap();
        record::record(
            self.consent.as_ref(),
            &by,
            ConsentInput {
                student_id: child.into(),
                client_id: self.app.id.clone(),
                category_id: CORE.into(),
                action,
                until: None,
            },
            renkei_idp::crypto::now(),
        )
        .await
        .unwrap();
    }

    async fn capability(&self, scope: &str, resource: &str) -> String {
        let response = back_channel(
            &self.server,
            &self.app,
            "/token",
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("requested_token_type", TOKEN_TYPE),
                ("scope", scope),
                ("resource", resource),
            ],
        )
        .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn read(&self, token: &str, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.server.url(&format!("{BASE}{path}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn ids(&self, token: &str, path: &str) -> Vec<String> {
        let response = self.read(token, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["sourcedId"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn a_guardian_consent_token_reads_exactly_the_consenting_children(backend: Backend) {
    let board = board(backend, Basis::Guardian).await;
    // g001 consents for s001 (not s002); g002 consents for s003.
    board.decide("g001", "s001", Action::Grant).await;
    board.decide("g002", "s003", Action::Grant).await;
    let class = board
        .capability(CORE, "urn:renkei:class:cls-sakura-3-1")
        .await;
    let response = board.read(&class, "/classes/cls-sakura-3-1/students").await;
    assert_eq!(
        response.headers()["x-total-count"],
        "1",
        "counts leave out children without consent"
    );
    let body: Value = response.json().await.unwrap();
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["sourcedId"], "s001");
    assert_eq!(users[0]["status"], "active");
    assert_eq!(users[0]["familyName"], "山田");
    assert_eq!(board.ids(&class, "/students").await, vec!["s001"]);
    assert_eq!(
        board
            .ids(
                &class,
                "/students?filter=familyName%3D%27%E5%B1%B1%E7%94%B0%27"
            )
            .await,
        vec!["s001"],
        "filter cannot reveal s002"
    );
    assert_eq!(
        board.read(&class, "/users/s002").await.status(),
        404,
        "no consent: not found"
    );
    assert_eq!(
        board.read(&class, "/students/s003").await.status(),
        404,
        "outside the token's class"
    );
    let one: Value = board
        .read(&class, "/users/s001")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["user"]["sourcedId"], "s001");
    let class_record: Value = board
        .read(&class, "/classes/cls-sakura-3-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(class_record["class"]["title"], "3年1組");
    assert_eq!(
        board.read(&class, "/classes/cls-sakura-3-2").await.status(),
        404
    );

    let school = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    assert_eq!(
        board.ids(&school, "/schools/sakura-es/students").await,
        vec!["s001", "s003"]
    );

    // Attenuated offline to one child.
    let keys = board.server.consent.keys.snapshot();
    let parsed = Biscuit::from_base64(&school, |id: Option<u32>| {
        keys.public(id.unwrap())
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    })
    .unwrap();
    let narrowed = parsed
        .append(
            BlockBuilder::new()
                .code("check if request_child(\"s003\")")
                .unwrap(),
        )
        .unwrap()
        .to_base64()
        .unwrap();
    assert_eq!(
        board.ids(&narrowed, "/schools/sakura-es/students").await,
        vec!["s003"]
    );

    // Withdrawal: the token is refused on the next read.
    board.decide("g002", "s003", Action::Withdraw).await;
    let refused = board.read(&school, "/schools/sakura-es/students").await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let fresh = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    assert_eq!(
        board.ids(&fresh, "/schools/sakura-es/students").await,
        vec!["s001"]
    );

    // Every read is in the audit log, with the children it returned.
    board.server.gateway.audit.flush().await;
    let reads = board
        .server
        .gateway
        .store
        .audit_of_child("s001", 100)
        .await
        .unwrap();
    assert!(reads.len() >= 5);
    let event: Value = serde_json::from_str(&reads[0].event).unwrap();
    assert_eq!(event["client_id"], board.app.id.as_str());
    assert_eq!(event["outcome"], "allowed");
    assert!(
        board
            .server
            .gateway
            .store
            .audit_of_child("s002", 100)
            .await
            .unwrap()
            .is_empty(),
        "s002 was never returned"
    );
    board.server.stop().await;
}

async fn pagination_filter_sort_and_fields_follow_the_specification(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let token = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    assert_eq!(
        board.ids(&token, "/schools/sakura-es/students").await.len(),
        6
    );
    let page = board
        .read(&token, "/schools/sakura-es/students?limit=2&offset=2")
        .await;
    assert_eq!(page.headers()["x-total-count"], "6");
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("limit=2&offset=4>; rel=\"next\""), "{link}");
    assert!(link.contains("limit=2&offset=0>; rel=\"prev\""), "{link}");
    assert!(link.contains("limit=2&offset=4>; rel=\"last\""), "{link}");
    let body: Value = page.json().await.unwrap();
    let ids: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["s003", "s004"]);
    let sorted = board
        .ids(
            &token,
            "/schools/sakura-es/students?sort=sourcedId&orderBy=desc&limit=2",
        )
        .await;
    assert_eq!(sorted, vec!["s006", "s005"]);
    let filtered = board
        .ids(
            &token,
            "/schools/sakura-es/students?filter=grades%3D%27P4%27",
        )
        .await;
    assert_eq!(filtered, vec!["s005", "s006"]);
    let either = board
        .ids(
            &token,
            "/students?filter=sourcedId%3D%27s001%27%20OR%20sourcedId%3D%27s006%27",
        )
        .await;
    assert_eq!(either, vec!["s001", "s006"]);
    let fields: Value = board
        .read(
            &token,
            "/schools/sakura-es/students?fields=sourcedId,givenName&limit=1",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        fields["users"][0],
        serde_json::json!({"sourcedId": "s001", "givenName": "太郎"})
    );
    let projected = board
        .read(
            &token,
            "/schools/sakura-es/students?fields=givenName&sort=sourcedId&limit=1",
        )
        .await;
    let link = projected.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains("?sort=sourcedId&fields=givenName&limit=1&offset=1>; rel=\"next\""),
        "{link}"
    );
    board.server.gateway.audit.flush().await;
    let rows = board
        .server
        .gateway
        .store
        .audit_rows(0, 1000)
        .await
        .unwrap();
    let last: Value = serde_json::from_str(&rows.last().unwrap().event).unwrap();
    assert_eq!(
        last["children"],
        serde_json::json!(["s001"]),
        "projected reads are audited with their children"
    );
    let bad = board.read(&token, "/students?filter=givenName").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["imsx_codeMajor"], "failure");
    assert!(
        body["imsx_description"]
            .as_str()
            .unwrap()
            .contains("has no operator")
    );
    let bad_limit = board.read(&token, "/students?limit=many").await;
    assert_eq!(bad_limit.status(), 400);
    board.server.stop().await;
}

async fn reads_are_refused_without_the_right_token(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let missing = reqwest::get(board.server.url(&format!("{BASE}/students")))
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let garbage = board.read("not-a-token", "/students").await;
    assert_eq!(garbage.status(), 401);
    assert!(
        garbage.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    // A token without roster-core (attendance only) is refused the roster, naming the category.
    let attendance = board
        .capability(ATTENDANCE, "urn:renkei:school:sakura-es")
        .await;
    let refused = board.read(&attendance, "/students").await;
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains(CORE),
        "{challenge}"
    );
    board.server.gateway.audit.flush().await;
    let all = board.server.gateway.store.audit_rows(0, 100).await.unwrap();
    let refusals = all
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.event).unwrap())
        .filter(|e| e["outcome"] == "refused")
        .count();
    assert_eq!(
        refusals, 1,
        "the refused read with a valid token is audited"
    );
    board.server.stop().await;
}

async fn the_audit_chain_verifies_and_detects_tampering(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let token = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    // Concurrent reads: the batched writer keeps one chain.
    let url = board.server.url(&format!("{BASE}/students"));
    let reads: Vec<_> = (0..20)
        .map(|_| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                (response.status(), response.text().await.unwrap())
            })
        })
        .collect();
    for read in reads {
        let (status, body) = read.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    board.server.gateway.audit.flush().await;
    let url = &board.server.database.url;
    let verified = run_renkei(url, &["audit", "verify"], None);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout).trim(),
        "{\"verified\":20}"
    );
    let exported = run_renkei(url, &["audit", "export", "--since", "2026-01-01"], None);
    let lines: Vec<Value> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["records"], 6);

    // Someone edits an event in the database: verification names it.
    let database = Database::connect(url).await.unwrap();
    let tamper = "UPDATE audit_events SET event = REPLACE(event, '\"records\":6', '\"records\":5') WHERE seq = 7";
    match &database {
        Database::Sqlite(pool) => sqlx::query(tamper).execute(pool).await.map(|_| ()),
        Database::Postgres(pool) => sqlx::query(tamper).execute(pool).await.map(|_| ()),
    }
    .unwrap();
    let broken = run_renkei(url, &["audit", "verify"], None);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken at event 7"));
    board.server.stop().await;
}

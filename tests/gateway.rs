//! The data gateway end to end, on SQLite and PostgreSQL: OneRoster REST reads filtered by the
//! capability token (children, counts, fields), pagination and filters, refusals, and the
//! tamper-evident audit chain.

mod support;

use std::sync::Arc;

use biscuit_auth::{Biscuit, BlockBuilder};
use renkei_capability::TOKEN_TYPE;
use renkei_consent::policy::Basis;
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_consent::store::ConsentStore;
use serde_json::Value;
use support::*;

on_both_databases!(
    a_guardian_consent_token_reads_exactly_the_consenting_children,
    pagination_filter_sort_and_fields_follow_the_specification,
    reads_are_refused_without_the_right_token,
    anonymous_requests_cannot_grow_the_audit_chain,
    the_audit_chain_verifies_and_detects_tampering,
    audit_batches_of_any_size_keep_the_chain_and_every_child,
    a_class_token_reads_the_class_its_students_and_their_results,
    rostering_collections_follow_the_token_scope,
    school_affairs_records_import_all_or_nothing_and_are_read_by_category,
    the_gateway_runs_as_its_own_process_and_affairs_import_from_the_command_line,
    japan_profile_fields_are_served_under_metadata_jp,
);

const CORE: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
const ROSTER: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";
const DEMOGRAPHICS: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly";
const GRADEBOOK: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";
const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";
const TIMETABLE: &str = "urn:renkei:scope:timetable.readonly";
const BASE: &str = "/ims/oneroster/rostering/v1p2";
const GRADES: &str = "/ims/oneroster/gradebook/v1p2";
const AFFAIRS: &str = "/ims/renkei/affairs/v1p0";

struct Board {
    server: TestServer,
    consent: Arc<dyn ConsentStore>,
    app: TestClient,
}

async fn board(backend: Backend, basis: Basis) -> Board {
    let server = TestServer::with_board(backend, "board-1.1").await;
    let consent = server.consent.store.clone();
    let app = server.web_app().await;
    for category in [CORE, ROSTER, DEMOGRAPHICS, GRADEBOOK, ATTENDANCE, TIMETABLE] {
        server.school_policy(&app, category, basis, None).await;
    }
    Board {
        server,
        consent,
        app,
    }
}

impl Board {
    async fn decide(&self, guardian: &str, child: &str, action: Action) {
        self.decide_on(guardian, child, CORE, action).await;
    }

    async fn decide_on(&self, guardian: &str, child: &str, category: &str, action: Action) {
        let by = self
            .server
            .store
            .user_by_username(guardian)
            .await
            .unwrap()
            .unwrap();
        record::record(
            self.consent.as_ref(),
            self.server.directory.as_ref(),
            &self.server.audit,
            "test",
            &by,
            ConsentInput {
                student_id: child.into(),
                client_id: self.app.id.clone(),
                category_id: category.into(),
                action,
                until: None,
                paper_from: None,
            },
            renkei_platform::clock::now(),
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
        let path = if path.starts_with("/ims/") {
            path.to_owned()
        } else {
            format!("{BASE}{path}")
        };
        reqwest::Client::new()
            .get(self.server.url(&path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The newest audit event, once every queued one is stored.
    async fn last_event(&self) -> Value {
        self.server.gateway.audit.flush().await;
        let rows = self
            .server
            .audit
            .store()
            .audit_rows(0, 10_000)
            .await
            .unwrap();
        serde_json::from_str(&rows.last().unwrap().event).unwrap()
    }

    /// The JSON body of a read.
    async fn json(&self, token: &str, path: &str) -> Value {
        self.read(token, path).await.json().await.unwrap()
    }

    async fn ids(&self, token: &str, path: &str) -> Vec<String> {
        self.ids_of("users", token, path).await
    }

    /// The sourcedIds of the collection `key` at `path`.
    async fn ids_of(&self, key: &str, token: &str, path: &str) -> Vec<String> {
        let response = self.read(token, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        body[key]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no {key} in {body}"))
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
    let one: Value = board.json(&class, "/users/s001").await;
    assert_eq!(one["user"]["sourcedId"], "s001");
    let class_record: Value = board.json(&class, "/classes/cls-sakura-3-1").await;
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
        .audit
        .store()
        .audit_of_child("s001", 100)
        .await
        .unwrap();
    assert!(reads.len() >= 5);
    let event: Value = serde_json::from_str(&reads[0].event).unwrap();
    assert_eq!(event["client_id"], board.app.id.as_str());
    assert_eq!(event["outcome"], "allowed");

    // The guardian's portal lists those reads of s001's data; s003's guardian may not see them.
    board.server.set_password("g001", "g001-portal-pass").await;
    let guardian = Browser::new();
    assert_eq!(
        guardian
            .sign_in(&board.server, "g001", "g001-portal-pass")
            .await
            .status(),
        303
    );
    let listed: Value = guardian
        .get(&board.server.url("/api/consent/reads?student=s001"))
        .await
        .json()
        .await
        .unwrap();
    let listed = listed["reads"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        reads
            .iter()
            .filter(|r| r.event.contains("\"kind\":\"read\""))
            .count()
    );
    assert!(listed.iter().any(|r| {
        r["endpoint"] == format!("GET {BASE}/classes/cls-sakura-3-1/students")
            && r["client_id"] == board.app.id.as_str()
            && r["categories"] == serde_json::json!([CORE])
    }));
    assert_eq!(
        guardian
            .get(&board.server.url("/api/consent/reads?student=s003"))
            .await
            .status(),
        403
    );
    assert!(
        board
            .server
            .audit
            .store()
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
        .json(
            &token,
            "/schools/sakura-es/students?fields=sourcedId,givenName&limit=1",
        )
        .await;
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
    let last = board.last_event().await;
    assert_eq!(
        last["children"],
        serde_json::json!(["s001"]),
        "projected reads are audited with their children"
    );
    // A sorted read compares every pupil the token lets it see, whatever the page holds.
    board
        .ids(
            &token,
            "/schools/sakura-es/students?sort=familyName&limit=1",
        )
        .await;
    let compared = board.last_event().await["children"].clone();
    assert!(compared.as_array().unwrap().len() > 2, "{compared}");
    // A filtered read that returns one record compared every pupil, not only the two of P4:
    // whether a pupil matched tells of their data too. So does a filter matching nothing.
    for filter in ["grades%3D%27P4%27", "familyName~%27%E3%81%AA%E3%81%84%27"] {
        board
            .ids(
                &token,
                &format!("/schools/sakura-es/students?filter={filter}&limit=1"),
            )
            .await;
        assert_eq!(board.last_event().await["children"], compared, "{filter}");
    }
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
    let all = board.server.audit.store().audit_rows(0, 100).await.unwrap();
    let refusals: Vec<Value> = all
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.event).unwrap())
        .filter(|e| e["outcome"] == "refused")
        .collect();
    assert_eq!(
        refusals.len(),
        3,
        "every refusal is audited: no token, a bad token, a missing category"
    );
    // The app's refusal is its own event; the anonymous ones are counted, by route and reason.
    let (apps, anonymous): (Vec<&Value>, Vec<&Value>) =
        refusals.iter().partition(|e| e["client_id"] != Value::Null);
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["client_id"], board.app.id.as_str());
    assert_eq!(apps[0]["categories"], serde_json::json!([CORE]));
    let mut details: Vec<&str> = anonymous
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    details.sort();
    assert_eq!(
        details,
        [
            "1 anonymous reads refused (a capability token that does not verify), counted since the previous summary",
            "1 anonymous reads refused (no capability token), counted since the previous summary",
        ]
    );
    assert!(
        anonymous
            .iter()
            .all(|e| e["endpoint"] == format!("GET {BASE}/students"))
    );
    board.server.stop().await;
}

/// What anonymous clients send cannot grow the audit chain or the disk: an overlong address
/// is refused before any handler, refusals without a valid token are counted per route (one
/// summary event, whatever the ids in their paths), an address that keeps sending them is
/// answered 429 without its tokens being read, and an app's own long paths are cut in its
/// events.
async fn anonymous_requests_cannot_grow_the_audit_chain(backend: Backend) {
    let board = board(backend, Basis::School).await;
    board.server.gateway.audit.flush().await;
    let events = || async {
        board.server.gateway.audit.flush().await;
        board
            .server
            .audit
            .store()
            .audit_rows(0, 100_000)
            .await
            .unwrap()
    };
    // An app's refused read of a long id is its own event, its path cut to 512 bytes.
    let token = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    let long = board
        .read(&token, &format!("/users/{}", "z".repeat(6000)))
        .await;
    assert_eq!(long.status(), 404);
    let last: Value = serde_json::from_str(&events().await.last().unwrap().event).unwrap();
    let endpoint = last["endpoint"].as_str().unwrap();
    assert!(
        endpoint.len() <= 512 && endpoint.ends_with('…'),
        "{endpoint}"
    );
    let before = events().await.len();
    let client = reqwest::Client::new();
    let overlong = client
        .get(
            board
                .server
                .url(&format!("{BASE}/users/{}", "x".repeat(60_000))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(overlong.status(), 414);
    assert_eq!(
        events().await.len(),
        before,
        "refused before anything is kept"
    );
    let limit = renkei_gateway::ANONYMOUS_REFUSALS_PER_MINUTE as usize;
    // The limit counts in windows of a clock minute: start early in one.
    let second = renkei_platform::clock::now() % 60;
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    // Sent all at once: each takes its place before its token is read.
    let sent: Vec<_> = (0..limit + 5)
        .map(|n| {
            let request = client
                .get(
                    board
                        .server
                        .url(&format!("{BASE}/users/{n}-{}", "y".repeat(4000))),
                )
                .bearer_auth("not-a-token");
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for status in sent {
        statuses.push(status.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), limit);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    let added: Vec<Value> = events().await[before..]
        .iter()
        .map(|row| serde_json::from_str(&row.event).unwrap())
        .collect();
    assert_eq!(
        added.len(),
        2,
        "one summary per route and reason: {added:?}"
    );
    assert!(
        added
            .iter()
            .all(|e| e["endpoint"] == format!("GET {BASE}/users/{{id}}"))
    );
    let counted: Vec<&str> = added
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(counted.contains(&format!("{limit} anonymous reads refused (a capability token that does not verify), counted since the previous summary").as_str()), "{counted:?}");
    assert!(counted.contains(&"5 anonymous reads refused (the address was over its limit), counted since the previous summary"), "{counted:?}");
    // Over its limit, the address is still served with the tokens the gateway knows; a token
    // it would have to read is refused.
    assert_eq!(board.read(&token, "/students").await.status(), 200);
    let fresh = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    assert_eq!(board.read(&fresh, "/students").await.status(), 429);
    board.server.stop().await;
}

async fn the_audit_chain_verifies_and_detects_tampering(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let token = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    // Setting the board up (import, app, policies) is audited too: count from there.
    board.server.gateway.audit.flush().await;
    let before = board
        .server
        .audit
        .store()
        .audit_rows(0, 10_000)
        .await
        .unwrap()
        .len() as i64;
    assert!(before >= 8, "the setup's own events: {before}");
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
        format!("{{\"checkpoints\":0,\"verified\":{}}}", before + 20)
    );
    let exported = run_renkei(url, &["audit", "export", "--since", "2026-01-01"], None);
    let lines: Vec<Value> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, before + 20);
    assert_eq!(lines[0]["seq"], 1);
    let first_read = &lines[before as usize];
    assert_eq!(first_read["kind"], "read");
    assert_eq!(first_read["records"], 6);

    // Someone edits a read in the database: verification names it.
    let tampered = before + 7;
    board
        .server
        .execute_sql(&format!("UPDATE audit_events SET event = REPLACE(event, '\"records\":6', '\"records\":5') WHERE seq = {tampered}"))
        .await;
    let broken = run_renkei(url, &["audit", "verify"], None);
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains(&format!("broken at event {tampered}"))
    );
    board.server.stop().await;
}

/// The audit writer stores a batch in multi-row statements of a few sizes (64/16/4/1 events,
/// 1,024/…/1 children): every event, in order, chained, with each of its children.
async fn audit_batches_of_any_size_keep_the_chain_and_every_child(backend: Backend) {
    use renkei_platform::audit::{AuditEvent, AuditRow, verify};
    let board = board(backend, Basis::School).await;
    let store = renkei_platform::audit::store(&board.server.app.database);
    board.server.gateway.audit.flush().await;
    let before = store.audit_rows(0, 10_000).await.unwrap().len() as i64;
    let event = |i: usize, children: usize| AuditEvent {
        at: 1_800_000_000 + i as i64,
        kind: "read".into(),
        client_id: Some("batch-app".into()),
        token_id: None,
        categories: vec![CORE.into()],
        children: (0..children).map(|c| format!("batch-{c:04}")).collect(),
        endpoint: format!("GET /batch/{i}"),
        records: children as i64,
        outcome: "allowed".into(),
        detail: None,
        erased: Vec::new(),
    };
    // 83 events (64 + 16 + 3 × 1 rows), one of them naming 1,300 children (1,024 + 256 + 16 +
    // 4 × 1 rows with the others'); then a batch of five.
    let first: Vec<AuditEvent> = (0..83)
        .map(|i| event(i, if i == 40 { 1300 } else { i % 7 }))
        .collect();
    let second: Vec<AuditEvent> = (83..88).map(|i| event(i, 1)).collect();
    store.append_audit(&first).await.unwrap();
    store.append_audit(&second).await.unwrap();

    let rows = store.audit_rows(before, 10_000).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (before + 1..=before + 88).collect::<Vec<_>>()
    );
    let stored: Vec<AuditEvent> = rows
        .into_iter()
        .map(|row| AuditRow::chained(row).unwrap().event)
        .collect();
    assert_eq!(stored, [first.clone(), second.clone()].concat());
    let checked = verify(store.as_ref(), &[]).await.unwrap();
    assert_eq!((checked.events, checked.broken_at), (before + 88, None));
    let seqs_of = |child: &'static str| {
        let store = store.clone();
        async move {
            let mut seqs: Vec<i64> = store
                .audit_of_child(child, 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.seq - before)
                .collect();
            seqs.sort();
            seqs
        }
    };
    assert_eq!(seqs_of("batch-1299").await, [41], "only event 40 names it");
    let naming_the_first: Vec<i64> = [first, second]
        .concat()
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.children.is_empty())
        .map(|(i, _)| i as i64 + 1)
        .collect();
    assert_eq!(seqs_of("batch-0000").await, naming_the_first);
    board.server.stop().await;
}

async fn a_class_token_reads_the_class_its_students_and_their_results(backend: Backend) {
    let board = board(backend, Basis::Guardian).await;
    // s001: roster and gradebook consent; s002: roster only; s003 (another class): both.
    for (guardian, child, category) in [
        ("g001", "s001", CORE),
        ("g001", "s001", GRADEBOOK),
        ("g001", "s002", CORE),
        ("g002", "s003", CORE),
        ("g002", "s003", GRADEBOOK),
    ] {
        board
            .decide_on(guardian, child, category, Action::Grant)
            .await;
    }
    let class = "urn:renkei:class:cls-sakura-3-1";
    let token = board
        .capability(&format!("{CORE} {GRADEBOOK}"), class)
        .await;
    let record: Value = board.json(&token, "/classes/cls-sakura-3-1").await;
    assert_eq!(record["class"]["title"], "3年1組");
    assert_eq!(
        record["class"]["school"]["href"],
        board.server.url(&format!("{BASE}/orgs/sakura-es")),
        "GUIDRefs carry an absolute href"
    );
    assert_eq!(
        board.ids(&token, "/classes/cls-sakura-3-1/students").await,
        vec!["s001", "s002"]
    );
    let results = board
        .read(&token, &format!("{GRADES}/classes/cls-sakura-3-1/results"))
        .await;
    assert_eq!(results.status(), 200);
    assert_eq!(
        results.headers()["x-total-count"],
        "1",
        "s002 has no gradebook consent: not counted"
    );
    let body: Value = results.json().await.unwrap();
    assert_eq!(body["results"][0]["sourcedId"], "r-s001-kanji-1");
    assert_eq!(body["results"][0]["score"].as_f64(), Some(95.0));
    assert_eq!(
        body["results"][0]["lineItem"]["href"],
        board.server.url(&format!("{GRADES}/lineItems/li-kanji-1"))
    );
    for (path, expected) in [
        ("/classes/cls-sakura-3-1/lineItems", vec!["li-kanji-1"]),
        ("/lineItems", vec!["li-kanji-1"]),
        ("/results", vec!["r-s001-kanji-1"]),
        (
            "/classes/cls-sakura-3-1/lineItems/li-kanji-1/results",
            vec!["r-s001-kanji-1"],
        ),
        (
            "/classes/cls-sakura-3-1/students/s001/results",
            vec!["r-s001-kanji-1"],
        ),
        ("/classes/cls-sakura-3-1/students/s002/results", vec![]),
        ("/categories", vec!["cat-hw", "cat-test"]),
        ("/classes/cls-sakura-3-1/categories", vec!["cat-test"]),
    ] {
        let key = match path.rsplit('/').next().unwrap() {
            "lineItems" => "lineItems",
            "categories" => "categories",
            _ => "results",
        };
        assert_eq!(
            board.ids_of(key, &token, &format!("{GRADES}{path}")).await,
            expected,
            "{path}"
        );
    }
    for path in [
        "/results/r-s002-kanji-1",
        "/results/r-s003-keisan-1",
        "/lineItems/li-keisan-1",
        "/classes/cls-sakura-3-2/results",
    ] {
        assert_eq!(
            board
                .read(&token, &format!("{GRADES}{path}"))
                .await
                .status(),
            404,
            "{path}"
        );
    }
    let one: Value = board
        .json(&token, &format!("{GRADES}/results/r-s001-kanji-1"))
        .await;
    assert_eq!(one["result"]["comment"], "よくできました");

    for path in ["/schools/aoba-jhs/results", "/schools/aoba-jhs/lineItems"] {
        assert_eq!(
            board
                .read(&token, &format!("{GRADES}{path}"))
                .await
                .status(),
            404,
            "{path}: a school outside the token"
        );
    }

    // Contact data: g001 consents to it for s001 only. g001's record names only s001, and
    // s002's record (roster-core only) does not name its guardians.
    board.decide_on("g001", "s001", ROSTER, Action::Grant).await;
    let contact = board.capability(&format!("{CORE} {ROSTER}"), class).await;
    let users = board.json(&contact, "/users").await;
    let find = |id: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["sourcedId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {users}"))
    };
    let guardian = find("g001");
    let agents: Vec<&str> = guardian["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(
        agents,
        vec!["s001"],
        "the uncovered sibling s002 is not named"
    );
    assert_eq!(find("s001")["agents"][0]["sourcedId"], "g001");
    assert!(find("s002").get("agents").is_none());

    // A token lacking the gradebook is refused results, naming the category.
    let roster_only = board.capability(CORE, class).await;
    let refused = board
        .read(
            &roster_only,
            &format!("{GRADES}/classes/cls-sakura-3-1/results"),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains(GRADEBOOK),
        "{challenge}"
    );

    board.server.gateway.audit.flush().await;
    let reads = board
        .server
        .audit
        .store()
        .audit_of_child("s002", 100)
        .await
        .unwrap();
    let events: Vec<Value> = reads
        .iter()
        .map(|r| serde_json::from_str(&r.event).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["categories"] == serde_json::json!([CORE])),
        "s002's results were never read: {events:?}"
    );
    assert!(
        !board
            .server
            .audit
            .store()
            .audit_of_child("s001", 100)
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.event).unwrap())
            .filter(|e| e["categories"] == serde_json::json!([GRADEBOOK]))
            .collect::<Vec<_>>()
            .is_empty(),
        "s001's results reads are audited under the gradebook"
    );
    board.server.stop().await;
}

async fn rostering_collections_follow_the_token_scope(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let school = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    let class = board
        .capability(CORE, "urn:renkei:class:cls-sakura-3-1")
        .await;
    let cases: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        (&school, "orgs", "/orgs", vec!["minato-boe", "sakura-es"]),
        (&school, "orgs", "/schools", vec!["sakura-es"]),
        (
            &school,
            "academicSessions",
            "/academicSessions",
            vec!["y2026"],
        ),
        (&school, "academicSessions", "/terms", vec![]),
        (&school, "courses", "/courses", vec!["c-sakura-hr-2026"]),
        (
            &school,
            "courses",
            "/schools/sakura-es/courses",
            vec!["c-sakura-hr-2026"],
        ),
        (
            &school,
            "classes",
            "/classes",
            vec!["cls-sakura-3-1", "cls-sakura-3-2", "cls-sakura-4-1"],
        ),
        (
            &school,
            "classes",
            "/courses/c-sakura-hr-2026/classes",
            vec!["cls-sakura-3-1", "cls-sakura-3-2", "cls-sakura-4-1"],
        ),
        (
            &school,
            "classes",
            "/terms/y2026/classes",
            vec!["cls-sakura-3-1", "cls-sakura-3-2", "cls-sakura-4-1"],
        ),
        (
            &school,
            "classes",
            "/students/s001/classes",
            vec!["cls-sakura-3-1"],
        ),
        (
            &school,
            "classes",
            "/teachers/t002/classes",
            vec!["cls-sakura-3-2", "cls-sakura-4-1"],
        ),
        (&school, "users", "/teachers", vec!["t001", "t002"]),
        (
            &school,
            "users",
            "/schools/sakura-es/teachers",
            vec!["t001", "t002"],
        ),
        (
            &school,
            "users",
            "/users",
            vec![
                "s001", "s002", "s003", "s004", "s005", "s006", "t001", "t002",
            ],
        ),
        (
            &school,
            "users",
            "/schools/sakura-es/classes/cls-sakura-3-2/students",
            vec!["s003", "s004"],
        ),
        (
            &school,
            "enrollments",
            "/schools/sakura-es/classes/cls-sakura-3-1/enrollments",
            vec![
                "e-s001-cls-sakura-3-1",
                "e-s002-cls-sakura-3-1",
                "e-t001-cls-sakura-3-1",
            ],
        ),
        (&class, "orgs", "/orgs", vec!["minato-boe", "sakura-es"]),
        (&class, "courses", "/courses", vec!["c-sakura-hr-2026"]),
        (&class, "classes", "/classes", vec!["cls-sakura-3-1"]),
        (&class, "users", "/teachers", vec!["t001"]),
        (
            &class,
            "users",
            "/classes/cls-sakura-3-1/teachers",
            vec!["t001"],
        ),
        (&class, "users", "/users", vec!["s001", "s002", "t001"]),
        (
            &class,
            "enrollments",
            "/enrollments",
            vec![
                "e-s001-cls-sakura-3-1",
                "e-s002-cls-sakura-3-1",
                "e-t001-cls-sakura-3-1",
            ],
        ),
    ];
    for (token, key, path, expected) in cases {
        assert_eq!(board.ids_of(key, token, path).await, expected, "{path}");
    }
    assert_eq!(
        board
            .ids_of("enrollments", &school, "/enrollments")
            .await
            .len(),
        9,
        "the school's six pupils and three teacher enrollments"
    );
    for (token, path) in [
        (&school, "/schools/aoba-jhs"),
        (&school, "/orgs/aoba-jhs"),
        (&school, "/classes/cls-aoba-1-1"),
        (&school, "/users/s007"),
        (&school, "/teachers/s001"),
        (&school, "/students/t001"),
        (&class, "/classes/cls-sakura-3-2"),
        (&class, "/teachers/t002"),
        (&class, "/enrollments/e-s003-cls-sakura-3-2"),
        (&class, "/schools/sakura-es/classes/cls-sakura-3-2/students"),
    ] {
        assert_eq!(board.read(token, path).await.status(), 404, "{path}");
    }
    let teacher: Value = board.json(&class, "/teachers/t001").await;
    assert_eq!(teacher["user"]["role"], "teacher");
    assert_eq!(
        teacher["user"]["roles"][0]["roleType"], "primary",
        "1.1 users are also served in the 1.2 shape"
    );
    assert_eq!(teacher["user"]["roles"][0]["org"]["sourcedId"], "sakura-es");
    assert_eq!(teacher["user"]["primaryOrg"]["sourcedId"], "sakura-es");
    let session: Value = board.json(&class, "/academicSessions/y2026").await;
    assert_eq!(session["academicSession"]["title"], "2026年度");

    // A departed pupil's enrollment left behind is not served as a teacher's would be.
    let server = &board.server;
    let set_status = |status: &'static str| async move {
        server
            .execute_sql(&format!(
                "UPDATE users SET status = '{status}' WHERE sourced_id = 's002'"
            ))
            .await
    };
    set_status("tobedeleted").await;
    assert_eq!(
        board.ids_of("enrollments", &class, "/enrollments").await,
        vec!["e-s001-cls-sakura-3-1", "e-t001-cls-sakura-3-1"]
    );
    set_status("active").await;

    // Guardians and contact fields only with the roster category.
    let contact = board
        .capability(
            &format!("{CORE} {ROSTER}"),
            "urn:renkei:class:cls-sakura-3-1",
        )
        .await;
    assert_eq!(
        board.ids(&contact, "/users").await,
        vec!["g001", "s001", "s002", "t001"],
        "the guardian of the class's pupils, not g002"
    );

    // Demographics with their own category, only of pupils.
    assert_eq!(board.read(&school, "/demographics").await.status(), 403);
    let demographics = board
        .capability(
            &format!("{CORE} {DEMOGRAPHICS}"),
            "urn:renkei:class:cls-sakura-3-1",
        )
        .await;
    assert_eq!(
        board
            .ids_of("demographics", &demographics, "/demographics")
            .await,
        vec!["s001", "s002"]
    );
    let one: Value = board.json(&demographics, "/demographics/s001").await;
    assert_eq!(one["demographics"]["birthDate"], "2017-05-14");
    assert_eq!(
        board
            .read(&demographics, "/demographics/s003")
            .await
            .status(),
        404
    );
    board.server.stop().await;
}

async fn school_affairs_records_import_all_or_nothing_and_are_read_by_category(backend: Backend) {
    use renkei_gateway::affairs::{collection, import};
    let board = board(backend, Basis::School).await;
    let folder =
        std::env::temp_dir().join(format!("renkei-affairs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).unwrap();
    let attendance = folder.join("attendance.jsonl");
    std::fs::write(
        &attendance,
        concat!(
            "{\"sourcedId\":\"att-1\",\"studentSourcedId\":\"s001\",\"classSourcedId\":\"cls-sakura-3-1\",\"date\":\"2026-11-24\",\"attendanceStatus\":\"absent\",\"reason\":\"発熱\"}\n",
            "{\"sourcedId\":\"att-2\",\"studentSourcedId\":\"s002\",\"date\":\"2026-11-24\",\"attendanceStatus\":\"late\"}\n",
            "{\"sourcedId\":\"att-3\",\"studentSourcedId\":\"s003\",\"date\":\"2026-11-24\",\"attendanceStatus\":\"present\"}\n",
        ),
    )
    .unwrap();
    let import_affairs = |collection, path: &std::path::Path, options| {
        let (gateway, audit) = (
            board.server.gateway.store.clone(),
            board.server.audit.clone(),
        );
        let path = path.to_owned();
        async move { import::import(gateway.as_ref(), &audit, "test", collection, &path, options).await }
    };
    let options = import::Options {
        max_errors: 100,
        ..Default::default()
    };
    let attendance_collection = collection("attendance").unwrap();
    let report = import_affairs(attendance_collection, &attendance, options)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.changes.created, report.changes.updated), (3, 0));
    let again = import_affairs(attendance_collection, &attendance, options)
        .await
        .unwrap();
    assert_eq!(
        (
            again.changes.created,
            again.changes.updated,
            again.changes.deleted
        ),
        (0, 0, 0),
        "importing the same file again changes nothing"
    );

    // A broken file: every problem reported, nothing changed.
    let broken = folder.join("broken.csv");
    std::fs::write(
        &broken,
        "sourcedId,status,studentSourcedId,date,attendanceStatus\n\
         att-1,tobedeleted,,,\n\
         att-9,,s999,2026-11-25,absent\n\
         att-10,,s001,25/11/2026,absent\n\
         att-10,,s001,2026-11-25,absent\n\
         ,,s001,2026-11-25,absent\n\
         att-11,gone,s001,2026-11-25,absent\n",
    )
    .unwrap();
    let refused = import_affairs(attendance_collection, &broken, options)
        .await
        .unwrap();
    assert_eq!(
        refused.problems,
        vec![
            "broken.csv:3: studentSourcedId: no active pupil \"s999\" in the roster; import the roster first or correct the id",
            "broken.csv:4: date: \"25/11/2026\" is not a date; write YYYY-MM-DD, e.g. 2026-11-24",
            "broken.csv:5: sourcedId: \"att-10\" appears twice in the file; each record once",
            "broken.csv:6: sourcedId: missing; every record needs its own sourcedId from the school-affairs system",
            "broken.csv:7: status: \"gone\" is not a status; use active or tobedeleted",
        ]
    );
    let misfiled = folder.join("misfiled.jsonl");
    std::fs::write(
        &misfiled,
        "{\"sourcedId\":\"att-8\",\"studentSourcedId\":\"s003\",\"classSourcedId\":\"cls-sakura-3-1\",\"date\":\"2026-11-24\"}\n",
    )
    .unwrap();
    let refused = import_affairs(attendance_collection, &misfiled, options)
        .await
        .unwrap();
    assert_eq!(
        refused.problems,
        vec![
            "misfiled.jsonl:1: classSourcedId: pupil \"s003\" is not enrolled in class \"cls-sakura-3-1\"; correct the class or leave it empty"
        ]
    );
    let token = board
        .capability(ATTENDANCE, "urn:renkei:school:sakura-es")
        .await;
    assert_eq!(
        board
            .ids_of("attendance", &token, &format!("{AFFAIRS}/attendance"))
            .await,
        vec!["att-1", "att-2", "att-3"],
        "the broken import changed nothing (att-1 is still there)"
    );

    // A timetable, per class, from CSV.
    let timetable = folder.join("timetable.csv");
    std::fs::write(
        &timetable,
        "sourcedId,classSourcedId,dayOfWeek,period,subject\n\
         tt-1,cls-sakura-3-1,月,1,国語\n\
         tt-2,cls-sakura-3-2,月,1,算数\n",
    )
    .unwrap();
    let report = import_affairs(collection("timetables").unwrap(), &timetable, options)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Reads by category and scope.
    let class = board
        .capability(
            &format!("{ATTENDANCE} {TIMETABLE}"),
            "urn:renkei:class:cls-sakura-3-1",
        )
        .await;
    for (key, path, expected) in [
        ("attendance", "/attendance", vec!["att-1", "att-2"]),
        (
            "attendance",
            "/classes/cls-sakura-3-1/attendance",
            vec!["att-1", "att-2"],
        ),
        ("attendance", "/students/s002/attendance", vec!["att-2"]),
        ("attendance", "/students/s003/attendance", vec![]),
        ("timetables", "/timetables", vec!["tt-1"]),
        (
            "timetables",
            "/classes/cls-sakura-3-1/timetables",
            vec!["tt-1"],
        ),
    ] {
        assert_eq!(
            board.ids_of(key, &class, &format!("{AFFAIRS}{path}")).await,
            expected,
            "{path}"
        );
    }
    let record: Value = board
        .json(&class, &format!("{AFFAIRS}/attendance/att-1"))
        .await;
    assert_eq!(record["attendanceRecord"]["reason"], "発熱");
    assert_eq!(record["attendanceRecord"]["student"]["sourcedId"], "s001");
    assert_eq!(
        board
            .read(&class, &format!("{AFFAIRS}/attendance/att-3"))
            .await
            .status(),
        404
    );
    let roster_only = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    let refused = board
        .read(&roster_only, &format!("{AFFAIRS}/attendance"))
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(ATTENDANCE)
    );

    // Bulk: the file replaces the category's records.
    let bulk = folder.join("bulk.jsonl");
    std::fs::write(
        &bulk,
        "{\"sourcedId\":\"att-2\",\"studentSourcedId\":\"s002\",\"date\":\"2026-11-24\",\"attendanceStatus\":\"present\"}\n",
    )
    .unwrap();
    let replaced = import_affairs(
        attendance_collection,
        &bulk,
        import::Options {
            bulk: true,
            ..options
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            replaced.changes.created,
            replaced.changes.updated,
            replaced.changes.deleted
        ),
        (0, 1, 2)
    );
    assert_eq!(
        board
            .ids_of("attendance", &token, &format!("{AFFAIRS}/attendance"))
            .await,
        vec!["att-2"]
    );
    board.server.stop().await;
}

async fn the_gateway_runs_as_its_own_process_and_affairs_import_from_the_command_line(
    backend: Backend,
) {
    use std::io::{BufRead, BufReader};

    let board = board(backend, Basis::School).await;
    let url = board.server.database.url.clone();
    let folder =
        std::env::temp_dir().join(format!("renkei-affairs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("visits.csv");
    std::fs::write(
        &file,
        "sourcedId,studentSourcedId,date,time,reason\nhv-1,s001,2026-11-24,10:15,腹痛\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let dry = run_renkei(
        &url,
        &[
            "import",
            "affairs",
            "healthRoomVisits",
            path,
            "--dry-run",
            "--format",
            "json",
        ],
        None,
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(report["changes"]["created"], 1);
    assert_eq!(report["dry_run"], true);
    let unknown = run_renkei(&url, &["import", "affairs", "grades", path], None);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown collection \"grades\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let imported = run_renkei(&url, &["import", "affairs", "healthRoomVisits", path], None);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("1 created"));
    std::fs::remove_dir_all(&folder).ok();

    // The gateway alone, in its own process, on the same database.
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let mut child = spawn_renkei(
        &url,
        &[
            "gateway",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &public,
        ],
    );
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = lines.next().unwrap().unwrap();
    assert!(started.contains("gateway is serving"), "{started}");
    let core = board
        .capability(CORE, "urn:renkei:class:cls-sakura-3-1")
        .await;
    let response = reqwest::Client::new()
        .get(format!("{public}{BASE}/classes/cls-sakura-3-1/students"))
        .bearer_auth(&core)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-content-type-options"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["users"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["users"][0]["orgs"][0]["href"],
        format!("{public}{BASE}/orgs/sakura-es"),
        "hrefs point at the gateway's own public URL"
    );
    let status = terminate(child).await;
    assert!(status.success(), "SIGTERM drains and exits cleanly");

    // The read made in the other process, and the import, are in the one audit chain.
    let exported = run_renkei(&url, &["audit", "export"], None);
    let events: Vec<Value> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["endpoint"] == "renkei import affairs" && e["kind"] == "admin")
    );
    assert!(events.iter().any(|e| {
        e["endpoint"] == format!("GET {BASE}/classes/cls-sakura-3-1/students")
            && e["children"] == serde_json::json!(["s001", "s002"])
    }));
    let verified = run_renkei(&url, &["audit", "verify"], None);
    assert!(verified.status.success());
    board.server.stop().await;
}

/// The Japan profile's columns (`metadata.jp.kanaGivenName`, `metadata.jp.shussekiNo`, …) are
/// served where OneRoster REST keeps extensions: in `metadata`, nested by their dotted names,
/// as the profile's REST examples show; the homeroom is a GUIDRef.
async fn japan_profile_fields_are_served_under_metadata_jp(backend: Backend) {
    let board = board(backend, Basis::School).await;
    let school = board.capability(CORE, "urn:renkei:school:sakura-es").await;
    let pupil = board.json(&school, "/students/s001").await;
    let jp = &pupil["user"]["metadata"]["jp"];
    assert_eq!(jp["kanaGivenName"], "タロウ", "{pupil}");
    assert_eq!(jp["kanaFamilyName"], "ヤマダ");
    assert_eq!(jp["homeClass"]["sourcedId"], "cls-sakura-3-1");
    assert_eq!(jp["homeClass"]["type"], "class");
    assert_eq!(
        jp["homeClass"]["href"],
        board
            .server
            .url(&format!("{BASE}/classes/cls-sakura-3-1"))
            .as_str(),
        "a GUIDRef like any other"
    );
    let enrollment = board
        .json(&school, "/enrollments/e-s001-cls-sakura-3-1")
        .await;
    assert_eq!(
        enrollment["enrollment"]["metadata"]["jp"],
        serde_json::json!({"shussekiNo": 1, "publicFlg": true}),
        "{enrollment}"
    );
}

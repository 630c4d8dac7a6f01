//! Every administrative operation and every consent change writes its own audit event: the
//! operations are called here directly, as the command line, the pages and the JSON API call
//! them, and each one's event is in the chain with what it did — on SQLite and PostgreSQL.

mod support;

use renkei_consent::category::Category;
use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_directory::{ImportOptions, import};
use renkei_idp::client::NewClient;
use renkei_idp::user::NewUser;
use renkei_platform::audit::{AuditEvent, AuditRow, verify};
use support::*;

on_both_databases!(
    accounts_audit_creation_and_passwords,
    apps_audit_registration_and_disabling,
    key_rotations_audit_both_key_sets,
    roster_imports_audit_applied_and_rejected_runs_but_not_dry_runs,
    departed_people_purges_are_audited,
    policies_and_categories_audit_themselves,
    consent_records_audit_themselves_whoever_records_them,
    affairs_imports_are_audited_when_applied,
    verify_notices_changed_links_times_and_a_cut_off_end,
);

const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";

/// The events written through `via`, oldest first; the chain must verify.
async fn events_via(server: &TestServer, via: &str) -> Vec<AuditEvent> {
    let store = server.audit.store();
    assert_eq!(verify(store, &[]).await.unwrap().broken_at, None);
    store
        .audit_rows(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(AuditRow::chained)
        .map(|chained| chained.event)
        .filter(|event| event.endpoint == via)
        .collect()
}

/// The one event written through `via`.
async fn event_via(server: &TestServer, via: &str) -> AuditEvent {
    let mut events = events_via(server, via).await;
    assert_eq!(events.len(), 1, "one event through {via:?}: {events:?}");
    events.pop().unwrap()
}

fn board_fixture() -> std::path::PathBuf {
    roster_fixture("board-1.1")
}

/// A policy letting `app` read class 3-1's attendance with its guardians' consent.
fn attendance_by_guardians(app: &TestClient) -> PolicyInput {
    PolicyInput {
        client_id: app.id.clone(),
        category_id: ATTENDANCE.into(),
        basis: Basis::Guardian,
        reach: vec![Reach::Class("cls-sakura-3-1".into())],
        purpose_ja: Some("出欠に応じた学習課題の配信".into()),
        purpose_en: None,
        valid_until: None,
        justification: None,
        by: "a001".into(),
    }
}

/// A server with the fixture board imported.
async fn board(backend: Backend) -> TestServer {
    TestServer::with_board(backend, "board-1.1").await
}

async fn accounts_audit_creation_and_passwords(backend: Backend) {
    let server = TestServer::start(backend).await;
    renkei_idp::user::create(
        server.store.as_ref(),
        &server.audit,
        "test: user add",
        NewUser {
            username: "hanako".into(),
            role: "teacher".into(),
            password: Some(PASSWORD.into()),
            ..NewUser::default()
        },
    )
    .await
    .unwrap();
    let created = event_via(&server, "test: user add").await;
    assert_eq!(created.kind, "admin");
    assert_eq!(
        created.detail.as_deref(),
        Some("account hanako (teacher) created")
    );

    // A refused operation changes nothing and writes nothing.
    let taken = renkei_idp::user::create(
        server.store.as_ref(),
        &server.audit,
        "test: user add",
        NewUser {
            username: "hanako".into(),
            role: "teacher".into(),
            ..NewUser::default()
        },
    )
    .await;
    assert!(taken.is_err());
    assert_eq!(events_via(&server, "test: user add").await.len(), 1);

    // Signed in with the old password, in the browser and at an app.
    let app = server.web_app().await;
    let browser = Browser::new();
    let tokens = code_flow_tokens(&server, &app, &browser, "hanako", "openid offline_access").await;
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let home = |browser: &Browser| {
        let url = server.url("/");
        let http = browser.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(home(&browser).await.contains("hanako"), "signed in before");

    renkei_idp::user::set_password(
        server.store.as_ref(),
        &server.audit,
        "test: set-password",
        "hanako",
        "another long password".into(),
    )
    .await
    .unwrap();
    let set = event_via(&server, "test: set-password").await;
    assert_eq!(
        set.detail.as_deref(),
        Some("password of account hanako set; 1 session(s) ended, grants revoked")
    );
    // The old sign-in is over everywhere: the browser's session and the app's refresh token.
    assert!(
        !home(&browser).await.contains("hanako"),
        "the browser's session ended"
    );
    let refused = refresh(&server, &app, &refresh_token).await;
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    server.stop().await;
}

async fn apps_audit_registration_and_disabling(backend: Backend) {
    let server = TestServer::start(backend).await;
    let registered = renkei_idp::client::register(
        server.store.as_ref(),
        server.directory.as_ref(),
        &server.audit,
        "test: client add",
        NewClient {
            name: "さくら学習ドリル".into(),
            redirect_uris: vec!["https://drill.example.jp/callback".into()],
            ..NewClient::default()
        },
    )
    .await
    .unwrap();
    let added = event_via(&server, "test: client add").await;
    assert_eq!(
        added.client_id.as_deref(),
        Some(registered.client.id.as_str())
    );
    assert_eq!(
        added.detail.as_deref(),
        Some("app \"さくら学習ドリル\" registered")
    );

    let disabled = renkei_consent::app::disable(
        server.store.as_ref(),
        server.consent.store.as_ref(),
        &server.audit,
        "test: client disable",
        &registered.client.id,
    )
    .await
    .unwrap();
    assert_eq!(disabled.capability_tokens_revoked, 0);
    let event = event_via(&server, "test: client disable").await;
    assert_eq!(
        event.client_id.as_deref(),
        Some(registered.client.id.as_str())
    );
    assert_eq!(
        event.detail.as_deref(),
        Some("app disabled; 0 capability tokens revoked")
    );
    // Disabling it again is refused and not audited again.
    assert!(
        renkei_consent::app::disable(
            server.store.as_ref(),
            server.consent.store.as_ref(),
            &server.audit,
            "test: client disable",
            &registered.client.id,
        )
        .await
        .is_err()
    );
    assert_eq!(events_via(&server, "test: client disable").await.len(), 1);
    server.stop().await;
}

async fn key_rotations_audit_both_key_sets(backend: Backend) {
    let server = TestServer::start(backend).await;
    let kids = renkei_idp::keys::rotate(
        server.store.as_ref(),
        &server.audit,
        "test: keys rotate",
        600,
        server.state.config.key_retention(),
    )
    .await
    .unwrap();
    let root = renkei_consent::capability::keys::rotate(
        server.consent.store.as_ref(),
        &server.audit,
        "test: keys rotate",
        renkei_platform::clock::now(),
    )
    .await
    .unwrap();
    let events = events_via(&server, "test: keys rotate").await;
    assert_eq!(events.len(), 2, "{events:?}");
    let signing = events[0].detail.as_deref().unwrap();
    assert!(
        kids.iter().all(|kid| signing.contains(kid.as_str())),
        "{signing}"
    );
    assert!(
        events[1]
            .detail
            .as_deref()
            .unwrap()
            .starts_with(&format!("capability root key {root} added")),
        "{:?}",
        events[1]
    );
    server.stop().await;
}

async fn roster_imports_audit_applied_and_rejected_runs_but_not_dry_runs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let run = |path: std::path::PathBuf, dry_run| {
        let (directory, audit) = (server.directory.clone(), server.audit.clone());
        async move {
            let options = ImportOptions {
                dry_run,
                actor: "情報担当".into(),
                ..ImportOptions::default()
            };
            import(directory.as_ref(), &audit, "test: import", &path, &options)
                .await
                .unwrap()
        }
    };
    let dry = run(board_fixture(), true).await;
    assert_eq!(dry.outcome, "dry-run");
    assert!(events_via(&server, "test: import").await.is_empty());

    let applied = run(board_fixture(), false).await;
    assert_eq!(applied.outcome, "applied");
    let event = event_via(&server, "test: import").await;
    assert_eq!(
        event.detail,
        Some(format!(
            "OneRoster import {} by 情報担当: applied",
            applied.id
        ))
    );

    let broken = tempdir_with(&[("manifest.csv", "propertyName,value\nnot,a manifest\n")]);
    let rejected = run(broken.clone(), false).await;
    assert_eq!(rejected.outcome, "rejected");
    let events = events_via(&server, "test: import").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].detail,
        Some(format!(
            "OneRoster import {} by 情報担当: rejected",
            rejected.id
        ))
    );
    let _ = std::fs::remove_dir_all(broken);
    server.stop().await;
}

/// A folder holding `files`.
fn tempdir_with(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("renkei-audit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

async fn departed_people_purges_are_audited(backend: Backend) {
    let server = board(backend).await;
    let purged = renkei_directory::purge_departed(
        server.directory.as_ref(),
        &server.audit,
        "test: purge",
        30,
    )
    .await
    .unwrap();
    assert_eq!(purged.erased, 0);
    let event = event_via(&server, "test: purge").await;
    assert_eq!(
        event.detail.as_deref(),
        Some("0 departed people erased (retention 30 days)")
    );
    server.stop().await;
}

/// A board with an app whose attendance policy was set through `via`.
async fn board_with_policy(
    backend: Backend,
    via: &str,
) -> (TestServer, TestClient, renkei_consent::policy::Policy) {
    let server = board(backend).await;
    let app = server.web_app().await;
    let set = policy::set(
        server.consent.store.as_ref(),
        server.directory.as_ref(),
        &server.audit,
        via,
        attendance_by_guardians(&app),
        renkei_platform::clock::now(),
    )
    .await
    .unwrap();
    (server, app, set)
}

async fn policies_and_categories_audit_themselves(backend: Backend) {
    let (server, app, set) = board_with_policy(backend, "test: policy set").await;
    let store = server.consent.store.as_ref();
    let now = renkei_platform::clock::now();
    let event = event_via(&server, "test: policy set").await;
    assert_eq!(event.kind, "admin");
    assert_eq!(event.client_id.as_deref(), Some(app.id.as_str()));
    assert_eq!(event.categories, [ATTENDANCE]);
    assert_eq!(
        event.detail,
        Some(format!("policy version {} (guardian) by a001", set.version))
    );

    renkei_consent::category::add(
        store,
        &server.audit,
        "test: add-category",
        &Category {
            id: "urn:renkei:scope:reading-log.readonly".into(),
            name_ja: "読書記録".into(),
            name_en: "Reading log".into(),
            description_ja: String::new(),
            description_en: String::new(),
            sensitivity: 3,
        },
        now,
    )
    .await
    .unwrap();
    let event = event_via(&server, "test: add-category").await;
    assert_eq!(event.categories, ["urn:renkei:scope:reading-log.readonly"]);
    assert_eq!(
        event.detail.as_deref(),
        Some("data category \"読書記録\" added")
    );
    server.stop().await;
}

async fn consent_records_audit_themselves_whoever_records_them(backend: Backend) {
    let (server, app, _) = board_with_policy(backend, "test setup").await;
    let store = server.consent.store.as_ref();
    let now = renkei_platform::clock::now();
    let guardian = server
        .store
        .user_by_username("g001")
        .await
        .unwrap()
        .unwrap();
    for (action, via) in [
        (Action::Grant, "test: consent grant"),
        (Action::Withdraw, "test: consent withdraw"),
    ] {
        let stored = record::record(
            store,
            server.directory.as_ref(),
            &server.audit,
            via,
            &guardian,
            ConsentInput {
                student_id: "s001".into(),
                client_id: app.id.clone(),
                category_id: ATTENDANCE.into(),
                action,
                until: None,
                paper_from: None,
            },
            now,
        )
        .await
        .unwrap();
        let event = event_via(&server, via).await;
        let mut expected = stored.audit_event(via);
        expected.at = event.at;
        assert_eq!(event, expected);
        assert_eq!(event.kind, "consent");
        assert_eq!(event.children, ["s001"]);
    }
    server.stop().await;
}

async fn affairs_imports_are_audited_when_applied(backend: Backend) {
    use renkei_gateway::affairs::{collection, import};
    let server = board(backend).await;
    let file = std::env::temp_dir().join(format!("renkei-audit-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "{\"sourcedId\":\"att-1\",\"studentSourcedId\":\"s001\",\"date\":\"2026-11-24\",\"attendanceStatus\":\"absent\"}\n",
    )
    .unwrap();
    let store = server.gateway.store.clone();
    let attendance = collection("attendance").unwrap();
    let options = |dry_run| import::Options {
        dry_run,
        max_errors: 100,
        ..Default::default()
    };
    let dry = import::import(
        store.as_ref(),
        &server.audit,
        "test: affairs",
        attendance,
        &file,
        options(true),
    )
    .await
    .unwrap();
    assert_eq!(dry.changes.created, 1);
    assert!(events_via(&server, "test: affairs").await.is_empty());
    import::import(
        store.as_ref(),
        &server.audit,
        "test: affairs",
        attendance,
        &file,
        options(false),
    )
    .await
    .unwrap();
    let event = event_via(&server, "test: affairs").await;
    assert_eq!(event.categories, [ATTENDANCE]);
    assert!(
        event
            .detail
            .as_deref()
            .unwrap()
            .starts_with("attendance from "),
        "{event:?}"
    );
    assert!(
        event
            .detail
            .as_deref()
            .unwrap()
            .ends_with(": 1 created, 0 updated, 0 removed"),
        "{event:?}"
    );
    let _ = std::fs::remove_file(file);
    server.stop().await;
}

/// The hashes cover each event's JSON; `audit verify` also checks what lies beside it: the
/// `at` column (`export --since` selects by it), the links to children (guardians' read
/// history), which only a retention erasure may remove, and the end of the chain against the
/// checkpoints the board kept.
async fn verify_notices_changed_links_times_and_a_cut_off_end(backend: Backend) {
    let server = board(backend).await;
    let store = server.audit.store();
    let read = |children: &[&str]| AuditEvent {
        children: children.iter().map(|c| c.to_string()).collect(),
        ..AuditEvent::admin("GET /test/read", "a read".into())
    };
    server.audit.append(read(&["s001", "s002"])).await.unwrap();
    server.audit.append(read(&["s008"])).await.unwrap();
    let checkpoint = || async { verify(store, &[]).await.unwrap().newest.unwrap() };
    let kept = checkpoint().await;
    let read_at = kept.seq - 1;
    let problem = |checkpoints: Vec<renkei_platform::audit::Checkpoint>| async move {
        let checked = verify(store, &checkpoints).await.unwrap();
        (checked.broken_at, checked.problem.unwrap_or_default())
    };
    assert_eq!(problem(vec![kept.clone()]).await, (None, String::new()));

    // Each change, checked and then undone.
    let serving = &server;
    let tampering = |change: String, undo: String, says: &'static str| async move {
        serving.execute_sql(&change).await;
        let (at, why) = problem(vec![]).await;
        serving.execute_sql(&undo).await;
        assert_eq!(at, Some(read_at), "{change}");
        assert!(why.contains(says), "{change}: {why}");
    };
    // A link the event does not name (a read made to appear in a guardian's history).
    tampering(
        format!("INSERT INTO audit_children (seq, child_id) VALUES ({read_at}, 's003')"),
        "DELETE FROM audit_children WHERE child_id = 's003'".into(),
        "\"s003\"",
    )
    .await;
    // A link removed (a read hidden from a guardian).
    tampering(
        format!("DELETE FROM audit_children WHERE seq = {read_at} AND child_id = 's002'"),
        format!("INSERT INTO audit_children (seq, child_id) VALUES ({read_at}, 's002')"),
        "no retention erasure",
    )
    .await;
    // The time column moved (an event hidden from `export --since`).
    tampering(
        format!("UPDATE audit_events SET at = at - 86400 WHERE seq = {read_at}"),
        format!("UPDATE audit_events SET at = at + 86400 WHERE seq = {read_at}"),
        "time column",
    )
    .await;
    assert_eq!(problem(vec![]).await, (None, String::new()));

    // Retention erases the departed s008's links and says so: the chain still verifies.
    server
        .execute_sql(
            "UPDATE users SET status = 'tobedeleted', enabled = FALSE, disabled_at = 1 WHERE sourced_id = 's008'",
        )
        .await;
    let purged = renkei_directory::purge_departed(
        server.directory.as_ref(),
        &server.audit,
        "test: purge",
        30,
    )
    .await
    .unwrap();
    assert_eq!(purged.erased, 1);
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM audit_children WHERE child_id = 's008'")
            .await,
        0
    );
    assert_eq!(problem(vec![kept.clone()]).await, (None, String::new()));

    // The newest events cut off: only the checkpoint tells.
    server.audit.append(read(&["s001"])).await.unwrap();
    let newest = checkpoint().await;
    for table in ["audit_children", "audit_events"] {
        server
            .execute_sql(&format!("DELETE FROM {table} WHERE seq = {}", newest.seq))
            .await;
    }
    assert_eq!(problem(vec![kept.clone()]).await, (None, String::new()));
    let (at, why) = problem(vec![kept, newest.clone()]).await;
    assert_eq!(at, Some(newest.seq));
    assert!(why.contains("cut off"), "{why}");
    // Cutting off the erasure too leaves the erased links unexplained.
    server
        .execute_sql(&format!(
            "DELETE FROM audit_events WHERE seq = {}",
            newest.seq - 1
        ))
        .await;
    let (at, why) = problem(vec![]).await;
    assert_eq!(at, Some(read_at + 1), "the event that named s008");
    assert!(why.contains("no retention erasure"), "{why}");
    server.stop().await;
}

//! Consent service, on SQLite and PostgreSQL: the category registry, administrators' policies
//! (validation, versions) and append-only consent records by guardians, students and
//! administrators, on a board imported from OneRoster.

mod support;

use std::path::Path;

use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
use renkei_consent::record::{self, Action, ConsentInput};
use renkei_consent::store::ConsentStore;
use support::*;

on_both_databases!(
    categories_are_seeded_with_sensitivity,
    policies_are_validated_and_versioned,
    consent_records_follow_the_basis_and_are_append_only,
    command_line_sets_policies_and_records_consent,
    administrators_extend_the_category_registry,
    a_reach_asked_about_a_few_pupils_agrees_with_the_whole_list,
);

const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";
const FAMILY: &str = "urn:renkei:scope:family-situation.readonly";

struct Board {
    server: TestServer,
    consent: std::sync::Arc<dyn ConsentStore>,
    app: TestClient,
}

async fn board(backend: Backend) -> Board {
    let server = TestServer::with_board(backend, "board-1.1").await;
    let consent = server.consent.store.clone();
    let app = server.web_app().await;
    Board {
        server,
        consent,
        app,
    }
}

fn attendance_for_class(app: &TestClient, basis: Basis) -> PolicyInput {
    PolicyInput {
        client_id: app.id.clone(),
        category_id: ATTENDANCE.into(),
        basis,
        reach: vec![Reach::Class("cls-sakura-3-1".into())],
        purpose_ja: Some("出欠に応じた学習課題の配信".into()),
        purpose_en: Some("Assigning learning tasks according to attendance".into()),
        valid_until: None,
        justification: None,
        by: "a001".into(),
    }
}

async fn categories_are_seeded_with_sensitivity(backend: Backend) {
    let board = board(backend).await;
    let categories = board.consent.categories().await.unwrap();
    assert_eq!(categories.len(), 12);
    let family = categories.iter().find(|c| c.id == FAMILY).unwrap();
    assert!(family.is_highly_sensitive());
    assert_eq!(family.name_ja, "家庭状況");
    let roster = board
        .consent
        .category("https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(roster.sensitivity, 3);
    board.server.stop().await;
}

async fn policies_are_validated_and_versioned(backend: Backend) {
    let board = board(backend).await;
    let store = board.consent.as_ref();
    let audit = &board.server.audit;
    let directory = board.server.directory.as_ref();
    let now = renkei_platform::clock::now();
    let first = policy::set(
        store,
        directory,
        audit,
        "test",
        attendance_for_class(&board.app, Basis::Guardian),
        now,
    )
    .await
    .unwrap();
    assert_eq!(first.version, 1);
    let second = policy::set(
        store,
        directory,
        audit,
        "test",
        PolicyInput {
            basis: Basis::School,
            ..attendance_for_class(&board.app, Basis::School)
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(second.version, 2, "a change is a new version");
    let listed = store.policies(Some(&board.app.id)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, 2);
    assert_eq!(listed[0].basis, Basis::School);

    let error = |input: PolicyInput| async move {
        policy::set(store, directory, audit, "test", input, now)
            .await
            .unwrap_err()
            .to_string()
    };
    let family = PolicyInput {
        category_id: FAMILY.into(),
        ..attendance_for_class(&board.app, Basis::School)
    };
    assert!(
        error(family.clone())
            .await
            .contains("special-care information (class I): use --basis guardian")
    );
    let by_child = PolicyInput {
        basis: Basis::Student,
        justification: Some("x".into()),
        ..family.clone()
    };
    assert!(
        error(by_child).await.contains("class I"),
        "a justification unlocks only the school's basis"
    );
    let justified = PolicyInput {
        justification: Some("要保護児童対策地域協議会への情報提供（児童福祉法）".into()),
        ..family
    };
    assert_eq!(
        policy::set(store, directory, audit, "test", justified, now)
            .await
            .unwrap()
            .version,
        1,
        "class I on the school's basis with a recorded justification"
    );
    let unknown_class = PolicyInput {
        reach: vec![Reach::Class("cls-nope".into())],
        ..attendance_for_class(&board.app, Basis::Guardian)
    };
    assert_eq!(
        error(unknown_class).await,
        "there is no class \"cls-nope\" in the directory"
    );
    let unknown_category = PolicyInput {
        category_id: "urn:renkei:scope:nope.readonly".into(),
        ..attendance_for_class(&board.app, Basis::Guardian)
    };
    assert!(
        error(unknown_category)
            .await
            .starts_with("unknown data category")
    );
    let unknown_app = PolicyInput {
        client_id: "nope".into(),
        ..attendance_for_class(&board.app, Basis::Guardian)
    };
    assert_eq!(
        error(unknown_app).await,
        "there is no registered app with client id \"nope\""
    );
    let nowhere = PolicyInput {
        reach: vec![],
        ..attendance_for_class(&board.app, Basis::Guardian)
    };
    assert!(
        error(nowhere)
            .await
            .contains("at least one --school, --class or --grade")
    );
    let by_grade = PolicyInput {
        reach: vec![Reach::Grade("P3".into()), Reach::School("sakura-es".into())],
        ..attendance_for_class(&board.app, Basis::Guardian)
    };
    assert_eq!(
        policy::set(store, directory, audit, "test", by_grade, now)
            .await
            .unwrap()
            .version,
        3
    );
    board.server.stop().await;
}

async fn consent_records_follow_the_basis_and_are_append_only(backend: Backend) {
    let board = board(backend).await;
    let store = board.consent.as_ref();
    let audit = &board.server.audit;
    let directory = board.server.directory.as_ref();
    let users = board.server.store.as_ref();
    let now = renkei_platform::clock::now();
    let user =
        |name: &'static str| async move { users.user_by_username(name).await.unwrap().unwrap() };
    let grant = |student: &str| ConsentInput {
        student_id: student.into(),
        client_id: board.app.id.clone(),
        category_id: ATTENDANCE.into(),
        action: Action::Grant,
        until: None,
        paper_from: None,
    };
    let decide = |by: &'static str, input: ConsentInput, at: i64| async move {
        record::record(store, directory, audit, "test", &user(by).await, input, at).await
    };
    let no_policy = decide("g001", grant("s001"), now).await.unwrap_err();
    assert!(
        no_policy.to_string().starts_with("no policy in force"),
        "{no_policy}"
    );
    policy::set(
        store,
        directory,
        audit,
        "test",
        attendance_for_class(&board.app, Basis::Guardian),
        now,
    )
    .await
    .unwrap();

    let granted = decide("g001", grant("s001"), now).await.unwrap();
    assert_eq!(
        (
            granted.by_role.as_str(),
            granted.policy_version,
            granted.action.as_str()
        ),
        ("guardian", 1, "grant")
    );
    let other_parent = decide("g002", grant("s001"), now).await.unwrap_err();
    assert_eq!(
        other_parent.to_string(),
        "g002 is not a guardian of this child"
    );
    let child_itself = decide("s001", grant("s001"), now).await.unwrap_err();
    assert!(
        child_itself
            .to_string()
            .contains("may not decide for this child under a guardian basis")
    );
    let teacher = decide("t001", grant("s002"), now).await.unwrap_err();
    assert!(matches!(teacher, renkei_consent::Error::Forbidden(_)));
    // A guardian's paper consent names the guardian who signed it: one of the child's.
    let unnamed = decide("a001", grant("s002"), now + 1).await.unwrap_err();
    assert!(
        unnamed
            .to_string()
            .contains("names the guardian who signed"),
        "{unnamed}"
    );
    let g002 = user("g002").await.id;
    let not_theirs = decide(
        "a001",
        ConsentInput {
            paper_from: Some(g002),
            ..grant("s002")
        },
        now + 1,
    )
    .await
    .unwrap_err();
    assert!(
        not_theirs
            .to_string()
            .contains("is not a guardian of the child"),
        "{not_theirs}"
    );
    let g001 = user("g001").await.id;
    let paper = decide(
        "a001",
        ConsentInput {
            paper_from: Some(g001.clone()),
            ..grant("s002")
        },
        now + 1,
    )
    .await
    .unwrap();
    assert_eq!(
        (paper.by_role.as_str(), paper.paper_from.as_deref()),
        ("administrator", Some(g001.as_str())),
        "an administrator records a consent given on paper"
    );
    let withdrawn = decide(
        "g001",
        ConsentInput {
            action: Action::Withdraw,
            ..grant("s001")
        },
        now + 2,
    )
    .await
    .unwrap();
    assert_eq!(withdrawn.action, "withdraw");
    let history = store.consents(Some("s001"), None).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["grant", "withdraw"],
        "history is kept, never rewritten"
    );
    assert_eq!(
        store
            .consents(None, Some(&board.app.id))
            .await
            .unwrap()
            .len(),
        3
    );
    let elsewhere = decide("g002", grant("s003"), now).await.unwrap_err();
    assert!(
        elsewhere
            .to_string()
            .contains("not among the pupils this policy covers"),
        "{elsewhere}"
    );
    let missing = decide("a001", grant("s999"), now).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "there is no student \"s999\" in the directory"
    );

    policy::set(
        store,
        directory,
        audit,
        "test",
        attendance_for_class(&board.app, Basis::School),
        now,
    )
    .await
    .unwrap();
    let school_basis = decide("g001", grant("s001"), now).await.unwrap_err();
    assert!(
        school_basis
            .to_string()
            .contains("on the school's own basis")
    );
    board.server.stop().await;
}

async fn command_line_sets_policies_and_records_consent(backend: Backend) {
    let board = board(backend).await;
    let url = board.server.database.url.clone();
    let app = board.app.id.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let set = run_renkei(
            &url,
            &[
                "policy",
                "set",
                "--client",
                &app,
                "--category",
                ATTENDANCE,
                "--basis",
                "guardian",
                "--class",
                "cls-sakura-3-1",
                "--purpose-ja",
                "出欠の確認",
                "--until",
                "2099-03-31",
                "--by",
                "a001",
            ],
            None,
        );
        let bad = run_renkei(
            &url,
            &[
                "policy",
                "set",
                "--client",
                &app,
                "--category",
                ATTENDANCE,
                "--basis",
                "parents",
                "--class",
                "cls-sakura-3-1",
            ],
            None,
        );
        let grant = run_renkei(
            &url,
            &[
                "consent",
                "grant",
                "--by",
                "g001",
                "--student",
                "s002",
                "--client",
                &app,
                "--category",
                ATTENDANCE,
            ],
            None,
        );
        let list = run_renkei(&url, &["consent", "list", "--student", "s002"], None);
        let categories = run_renkei(&url, &["policy", "categories"], None);
        (set, bad, grant, list, categories)
    })
    .await
    .unwrap();
    let (set, bad, grant, list, categories) = outputs;
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let policy: serde_json::Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(policy["version"], 1);
    assert_eq!(
        policy["reach"],
        serde_json::json!([{"kind": "class", "id": "cls-sakura-3-1"}])
    );
    assert_eq!(
        policy["valid_until"], 4078652399i64,
        "the end of 2099-03-31 in Japan time"
    );
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim(),
        "error: unknown basis \"parents\"; use school, guardian or student"
    );
    assert!(
        grant.status.success(),
        "{}",
        String::from_utf8_lossy(&grant.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&grant.stdout).unwrap();
    assert_eq!(
        record["until"], 4078652399i64,
        "a grant holds as long as the policy by default"
    );
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 1);
    assert_eq!(
        String::from_utf8_lossy(&categories.stdout).lines().count(),
        12
    );
    // The policy change and the consent are in the audit chain.
    let exported = run_renkei(&board.server.database.url, &["audit", "export"], None);
    let kinds: Vec<String> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        kinds.contains(&"admin".to_owned()) && kinds.contains(&"consent".to_owned()),
        "{kinds:?}"
    );
    let verified = run_renkei(&board.server.database.url, &["audit", "verify"], None);
    assert!(verified.status.success());
    board.server.stop().await;
}

async fn administrators_extend_the_category_registry(backend: Backend) {
    let board = board(backend).await;
    let url = &board.server.database.url;
    let add = |id: &str, sensitivity: &str| {
        run_renkei(
            url,
            &[
                "policy",
                "add-category",
                "--id",
                id,
                "--name-ja",
                "読書記録",
                "--name-en",
                "Reading log",
                "--sensitivity",
                sensitivity,
            ],
            None,
        )
    };
    let added = add("urn:renkei:scope:reading-log.readonly", "3");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = add("urn:renkei:scope:reading-log.readonly", "3");
    assert_eq!(
        String::from_utf8_lossy(&again.stderr).trim(),
        "error: the category \"urn:renkei:scope:reading-log.readonly\" already exists"
    );
    let malformed = add("reading-log", "3");
    assert!(
        String::from_utf8_lossy(&malformed.stderr)
            .contains("must look like urn:renkei:scope:<name>.readonly")
    );
    let bad_class = add("urn:renkei:scope:other.readonly", "4");
    assert!(String::from_utf8_lossy(&bad_class.stderr).contains("--sensitivity must be 1"));
    let category = board
        .consent
        .category("urn:renkei:scope:reading-log.readonly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (category.name_ja.as_str(), category.sensitivity),
        ("読書記録", 3)
    );
    let policy = PolicyInput {
        category_id: category.id.clone(),
        ..attendance_for_class(&board.app, Basis::School)
    };
    assert_eq!(
        policy::set(
            board.consent.as_ref(),
            board.server.directory.as_ref(),
            &board.server.audit,
            "test",
            policy,
            renkei_platform::clock::now()
        )
        .await
        .unwrap()
        .version,
        1
    );
    board.server.stop().await;
}

/// Minting checks a policy's school or class reach only for the request's candidates
/// (`pupils_within`); it must answer what listing the whole school or class would: pupils
/// placed by their primary school, by a role or by an enrollment there, active ones only.
async fn a_reach_asked_about_a_few_pupils_agrees_with_the_whole_list(backend: Backend) {
    use renkei_capability::Target;
    let board = board(backend).await;
    let now = "2026-11-25T00:00:00Z";
    for sql in [
        // s001 is in sakura-es only through its enrollment there.
        "UPDATE users SET school_id = NULL WHERE sourced_id = 's001'".to_owned(),
        // s003 also holds a role at aoba-jhs.
        format!(
            "INSERT INTO roles (sourced_id, status, date_last_modified, user_id, org_id, role_type, role, data) \
             VALUES ('r-s003-aoba', 'active', '{now}', 's003', 'aoba-jhs', 'secondary', 'student', '{{}}')"
        ),
        // s002's enrollment has ended and it has no primary school: in neither list.
        "UPDATE users SET school_id = NULL WHERE sourced_id = 's002'".to_owned(),
        "UPDATE enrollments SET status = 'tobedeleted' WHERE user_id = 's002'".to_owned(),
        // s004 left the roster.
        "UPDATE users SET status = 'tobedeleted' WHERE sourced_id = 's004'".to_owned(),
    ] {
        board.server.execute_sql(&sql).await;
    }
    let directory = board.server.directory.as_ref();
    let everyone: &'static [String] = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oneroster/board-1.1/users.csv"),
    )
    .unwrap()
    .lines()
    .skip(1)
    .map(|line| line.split(',').next().unwrap().to_owned())
    .collect::<Vec<String>>()
    .leak();
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let mut within_all = std::collections::BTreeMap::new();
    for target in [
        Target::School("sakura-es".into()),
        Target::School("aoba-jhs".into()),
        Target::Class("cls-sakura-3-1".into()),
        Target::Class("cls-sakura-3-2".into()),
    ] {
        let whole = match &target {
            Target::School(id) => directory.pupils_of_school(id).await,
            Target::Class(id) => directory.pupils_of_class(id).await,
        }
        .unwrap();
        let whole: Vec<String> = whole.into_iter().map(|p| p.id).collect();
        let within_of = |among: &'static [String]| {
            let target = target.clone();
            async move {
                match &target {
                    Target::School(id) => directory.pupils_within_school(id, among).await,
                    Target::Class(id) => directory.pupils_within_class(id, among).await,
                }
                .unwrap()
            }
        };
        let within = sorted(within_of(everyone).await);
        assert_eq!(within, sorted(whole.clone()), "{target:?}");
        let few = within_of(&everyone[..3]).await;
        let expected: Vec<String> = whole
            .into_iter()
            .filter(|id| everyone[..3].contains(id))
            .collect();
        assert_eq!(sorted(few), sorted(expected), "{target:?}, first three");
        within_all.insert(target, within);
    }
    let sakura = &within_all[&Target::School("sakura-es".into())];
    assert!(
        sakura.contains(&"s001".to_owned()),
        "placed by its enrollment"
    );
    assert!(!sakura.contains(&"s002".to_owned()), "enrollment ended");
    assert!(!sakura.contains(&"s004".to_owned()), "left the roster");
    let aoba = &within_all[&Target::School("aoba-jhs".into())];
    assert!(aoba.contains(&"s003".to_owned()), "placed by a role");
    board.server.stop().await;
}

//! The roster directory's rules, on SQLite and PostgreSQL: one answer to "may this guardian
//! act for this child" for every part that asks, and roles read alike from OneRoster 1.1 and
//! 1.2 files.

mod support;

use support::*;

on_both_databases!(
    guardianship_is_one_rule_for_every_question,
    roles_and_classes_come_from_the_roster,
    only_the_boards_own_org_makes_an_administrator_board_wide,
);

/// An administrator's reach comes from the roster: the board's own org or a
/// districtAdministrator role is board-wide; a school, or a department within one, is that
/// school; a board department or a `local` org is nothing (it used to count as board-wide,
/// because it is not a school).
async fn only_the_boards_own_org_makes_an_administrator_board_wide(backend: Backend) {
    use renkei_directory::{Administers, administered};
    let server = TestServer::with_board(backend, "departments-1.2").await;
    let directory = server.directory.as_ref();
    let hikari = "d7c6c4a0-7f1e-4a5e-9d2b-000000000002";
    for (account, expected) in [
        ("adm.board", Administers::Board),
        ("adm.lead", Administers::Board),
        ("adm.site", Administers::School(hikari.into())),
        ("adm.office", Administers::School("sch-midori".into())),
        ("adm.gakumu", Administers::Nothing),
        ("adm.loop", Administers::Nothing),
    ] {
        let user = server
            .store
            .user_by_username(account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, "administrator", "{account}");
        let reach = administered(
            directory,
            user.sourced_id.as_deref(),
            user.school_id.as_deref(),
        )
        .await
        .unwrap();
        assert_eq!(reach, expected, "{account}");
    }
    assert!(Administers::School("sch-midori".into()).reaches_any(&["sch-midori".to_owned()]));
    assert!(!Administers::School("sch-midori".into()).reaches_any(&[hikari.to_owned()]));
    assert!(!Administers::Nothing.reaches_any(&[hikari.to_owned()]));
    // The board operator's own accounts, made at the server outside the roster.
    assert_eq!(
        administered(directory, None, None).await.unwrap(),
        Administers::Board
    );
    server.stop().await;
}

async fn guardianship_is_one_rule_for_every_question(backend: Backend) {
    let server = TestServer::with_board(backend, "board-1.1").await;
    let directory = server.directory.as_ref();
    assert_eq!(
        directory.children_of("g001").await.unwrap(),
        ["s001", "s002"]
    );
    assert_eq!(directory.children_of("g002").await.unwrap(), ["s003"]);
    for (guardian, child, expected) in [
        ("g001", "s001", true),
        ("g001", "s002", true),
        ("g001", "s003", false),
        ("g002", "s003", true),
        // The link is not a guardianship the other way round, nor for a non-pupil.
        ("s001", "g001", false),
        ("g001", "g001", false),
    ] {
        assert_eq!(
            directory.is_guardian_of(guardian, child).await.unwrap(),
            expected,
            "{guardian} for {child}"
        );
    }

    // Asked child first (whose earlier consents still count), the same rule answers.
    let serving = &server;
    let accounts = |children: &'static [&'static str]| async move {
        let children: Vec<String> = children.iter().map(|c| c.to_string()).collect();
        let mut guardians = Vec::new();
        for (child, account) in directory.guardian_accounts_of(&children).await.unwrap() {
            let user = serving.store.user(&account).await.unwrap().unwrap();
            guardians.push((child, user.username));
        }
        guardians
    };
    let linked = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(c, g)| (c.to_string(), g.to_string()))
            .collect()
    };
    assert_eq!(
        accounts(&["s001", "s002", "s003", "g001"]).await,
        linked(&[("s001", "g001"), ("s002", "g001"), ("s003", "g002")])
    );

    // An administrator's lock stops a guardian's sign-ins, not their custody.
    server
        .execute_sql(
            "UPDATE users SET enabled = FALSE, locked_at = 1, locked_by = 'test' WHERE sourced_id = 'g001'",
        )
        .await;
    assert_eq!(
        directory.children_of("g001").await.unwrap(),
        ["s001", "s002"]
    );
    assert!(directory.is_guardian_of("g001", "s001").await.unwrap());
    // A guardian the roster disables acts for nobody, by either question.
    server
        .execute_sql("UPDATE users SET disabled_at = 1 WHERE sourced_id = 'g001'")
        .await;
    assert!(directory.children_of("g001").await.unwrap().is_empty());
    assert!(!directory.is_guardian_of("g001", "s001").await.unwrap());
    assert_eq!(accounts(&["s001", "s002"]).await, linked(&[]));

    // A child who left (tobedeleted) is nobody's child any more.
    server
        .execute_sql("UPDATE users SET status = 'tobedeleted' WHERE sourced_id = 's003'")
        .await;
    assert!(directory.children_of("g002").await.unwrap().is_empty());
    assert!(!directory.is_guardian_of("g002", "s003").await.unwrap());
    server.stop().await;
}

async fn roles_and_classes_come_from_the_roster(backend: Backend) {
    let server = TestServer::with_board(backend, "japan-1.2").await;
    let directory = server.directory.as_ref();
    let roles = directory.roles_of("u-hikari-t01").await.unwrap();
    assert_eq!(roles.len(), 1, "1.2 roles.csv gives the teacher one role");
    assert_eq!(
        (
            roles[0].role.as_str(),
            roles[0].role_type.as_str(),
            roles[0].org_type.as_deref()
        ),
        ("teacher", "primary", Some("school"))
    );
    let classes = directory.classes_taught_by("u-hikari-t01").await.unwrap();
    assert_eq!(
        classes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cl-5-1"]
    );
    assert!(
        directory
            .classes_taught_by("u-hikari-001")
            .await
            .unwrap()
            .is_empty()
    );
    // The guardian of the 1.2 board acts for the pupil the roster links.
    assert_eq!(
        directory.children_of("u-hikari-g01").await.unwrap(),
        ["u-hikari-001"]
    );
    server.stop().await;
}

//! OneRoster import end to end, on SQLite and PostgreSQL: a board's files (1.1, 1.2 Japan
//! profile, a zip, Shift_JIS), a delta sequence, the April year rollover, and one broken file
//! per kind of mistake — each rejected with a precise problem and leaving the directory as it was.

mod support;

use std::path::{Path, PathBuf};

use renkei_directory::{ImportOptions, ImportReport, import};
use support::*;

on_both_databases!(
    board_imports_and_reimport_changes_nothing,
    roster_people_sign_in_with_roster_passwords,
    delta_sequence_updates_creates_and_removes,
    year_rollover_keeps_accounts_and_disables_leavers,
    japan_profile_1_2_zip_imports,
    shift_jis_files_are_detected,
    each_mistake_is_reported_precisely_and_changes_nothing,
    dry_run_reports_without_changing,
    school_scope_claims_come_from_the_directory,
    command_line_import_and_set_password,
    departed_people_are_erased_after_retention,
    a_changed_password_survives_reimport,
    a_first_import_refuses_usernames_taken_outside_the_roster,
    imports_started_together_run_one_after_the_other,
    ambiguous_or_oversized_archives_are_refused_and_recorded,
    unknown_columns_and_trailing_commas_are_warnings,
    every_problem_of_a_file_set_in_one_run,
    a_delta_may_not_leave_records_pointing_at_what_it_removes,
    each_file_is_decoded_in_its_own_encoding,
    usernames_are_unique_without_regard_to_case_across_imports,
    a_mass_change_is_held_until_confirmed,
    japan_k12_profile_sets_import_and_each_rule_is_checked,
);

fn fixture(name: &str) -> PathBuf {
    roster_fixture(name)
}

/// A private copy of a fixture that a test may edit.
struct Copy {
    dir: PathBuf,
}

impl Copy {
    fn of(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("renkei-fixture-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(fixture(name)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        Self { dir }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    /// Replaces the first occurrence of `from` in `file`; returns the 1-based line it is on.
    fn edit(&self, file: &str, from: &str, to: &str) -> usize {
        let text = self.read(file);
        let at = text
            .find(from)
            .unwrap_or_else(|| panic!("{from:?} not in {file}"));
        let line = text[..at].matches('\n').count() + 1;
        self.write(file, &text.replacen(from, to, 1));
        line
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn run(server: &TestServer, path: &Path) -> ImportReport {
    import(
        server.directory.as_ref(),
        &server.audit,
        "test",
        path,
        &ImportOptions::default(),
    )
    .await
    .unwrap()
}

async fn dry_run(server: &TestServer, path: &Path) -> ImportReport {
    import(
        server.directory.as_ref(),
        &server.audit,
        "test",
        path,
        &ImportOptions {
            dry_run: true,
            ..ImportOptions::default()
        },
    )
    .await
    .unwrap()
}

/// The report's problems as the command line prints them (`file:line: column: reason`).
fn problem_lines(report: &ImportReport) -> Vec<String> {
    report.problems.iter().map(ToString::to_string).collect()
}

/// The account with this username, if any.
async fn account(server: &TestServer, username: &str) -> Option<renkei_idp::store::UserRow> {
    server.store.user_by_username(username).await.unwrap()
}

fn counts(report: &ImportReport, file: &str) -> (u64, u64, u64, u64) {
    let c = report
        .files
        .get(file)
        .unwrap_or_else(|| panic!("{file} not in report"))
        .changes;
    (c.created, c.updated, c.deleted, c.unchanged)
}

/// The directory holds exactly the board fixture: importing it again would change nothing.
async fn assert_directory_is_board(server: &TestServer) {
    let again = dry_run(server, &fixture("board-1.1")).await;
    assert_eq!(again.outcome, "dry-run");
    for (file, report) in &again.files {
        let c = report.changes;
        assert_eq!(
            (c.created, c.updated, c.deleted),
            (0, 0, 0),
            "{file} differs from the board fixture"
        );
    }
}

async fn board_imports_and_reimport_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let report = run(&server, &fixture("board-1.1")).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(report.version, "1.1");
    assert_eq!(counts(&report, "users.csv"), (14, 0, 0, 0));
    assert_eq!(counts(&report, "enrollments.csv"), (15, 0, 0, 0));
    assert_eq!(counts(&report, "results.csv"), (3, 0, 0, 0));
    assert_eq!(report.files["users.csv"].sha256.len(), 64);

    let student = account(&server, "s001").await.unwrap();
    assert_eq!(student.family_name.as_deref(), Some("山田"));
    assert_eq!(student.given_name_kana.as_deref(), Some("タロウ"));
    assert_eq!(student.family_name_kana.as_deref(), Some("ヤマダ"));
    assert_eq!(student.role, "student");
    assert_eq!(student.grade.as_deref(), Some("P3"));
    assert_eq!(student.school_id.as_deref(), Some("sakura-es"));
    let hash = student
        .password_hash
        .clone()
        .expect("roster password is hashed");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("sakura-pass-001"));
    let guardian = account(&server, "g001").await.unwrap();
    assert_eq!(
        guardian.role, "guardian",
        "OneRoster parent is a Renkei guardian"
    );
    assert!(
        account(&server, "t001")
            .await
            .unwrap()
            .password_hash
            .is_none(),
        "no password column value: waits for one"
    );
    let school = server.directory.org("sakura-es").await.unwrap().unwrap();
    assert_eq!(school.name, "みなと市立さくら小学校");
    assert_eq!(school.parent_id.as_deref(), Some("minato-boe"));

    let again = run(&server, &fixture("board-1.1")).await;
    assert_eq!(again.outcome, "applied");
    for (file, report) in &again.files {
        let c = report.changes;
        assert_eq!(
            (c.created, c.updated, c.deleted),
            (0, 0, 0),
            "{file}: re-import changes nothing"
        );
        assert_eq!(c.unchanged, c.rows);
    }
    let same = account(&server, "s001").await.unwrap();
    assert_eq!(same.id, student.id);
    assert_eq!(
        same.password_hash, student.password_hash,
        "an unchanged password is not re-hashed"
    );
    server.stop().await;
}

async fn roster_people_sign_in_with_roster_passwords(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    let browser = Browser::new();
    assert_eq!(
        browser
            .sign_in(&server, "s001", "sakura-pass-001")
            .await
            .status(),
        303
    );
    let home = browser.get(&server.url("/")).await.text().await.unwrap();
    assert!(home.contains("山田 太郎"), "{home}");
    assert_eq!(
        Browser::new()
            .sign_in(&server, "t001", "anything-at-all")
            .await
            .status(),
        200,
        "no password yet: cannot sign in"
    );
    server.stop().await;
}

async fn delta_sequence_updates_creates_and_removes(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    let report = run(&server, &fixture("delta-1.1")).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(counts(&report, "users.csv"), (1, 1, 1, 0));
    assert_eq!(counts(&report, "enrollments.csv"), (1, 0, 2, 0));
    assert_eq!(
        account(&server, "s002")
            .await
            .unwrap()
            .family_name
            .as_deref(),
        Some("山本")
    );
    let newcomer = account(&server, "s009").await.unwrap();
    assert_eq!(newcomer.grade.as_deref(), Some("P3"));
    let gone = account(&server, "s008")
        .await
        .expect("disabled, not erased");
    assert!(!gone.enabled);
    let again = run(&server, &fixture("delta-1.1")).await;
    assert_eq!(
        counts(&again, "users.csv"),
        (0, 0, 0, 3),
        "the same delta again changes nothing"
    );
    server.stop().await;
}

async fn year_rollover_keeps_accounts_and_disables_leavers(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    let before = account(&server, "s001").await.unwrap();
    let app = server.web_app().await;
    let leaver_browser = Browser::with_password("aoba-pass-008");
    let leaver_tokens = code_flow_tokens(&server, &app, &leaver_browser, "s008", "openid").await;
    let leaver_refresh = leaver_tokens["refresh_token"].as_str().unwrap().to_owned();
    let report = run(&server, &fixture("rollover-2027")).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(counts(&report, "users.csv"), (1, 7, 1, 6));
    assert_eq!(
        counts(&report, "classes.csv"),
        (4, 0, 5, 0),
        "last year's classes are removed"
    );
    let after = account(&server, "s001").await.unwrap();
    assert_eq!(after.id, before.id, "same account (sub) after the rollover");
    assert_eq!(
        after.password_hash, before.password_hash,
        "sign-in methods are kept"
    );
    assert_eq!(after.grade.as_deref(), Some("P4"));
    let left = account(&server, "s008")
        .await
        .expect("a leaver is kept until retention ends");
    assert!(!left.enabled);
    let home = leaver_browser
        .get(&server.url("/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !home.contains("渡辺 結衣"),
        "the leaver's session has ended"
    );
    assert_eq!(
        Browser::new()
            .sign_in(&server, "s008", "aoba-pass-008")
            .await
            .status(),
        200,
        "a leaver cannot sign in"
    );
    let refresh = refresh(&server, &app, &leaver_refresh).await;
    assert_eq!(refresh.status(), 400, "the leaver's grants are revoked");
    let tokens = code_flow_tokens(
        &server,
        &app,
        &Browser::with_password("sakura-pass-001"),
        "s001",
        "openid",
    )
    .await;
    assert!(
        tokens["id_token"].is_string(),
        "a pupil who moved up signs in as before"
    );
    server.stop().await;
}

async fn japan_profile_1_2_zip_imports(backend: Backend) {
    let server = TestServer::start(backend).await;
    let zip_path =
        std::env::temp_dir().join(format!("renkei-jp-{}.zip", uuid::Uuid::new_v4().simple()));
    {
        let file = std::fs::File::create(&zip_path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for entry in std::fs::read_dir(fixture("japan-1.2")).unwrap() {
            let entry = entry.unwrap();
            zip.start_file(
                format!("export/{}", entry.file_name().to_string_lossy()),
                options,
            )
            .unwrap();
            std::io::copy(&mut std::fs::File::open(entry.path()).unwrap(), &mut zip).unwrap();
        }
        zip.finish().unwrap();
    }
    let report = run(&server, &zip_path).await;
    let _ = std::fs::remove_file(&zip_path);
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(
        report.folder.as_deref(),
        Some("export/"),
        "says which folder was read"
    );
    assert_eq!(report.version, "1.2");
    assert_eq!(counts(&report, "roles.csv"), (4, 0, 0, 0));
    let teacher = account(&server, "hikari.sensei").await.unwrap();
    assert_eq!(teacher.role, "teacher", "role from roles.csv");
    let pupil = account(&server, "hikari.sota").await.unwrap();
    assert_eq!(pupil.given_name_kana.as_deref(), Some("ソウタ"));
    assert_eq!(
        pupil.school_id.as_deref(),
        Some("d7c6c4a0-7f1e-4a5e-9d2b-000000000002")
    );
    assert_eq!(
        account(&server, "hikari.hogosha").await.unwrap().role,
        "guardian"
    );
    let district = server
        .directory
        .org("d7c6c4a0-7f1e-4a5e-9d2b-000000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(district.parent_id, None, "NULL means no parent");
    let nurse = Copy::of("japan-1.2");
    let line = nurse.edit(
        "roles.csv",
        ",primary,teacher,",
        ",primary,ext:schoolNurse,",
    );
    let refused = run(&server, &nurse.dir).await;
    assert_eq!(refused.outcome, "rejected");
    let user_line = nurse
        .read("users.csv")
        .lines()
        .position(|l| l.starts_with("u-hikari-t01,"))
        .unwrap()
        + 1;
    let listed = problem_lines(&refused);
    assert!(
        listed.contains(&format!("users.csv:{user_line}: role: the extension role \"ext:schoolNurse\" has no Renkei equivalent; give the person a OneRoster role (student, teacher, parent, administrator, …)")),
        "roles.csv:{line}: {listed:?}"
    );
    // A delta with a new person but no roles.csv: no primary role anywhere, so no account.
    let newcomer = Copy::of("japan-1.2");
    let manifest: String = newcomer
        .read("manifest.csv")
        .lines()
        .map(|l| {
            if l.starts_with("file.") {
                format!("{},absent", l.split(',').next().unwrap())
            } else {
                l.to_owned()
            }
        })
        .map(|l| {
            if l == "file.users,absent" {
                "file.users,delta".to_owned()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    newcomer.write("manifest.csv", &manifest);
    for file in [
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "roles.csv",
        "enrollments.csv",
        "demographics.csv",
    ] {
        std::fs::remove_file(newcomer.dir.join(file)).unwrap();
    }
    let header = newcomer
        .read("users.csv")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    newcomer.write(
        "users.csv",
        &format!("{header}\nu-hikari-new,active,2026-06-01T09:00:00Z,true,hikari.new,,新,田村,,,,,,,P5,,,,,,,,,シン,タムラ,,\n"),
    );
    let refused = run(&server, &newcomer.dir).await;
    assert_eq!(refused.outcome, "rejected", "{refused}");
    assert_eq!(
        refused.problems[0].to_string(),
        "users.csv:2: this user has no primary role, neither in roles.csv nor in the directory; add a roles.csv row with roleType primary"
    );
    server.stop().await;
}

async fn shift_jis_files_are_detected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let copy = Copy::of("board-1.1");
    for file in ["users.csv", "classes.csv", "orgs.csv"] {
        let text = copy.read(file);
        let (bytes, _, lossy) = encoding_rs::SHIFT_JIS.encode(&text);
        assert!(!lossy);
        std::fs::write(copy.dir.join(file), bytes).unwrap();
    }
    let forced = import(
        server.directory.as_ref(),
        &server.audit,
        "test",
        &copy.dir,
        &ImportOptions {
            encoding: renkei_directory::Encodings::all(renkei_directory::EncodingChoice::Utf8),
            ..ImportOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(forced.outcome, "rejected");
    assert!(
        forced
            .problems
            .iter()
            .any(|p| p.reason.contains("=shift_jis")),
        "{forced}"
    );
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(
        account(&server, "s003")
            .await
            .unwrap()
            .family_name
            .as_deref(),
        Some("佐藤")
    );
    assert_directory_is_board(&server).await;
    server.stop().await;
}

async fn each_mistake_is_reported_precisely_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    type Mistake = (&'static str, fn(&Copy) -> String);
    let mistakes: Vec<Mistake> = vec![
        ("missing required column", |c| {
            c.edit("users.csv", ",username,", ",login,");
            "users.csv:1: username: required column username is missing from the header (OneRoster 1.1)".into()
        }),
        ("duplicate sourcedId", |c| {
            let line = c.edit("classes.csv", "cls-sakura-3-2,,", "cls-sakura-3-1,,");
            format!(
                "classes.csv:{line}: sourcedId: duplicate sourcedId \"cls-sakura-3-1\" (first on line 2)"
            )
        }),
        ("enrollment to a missing class", |c| {
            let line = c.edit(
                "enrollments.csv",
                ",cls-sakura-3-2,sakura-es,s003,",
                ",cls-sakura-9-9,sakura-es,s003,",
            );
            format!(
                "enrollments.csv:{line}: classSourcedId: refers to \"cls-sakura-9-9\", which is not in classes.csv"
            )
        }),
        ("class to a missing course", |c| {
            let line = c.edit("classes.csv", ",c-aoba-math1-2026,", ",c-missing,");
            format!(
                "classes.csv:{line}: courseSourcedId: refers to \"c-missing\", which is not in courses.csv"
            )
        }),
        ("user to a missing org", |c| {
            let line = c.edit(
                "users.csv",
                "t003,,,true,aoba-jhs,",
                "t003,,,true,kaede-es,",
            );
            format!(
                "users.csv:{line}: orgSourcedIds: refers to \"kaede-es\", which is not in orgs.csv"
            )
        }),
        ("guardian to a missing student", |c| {
            let line = c.edit("users.csv", "\"s001,s002\"", "\"s001,s099\"");
            format!(
                "users.csv:{line}: agentSourcedIds: refers to \"s099\", which is not in users.csv"
            )
        }),
        ("unknown role", |c| {
            let line = c.edit(
                "users.csv",
                "t001,,,true,sakura-es,teacher,",
                "t001,,,true,sakura-es,techer,",
            );
            format!(
                "users.csv:{line}: role: \"techer\" is not allowed; use one of: administrator, aide, guardian, parent, proctor, relative, student, teacher, districtAdministrator, siteAdministrator, systemAdministrator, principal, counselor, creator, externalProctor, extStudent, extTeacher, extAdministrator, extGuardian"
            )
        }),
        ("unknown grade", |c| {
            let line = c.edit("users.csv", ",P4,,ヒマリ", ",P7,,ヒマリ");
            format!(
                "users.csv:{line}: grades: unknown grade code \"P7\"; use P1–P6 (小), J1–J3 (中), H1–H3 (高), E1–E3 or the OneRoster codes KG, 01–13"
            )
        }),
        ("bad date", |c| {
            c.edit("academicSessions.csv", "2026-04-01", "2026/04/01");
            "academicSessions.csv:2: startDate: \"2026/04/01\" is not a date; write it as YYYY-MM-DD (e.g. 2026-04-01)".into()
        }),
        ("one mistake on many rows is one entry", |c| {
            let users = c.read("users.csv");
            let lines: Vec<usize> = users
                .lines()
                .enumerate()
                .filter(|(_, line)| line.contains(",P4,"))
                .map(|(i, _)| i + 1)
                .collect();
            assert!(lines.len() >= 2);
            c.write("users.csv", &users.replace(",P4,", ",P7,"));
            let also: Vec<String> = lines[1..].iter().map(ToString::to_string).collect();
            format!(
                "users.csv:{}: grades: unknown grade code \"P7\"; use P1–P6 (小), J1–J3 (中), H1–H3 (高), E1–E3 or the OneRoster codes KG, 01–13 (also on lines {})",
                lines[0],
                also.join(", ")
            )
        }),
        ("a date with a sign", |c| {
            c.edit("academicSessions.csv", "2026-04-01", "+2026-04-01");
            "academicSessions.csv:2: startDate: \"+2026-04-01\" is not a date; write it as YYYY-MM-DD (e.g. 2026-04-01)".into()
        }),
        ("a control character in a name", |c| {
            let line = c.edit("users.csv", ",s002,,花子,", ",s002,,花\u{1}子,");
            format!(
                "users.csv:{line}: givenName: the value holds a control character (U+0001); remove it"
            )
        }),
        ("a hundred-kilobyte name", |c| {
            let long = "子".repeat((100 << 10) / 3);
            let line = c.edit("users.csv", ",s002,,花子,", &format!(",s002,,{long},"));
            format!(
                "users.csv:{line}: givenName: the value is {} bytes long; at most 4096 are accepted in this column",
                long.len()
            )
        }),
        ("a row longer than a megabyte", |c| {
            let long = "x".repeat(3 << 20);
            let line = c.edit("users.csv", ",s002,,花子,", &format!(",s002,,花子{long},"));
            format!(
                "users.csv: the row that starts on line {line} is longer than 1048576 bytes, the most a roster row may be; check for an unclosed quote or a value that does not belong there"
            )
        }),
        ("an unknown manifest version", |c| {
            c.edit(
                "manifest.csv",
                "manifest.version,1.0",
                "manifest.version,2.0",
            );
            "manifest.csv:2: value: manifest.version \"2.0\" is not supported; OneRoster manifests are version 1.0 (manifest.version,1.0)".into()
        }),
        ("a manifest property twice", |c| {
            let manifest = c.read("manifest.csv");
            let lines = manifest.lines().count() + 1;
            c.write(
                "manifest.csv",
                &format!("{manifest}oneroster.version,1.2\r\n"),
            );
            let first = manifest
                .lines()
                .position(|l| l.starts_with("oneroster.version"))
                .unwrap()
                + 1;
            format!(
                "manifest.csv:{lines}: propertyName: oneroster.version appears twice (lines {first} and {lines}); keep one of them"
            )
        }),
        ("usernames that differ only in case", |c| {
            let line = c.edit("users.csv", ",student,s003,", ",student,S002,");
            format!(
                "users.csv:{line}: username: username \"S002\" is already used on line 3 (usernames are compared without regard to case); usernames must be unique"
            )
        }),
        ("a column without a name", |c| {
            c.edit(
                "orgs.csv",
                "name,type,identifier,parentSourcedId",
                "name,type,,parentSourcedId",
            );
            "orgs.csv:1: column 6 of the header has no name; name it or remove the column".into()
        }),
        ("no manifest", |c| {
            std::fs::remove_file(c.dir.join("manifest.csv")).unwrap();
            "manifest.csv is missing; a OneRoster file set starts with manifest.csv (propertyName,value)".into()
        }),
        ("manifest names a missing file", |c| {
            std::fs::remove_file(c.dir.join("results.csv")).unwrap();
            let line = c
                .read("manifest.csv")
                .lines()
                .position(|l| l.starts_with("file.results"))
                .unwrap()
                + 1;
            format!(
                "manifest.csv:{line}: the manifest lists results.csv (bulk) but the file is missing"
            )
        }),
        ("header-only bulk file", |c| {
            let header = c.read("enrollments.csv").lines().next().unwrap().to_owned();
            c.write("enrollments.csv", &format!("{header}\r\n"));
            "enrollments.csv: a bulk file is the complete set, but this one has no rows (it would remove every record); export it again, or mark it absent in the manifest".into()
        }),
        ("file the manifest does not list", |c| {
            c.edit("manifest.csv", "file.results,bulk", "file.results,absent");
            "manifest.csv: results.csv is present but the manifest does not list it as bulk or delta; add file.results,bulk (or delta), or remove the file".into()
        }),
        ("unclosed quote", |c| {
            let line = c.edit(
                "orgs.csv",
                "aoba-jhs,,,みなと市立",
                "aoba-jhs,,,\"みなと市立",
            );
            let _ = line;
            format!(
                "orgs.csv:{line}: the row has 4 fields but the header has 7; check for a missing or extra comma, or an unclosed quote"
            )
        }),
    ];
    let rejected = || server.count_sql("SELECT COUNT(*) FROM imports WHERE outcome = 'rejected'");
    for (what, make) in mistakes {
        let copy = Copy::of("board-1.1");
        let expected = make(&copy);
        let recorded = rejected().await;
        let report = run(&server, &copy.dir).await;
        assert_eq!(report.outcome, "rejected", "{what}");
        assert_eq!(
            rejected().await,
            recorded + 1,
            "{what}: the refusal is recorded"
        );
        let listed = problem_lines(&report);
        assert!(
            listed.contains(&expected),
            "{what}: expected\n  {expected}\ngot\n  {}",
            listed.join("\n  ")
        );
        assert_directory_is_board(&server).await;
    }
    // Several problems are reported at once.
    let copy = Copy::of("board-1.1");
    copy.edit(
        "users.csv",
        "t001,,,true,sakura-es,teacher,",
        "t001,,,true,sakura-es,techer,",
    );
    copy.edit("academicSessions.csv", "2027-03-31", "31/03/2027");
    copy.edit(
        "enrollments.csv",
        ",cls-sakura-3-2,sakura-es,s003,",
        ",cls-x,sakura-es,s003,",
    );
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.problem_count, 3, "{report}");
    // A manifest problem that leaves the files readable does not hide what the first pass
    // finds in them (headers, repeated ids).
    let copy = Copy::of("board-1.1");
    copy.edit(
        "manifest.csv",
        "manifest.version,1.0",
        "manifest.version,2.0",
    );
    let line = copy.edit("orgs.csv", "aoba-jhs,,,", "sakura-es,,,");
    let report = run(&server, &copy.dir).await;
    let listed = problem_lines(&report);
    assert_eq!(report.problem_count, 15, "{}", listed.join("\n"));
    assert!(listed[0].starts_with("manifest.csv:2: value: manifest.version"));
    assert!(
        listed[1].starts_with(&format!(
            "orgs.csv:{line}: sourcedId: duplicate sourcedId \"sakura-es\""
        )),
        "{}",
        listed[1]
    );
    assert!(
        listed[2..]
            .iter()
            .all(|p| p.contains("refers to \"aoba-jhs\", which is not in orgs.csv")),
        "and every reference to the school that the repeated id replaced: {listed:?}"
    );
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert_directory_is_board(&server).await;
    server.stop().await;
}

/// A board's first import knows every account it writes is new, and looks usernames up only
/// among the accounts made by hand; a clash with one of those is still refused precisely.
async fn a_first_import_refuses_usernames_taken_outside_the_roster(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.user("s002", "administrator").await;
    let report = run(&server, &fixture("board-1.1")).await;
    assert_eq!(report.outcome, "rejected");
    let listed = problem_lines(&report);
    assert_eq!(
        listed,
        [
            "users.csv:3: username: username \"s002\" already belongs to an account created outside the roster; choose another username"
        ]
    );
    assert!(account(&server, "s001").await.is_none());
    let kept = account(&server, "s002").await.unwrap();
    assert_eq!((kept.id, kept.role), (admin.id, "administrator".to_owned()));
    // Without the clash, the same first import applies and counts every row as created.
    let copy = Copy::of("board-1.1");
    copy.edit("users.csv", "student,s002,", "student,s002-sakura,");
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(counts(&report, "users.csv"), (14, 0, 0, 0));
    assert_eq!(
        counts(&report, "enrollments.csv").0,
        report.files["enrollments.csv"].changes.rows
    );
    server.stop().await;
}

/// Two imports started at once on an empty board run one after the other: the second sees
/// the first's rows (it updates and sweeps them rather than taking the tables for empty), so
/// both report exactly what the same imports report when run in turn.
async fn imports_started_together_run_one_after_the_other(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (board, rollover) = (fixture("board-1.1"), fixture("rollover-2027"));
    let (a, b) = tokio::join!(run(&server, &board), run(&server, &rollover));
    assert_eq!((a.outcome, b.outcome), ("applied", "applied"), "{a}\n{b}");
    let first_import = |report: &ImportReport| {
        report
            .files
            .values()
            .all(|f| f.changes.created == f.changes.rows)
    };
    let (first, second, order) = if first_import(&a) && !first_import(&b) {
        (&a, &b, [&board, &rollover])
    } else {
        (&b, &a, [&rollover, &board])
    };
    assert!(
        first_import(first) && !first_import(second),
        "one ran after the other:\n{a}\n{b}"
    );
    let in_turn = TestServer::start(backend).await;
    for (path, concurrent) in order.into_iter().zip([first, second]) {
        let sequential = run(&in_turn, path).await;
        for file in sequential.files.keys() {
            assert_eq!(
                counts(concurrent, file),
                counts(&sequential, file),
                "{file}: {concurrent}"
            );
        }
    }
    in_turn.stop().await;
    server.stop().await;
}

async fn dry_run_reports_without_changing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let report = dry_run(&server, &fixture("board-1.1")).await;
    assert_eq!(report.outcome, "dry-run");
    assert_eq!(counts(&report, "users.csv"), (14, 0, 0, 0));
    assert!(
        account(&server, "s001").await.is_none(),
        "a dry run changes nothing"
    );
    run(&server, &fixture("board-1.1")).await;
    let rollover = dry_run(&server, &fixture("rollover-2027")).await;
    assert_eq!(counts(&rollover, "users.csv"), (1, 7, 1, 6));
    assert_directory_is_board(&server).await;
    server.stop().await;
}

async fn school_scope_claims_come_from_the_directory(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    server.set_password("t002", PASSWORD).await;
    let app = server.web_app().await;
    let tokens = code_flow_tokens(
        &server,
        &app,
        &Browser::new(),
        "t002",
        "openid profile school",
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["role"], "teacher");
    assert_eq!(claims["family_name#ja-Kana-JP"], "コバヤシ");
    assert_eq!(
        claims["school"],
        serde_json::json!({"id": "sakura-es", "name": "みなと市立さくら小学校"})
    );
    assert_eq!(
        claims["schools"],
        serde_json::json!([{"id": "sakura-es", "name": "みなと市立さくら小学校"}])
    );
    assert_eq!(claims["roles"][0]["role"], "teacher");
    assert_eq!(claims["roles"][0]["role_type"], "primary");
    let classes: Vec<&str> = claims["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["3年2組", "4年1組"],
        "the classes the teacher teaches"
    );
    let userinfo: serde_json::Value = reqwest::Client::new()
        .get(server.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["classes"], claims["classes"]);
    assert_eq!(userinfo["roles"], claims["roles"]);
    server.stop().await;
}

async fn command_line_import_and_set_password(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let board = fixture("board-1.1");
    let broken = Copy::of("board-1.1");
    broken.edit(
        "users.csv",
        "t001,,,true,sakura-es,teacher,",
        "t001,,,true,sakura-es,techer,",
    );
    let broken_dir = broken.dir.clone();
    let (applied, rejected, password_set) = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str], stdin: Option<&str>| run_renkei(&url, args, stdin);
        let applied = run(
            &[
                "import",
                "oneroster",
                board.to_str().unwrap(),
                "--by",
                "事務担当",
            ],
            None,
        );
        let rejected = run(
            &[
                "import",
                "oneroster",
                broken_dir.to_str().unwrap(),
                "--format",
                "json",
            ],
            None,
        );
        let password_set = run(
            &[
                "user",
                "set-password",
                "--username",
                "t001",
                "--password-stdin",
            ],
            Some("a-new-password\n"),
        );
        (applied, rejected, password_set)
    })
    .await
    .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let text = String::from_utf8(applied.stdout).unwrap();
    assert!(
        text.contains("Applied OneRoster 1.1 import") && text.contains("users.csv"),
        "{text}"
    );
    assert!(!rejected.status.success());
    let report: serde_json::Value = serde_json::from_slice(&rejected.stdout).unwrap();
    assert_eq!(report["outcome"], "rejected");
    assert_eq!(report["problems"][0]["file"], "users.csv");
    assert_eq!(report["problems"][0]["column"], "role");
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("nothing was changed"));
    assert!(
        password_set.status.success(),
        "{}",
        String::from_utf8_lossy(&password_set.stderr)
    );
    let server = TestServer::start_on(database).await;
    assert_eq!(
        Browser::new()
            .sign_in(&server, "t001", "a-new-password")
            .await
            .status(),
        303
    );
    server.stop().await;
}

async fn departed_people_are_erased_after_retention(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    run(&server, &fixture("rollover-2027")).await;
    assert_eq!(
        server
            .directory
            .erase_departed(renkei_platform::clock::now() - 86400)
            .await
            .unwrap()
            .people,
        0,
        "still within retention"
    );
    assert!(account(&server, "s008").await.is_some());
    // What other parts keep about the departed pupil s008 and about s001, who stays.
    for child in ["s008", "s001"] {
        for sql in [
            format!(
                "INSERT INTO consent_records (id, seq, student_id, client_id, category_id, policy_version, action, by_user_id, by_role, at) \
                 VALUES ('consent-{child}', (SELECT COUNT(*) + 1000 FROM consent_records), '{child}', 'app', 'urn:renkei:scope:attendance.readonly', 1, 'grant', 'g001', 'guardian', 0)"
            ),
            format!(
                "INSERT INTO affairs_records (category, sourced_id, status, student_id, data) \
                 VALUES ('urn:renkei:scope:attendance.readonly', 'att-{child}', 'active', '{child}', '{{}}')"
            ),
            format!("INSERT INTO audit_children (seq, child_id) VALUES (1, '{child}')"),
        ] {
            server.execute_sql(&sql).await;
        }
    }
    let kept_about = |child: &'static str| {
        let server = &server;
        async move {
            let mut counts = Vec::new();
            for table in ["consent_records", "affairs_records"] {
                counts.push(
                    server
                        .count_sql(&format!(
                            "SELECT COUNT(*) FROM {table} WHERE student_id = '{child}'"
                        ))
                        .await,
                );
            }
            counts.push(
                server
                    .count_sql(&format!(
                        "SELECT COUNT(*) FROM audit_children WHERE child_id = '{child}'"
                    ))
                    .await,
            );
            counts
        }
    };
    assert_eq!(kept_about("s008").await, [1, 1, 1]);
    assert_eq!(
        server
            .directory
            .erase_departed(renkei_platform::clock::now() + 1)
            .await
            .unwrap(),
        renkei_directory::Erased {
            people: 1,
            unlinked: vec!["s008".into()],
        }
    );
    assert!(
        account(&server, "s008").await.is_none(),
        "erased after retention"
    );
    assert!(
        account(&server, "s001").await.is_some(),
        "current pupils stay"
    );
    assert_eq!(
        kept_about("s008").await,
        [0, 0, 0],
        "the departed pupil's consent, school-affairs records and read history went with them"
    );
    assert_eq!(
        kept_about("s001").await,
        [1, 1, 1],
        "a current pupil's stay"
    );
    server.stop().await;
}

async fn a_changed_password_survives_reimport(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    server.set_password("s001", "my-own-new-password").await;
    let again = run(&server, &fixture("board-1.1")).await;
    assert_eq!(counts(&again, "users.csv"), (0, 0, 0, 14));
    assert_eq!(
        Browser::new()
            .sign_in(&server, "s001", "my-own-new-password")
            .await
            .status(),
        303,
        "the roster repeating its password does not undo the pupil's own"
    );
    let copy = Copy::of("board-1.1");
    copy.edit("users.csv", "sakura-pass-001", "reset-by-school-2027");
    let reset = run(&server, &copy.dir).await;
    assert_eq!(counts(&reset, "users.csv"), (0, 1, 0, 13));
    assert_eq!(
        Browser::new()
            .sign_in(&server, "s001", "reset-by-school-2027")
            .await
            .status(),
        303,
        "a new password from the roster applies"
    );
    server.stop().await;
}

/// The fixture's files as archive entries under `folder`.
fn fixture_entries(name: &str, folder: &str) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture(name))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                format!("{folder}{}", entry.file_name().to_string_lossy()),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    entries.sort();
    entries
}

/// A zip must hold one export: a file twice (in two folders, or two spellings) or the files
/// spread over folders is refused naming the entries, and so is a file that unpacks past the
/// limits, however small the archive; each refusal changes nothing and is recorded. Files the
/// import does not read are left out with a warning, not unpacked.
async fn ambiguous_or_oversized_archives_are_refused_and_recorded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let imports = || server.count_sql("SELECT COUNT(*) FROM imports WHERE outcome = 'rejected'");
    let refused = |entries: Vec<(String, Vec<u8>)>, options: ImportOptions| {
        let server = &server;
        async move {
            let zip = zip_of(&entries);
            let report = import(
                server.directory.as_ref(),
                &server.audit,
                "test",
                &zip,
                &options,
            )
            .await
            .unwrap();
            std::fs::remove_file(&zip).unwrap();
            assert_eq!(report.outcome, "rejected", "{report}");
            report.problems[0].to_string()
        }
    };
    let mut twice = fixture_entries("board-1.1", "export/");
    twice.push(("export/old/users.csv".into(), b"sourcedId\n".to_vec()));
    let why = refused(twice, ImportOptions::default()).await;
    assert!(
        why.contains("users.csv more than once (export/old/users.csv, export/users.csv)"),
        "{why}"
    );
    let mut spelled = fixture_entries("board-1.1", "");
    spelled.push(("Users.csv".into(), b"sourcedId\n".to_vec()));
    let why = refused(spelled, ImportOptions::default()).await;
    assert!(why.contains("users.csv more than once"), "{why}");
    let mut spread = fixture_entries("board-1.1", "a/");
    let moved = spread
        .iter()
        .position(|(name, _)| name == "a/orgs.csv")
        .unwrap();
    spread[moved].0 = "b/orgs.csv".into();
    let why = refused(spread, ImportOptions::default()).await;
    assert!(why.contains("more than one folder (a/, b/)"), "{why}");
    // 4 MiB of users.csv compresses to a few KiB; the limit is met while unpacking.
    let mut bomb = fixture_entries("board-1.1", "");
    let users = bomb
        .iter()
        .position(|(name, _)| name == "users.csv")
        .unwrap();
    bomb[users].1.extend(std::iter::repeat_n(b' ', 4 << 20));
    let small = ImportOptions {
        limits: renkei_directory::import::Limits {
            file_bytes: 1 << 20,
            total_bytes: 8 << 20,
        },
        ..ImportOptions::default()
    };
    let why = refused(bomb, small.clone()).await;
    assert!(
        why.contains("users.csv") && why.contains("larger than 1048576 bytes"),
        "{why}"
    );
    let tight = ImportOptions {
        limits: renkei_directory::import::Limits {
            file_bytes: 1 << 20,
            total_bytes: 2 << 10,
        },
        ..ImportOptions::default()
    };
    let why = refused(fixture_entries("board-1.1", ""), tight).await;
    assert!(why.contains("together are larger than 2048 bytes"), "{why}");
    assert_eq!(imports().await, 5, "every refusal is recorded");
    assert_eq!(
        server.count_sql("SELECT COUNT(*) FROM users").await,
        0,
        "nothing changed"
    );

    // Files the import does not read: left out, named, never unpacked (whatever their size).
    let mut extra = fixture_entries("board-1.1", "export/");
    extra.push(("export/resources.csv".into(), vec![b'x'; 3 << 20]));
    let zip = zip_of(&extra);
    let report = import(
        server.directory.as_ref(),
        &server.audit,
        "test",
        &zip,
        &small,
    )
    .await
    .unwrap();
    std::fs::remove_file(&zip).unwrap();
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(
        report.warnings,
        ["export/resources.csv is not a file Renkei reads; it was left out"]
    );
    assert!(
        report.to_string().contains("Warning: export/resources.csv"),
        "{report}"
    );
    server.stop().await;
}

/// Columns the import does not know (a misspelling) and trailing commas on every line are left
/// out with a warning that names them, and the import runs.
async fn unknown_columns_and_trailing_commas_are_warnings(backend: Backend) {
    let server = TestServer::start(backend).await;
    let copy = Copy::of("board-1.1");
    copy.edit("orgs.csv", "dateLastModified", "dataLastModified");
    let users = copy.read("users.csv");
    let with_commas: String = users.lines().map(|line| format!("{line},,\r\n")).collect();
    copy.write("users.csv", &with_commas);
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(
        report.warnings,
        [
            "orgs.csv: column dataLastModified is not a OneRoster 1.1 column; its values were left out (did you mean dateLastModified?)",
            "users.csv: the header ends with 2 column(s) without a name (trailing commas); their values were left out",
        ]
    );
    assert!(
        report
            .to_string()
            .contains("Warning: orgs.csv: column dataLastModified"),
        "{report}"
    );
    assert_directory_is_board(&server).await;
    server.stop().await;
}

/// One run lists every problem of every file: manifest, headers, repeated ids, formats and
/// references, a row with a format problem still has its references checked, and a missing
/// record is named on every row that refers to it.
async fn every_problem_of_a_file_set_in_one_run(backend: Backend) {
    let server = TestServer::start(backend).await;
    let copy = Copy::of("board-1.1");
    let manifest = copy.read("manifest.csv");
    let repeated = manifest.lines().count() + 1;
    copy.write(
        "manifest.csv",
        &format!("{manifest}source.systemCode,OTHER\r\n"),
    );
    let first_code = manifest
        .lines()
        .position(|l| l.starts_with("source.systemCode"))
        .unwrap()
        + 1;
    copy.edit(
        "orgs.csv",
        "name,type,identifier,parentSourcedId",
        "name,type,,parentSourcedId",
    );
    let twice = copy.edit("classes.csv", "cls-sakura-3-2,,", "cls-sakura-3-1,,");
    copy.edit("academicSessions.csv", "2027-03-31", "31/03/2027");
    let both = copy.edit(
        "users.csv",
        "t003,,,true,aoba-jhs,",
        "t003,,,true,kaede-es,",
    );
    let users = copy.read("users.csv");
    let row = users.lines().nth(both - 1).unwrap().to_owned();
    copy.write(
        "users.csv",
        &users.replacen(&row, &row.replacen(",teacher,", ",techer,", 1), 1),
    );
    let lines_naming = |file: &str, what: &str| -> Vec<usize> {
        copy.read(file)
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(what))
            .map(|(i, _)| i + 1)
            .collect()
    };
    // A problem on its first line, naming the others.
    let named = |lines: &[usize], file: &str, rest: &str| -> String {
        let also: Vec<String> = lines[1..].iter().map(ToString::to_string).collect();
        let first = format!("{file}:{}: {rest}", lines[0]);
        if also.is_empty() {
            first
        } else {
            format!("{first} (also on lines {})", also.join(", "))
        }
    };
    let refer = lines_naming("enrollments.csv", ",cls-sakura-3-2,");
    assert!(refer.len() >= 2, "the fixture enrols several pupils in 3-2");
    let home: Vec<usize> = copy
        .read("users.csv")
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end().ends_with(",cls-sakura-3-2"))
        .map(|(i, _)| i + 1)
        .collect();
    assert!(!home.is_empty(), "some pupils' homeroom is 3-2");
    let items = lines_naming("lineItems.csv", ",cls-sakura-3-2,");
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "rejected", "{report}");
    let mut listed = problem_lines(&report);
    listed.sort();
    let mut expected = vec![
        format!(
            "manifest.csv:{repeated}: propertyName: source.systemCode appears twice (lines {first_code} and {repeated}); keep one of them"
        ),
        "orgs.csv:1: column 6 of the header has no name; name it or remove the column".to_owned(),
        format!(
            "classes.csv:{twice}: sourcedId: duplicate sourcedId \"cls-sakura-3-1\" (first on line 2)"
        ),
        "academicSessions.csv:2: endDate: \"31/03/2027\" is not a date; write it as YYYY-MM-DD (e.g. 2026-04-01)".to_owned(),
        format!(
            "users.csv:{both}: role: \"techer\" is not allowed; use one of: administrator, aide, guardian, parent, proctor, relative, student, teacher, districtAdministrator, siteAdministrator, systemAdministrator, principal, counselor, creator, externalProctor, extStudent, extTeacher, extAdministrator, extGuardian"
        ),
        format!(
            "users.csv:{both}: orgSourcedIds: refers to \"kaede-es\", which is not in orgs.csv"
        ),
        named(
            &refer,
            "enrollments.csv",
            "classSourcedId: refers to \"cls-sakura-3-2\", which is not in classes.csv",
        ),
        named(
            &home,
            "users.csv",
            "metadata.jp.homeClass: refers to \"cls-sakura-3-2\", which is not in classes.csv",
        ),
        named(
            &items,
            "lineItems.csv",
            "classSourcedId: refers to \"cls-sakura-3-2\", which is not in classes.csv",
        ),
    ];
    expected.sort();
    assert_eq!(listed, expected, "{report}");
    assert_eq!(
        report.problem_count,
        6 + refer.len() + home.len() + items.len()
    );
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM imports WHERE outcome = 'rejected'")
            .await,
        1,
        "the refused import is recorded"
    );
    assert_eq!(server.count_sql("SELECT COUNT(*) FROM users").await, 0);
    server.stop().await;
}

/// A delta that removes a pupil must remove the pupil's enrollments too: otherwise the
/// directory would list a departed pupil in a class.
async fn a_delta_may_not_leave_records_pointing_at_what_it_removes(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    let copy = Copy::of("delta-1.1");
    let enrollments = copy.read("enrollments.csv");
    let kept: Vec<&str> = enrollments
        .lines()
        .filter(|l| !l.starts_with("e-s008-cls-aoba-math-1a"))
        .collect();
    copy.write("enrollments.csv", &format!("{}\n", kept.join("\n")));
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "rejected", "{report}");
    assert_eq!(
        problem_lines(&report),
        vec![
            "enrollments.csv: 1 record(s) still active in the directory refer to records this import removes from users.csv (e-s008-cls-aoba-math-1a → s008); remove them in the same import (status tobedeleted in a delta enrollments.csv, or leave them out of a bulk one), or keep what they refer to"
        ]
    );
    assert_eq!(report.problems[0].column.as_deref(), Some("userSourcedId"));
    assert!(
        account(&server, "s008").await.unwrap().enabled,
        "nothing was changed"
    );
    // A record in neither the files nor the directory is named on every row that refers to it.
    let copy = Copy::of("delta-1.1");
    let enrollments = copy.read("enrollments.csv");
    let header = enrollments.lines().next().unwrap();
    copy.write(
        "enrollments.csv",
        &format!(
            "{header}\ne-x1,active,,cls-aoba-1-1,aoba-jhs,s404,student,false,,,,\ne-x2,active,,cls-aoba-math-1a,aoba-jhs,s404,student,false,,,,\n"
        ),
    );
    let report = run(&server, &copy.dir).await;
    assert_eq!(
        problem_lines(&report),
        vec![
            "enrollments.csv:2: userSourcedId: refers to \"s404\", which is neither in the files nor in the directory (also on lines 3)"
        ]
    );
    let report = run(&server, &fixture("delta-1.1")).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(counts(&report, "enrollments.csv"), (1, 0, 2, 0));
    server.stop().await;
}

/// A Shift_JIS users.csv whose first 64 KiB are plain ASCII, beside UTF-8 files: found by
/// reading the whole file, or named with --encoding users.csv=shift_jis; each file's encoding is
/// in the report.
async fn each_file_is_decoded_in_its_own_encoding(backend: Backend) {
    let server = TestServer::start(backend).await;
    let copy = Copy::of("board-1.1");
    let users = copy.read("users.csv");
    let (header, rows) = users.split_once('\n').unwrap();
    let ascii: String = (0..1000)
        .map(|i| {
            let mut fields = vec![String::new(); 22];
            fields[0] = format!("ascii-{i:04}");
            fields[3] = "true".into();
            fields[4] = "sakura-es".into();
            fields[5] = "student".into();
            fields[6] = format!("ascii-{i:04}");
            fields[8] = "Taro".into();
            fields[9] = "Yamada".into();
            fields[16] = "P3".into();
            format!("{}\r\n", fields.join(","))
        })
        .collect();
    assert!(ascii.len() > 64 << 10);
    let text = format!("{header}\n{ascii}{rows}");
    let (bytes, _, lossy) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!lossy);
    std::fs::write(copy.dir.join("users.csv"), &bytes).unwrap();
    let options = |values: &[&str]| ImportOptions {
        dry_run: true,
        encoding: renkei_directory::Encodings::parse(values).unwrap(),
        ..ImportOptions::default()
    };
    let with = |values: &'static [&'static str]| {
        let server = &server;
        let dir = copy.dir.clone();
        async move {
            import(
                server.directory.as_ref(),
                &server.audit,
                "test",
                &dir,
                &options(values),
            )
            .await
            .unwrap()
        }
    };
    for values in [
        &[][..],
        &["users.csv=shift_jis"][..],
        &["utf-8", "USERS.csv=sjis"][..],
    ] {
        let report = with(values).await;
        assert_eq!(report.outcome, "dry-run", "{values:?}: {report}");
        assert_eq!(report.files["users.csv"].encoding, "Shift_JIS");
        assert_eq!(report.files["orgs.csv"].encoding, "UTF-8");
    }
    let unused = with(&["nosuch.csv=shift_jis"]).await;
    assert_eq!(
        unused.warnings,
        vec![
            "--encoding names nosuch.csv, which is not among the files this import reads; it was not used"
        ]
    );
    let forced = with(&["users.csv=utf-8"]).await;
    assert_eq!(forced.outcome, "rejected", "{forced}");
    let listed = problem_lines(&forced);
    assert_eq!(listed.len(), 1, "one entry however many rows: {listed:?}");
    assert!(
        listed[0].contains(
            "this row is not valid UTF-8; if users.csv is Shift_JIS, import with --encoding users.csv=shift_jis"
        ),
        "{listed:?}"
    );
    assert!(forced.to_string().contains("Read as: "), "{forced}");
    // A file that is neither: read as Shift_JIS, and the report says why.
    let mut broken = bytes.to_vec();
    broken.extend_from_slice(b"bad,,,true,sakura-es,student,bad,,\x82\xff,,,,,,,,P3,,,,,\r\n");
    std::fs::write(copy.dir.join("users.csv"), &broken).unwrap();
    let report = with(&[]).await;
    let listed = problem_lines(&report);
    let line = text.lines().count() + 1;
    assert!(
        listed.iter().any(|p| p.starts_with(&format!("users.csv:{line}: this row is neither UTF-8 nor Shift_JIS (users.csv is read as Shift_JIS because line "))),
        "{listed:?}"
    );
    assert!(
        renkei_directory::Encodings::parse(&["users.csv=latin1"])
            .unwrap_err()
            .contains("unknown encoding \"latin1\"")
    );
    server.stop().await;
}

/// Sign-in counts attempts per lower-cased name, so a later import may not add `S001` beside
/// an account `s001`.
async fn usernames_are_unique_without_regard_to_case_across_imports(backend: Backend) {
    let server = TestServer::start(backend).await;
    run(&server, &fixture("board-1.1")).await;
    let copy = Copy::of("delta-1.1");
    let line = copy.edit("users.csv", ",student,s009,", ",student,S001,");
    let report = run(&server, &copy.dir).await;
    assert_eq!(report.outcome, "rejected", "{report}");
    assert_eq!(
        problem_lines(&report),
        vec![format!(
            "users.csv:{line}: username: username \"S001\" already belongs to the roster user \"s001\" as \"s001\" (usernames are compared without regard to case); choose another username"
        )]
    );
    assert!(account(&server, "S001").await.is_none());
    // A stored name with capitals is found too (through the index of such names).
    let mixed = Copy::of("delta-1.1");
    mixed.edit("users.csv", ",student,s009,", ",student,Hiroto.M,");
    assert_eq!(run(&server, &mixed.dir).await.outcome, "applied");
    let clash = Copy::of("delta-1.1");
    let users = clash.read("users.csv");
    let header = users.lines().next().unwrap();
    let row = users.lines().find(|l| l.starts_with("s009,")).unwrap();
    clash.write(
        "users.csv",
        &format!(
            "{header}\n{}\n",
            row.replacen("s009,", "s010,", 1)
                .replace(",s009,", ",HIROTO.m,")
        ),
    );
    clash.edit(
        "manifest.csv",
        "file.enrollments,delta",
        "file.enrollments,absent",
    );
    std::fs::remove_file(clash.dir.join("enrollments.csv")).unwrap();
    let report = run(&server, &clash.dir).await;
    assert_eq!(
        problem_lines(&report),
        vec![
            "users.csv:2: username: username \"HIROTO.m\" already belongs to the roster user \"s009\" as \"Hiroto.M\" (usernames are compared without regard to case); choose another username"
        ],
        "{report}"
    );
    server.stop().await;
}

/// A bulk users.csv that lacks a third of a school's pupils is held with a summary until it is
/// confirmed; a dry run shows the same summary.
async fn a_mass_change_is_held_until_confirmed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let copy = Copy::of("board-1.1");
    let pupils: Vec<String> = (0..30)
        .map(|i| {
            let mut fields = vec![String::new(); 22];
            fields[0] = format!("p{i:02}");
            fields[3] = "true".into();
            fields[4] = "sakura-es".into();
            fields[5] = "student".into();
            fields[6] = format!("p{i:02}");
            fields[8] = "太郎".into();
            fields[9] = "山田".into();
            fields[16] = "P3".into();
            fields.join(",")
        })
        .collect();
    let users = copy.read("users.csv");
    copy.write("users.csv", &format!("{users}{}\r\n", pupils.join("\r\n")));
    assert_eq!(run(&server, &copy.dir).await.outcome, "applied");
    let enabled =
        || server.count_sql("SELECT COUNT(*) FROM users WHERE enabled AND username LIKE 'p%'");
    assert_eq!(enabled().await, 30);
    // March's export lacks 15 of them.
    copy.write(
        "users.csv",
        &format!("{users}{}\r\n", pupils[15..].join("\r\n")),
    );
    let options = |dry_run, confirm_mass_change: Option<&str>| ImportOptions {
        dry_run,
        confirm_mass_change: confirm_mass_change.map(str::to_owned),
        ..ImportOptions::default()
    };
    let with = |options: ImportOptions| {
        let (server, dir) = (&server, copy.dir.clone());
        async move {
            import(
                server.directory.as_ref(),
                &server.audit,
                "test",
                &dir,
                &options,
            )
            .await
            .unwrap()
        }
    };
    let held = with(options(false, None)).await;
    assert_eq!(held.outcome, "held", "{held}");
    let change = held.mass_change.as_ref().unwrap();
    assert!(change.exceeds_threshold);
    let school = &change.schools[0];
    assert_eq!(school.school.as_deref(), Some("sakura-es"));
    assert_eq!((school.disabled, school.moved), (15, 0));
    assert_eq!(school.by_role["student"], 15);
    assert_eq!(school.examples, ["p00", "p01", "p02", "p03", "p04"]);
    assert!(school.exceeds_threshold);
    let text = held.to_string();
    assert!(
        text.starts_with(&format!("Import {} held:", held.id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("--confirm-mass-change {}", held.id)),
        "{text}"
    );
    assert!(text.contains("sakura-es: 15 disabled, 0 moved"), "{text}");
    assert_eq!(enabled().await, 30, "a held import changes nothing");
    assert_eq!(
        server
            .count_sql("SELECT COUNT(*) FROM imports WHERE outcome = 'held'")
            .await,
        1,
        "a held import is recorded with its summary"
    );
    let dry = with(options(true, None)).await;
    assert_eq!(dry.outcome, "dry-run");
    assert!(dry.mass_change.as_ref().unwrap().exceeds_threshold);
    assert!(dry.to_string().contains("would be held"), "{dry}");
    assert_eq!(enabled().await, 30);
    // Only the held import of these very files confirms it.
    let not_held = with(options(false, Some(&dry.id))).await;
    assert_eq!(not_held.outcome, "held");
    assert!(
        not_held.warnings[0].contains("which was dry-run, not held"),
        "{not_held}"
    );
    let unknown = with(options(false, Some("no-such-import"))).await;
    assert_eq!(unknown.outcome, "held");
    assert!(
        unknown.warnings[0].contains("which is not a recorded import"),
        "{unknown}"
    );
    let users_now = copy.read("users.csv");
    copy.write("users.csv", &format!("{users_now}\r\n"));
    let changed = with(options(false, Some(&held.id))).await;
    assert_eq!(
        changed.outcome, "held",
        "the files changed since: {changed}"
    );
    assert!(
        changed.warnings[0].contains("which was held with other files"),
        "{changed}"
    );
    copy.write("users.csv", &users_now);
    assert_eq!(enabled().await, 30);
    let confirmed = with(options(false, Some(&held.id))).await;
    assert_eq!(confirmed.outcome, "applied", "{confirmed}");
    assert!(confirmed.mass_change.is_some());
    assert_eq!(enabled().await, 15);
    server.stop().await;
}

/// A OneRoster 1.2 Japan K-12/Schools Profile set (`1.2_JP`) imports with its extension
/// columns; each rule of the profile refuses the row that breaks it, precisely; the same
/// rows under plain `1.2` are held to the base rules only.
async fn japan_k12_profile_sets_import_and_each_rule_is_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    const D: &str = "d7c6c4a0-7f1e-4a5e-9d2b-0000000000";
    type Rule = (&'static str, fn(&Copy) -> String);
    let rules: Vec<Rule> = vec![
        ("half-width kana in a reading", |c| {
            let line = c.edit("users.csv", ",ヒナ,コバヤシ,", ",ﾋﾅ,コバヤシ,");
            format!(
                "users.csv:{line}: metadata.jp.kanaGivenName: \"ﾋﾅ\" holds half-width katakana (ﾋ); write the reading in full-width katakana (1.2_JP)"
            )
        }),
        ("half-width kana in a name", |c| {
            let line = c.edit("classes.csv", ",なかよし学級,", ",ﾅｶﾖｼ学級,");
            format!(
                "classes.csv:{line}: title: \"ﾅｶﾖｼ学級\" holds half-width katakana (ﾅ); write it in full-width characters (1.2_JP)"
            )
        }),
        ("a userMasterIdentifier that is not a UUID v4", |c| {
            let line = c.edit(
                "users.csv",
                "3c6e8551-cb1d-4d2f-99c3-e74d58c10f02",
                "KOUMU-20002",
            );
            format!(
                "users.csv:{line}: userMasterIdentifier: \"KOUMU-20002\" is not a UUID version 4 (e.g. 3c6e8551-cb1d-4d2f-99c3-e74d58c10fc8); the profile identifies each person across systems by one"
            )
        }),
        ("a userMasterIdentifier twice", |c| {
            let line = c.edit(
                "users.csv",
                "3c6e8551-cb1d-4d2f-99c3-e74d58c10f02",
                "3C6E8551-CB1D-4D2F-99C3-E74D58C10F01",
            );
            format!(
                "users.csv:{line}: userMasterIdentifier: userMasterIdentifier \"3c6e8551-cb1d-4d2f-99c3-e74d58c10f01\" is already used on line 2; each person has their own (1.2_JP)"
            )
        }),
        ("a term instead of a school year", |c| {
            c.edit("academicSessions.csv", ",schoolYear,", ",term,");
            "academicSessions.csv:2: type: \"term\": the Japan profile's only academic session is the school year; use schoolYear".into()
        }),
        ("a school year's title", |c| {
            c.edit("academicSessions.csv", ",2026年度,", ",令和8年度,");
            "academicSessions.csv:2: title: \"令和8年度\": a school year's title is its year followed by 年度 (2026年度)".into()
        }),
        ("a school year that starts in April 2", |c| {
            c.edit("academicSessions.csv", "2026-04-01", "2026-04-02");
            "academicSessions.csv:2: startDate: \"2026-04-02\": the school year 2026 starts on 2026-04-01 (4月1日)".into()
        }),
        ("a school year that ends in the wrong year", |c| {
            c.edit("academicSessions.csv", "2027-03-31", "2026-03-31");
            "academicSessions.csv:2: endDate: \"2026-03-31\": the school year 2026 ends on 2027-03-31 (3月31日)".into()
        }),
        ("a school year of five digits", |c| {
            c.edit("academicSessions.csv", ",NULL,2026", ",NULL,42949");
            "academicSessions.csv:2: schoolYear: \"42949\": a school year is written as its four-digit year (2026)".into()
        }),
        ("an organisation type the profile does not have", |c| {
            let line = c.edit(
                "orgs.csv",
                ",かえで市立かえで中学校,school,",
                ",かえで市立かえで中学校,department,",
            );
            format!(
                "orgs.csv:{line}: type: \"department\" is not an organisation type of the Japan profile; use district (教育委員会) or school"
            )
        }),
        ("a district with a parent", |c| {
            let line = c.edit(
                "orgs.csv",
                ",district,142999,",
                &format!(",district,142999,{D}12"),
            );
            format!(
                "orgs.csv:{line}: parentSourcedId: a district (教育委員会) has no parent organisation in the Japan profile; leave parentSourcedId empty"
            )
        }),
        ("a course code", |c| {
            let line = c.edit("courses.csv", ",2026年度算数,,", ",2026年度算数,MATH1,");
            format!(
                "courses.csv:{line}: courseCode: courseCode is always empty in the Japan profile, not \"MATH1\"; leave it empty"
            )
        }),
        ("a course title without its year", |c| {
            let line = c.edit("courses.csv", ",2026年度算数,", ",算数,");
            format!(
                "courses.csv:{line}: title: \"算数\" does not start with its school year; write it as 2026年度 followed by the subject (2026年度算数) or ホームルーム"
            )
        }),
        ("an extension class type", |c| {
            let line = c.edit("classes.csv", ",scheduled,", ",ext:club,");
            format!(
                "classes.csv:{line}: classType: \"ext:club\" is not a class type of the Japan profile; use homeroom (学級) or scheduled (a subject class); a special-needs class is marked with metadata.jp.specialNeeds"
            )
        }),
        ("a CEDS grade", |c| {
            let line = c.edit("users.csv", ",P2,", ",02,");
            format!(
                "users.csv:{line}: grades: \"02\" is not a grade code of the Japan profile; use P1–P6 (小), J1–J3 (中), H1–H3 (高) or E1–E3"
            )
        }),
        ("a pupil's primary enrollment", |c| {
            let line = c.edit(
                "enrollments.csv",
                ",student,false,2026-04-01,,1,true",
                ",student,true,2026-04-01,,1,true",
            );
            format!(
                "enrollments.csv:{line}: primary: a pupil's enrollment has primary false in the Japan profile (primary marks a class's main teacher)"
            )
        }),
    ];
    for (what, make) in rules {
        let copy = Copy::of("japan-k12");
        let expected = make(&copy);
        let report = run(&server, &copy.dir).await;
        assert_eq!(report.outcome, "rejected", "{what}: {report}");
        assert_eq!(problem_lines(&report), vec![expected], "{what}");
        // Under plain 1.2 the base rules alone apply.
        copy.edit(
            "manifest.csv",
            "oneroster.version,1.2_JP",
            "oneroster.version,1.2",
        );
        assert_eq!(
            dry_run(&server, &copy.dir).await.outcome,
            "dry-run",
            "{what} under 1.2"
        );
    }
    assert_eq!(server.count_sql("SELECT COUNT(*) FROM users").await, 0);
    let report = run(&server, &fixture("japan-k12")).await;
    assert_eq!(report.outcome, "applied", "{report}");
    assert_eq!(report.version, "1.2_JP");
    assert!(
        report.warnings.is_empty(),
        "every column is known: {:?}",
        report.warnings
    );
    let pupil = account(&server, "kaede.hina").await.unwrap();
    assert_eq!(pupil.given_name_kana.as_deref(), Some("ヒナ"));
    assert_eq!(pupil.school_id.as_deref(), Some(&*format!("{D}12")));
    assert_eq!(
        account(&server, "kaede.sensei").await.unwrap().role,
        "teacher"
    );
    assert!(
        server
            .directory
            .is_guardian_of(&format!("{D}54"), &format!("{D}52"))
            .await
            .unwrap()
    );
    server.stop().await;
}

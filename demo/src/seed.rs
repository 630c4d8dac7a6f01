//! The demo board (`renkei serve --demo`): a school with classes, Japanese pupils, teachers, a
//! guardian and an administrator, imported from a built-in OneRoster file set exactly as a
//! board's own export would be; a few days of attendance; the demo learning app registered as
//! an ordinary confidential client; and its two policies (the class list on the school's
//! decision, attendance on the guardian's consent). Seeded into an empty database only, each
//! step through the same operation (and audit record) an administrator's would use.

use renkei_consent::policy::{self, Basis, PolicyInput, Reach};
use renkei_consent::service::ConsentService;
use renkei_directory::{ImportOptions, import};
use renkei_gateway::Gateway;
use renkei_idp::AppState;
use renkei_idp::client::{NewClient, register};
use renkei_platform::AuditLog;

use crate::error::{Error, Result};

/// Password of every demo account (printed at start-up; demo data only).
pub const DEMO_PASSWORD: &str = "renkei-demo-2026";

/// The demo app's name, as people see it on the approval screen and the guardians' page; the
/// demo finds its registration again by this name on a later start.
pub const APP_NAME: &str = "デモ学習アプリ (Demo Learning App)";

/// Where the demo app is served, under the provider's origin.
pub const APP_PATH: &str = "/demo-app";

/// The category the demo app reads on the school's decision (the class list).
pub const ROSTER: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";

/// The category the demo app reads only with a guardian's consent.
pub const ATTENDANCE: &str = "urn:renkei:scope:attendance.readonly";

/// The demo school's sourcedId.
const SCHOOL: &str = "demo-sakura-es";

/// The demo roster, as OneRoster 1.1 CSV with the Japan profile's kana columns.
const FILES: [(&str, &str); 7] = [
    ("manifest.csv", include_str!("../roster/manifest.csv")),
    ("orgs.csv", include_str!("../roster/orgs.csv")),
    (
        "academicSessions.csv",
        include_str!("../roster/academicSessions.csv"),
    ),
    ("courses.csv", include_str!("../roster/courses.csv")),
    ("classes.csv", include_str!("../roster/classes.csv")),
    ("users.csv", include_str!("../roster/users.csv")),
    ("enrollments.csv", include_str!("../roster/enrollments.csv")),
];

/// What was seeded, to print for the person trying Renkei.
pub struct DemoBoard {
    /// (username, role, name) of each demo account.
    pub accounts: Vec<(String, String, String)>,
    /// The demo app's client id.
    pub client_id: String,
    /// The demo app's client secret (held by the demo app in this process).
    pub client_secret: String,
}

/// The command that seeds the demo board, as its audit records name it.
const VIA: &str = "renkei serve --demo";

/// The demo app's redirect URI for a provider at `issuer`.
pub fn redirect_uri(issuer: &str) -> String {
    format!("{issuer}{APP_PATH}/callback")
}

/// The page the demo app returns to after signing out.
pub fn home_uri(issuer: &str) -> String {
    format!("{issuer}{APP_PATH}/")
}

/// Seeds the demo board if the database has no users (each step audited like an
/// administrator's); returns `None` otherwise.
pub async fn seed(
    provider: &AppState,
    consent: &ConsentService,
    gateway: &Gateway,
    audit: &AuditLog,
) -> Result<Option<DemoBoard>> {
    let store = provider.store.as_ref();
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let dir = Folder::new()?;
    for (name, text) in FILES {
        dir.write(name, text)?;
    }
    let options = ImportOptions {
        actor: VIA.into(),
        ..ImportOptions::default()
    };
    let report = import(provider.directory.as_ref(), audit, VIA, &dir.0, &options)
        .await
        .map_err(|e| Error::Internal(format!("the demo roster did not import: {e}")))?;
    if report.outcome != "applied" {
        return Err(Error::Internal(format!(
            "the demo roster did not import: {report}"
        )));
    }
    dir.write(
        "attendance.jsonl",
        &attendance(renkei_platform::clock::now()),
    )?;
    let attendance = renkei_gateway::affairs::import::import(
        gateway.store.as_ref(),
        audit,
        VIA,
        renkei_gateway::affairs::collection(ATTENDANCE)
            .ok_or_else(|| Error::Internal("the attendance collection is missing".into()))?,
        &dir.0.join("attendance.jsonl"),
        renkei_gateway::affairs::import::Options {
            max_errors: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| Error::Internal(format!("the demo attendance did not import: {e}")))?;
    if !attendance.problems.is_empty() {
        return Err(Error::Internal(format!(
            "the demo attendance did not import: {}",
            attendance.problems.join("; ")
        )));
    }
    let mut accounts = Vec::new();
    for line in include_str!("../roster/users.csv").lines().skip(1) {
        let username = line.split(',').next().unwrap_or_default();
        if let Some(user) = store.user_by_username(username).await? {
            let name = renkei_idp::user::display_name(&user);
            accounts.push((user.username, user.role, name));
        }
    }
    let issuer = &provider.config.issuer;
    let app = register(
        store,
        provider.directory.as_ref(),
        audit,
        VIA,
        NewClient {
            name: APP_NAME.into(),
            redirect_uris: vec![redirect_uri(issuer)],
            post_logout_redirect_uris: vec![home_uri(issuer)],
            ..NewClient::default()
        },
    )
    .await?;
    for (category, basis, purpose_ja, purpose_en) in [
        (
            ROSTER,
            Basis::School,
            "授業でクラスの名簿を表示するため",
            "To show the class list in lessons",
        ),
        (
            ATTENDANCE,
            Basis::Guardian,
            "欠席した日の課題を届けるため",
            "To send the day's assignments to pupils who were absent",
        ),
    ] {
        policy::set(
            consent.store.as_ref(),
            provider.directory.as_ref(),
            audit,
            VIA,
            PolicyInput {
                client_id: app.client.id.clone(),
                category_id: category.into(),
                basis,
                reach: vec![Reach::School(SCHOOL.into())],
                purpose_ja: Some(purpose_ja.into()),
                purpose_en: Some(purpose_en.into()),
                valid_until: None,
                justification: None,
                by: "admin".into(),
            },
            renkei_platform::clock::now(),
        )
        .await?;
    }
    Ok(Some(DemoBoard {
        accounts,
        client_id: app.client.id,
        client_secret: app.secret.unwrap_or_default(),
    }))
}

/// The last three school days' attendance of the demo pupils (one absence, one late arrival),
/// as the school-affairs system would export it.
fn attendance(now: i64) -> String {
    let today = renkei_platform::clock::in_japan(now)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let mut days = Vec::new();
    let mut day = today;
    while days.len() < 3 {
        day = day.previous_day().unwrap_or(day);
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            days.push(day);
        }
    }
    let mut lines = String::new();
    for (pupil, class) in [
        ("student1", "demo-3-1"),
        ("student2", "demo-3-1"),
        ("student3", "demo-3-2"),
        ("student4", "demo-4-1"),
    ] {
        for (n, day) in days.iter().enumerate() {
            let (status, reason) = match (pupil, n) {
                ("student1", 0) => ("absent", "発熱"),
                ("student2", 1) => ("late", "通院"),
                _ => ("present", ""),
            };
            let record = serde_json::json!({
                "sourcedId": format!("demo-att-{pupil}-{day}"),
                "studentSourcedId": pupil,
                "classSourcedId": class,
                "date": day.to_string(),
                "attendanceStatus": status,
                "reason": reason,
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
        }
    }
    lines
}

/// A private folder for the built-in files, removed when dropped.
struct Folder(std::path::PathBuf);

impl Folder {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "renkei-demo-{}",
            renkei_platform::crypto::random_id()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::Internal(format!("cannot write the demo roster: {e}")))?;
        Ok(Folder(path))
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        std::fs::write(self.0.join(name), text)
            .map_err(|e| Error::Internal(format!("cannot write the demo roster: {e}")))
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attendance_covers_three_weekdays_before_today() {
        // 2026-12-07 is a Monday: the days before it are Fri 4, Thu 3 and Wed 2 December.
        let monday = time::macros::datetime!(2026-12-07 09:00 +09:00).unix_timestamp();
        let lines = attendance(monday);
        assert_eq!(lines.lines().count(), 12);
        for day in ["2026-12-04", "2026-12-03", "2026-12-02"] {
            assert!(lines.contains(day), "{day}");
        }
        assert!(!lines.contains("2026-12-05") && !lines.contains("2026-12-06"));
        assert!(lines.contains(r#""attendanceStatus":"absent""#));
    }
}

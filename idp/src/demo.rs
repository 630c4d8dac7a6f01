//! The demo board (`renkei serve --demo`): a school with classes, Japanese pupils, teachers, a
//! guardian and an administrator, imported from a built-in OneRoster file set exactly as a
//! board's own export would be, plus a registered learning app. Seeded into an empty database
//! only.

use crate::client::{NewClient, register};
use crate::error::{Error, Result};
use crate::store::Store;
use renkei_directory::{Directory, ImportOptions, import};
use renkei_platform::AuditLog;

/// Password of every demo account (printed at start-up; demo data only).
pub const DEMO_PASSWORD: &str = "renkei-demo-2026";

/// Redirect URI registered for the demo app (a relying party on this machine).
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1:8081/callback";

/// The demo roster, as OneRoster 1.1 CSV with the Japan profile's kana columns.
const FILES: [(&str, &str); 7] = [
    ("manifest.csv", include_str!("../demo/manifest.csv")),
    ("orgs.csv", include_str!("../demo/orgs.csv")),
    (
        "academicSessions.csv",
        include_str!("../demo/academicSessions.csv"),
    ),
    ("courses.csv", include_str!("../demo/courses.csv")),
    ("classes.csv", include_str!("../demo/classes.csv")),
    ("users.csv", include_str!("../demo/users.csv")),
    ("enrollments.csv", include_str!("../demo/enrollments.csv")),
];

/// What was seeded, to print for the person trying Renkei.
pub struct DemoBoard {
    /// (username, role, name) of each demo account.
    pub accounts: Vec<(String, String, String)>,
    /// The demo app's client id.
    pub client_id: String,
    /// The demo app's client secret.
    pub client_secret: String,
}

/// The command that seeds the demo board, as its audit records name it.
const VIA: &str = "renkei serve --demo";

/// Seeds the demo board if the database has no users (audited like any import and app
/// registration); returns `None` otherwise.
pub async fn seed(
    store: &dyn Store,
    directory: &dyn Directory,
    audit: &AuditLog,
) -> Result<Option<DemoBoard>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("renkei-demo-{}", crate::crypto::random_id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::internal(format!("cannot write the demo roster: {e}")))?;
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::internal(format!("cannot write the demo roster: {e}")))?;
    }
    let options = ImportOptions {
        actor: VIA.into(),
        ..ImportOptions::default()
    };
    let report = import(directory, audit, VIA, &dir, &options).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        report.map_err(|e| Error::internal(format!("the demo roster did not import: {e}")))?;
    if report.outcome != "applied" {
        return Err(Error::internal(format!(
            "the demo roster did not import: {report}"
        )));
    }
    let mut accounts = Vec::new();
    for line in include_str!("../demo/users.csv").lines().skip(1) {
        let username = line.split(',').next().unwrap_or_default();
        if let Some(user) = store.user_by_username(username).await? {
            let name = crate::user::display_name(&user);
            accounts.push((user.username, user.role, name));
        }
    }
    let app = register(
        store,
        audit,
        VIA,
        NewClient {
            name: "デモ学習アプリ (Demo Learning App)".into(),
            redirect_uris: vec![DEMO_REDIRECT_URI.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:8081/".into()],
            ..NewClient::default()
        },
    )
    .await?;
    Ok(Some(DemoBoard {
        accounts,
        client_id: app.client.id,
        client_secret: app.secret.unwrap_or_default(),
    }))
}

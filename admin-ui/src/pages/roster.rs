//! `/admin/roster`: upload the board's OneRoster export (a dry run first, then the import),
//! follow it while it runs, read its report as a table, confirm a held mass change; the
//! import history.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use renkei_idp::pages::{Texts, filters, render, toggle_href};
use serde_json::Value;

use super::dashboard::LangQuery;
use super::{ConsoleTexts, Frame, Section, Visit, date, enter, enter_form, expired_form, failure};
use crate::Console;
use crate::error::Error;
use crate::roster::{self, ImportJob};

#[derive(Template)]
#[template(path = "admin_roster.html")]
struct RosterPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    board: bool,
    error: Option<String>,
    imports: Vec<(String, &'static str, String)>,
}

/// A file's line of the report.
struct FileRow {
    name: String,
    mode: String,
    rows: u64,
    created: u64,
    updated: u64,
    deleted: u64,
    unchanged: u64,
}

/// A problem's line of the report.
struct ProblemRow {
    file: String,
    lines: String,
    column: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "admin_roster_job.html")]
struct JobPage {
    t: &'static Texts,
    toggle_href: String,
    f: Frame,
    job: ImportJob,
    outcome: &'static str,
    held_id: Option<String>,
    files: Vec<FileRow>,
    problems: Vec<ProblemRow>,
    problem_count: u64,
    /// Per school, what a held import would do: (school, accounts now, disabled, moved).
    changes: Vec<(String, u64, u64, u64)>,
}

async fn roster_page(console: &Console, visit: Visit, error: Option<String>) -> Response {
    let imports = if visit.actor.school().is_none() {
        match console.idp.directory.recent_imports(20).await {
            Ok(records) => records
                .into_iter()
                .map(|r| {
                    (
                        date(visit.locale, Some(r.finished_at)),
                        visit.c.outcome(&r.outcome),
                        r.actor,
                    )
                })
                .collect(),
            Err(e) => return failure(e.into()),
        }
    } else {
        Vec::new()
    };
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let page = RosterPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, "/admin/roster", &[]),
        f: visit.frame(console, Section::Roster).await,
        board: visit.actor.school().is_none(),
        error,
        imports,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    visit.respond(response)
}

/// `GET /admin/roster`.
pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    match enter(&console, &headers, query.lang(), "/admin/roster").await {
        Ok(visit) => roster_page(&console, visit, None).await,
        Err(refused) => refused,
    }
}

/// `POST /admin/roster` (multipart: `csrf_token`, `action` = `dry-run` or `apply`, `file`).
pub async fn upload(
    State(console): State<Console>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let visit = match enter(&console, &headers, None, "/admin/roster").await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    // Only a board administrator's upload is read, and only after the form's CSRF token (its
    // first field) is checked.
    if let Err(error) = visit.actor.board_only("import the roster") {
        return failure(error);
    }
    let (mut checked, mut action, mut file) = (false, String::new(), Bytes::new());
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return roster_page(&console, visit, Some(super::upload_failed())).await,
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name != "csrf_token" && !checked {
            return expired_form();
        }
        let Ok(bytes) = field.bytes().await else {
            return roster_page(&console, visit, Some(super::upload_failed())).await;
        };
        match name.as_str() {
            "csrf_token" => {
                checked = console
                    .idp
                    .csrf
                    .verify(&headers, &String::from_utf8_lossy(&bytes));
                if !checked {
                    return expired_form();
                }
            }
            "action" => action = String::from_utf8_lossy(&bytes).into_owned(),
            "file" => file = bytes,
            _ => {}
        }
    }
    if !checked {
        return expired_form();
    }
    match roster::start(&console, &visit.actor, &file, action != "apply").await {
        Ok(job) => renkei_platform::web::see_other(
            &format!("/admin/roster/jobs/{}", job.id),
            visit.cookies,
        ),
        Err(error @ (Error::Invalid(_) | Error::Busy(_))) => {
            roster_page(&console, visit, Some(error.detail())).await
        }
        Err(error) => failure(error),
    }
}

/// `GET /admin/roster/jobs/{id}`.
pub async fn job(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    let path = format!("/admin/roster/jobs/{id}");
    let visit = match enter(&console, &headers, query.lang(), &path).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    let job = match roster::job(&console, &visit.actor, &id) {
        Ok(job) => job,
        Err(error) => return failure(error),
    };
    let c = visit.c;
    let report = job.report.clone().unwrap_or(Value::Null);
    let outcome = report["outcome"].as_str().map_or("", |o| c.outcome(o));
    let held_id =
        (report["outcome"] == "held").then(|| report["id"].as_str().unwrap_or_default().to_owned());
    let files = report["files"]
        .as_object()
        .map(|files| {
            files
                .iter()
                .map(|(name, f)| FileRow {
                    name: name.clone(),
                    mode: f["mode"].as_str().unwrap_or_default().to_owned(),
                    rows: f["rows"].as_u64().unwrap_or(0),
                    created: f["created"].as_u64().unwrap_or(0),
                    updated: f["updated"].as_u64().unwrap_or(0),
                    deleted: f["deleted"].as_u64().unwrap_or(0),
                    unchanged: f["unchanged"].as_u64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    let problems = report["problems"]
        .as_array()
        .map(|problems| problems.iter().map(|p| problem_row(p, c)).collect())
        .unwrap_or_default();
    let page = JobPage {
        t: visit.t,
        toggle_href: toggle_href(visit.t, &path, &[]),
        f: visit.frame(&console, Section::Roster).await,
        outcome,
        held_id,
        files,
        problems,
        problem_count: report["problem_count"].as_u64().unwrap_or(0),
        changes: report["mass_change"]["schools"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|school| {
                let n = |key: &str| school[key].as_u64().unwrap_or(0);
                (
                    school["school"].as_str().unwrap_or_default().to_owned(),
                    n("accounts_before"),
                    n("disabled"),
                    n("moved"),
                )
            })
            .collect(),
        job,
    };
    visit.respond(render(&page))
}

/// A problem of the report as a row: its lines together (the first, those named, how many more).
fn problem_row(problem: &Value, c: &ConsoleTexts) -> ProblemRow {
    let mut lines: Vec<String> = problem["line"]
        .as_u64()
        .map(|l| l.to_string())
        .into_iter()
        .collect();
    lines.extend(
        problem["also_on_lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|l| l.to_string()),
    );
    let mut lines = lines.join(c.list_separator);
    if let Some(more) = problem["and_more"].as_u64().filter(|n| *n > 0) {
        lines.push_str(c.list_separator);
        lines.push_str(&c.more_lines.replace("{n}", &more.to_string()));
    }
    ProblemRow {
        file: problem["file"].as_str().unwrap_or_default().to_owned(),
        lines,
        column: problem["column"].as_str().unwrap_or_default().to_owned(),
        reason: problem["reason"].as_str().unwrap_or_default().to_owned(),
    }
}

/// `POST /admin/roster/held/{import_id}/confirm`.
pub async fn confirm(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(import_id): Path<String>,
    body: Bytes,
) -> Response {
    let (visit, _) = match enter_form(&console, &headers, &body, "/admin/roster").await {
        Ok(entered) => entered,
        Err(refused) => return refused,
    };
    match roster::confirm(&console, &visit.actor, &import_id) {
        Ok(job) => renkei_platform::web::see_other(
            &format!("/admin/roster/jobs/{}", job.id),
            visit.cookies,
        ),
        Err(error) => failure(error),
    }
}

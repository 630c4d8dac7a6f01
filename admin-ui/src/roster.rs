//! Roster imports from the console: the board's OneRoster export uploaded as a zip, checked
//! (a dry run) or applied in the background while the page reports how it is going, the
//! report as a readable table, a held mass change confirmed, and the import history. The
//! import is the consent service's operation, the one the command line calls; board
//! administrators only.

use std::path::PathBuf;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use renkei_directory::ImportOptions;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Console;
use crate::actor::{self, Actor};
use crate::error::{Error, Problem, Result};

/// The largest roster zip the console takes (a board of 100,000 pupils zips to a few MB).
pub const MAX_UPLOAD: usize = 256 * 1024 * 1024;

/// How many finished imports the console remembers for their pages.
const KEPT: usize = 20;

/// An import the console started, as its page shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportJob {
    /// The job's id (its page is `/admin/roster/jobs/{id}`).
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    /// A dry run: nothing changes.
    pub dry_run: bool,
    /// Who started it.
    pub by: String,
    /// When (Unix seconds).
    pub started_at: i64,
    /// The import's report (`outcome`: applied, dry-run, rejected or held; files; problems
    /// by file, line and column).
    #[schema(value_type = Object)]
    pub report: Option<serde_json::Value>,
    /// Why it could not run (the files could not be read or unpacked).
    pub error: Option<String>,
}

struct Job {
    view: ImportJob,
    /// The uploaded files, kept while the import runs or is held for confirmation.
    upload: Option<PathBuf>,
}

/// The imports this process started, newest last.
#[derive(Default)]
pub struct Jobs(Mutex<Vec<Job>>);

impl Jobs {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Job>) -> T) -> T {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Where an upload is kept while it is imported.
fn upload_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "renkei-roster-{}.zip",
        uuid::Uuid::new_v4().simple()
    ))
}

/// An upload's file, removed when dropped unless handed on ([`Upload::keep`]): a write that
/// fails or is cut short leaves nothing behind.
struct Upload(Option<PathBuf>);

impl Upload {
    /// The path, no longer removed on drop.
    fn keep(mut self) -> PathBuf {
        self.0.take().expect("an upload is kept once")
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes the upload where only this process's user can read it (it holds the board's
/// personal data).
async fn write_upload(zip: &[u8]) -> std::io::Result<PathBuf> {
    use tokio::io::AsyncWriteExt;
    let path = upload_path();
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&path).await?;
    let upload = Upload(Some(path));
    file.write_all(zip).await?;
    file.flush().await?;
    Ok(upload.keep())
}

/// Starts importing `zip` (or checking it, `dry_run`) in the background.
pub async fn start(
    console: &Console,
    actor: &Actor,
    zip: &[u8],
    dry_run: bool,
) -> Result<ImportJob> {
    actor.board_only("import the roster")?;
    if zip.is_empty() {
        return Err(Error::Invalid(
            "no file was uploaded: choose the OneRoster export (a zip with manifest.csv)".into(),
        ));
    }
    if zip.len() > MAX_UPLOAD {
        return Err(Error::Invalid(format!(
            "the file is larger than {} MiB",
            MAX_UPLOAD / 1024 / 1024
        )));
    }
    if !zip.starts_with(b"PK") {
        return Err(Error::Invalid(
            "the file is not a zip archive: upload the OneRoster export as a .zip with manifest.csv".into(),
        ));
    }
    let path = write_upload(zip)
        .await
        .map_err(|e| Error::Invalid(format!("the upload could not be kept for the import: {e}")))?;
    run(console, actor, path, dry_run, None)
}

/// Applies a held import after the administrator checked its summary: the same files, with
/// the held import's id as confirmation.
pub fn confirm(console: &Console, actor: &Actor, held_id: &str) -> Result<ImportJob> {
    actor.board_only("import the roster")?;
    let upload = console.roster_jobs.with(|jobs| {
        if jobs.iter().any(|job| job.view.state == "running") {
            return Err(Error::Busy(
                "another roster import is running; wait for it to finish".into(),
            ));
        }
        Ok(jobs
            .iter_mut()
            .find(|job| {
                job.view
                    .report
                    .as_ref()
                    .is_some_and(|r| r["id"] == held_id && r["outcome"] == "held")
            })
            .and_then(|job| job.upload.take()))
    })?;
    let Some(path) = upload else {
        return Err(Error::NotFound(format!(
            "no held import {held_id:?} from this console is waiting; upload the files again"
        )));
    };
    run(console, actor, path, false, Some(held_id.to_owned()))
}

fn run(
    console: &Console,
    actor: &Actor,
    path: PathBuf,
    dry_run: bool,
    confirm: Option<String>,
) -> Result<ImportJob> {
    let view = ImportJob {
        id: uuid::Uuid::new_v4().simple().to_string(),
        state: "running",
        dry_run,
        by: actor.name.clone(),
        started_at: renkei_platform::clock::now(),
        report: None,
        error: None,
    };
    let busy = console.roster_jobs.with(|jobs| {
        if jobs.iter().any(|job| job.view.state == "running") {
            return true;
        }
        jobs.push(Job {
            view: view.clone(),
            upload: Some(path.clone()),
        });
        // Forget the oldest finished imports (and their kept files).
        while jobs.len() > KEPT {
            let Some(oldest) = jobs.iter().position(|job| job.view.state != "running") else {
                break;
            };
            if let Some(upload) = jobs.remove(oldest).upload {
                let _ = std::fs::remove_file(upload);
            }
        }
        false
    });
    if busy {
        let _ = std::fs::remove_file(&path);
        return Err(Error::Busy(
            "another roster import is running; wait for it to finish".into(),
        ));
    }
    let (console, via, id) = (console.clone(), actor.via(), view.id.clone());
    let options = ImportOptions {
        dry_run,
        actor: actor.name.clone(),
        confirm_mass_change: confirm,
        ..ImportOptions::default()
    };
    tokio::spawn(async move {
        // The import runs in a task of its own: if it panics, the job still ends (failed)
        // and the next import may start.
        let importing = tokio::spawn({
            let (console, path) = (console.clone(), path.clone());
            async move {
                renkei_consent::capability::roster::import(
                    console.idp.directory.as_ref(),
                    console.consent.store.as_ref(),
                    &console.audit,
                    &via,
                    &path,
                    &options,
                )
                .await
            }
        });
        let outcome = importing.await.unwrap_or_else(|panicked| {
            tracing::error!(%panicked, "roster import from the console panicked");
            Err(renkei_consent::Error::Store(
                renkei_platform::StoreError::Conflict("the import stopped"),
            ))
        });
        console.roster_jobs.with(|jobs| {
            let Some(job) = jobs.iter_mut().find(|job| job.view.id == id) else {
                return;
            };
            let held = matches!(&outcome, Ok(report) if report.outcome == "held");
            match outcome {
                Ok(report) => {
                    job.view.state = "done";
                    job.view.report = serde_json::to_value(&report).ok();
                }
                Err(error) => {
                    tracing::warn!(%error, "roster import from the console failed");
                    job.view.state = "failed";
                    job.view.error = Some(match error {
                        // Said of the files, never of where the server kept them.
                        renkei_consent::Error::Invalid(message) => {
                            message.replace(&*path.to_string_lossy(), "the upload")
                        }
                        _ => "the import failed; the server's log says why".into(),
                    });
                }
            }
            if !held && let Some(upload) = job.upload.take() {
                let _ = std::fs::remove_file(upload);
            }
        });
    });
    Ok(view)
}

/// An import job of this process, for the actor.
pub fn job(console: &Console, actor: &Actor, id: &str) -> Result<ImportJob> {
    actor.board_only("see roster imports")?;
    console
        .roster_jobs
        .with(|jobs| jobs.iter().find(|job| job.view.id == id).map(|job| job.view.clone()))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no roster import {id:?} is known to this server (imports started on another server of the board are in the history)"
            ))
        })
}

/// Query of `POST /admin/api/roster`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// Check the files and report, changing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /admin/api/roster`: the OneRoster export as the body (`application/zip`).
#[utoipa::path(post, path = "/admin/api/roster", tag = "roster", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "The OneRoster CSV files as a zip with manifest.csv"),
    responses((status = 202, body = ImportJob), (status = 400, body = Problem), (status = 403, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_upload(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<ImportJob>)> {
    // Who is asking is known before the body is read: only a board administrator's upload is
    // taken in.
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    actor.board_only("import the roster")?;
    let query: UploadQuery = crate::api::query(query.as_deref())?;
    let body = axum::body::to_bytes(body, MAX_UPLOAD).await.map_err(|_| {
        Error::Invalid(format!(
            "the upload broke off or is larger than {} MiB",
            MAX_UPLOAD / 1024 / 1024
        ))
    })?;
    let job = start(&console, &actor, &body, query.dry_run).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// `POST /admin/api/roster/held/{import_id}/confirm`: applies a held import.
#[utoipa::path(post, path = "/admin/api/roster/held/{import_id}/confirm", tag = "roster",
    params(("import_id" = String, Path, description = "The held import's id (its report's id)")),
    responses((status = 202, body = ImportJob), (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_confirm(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(import_id): Path<String>,
) -> Result<(StatusCode, Json<ImportJob>)> {
    let actor = actor::for_api(&console.idp, &headers, true).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(confirm(&console, &actor, &import_id)?),
    ))
}

/// `GET /admin/api/roster/jobs/{id}`: how an import is going, and its report.
#[utoipa::path(get, path = "/admin/api/roster/jobs/{id}", tag = "roster",
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = ImportJob), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_job(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>> {
    let actor = actor::for_api(&console.idp, &headers, false).await?;
    Ok(Json(job(&console, &actor, &id)?))
}

//! OneRoster roster import: the board's school-affairs system exports its roster as OneRoster
//! CSV (1.1 or 1.2, with the Japan profiles), and Renkei keeps a faithful directory of it and
//! turns its people into accounts.
//!
//! An import reads every file twice. The first pass checks headers, collects every sourcedId
//! and finds duplicates; the second converts and checks each row (formats, references) and
//! writes it inside one transaction. Any problem rolls the transaction back, so a failed
//! import leaves the directory exactly as it was; a dry run always rolls back. Memory holds
//! the sets of ids, never a whole file.

pub mod csvfile;
pub mod ids;
pub mod manifest;
pub mod record;
pub mod report;
pub mod schema;
pub mod source;
mod write;

use renkei_platform::{AuditEvent, AuditLog};
use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::Arc;

pub use csvfile::EncodingChoice;
pub use report::{Changes, ImportReport, Problem};

use crate::error::{Error, Result};
use crate::role::Role;
use crate::store::Directory;
use crate::store::roster::ImportRecord;
use ids::{IdSet, NotAdded, Seen};
use manifest::{Manifest, Mode};
use record::Layout;
use renkei_platform::clock::now;
use renkei_platform::crypto::random_id;
use report::{FileReport, Problems};
use schema::{FileKind, Target};
pub use source::Limits;
use source::Source;

/// How to run an import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Validate and count, but change nothing.
    pub dry_run: bool,
    /// How the files are encoded.
    pub encoding: EncodingChoice,
    /// Problems listed at most (all are counted).
    pub max_problems: usize,
    /// Who runs the import (recorded).
    pub actor: String,
    /// How much is copied or unpacked at most.
    pub limits: Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            encoding: EncodingChoice::Auto,
            max_problems: 100,
            actor: "cli".into(),
            limits: Limits::default(),
        }
    }
}

/// The ids found in the first pass.
#[derive(Default)]
pub struct IdIndex {
    /// Per file: every sourcedId, and whether its row is active (not `tobedeleted`).
    pub files: HashMap<FileKind, IdSet>,
    /// Per file present: its mode.
    pub modes: HashMap<FileKind, Mode>,
    /// OneRoster 1.2: each user's primary role and org from roles.csv.
    pub primary_roles: FxHashMap<String, (String, String)>,
}

impl IdIndex {
    /// How a reference resolves: `Ok(true)` found in the files, `Ok(false)` must be looked up
    /// in the directory, `Err(reason)` cannot resolve.
    pub fn resolve(&self, target: Target, id: &str) -> std::result::Result<bool, String> {
        let Some(kind) = FileKind::of_target(target) else {
            return Ok(true);
        };
        let file = kind.base_name();
        match (
            self.files.get(&kind).and_then(|ids| ids.get(id)),
            self.modes.get(&kind),
        ) {
            (Some(seen), _) if seen.active => Ok(true),
            (Some(_), _) => Err(format!(
                "refers to {id:?}, which {file}.csv marks tobedeleted"
            )),
            (None, Some(Mode::Bulk)) => {
                Err(format!("refers to {id:?}, which is not in {file}.csv"))
            }
            (None, _) => Ok(false),
        }
    }
}

/// Imports the OneRoster files at `path` (a folder or a zip) into the directory, all or
/// nothing; every import is recorded, and one that is not a dry run is audited (through `via`)
/// whether it was applied or rejected.
pub async fn import(
    store: &dyn Directory,
    audit: &AuditLog,
    via: &str,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let report = import_files(store, path, options).await?;
    if !options.dry_run {
        audit
            .append(AuditEvent::admin(
                via,
                format!(
                    "OneRoster import {} by {}: {}",
                    report.id, options.actor, report.outcome
                ),
            ))
            .await?;
    }
    Ok(report)
}

/// [`import`] without its audit record.
async fn import_files(
    store: &dyn Directory,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let started = now();
    let id = random_id();
    let label = path.display().to_string();
    let owned = path.to_owned();
    let (encoding, cap, limits) = (options.encoding, options.max_problems, options.limits);
    let clock = std::time::Instant::now();
    let prepared = tokio::task::spawn_blocking(move || prepare(&owned, encoding, cap, limits))
        .await
        .map_err(|e| Error::internal(format!("import failed: {e}")))?;
    tracing::debug!(elapsed = ?clock.elapsed(), "import: first pass (ids, duplicates) done");
    let mut report = ImportReport {
        id: id.clone(),
        outcome: "rejected",
        version: String::new(),
        files: BTreeMap::new(),
        problems: Vec::new(),
        problem_count: 0,
        folder: None,
        warnings: Vec::new(),
    };
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(problems) => {
            report.problem_count = problems.total();
            report.problems = problems.into_list();
            record(store, &report, &options.actor, &label, started, None).await?;
            return Ok(report);
        }
    };
    report.version = prepared.manifest.version.as_str().to_owned();
    report.folder = prepared.source.folder.clone();
    report.warnings = prepared
        .source
        .unused
        .iter()
        .map(|file| format!("{file} is not a file Renkei reads; it was left out"))
        .chain(prepared.warnings.iter().cloned())
        .collect();
    let mut tx = store.begin_import().await?;
    let outcome = write::apply(tx.as_mut(), &prepared).await?;
    tracing::debug!(elapsed = ?clock.elapsed(), "import: second pass (rows written) done");
    for (kind, (mode, stored)) in &prepared.manifest.files {
        report.files.insert(
            stored.clone(),
            FileReport {
                mode: mode.as_str().to_owned(),
                sha256: prepared.checksums.get(kind).cloned().unwrap_or_default(),
                changes: outcome.changes.get(kind).copied().unwrap_or_default(),
            },
        );
    }
    if !outcome.problems.is_empty() {
        drop(tx);
        report.problem_count = outcome.problems.total();
        report.problems = outcome.problems.into_list();
        record(store, &report, &options.actor, &label, started, None).await?;
        return Ok(report);
    }
    report.outcome = if options.dry_run {
        "dry-run"
    } else {
        "applied"
    };
    if options.dry_run {
        drop(tx);
        record(store, &report, &options.actor, &label, started, None).await?;
    } else {
        record(
            store,
            &report,
            &options.actor,
            &label,
            started,
            Some(tx.as_mut()),
        )
        .await?;
        tx.commit().await?;
        tracing::debug!(elapsed = ?clock.elapsed(), "import: committed");
    }
    Ok(report)
}

/// Records the import: in its own transaction when applied, separately otherwise.
async fn record(
    store: &dyn Directory,
    report: &ImportReport,
    actor: &str,
    source: &str,
    started: i64,
    tx: Option<&mut dyn crate::store::roster::ImportTx>,
) -> Result<()> {
    let record = ImportRecord {
        id: report.id.clone(),
        started_at: started,
        finished_at: now(),
        actor: actor.to_owned(),
        source: source.to_owned(),
        outcome: report.outcome.to_owned(),
        summary: serde_json::to_string(report).map_err(|e| Error::internal(e.to_string()))?,
    };
    match tx {
        Some(tx) => tx.record_import(&record).await?,
        None => store.record_import(&record).await?,
    }
    Ok(())
}

/// What the first pass produced.
pub struct Prepared {
    source: Source,
    manifest: Manifest,
    checksums: HashMap<FileKind, String>,
    index: Arc<IdIndex>,
    encoding: EncodingChoice,
    cap: usize,
    /// What the headers left out (unknown columns, trailing empty ones).
    warnings: Vec<String>,
}

/// First pass: manifest, headers, checksums, ids, duplicates. The files are scanned in
/// parallel (a board's users.csv and enrollments.csv hold most of its rows).
fn prepare(
    path: &Path,
    encoding: EncodingChoice,
    cap: usize,
    limits: Limits,
) -> std::result::Result<Prepared, Problems> {
    let fail = |list: Vec<Problem>| {
        let mut problems = Problems::with_cap(cap);
        list.into_iter().for_each(|p| problems.push(p));
        problems
    };
    let source = Source::open(path, limits).map_err(|p| fail(vec![p]))?;
    let (manifest, manifest_problems) = manifest::read(&source, encoding).map_err(fail)?;
    let scans: Vec<(FileKind, Mode, Scan)> = std::thread::scope(|scope| {
        let handles: Vec<_> = manifest
            .files
            .iter()
            .map(|(&kind, (mode, stored))| {
                let (source, version, mode) = (&source, manifest.version, *mode);
                let handle =
                    scope.spawn(move || scan(source, kind, mode, stored, encoding, version, cap));
                (kind, mode, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(kind, mode, handle)| {
                let scan = handle.join().unwrap_or_else(|_| Scan {
                    problems: fail(vec![Problem::general("reading the files failed")]),
                    ..Scan::new(cap)
                });
                (kind, mode, scan)
            })
            .collect()
    });
    let mut problems = fail(manifest_problems);
    let mut index = IdIndex::default();
    let mut checksums = HashMap::new();
    let mut warnings = Vec::new();
    for (kind, mode, scan) in scans {
        problems.append(scan.problems);
        warnings.extend(scan.warnings);
        index.modes.insert(kind, mode);
        index.files.insert(kind, scan.ids);
        index.primary_roles.extend(scan.primary_roles);
        if let Some(sum) = scan.checksum {
            checksums.insert(kind, sum);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Prepared {
        source,
        manifest,
        checksums,
        index: Arc::new(index),
        encoding,
        cap,
        warnings,
    })
}

/// What the first pass found in one file.
struct Scan {
    ids: IdSet,
    primary_roles: FxHashMap<String, (String, String)>,
    checksum: Option<String>,
    problems: Problems,
    warnings: Vec<String>,
}

impl Scan {
    fn new(cap: usize) -> Self {
        Self {
            ids: IdSet::default(),
            primary_roles: FxHashMap::default(),
            checksum: None,
            problems: Problems::with_cap(cap),
            warnings: Vec::new(),
        }
    }
}

/// Scans one file: its checksum, headers, every sourcedId (duplicates are problems), unique
/// usernames (users.csv) and primary roles (roles.csv).
fn scan(
    source: &Source,
    kind: FileKind,
    mode: Mode,
    stored: &str,
    encoding: EncodingChoice,
    version: schema::Version,
    cap: usize,
) -> Scan {
    let mut found = Scan::new(cap);
    let problems = &mut found.problems;
    match source.checksum(stored) {
        Ok(sum) => found.checksum = Some(sum),
        Err(p) => problems.push(p),
    }
    let mut csv = match csvfile::CsvFile::open(source, stored, encoding) {
        Ok(csv) => csv,
        Err(p) => {
            problems.push(p);
            return found;
        }
    };
    let layout = match Layout::new(kind, stored, &csv.headers, version) {
        Ok(layout) => layout,
        Err(list) => {
            list.into_iter().for_each(|p| problems.push(p));
            return found;
        }
    };
    found.warnings.clone_from(&layout.warnings);
    let problems = &mut found.problems;
    let column = |name: &str| {
        csv.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    };
    let username_at = column("username").filter(|_| kind == FileKind::Users);
    let role_columns = (kind == FileKind::Roles).then(|| {
        (
            column("userSourcedId"),
            column("roleType"),
            column("role"),
            column("orgSourcedId"),
        )
    });
    let mut usernames = IdSet::default();
    let ids = &mut found.ids;
    while let Some(row) = csv.next_row() {
        let row = match row {
            Ok(row) => row,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let id = layout.sourced_id(row.fields);
        if id.is_empty() {
            problems.push(Problem::at(
                stored,
                row.line,
                Some("sourcedId"),
                "sourcedId is required and empty",
            ));
            continue;
        }
        let status = layout.status(row.fields);
        if mode == Mode::Bulk && status == "tobedeleted" {
            problems.push(Problem::at(stored, row.line, Some("status"), "a bulk file lists only current records: leave status empty (records missing from a bulk file are removed)"));
        }
        let seen = Seen {
            active: status != "tobedeleted",
            line: row.line as u32,
        };
        match ids.insert(id, seen) {
            Ok(()) => {}
            Err(NotAdded::Duplicate(first)) => {
                problems.push(Problem::at(
                    stored,
                    row.line,
                    Some("sourcedId"),
                    format!("duplicate sourcedId {id:?} (first on line {})", first.line),
                ));
                continue;
            }
            Err(NotAdded::Full) => {
                problems.push(Problem::in_file(stored, "the sourcedIds of this file pass 2 GiB of text, more than one import can take; split the roster"));
                return found;
            }
        }
        if let Some(at) = username_at.filter(|_| status != "tobedeleted") {
            let name = row.fields.get(at).unwrap_or("").trim();
            // Sign-in counts attempts per lower-cased name: names that differ only in case
            // would share one account's limit, so they count as the same name.
            let folded = if name.chars().any(char::is_uppercase) {
                std::borrow::Cow::Owned(name.to_lowercase())
            } else {
                std::borrow::Cow::Borrowed(name)
            };
            if !name.is_empty() {
                match usernames.insert(&folded, seen) {
                    Ok(()) => {}
                    Err(NotAdded::Duplicate(first)) => problems.push(Problem::at(stored, row.line, Some("username"), format!("username {name:?} is already used on line {} (usernames are compared without regard to case); usernames must be unique", first.line))),
                    Err(NotAdded::Full) => {
                        problems.push(Problem::in_file(stored, "the usernames of this file pass 2 GiB of text, more than one import can take; split the roster"));
                        return found;
                    }
                }
            }
        }
        if let Some((Some(user), Some(role_type), Some(role), Some(org))) = role_columns
            && row.fields.get(role_type).map(str::trim) == Some("primary")
            && status != "tobedeleted"
        {
            let user = row.fields.get(user).unwrap_or("").trim().to_owned();
            let entry = (
                row.fields.get(role).unwrap_or("").trim().to_owned(),
                row.fields.get(org).unwrap_or("").trim().to_owned(),
            );
            found.primary_roles.entry(user).or_insert(entry);
        }
    }
    if mode == Mode::Bulk && ids.is_empty() {
        problems.push(Problem::in_file(
            stored,
            "a bulk file is the complete set, but this one has no rows (it would remove every record); export it again, or mark it absent in the manifest",
        ));
    }
    found
}

/// The Renkei role of a OneRoster role; `None` for extension roles (`ext:…`), which Renkei
/// cannot place and refuses rather than guess (a wrong guess would grant a teacher's view).
pub fn renkei_role(oneroster_role: &str) -> Option<Role> {
    match oneroster_role {
        "student" | "extStudent" => Some(Role::Student),
        "guardian" | "parent" | "relative" | "extGuardian" => Some(Role::Guardian),
        "administrator"
        | "districtAdministrator"
        | "siteAdministrator"
        | "systemAdministrator"
        | "principal"
        | "extAdministrator" => Some(Role::Administrator),
        "teacher" | "extTeacher" | "aide" | "proctor" | "externalProctor" | "counselor"
        | "creator" => Some(Role::Teacher),
        _ => None,
    }
}

/// What erasing departed people did.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Purged {
    /// People erased.
    pub erased: u64,
    /// They had left (been disabled) before this time (Unix seconds).
    pub disabled_before: i64,
}

/// Erases the people who left the board more than `retention_days` ago, with their roster
/// records, sessions and grants (the end of the retention period); audited (through `via`).
pub async fn purge_departed(
    store: &dyn Directory,
    audit: &AuditLog,
    via: &str,
    retention_days: u32,
) -> Result<Purged> {
    let disabled_before = now() - i64::from(retention_days) * 86_400;
    let erased = store.erase_departed(disabled_before).await?;
    let mut event = AuditEvent::admin(
        via,
        format!(
            "{} departed people erased (retention {retention_days} days)",
            erased.people
        ),
    );
    // The links of earlier events to the erased children went too; the chain says so (by
    // digest), so that `audit verify` tells this erasure from tampering.
    event.erased = erased
        .unlinked
        .iter()
        .map(|child| renkei_platform::audit::erased_child_digest(child))
        .collect();
    audit.append(event).await?;
    Ok(Purged {
        erased: erased.people,
        disabled_before,
    })
}

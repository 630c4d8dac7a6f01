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
pub mod profile;
pub mod record;
pub mod report;
pub mod rollover;
pub mod schema;
pub mod source;
mod write;

use renkei_platform::{AuditEvent, AuditLog};
use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::Arc;

pub use csvfile::{EncodingChoice, Encodings};
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
pub use rollover::{MassChange, Safeguard};
use schema::{FileKind, Target};
pub use source::Limits;
use source::Source;

/// How to run an import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Validate and count, but change nothing.
    pub dry_run: bool,
    /// How the files are encoded (one choice for all, or per file).
    pub encoding: Encodings,
    /// Problems listed at most (all are counted).
    pub max_problems: usize,
    /// Who runs the import (recorded).
    pub actor: String,
    /// How much is copied or unpacked at most.
    pub limits: Limits,
    /// When an import that disables or moves many accounts is held.
    pub safeguard: Safeguard,
    /// Apply an import even if it passes the safeguard's threshold: the id of the held import
    /// whose summary the operator has checked (the files must be the same, byte for byte).
    pub confirm_mass_change: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            encoding: Encodings::default(),
            max_problems: 100,
            actor: "cli".into(),
            limits: Limits::default(),
            safeguard: Safeguard::default(),
            confirm_mass_change: None,
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
    /// Files whose ids are not all known (the file could not be opened, has no sourcedId
    /// column, or has rows that could not be split into fields): already a problem, so a
    /// reference into one that finds nothing is not reported (each would repeat it).
    pub incomplete: std::collections::HashSet<FileKind>,
}

impl IdIndex {
    /// How a reference resolves: `Ok(true)` found in the files (or not to be checked: a file
    /// whose ids are not all known), `Ok(false)` must be looked up in the directory,
    /// `Err(reason)` cannot resolve.
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
            (None, _) if self.incomplete.contains(&kind) => Ok(true),
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
    let (encoding, cap, limits) = (
        options.encoding.clone(),
        options.max_problems,
        options.limits,
    );
    let clock = std::time::Instant::now();
    let prepared = tokio::task::spawn_blocking(move || prepare(&owned, &encoding, cap, limits))
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
        mass_change: None,
    };
    let (prepared, first_pass) = match prepared {
        Ok(prepared) => prepared,
        Err(problems) => {
            report.problem_count = problems.total();
            report.problems = problems.into_list();
            record(store, &report, &options.actor, &label, started, None).await?;
            return Ok(report);
        }
    };
    report.version = match prepared.manifest.profile {
        Some(profile) => profile.as_str(),
        None => prepared.manifest.version.as_str(),
    }
    .to_owned();
    report.folder = prepared.source.folder.clone();
    report.warnings = prepared
        .source
        .unused
        .iter()
        .map(|file| format!("{file} is not a file Renkei reads; it was left out"))
        .chain(prepared.warnings.iter().cloned())
        .collect();
    let mut tx = store.begin_import().await?;
    let outcome = write::apply(tx.as_mut(), &prepared, first_pass).await?;
    tracing::debug!(elapsed = ?clock.elapsed(), "import: second pass (rows written) done");
    for (kind, (mode, stored)) in &prepared.manifest.files {
        report.files.insert(
            stored.clone(),
            FileReport {
                mode: mode.as_str().to_owned(),
                sha256: prepared.checksums.get(kind).cloned().unwrap_or_default(),
                encoding: prepared
                    .decodings
                    .get(kind)
                    .map(|d| d.name().to_owned())
                    .unwrap_or_default(),
                changes: outcome.changes.get(kind).copied().unwrap_or_default(),
            },
        );
    }
    if !outcome.problems.is_empty() {
        drop(tx);
        // What was written before the first problem was rolled back: no file changed.
        for file in report.files.values_mut() {
            file.changes = Changes::default();
        }
        report.problem_count = outcome.problems.total();
        report.problems = outcome.problems.into_list();
        record(store, &report, &options.actor, &label, started, None).await?;
        return Ok(report);
    }
    report.mass_change =
        MassChange::of(outcome.leaving, &outcome.accounts_before, options.safeguard);
    let held = report
        .mass_change
        .as_ref()
        .is_some_and(|change| change.exceeds_threshold)
        && !confirms(tx.as_mut(), options, &mut report).await?;
    report.outcome = match (options.dry_run, held) {
        (true, _) => "dry-run",
        (false, true) => "held",
        (false, false) => "applied",
    };
    if options.dry_run || held {
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

/// Whether `--confirm-mass-change` names a held import of exactly these files (the same names
/// and SHA-256s), so that what is applied is what the operator checked; otherwise the report
/// says why the confirmation does not count.
async fn confirms(
    tx: &mut dyn crate::store::roster::ImportTx,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<bool> {
    let Some(id) = options.confirm_mass_change.as_deref() else {
        return Ok(false);
    };
    let held = tx.import_record(id).await?;
    let same_files = |summary: &str| {
        let Ok(earlier) = serde_json::from_str::<serde_json::Value>(summary) else {
            return false;
        };
        let checksums: BTreeMap<&str, &str> = report
            .files
            .iter()
            .map(|(name, file)| (name.as_str(), file.sha256.as_str()))
            .collect();
        let earlier: Option<BTreeMap<&str, &str>> = earlier["files"].as_object().map(|files| {
            files
                .iter()
                .map(|(name, file)| (name.as_str(), file["sha256"].as_str().unwrap_or("")))
                .collect()
        });
        earlier == Some(checksums)
    };
    let why = match held {
        Some(record) if record.outcome == "held" && same_files(&record.summary) => return Ok(true),
        Some(record) if record.outcome == "held" => format!(
            "--confirm-mass-change names import {id}, which was held with other files (they have changed since); this import is held in its turn: check its summary"
        ),
        Some(record) => format!(
            "--confirm-mass-change names import {id}, which was {}, not held; name the held import whose summary you checked",
            record.outcome
        ),
        None => format!(
            "--confirm-mass-change names import {id}, which is not a recorded import; name the held import whose summary you checked"
        ),
    };
    report.warnings.push(why);
    Ok(false)
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
    /// How each file is decoded, as the first pass settled it.
    decodings: HashMap<FileKind, csvfile::Decoding>,
    /// Files whose rows cannot be read at all (not opened, or no sourcedId column).
    unreadable: std::collections::HashSet<FileKind>,
    /// What the headers left out (unknown columns, trailing empty ones).
    warnings: Vec<String>,
}

/// First pass: manifest, encodings, headers, checksums, ids, duplicates. The files are
/// scanned in parallel (a board's users.csv and enrollments.csv hold most of its rows). Its
/// problems come back beside what it prepared, so that the second pass still checks every row;
/// only a file set without a readable manifest cannot go on.
fn prepare(
    path: &Path,
    encodings: &Encodings,
    cap: usize,
    limits: Limits,
) -> std::result::Result<(Prepared, Problems), Problems> {
    let fail = |list: Vec<Problem>| {
        let mut problems = Problems::with_cap(cap);
        list.into_iter().for_each(|p| problems.push(p));
        problems
    };
    let source = Source::open(path, limits).map_err(|p| fail(vec![p]))?;
    let (manifest, manifest_problems) = manifest::read(&source, encodings).map_err(fail)?;
    let scans: Vec<(FileKind, Mode, Scan)> = std::thread::scope(|scope| {
        let handles: Vec<_> = manifest
            .files
            .iter()
            .map(|(&kind, (mode, stored))| {
                let (source, version, mode) = (&source, manifest.version, *mode);
                let encoding = encodings.for_file(stored);
                let profile = manifest.profile;
                let handle = scope.spawn(move || {
                    scan(source, kind, mode, stored, encoding, version, profile, cap)
                });
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
    let mut index = IdIndex {
        incomplete: manifest.unreadable.iter().copied().collect(),
        ..IdIndex::default()
    };
    let mut checksums = HashMap::new();
    let mut warnings: Vec<String> = encodings
        .files
        .keys()
        .filter(|name| source.find(name).is_none())
        .map(|name| format!("--encoding names {name}, which is not among the files this import reads; it was not used"))
        .collect();
    let mut decodings = HashMap::new();
    let mut unreadable = std::collections::HashSet::new();
    for (kind, mode, scan) in scans {
        problems.append(scan.problems);
        warnings.extend(scan.warnings);
        index.modes.insert(kind, mode);
        index.files.insert(kind, scan.ids);
        index.primary_roles.extend(scan.primary_roles);
        if let Some(sum) = scan.checksum {
            checksums.insert(kind, sum);
        }
        if let Some(decoding) = scan.decoding {
            decodings.insert(kind, decoding);
        }
        if !scan.readable {
            unreadable.insert(kind);
        }
        if !scan.readable || !scan.complete {
            index.incomplete.insert(kind);
        }
    }
    let prepared = Prepared {
        source,
        manifest,
        checksums,
        index: Arc::new(index),
        decodings,
        unreadable,
        warnings,
    };
    Ok((prepared, problems))
}

/// What the first pass found in one file.
struct Scan {
    ids: IdSet,
    primary_roles: FxHashMap<String, (String, String)>,
    checksum: Option<String>,
    decoding: Option<csvfile::Decoding>,
    /// Whether its rows could be read (it opened and has a sourcedId column).
    readable: bool,
    /// Whether every row's id is known (no row was unreadable).
    complete: bool,
    problems: Problems,
    warnings: Vec<String>,
}

impl Scan {
    fn new(cap: usize) -> Self {
        Self {
            ids: IdSet::default(),
            primary_roles: FxHashMap::default(),
            checksum: None,
            decoding: None,
            readable: false,
            complete: true,
            problems: Problems::with_cap(cap),
            warnings: Vec::new(),
        }
    }
}

/// Scans one file: its checksum, headers, every sourcedId (duplicates are problems), unique
/// usernames (users.csv; and under the Japan profile unique userMasterIdentifiers) and primary
/// roles (roles.csv).
#[allow(clippy::too_many_arguments)]
fn scan(
    source: &Source,
    kind: FileKind,
    mode: Mode,
    stored: &str,
    encoding: EncodingChoice,
    version: schema::Version,
    profile: Option<profile::Profile>,
    cap: usize,
) -> Scan {
    let mut found = Scan::new(cap);
    let problems = &mut found.problems;
    let decoding = match csvfile::Decoding::inspect(source, stored, encoding) {
        Ok((sum, decoding)) => {
            found.checksum = Some(sum);
            found.decoding = Some(decoding);
            decoding
        }
        Err(p) => {
            problems.push(p);
            return found;
        }
    };
    let mut csv = match csvfile::CsvFile::open_decoded(source, stored, decoding) {
        Ok(csv) => csv,
        Err(p) => {
            problems.push(p);
            return found;
        }
    };
    let layout = match Layout::new(kind, stored, &csv.headers, version) {
        Ok((layout, header_problems)) => {
            header_problems.into_iter().for_each(|p| problems.push(p));
            layout
        }
        Err(list) => {
            list.into_iter().for_each(|p| problems.push(p));
            return found;
        }
    };
    found.readable = true;
    found.warnings.clone_from(&layout.warnings);
    let problems = &mut found.problems;
    let column = |name: &str| {
        csv.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    };
    let username_at = column("username").filter(|_| kind == FileKind::Users);
    let master_at = column("userMasterIdentifier")
        .filter(|_| kind == FileKind::Users && profile == Some(profile::Profile::JapanK12));
    let mut masters = IdSet::default();
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
    let mut rows = 0u64;
    while let Some(row) = csv.next_row() {
        rows += 1;
        let row = match row {
            Ok(mut row) => {
                if let Some(p) = row.undecodable.take() {
                    problems.push(p);
                }
                row
            }
            Err(p) => {
                // The row could not be split into its fields: its id is unknown, so references
                // into this file that find nothing are not reported (this problem explains them).
                problems.push(p);
                found.complete = false;
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
            // Sign-in counts attempts per folded name: names that differ only in case would
            // share one account's limit, so they count as the same name.
            let folded = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                std::borrow::Cow::Owned(crate::store::roster::fold_username(name))
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
        if let Some(at) = master_at.filter(|_| status != "tobedeleted") {
            let master = row.fields.get(at).unwrap_or("").trim().to_ascii_lowercase();
            if !master.is_empty()
                && let Err(NotAdded::Duplicate(first)) = masters.insert(&master, seen)
            {
                problems.push(Problem::at(stored, row.line, Some("userMasterIdentifier"), format!("userMasterIdentifier {master:?} is already used on line {}; each person has their own (1.2_JP)", first.line)));
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
    if mode == Mode::Bulk && rows == 0 {
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

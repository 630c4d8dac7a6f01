//! The second pass of an import: convert and check every row, and write it inside the import's
//! transaction; then sweep what a bulk file no longer lists and check references that point
//! into the existing directory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::manifest::Mode;
use super::profile;
use super::record::{self, Layout, Record};
use super::report::{Changes, Problem, Problems};
use super::rollover::Leaving;
use super::schema::{FileKind, Target, Version};
use super::{IdIndex, Prepared, renkei_role};
use crate::error::{Error, Result};
use crate::store::roster::{
    AccountRow, DirectoryRow, ImportTx, Table, Upserted, fold_username, tables,
};
use renkei_platform::clock::now;
use renkei_platform::crypto::{hash_password, verify_password};

/// Rows written per statement.
const BATCH: usize = 500;

/// What the second pass found and did.
pub struct Outcome {
    /// Per file, what changed.
    pub changes: HashMap<FileKind, Changes>,
    /// Problems; when any, the transaction must be rolled back.
    pub problems: Problems,
    /// Accounts disabled or moved to another school, for the mass-change safeguard.
    pub leaving: Leaving,
    /// Accounts that could sign in before, per school (read only when users.csv is imported).
    pub accounts_before: HashMap<Option<String>, u64>,
}

/// Which usernames are taken before a users.csv is written.
enum Taken {
    /// The roster has no accounts yet: only these (folded), of accounts made outside it,
    /// each with its name as stored.
    Outside(HashMap<String, String>),
    /// Look each batch's usernames up.
    LookUp,
}

/// One record of a file, ready for storage: built on the reader's thread, so that the writer
/// only binds values while the next rows are read and converted.
enum Row {
    /// A `tobedeleted` record: its sourcedId.
    Removed(String),
    /// A roster record other than a person.
    Directory(DirectoryRow),
    /// A person, to become an account.
    Account(Box<AccountDraft>),
}

/// A person from users.csv, as far as the files tell; [`AccountDraft::finish`] completes it
/// with what only the directory knows.
struct AccountDraft {
    /// Line in the file.
    line: u64,
    /// The account, its role and school still to be settled.
    row: AccountRow,
    /// The roster's password, to hash.
    password: Option<String>,
    /// OneRoster 1.1: the `role` column.
    role_column: Option<String>,
    /// OneRoster 1.2: the primary role and org from roles.csv, if it lists one.
    primary: Option<(String, String)>,
    /// `primaryOrg`, and the first of `orgs`.
    primary_org: Option<String>,
    first_org: Option<String>,
    /// The person's agents (guardians of a child, children of a guardian).
    agents: Vec<String>,
}

impl AccountDraft {
    /// Settles role and school: from the files, else from the role the directory has (1.2).
    fn finish(
        mut self,
        version: Version,
        stored: Option<&(String, String)>,
        file: &str,
    ) -> std::result::Result<(AccountRow, Option<String>, Vec<String>), Problem> {
        let primary = self.primary.as_ref().or(stored);
        if version == Version::V1_2 && primary.is_none() {
            return Err(Problem::at(
                file,
                self.line,
                None,
                "this user has no primary role, neither in roles.csv nor in the directory; add a roles.csv row with roleType primary",
            ));
        }
        let oneroster_role = match version {
            Version::V1_1 => self.role_column.take(),
            Version::V1_2 => primary.map(|(role, _)| role.clone()),
        };
        self.row.school_id = self
            .primary_org
            .take()
            .or_else(|| primary.map(|(_, org)| org.clone()))
            .or_else(|| self.first_org.take());
        if let Some(role) = oneroster_role {
            self.row.role = match renkei_role(&role) {
                Some(mapped) => mapped.as_str().to_owned(),
                None => {
                    return Err(Problem::at(
                        file,
                        self.line,
                        Some("role"),
                        format!(
                            "the extension role {role:?} has no Renkei equivalent; give the person a OneRoster role (student, teacher, parent, administrator, …)"
                        ),
                    ));
                }
            };
        }
        Ok((self.row, self.password, self.agents))
    }
}

struct Batch {
    rows: Vec<Row>,
    /// References to look up in the directory, with the problem to report if they are not
    /// there.
    pending: Vec<((Target, String), Problem)>,
    problems: Vec<Problem>,
    /// Set on the reader's final batch: a channel that closes without it means the reader
    /// failed, and the import must not go on as if the file had ended.
    last: bool,
}

impl Batch {
    fn new() -> Self {
        Self {
            rows: Vec::with_capacity(BATCH),
            pending: Vec::new(),
            problems: Vec::new(),
            last: false,
        }
    }
}

/// Runs the second pass over every file, in dependency order, after the first pass found
/// `problems`. Rows are written only while no problem has been found; every row is checked
/// either way, so that one run lists every problem, except records left pointing at removed
/// ones, which need the directory as the import leaves it and are checked once nothing else
/// is wrong.
pub async fn apply(
    tx: &mut dyn ImportTx,
    prepared: &Prepared,
    problems: Problems,
) -> Result<Outcome> {
    let accounts_before = if prepared.manifest.files.contains_key(&FileKind::Users) {
        tx.enabled_accounts_by_school().await?
    } else {
        HashMap::new()
    };
    let mut outcome = Outcome {
        changes: HashMap::new(),
        problems,
        leaving: Leaving::default(),
        accounts_before,
    };
    let mut removed: HashMap<FileKind, Vec<String>> = HashMap::new();
    let stamp: Arc<str> = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::internal(e.to_string()))?
        .into();
    for (&kind, (mode, stored)) in &prepared.manifest.files {
        if prepared.unreadable.contains(&kind) {
            continue;
        }
        let mut changes = Changes::default();
        // A table that holds no roster record yet (a board's first import) needs no look-ups
        // to tell new rows from changed ones, nor a sweep.
        let all_new = !tx.holds_records(table(kind)).await?
            && (kind != FileKind::Users || !tx.holds_records(&tables::USER_AGENTS).await?);
        let taken = if all_new && kind == FileKind::Users {
            Taken::Outside(tx.usernames_outside_roster().await?)
        } else {
            Taken::LookUp
        };
        let mut receiver = spawn_reader(prepared, kind, stored.clone(), stamp.clone());
        let mut finished = false;
        while let Some(batch) = receiver.recv().await {
            finished |= batch.last;
            for problem in batch.problems {
                outcome.problems.push(problem);
            }
            changes.rows += batch.rows.len() as u64;
            // Ids that are not in the files are not written by this import either: the
            // directory as it is answers for them, batch by batch, in bounded memory.
            check_in_directory(tx, batch.pending, &mut outcome.problems).await?;
            let writing = outcome.problems.is_empty();
            if writing && is_referred_to(kind) {
                removed
                    .entry(kind)
                    .or_default()
                    .extend(batch.rows.iter().filter_map(|row| match row {
                        Row::Removed(id) => Some(id.clone()),
                        _ => None,
                    }));
            }
            let problems = write_batch(
                tx,
                prepared,
                kind,
                stored,
                batch.rows,
                &stamp,
                all_new,
                &taken,
                &mut changes,
                &mut outcome.leaving,
                writing,
            )
            .await?;
            for problem in problems {
                outcome.problems.push(problem);
            }
        }
        changes.unchanged = changes
            .rows
            .saturating_sub(changes.created + changes.updated + changes.deleted);
        if !finished {
            return Err(Error::internal(format!(
                "reading {stored} stopped before its end"
            )));
        }
        if *mode == Mode::Bulk && !all_new && outcome.problems.is_empty() {
            let gone = sweep(tx, &prepared.index, kind, &stamp, &mut outcome.leaving).await?;
            changes.deleted += gone.1;
            if is_referred_to(kind) {
                removed.entry(kind).or_default().extend(gone.0);
            }
        }
        tracing::debug!(file = %stored, "import: file written");
        outcome.changes.insert(kind, changes);
    }
    if outcome.problems.is_empty() {
        check_dependants(tx, &removed, &mut outcome.problems).await?;
    }
    Ok(outcome)
}

/// The roster's structural references, by column: (dependant file, its SQL column, its CSV
/// column, the file it points into). Gradebook records (lineItems, results) are history: they
/// go on naming last year's classes and departed pupils, so they are not listed. A class's
/// terms and a user's organisations (lists inside the records; a user's are checked against
/// orgs.csv whenever users.csv is imported) are not listed either.
const DEPENDANTS: &[(FileKind, &str, &str, FileKind)] = &[
    (
        FileKind::Orgs,
        "parent_id",
        "parentSourcedId",
        FileKind::Orgs,
    ),
    (
        FileKind::AcademicSessions,
        "parent_id",
        "parentSourcedId",
        FileKind::AcademicSessions,
    ),
    (FileKind::Courses, "org_id", "orgSourcedId", FileKind::Orgs),
    (
        FileKind::Courses,
        "school_year_id",
        "schoolYearSourcedId",
        FileKind::AcademicSessions,
    ),
    (
        FileKind::Classes,
        "school_id",
        "schoolSourcedId",
        FileKind::Orgs,
    ),
    (
        FileKind::Classes,
        "course_id",
        "courseSourcedId",
        FileKind::Courses,
    ),
    (
        FileKind::Enrollments,
        "class_id",
        "classSourcedId",
        FileKind::Classes,
    ),
    (
        FileKind::Enrollments,
        "school_id",
        "schoolSourcedId",
        FileKind::Orgs,
    ),
    (
        FileKind::Enrollments,
        "user_id",
        "userSourcedId",
        FileKind::Users,
    ),
    (FileKind::Roles, "user_id", "userSourcedId", FileKind::Users),
    (FileKind::Roles, "org_id", "orgSourcedId", FileKind::Orgs),
    (
        FileKind::UserProfiles,
        "user_id",
        "userSourcedId",
        FileKind::Users,
    ),
    (
        FileKind::Demographics,
        "sourced_id",
        "sourcedId",
        FileKind::Users,
    ),
];

/// Whether records of `kind` are referred to by others (their removals are kept, to check).
fn is_referred_to(kind: FileKind) -> bool {
    DEPENDANTS.iter().any(|(_, _, _, target)| *target == kind)
}

/// Records shown per dangling reference problem.
const DEPENDANTS_SHOWN: usize = 5;

/// A removal must not leave records pointing at what it removed: after every file is
/// written, records still active in the directory that refer to a record this import
/// removed (marked `tobedeleted`, or left out of a bulk file) are problems. The fix is to
/// remove them in the same import (OneRoster leaves them to the export, so Renkei does not
/// guess), or to keep what they point to.
async fn check_dependants(
    tx: &mut dyn ImportTx,
    removed: &HashMap<FileKind, Vec<String>>,
    problems: &mut Problems,
) -> Result<()> {
    for &(dependant, column, header, target) in DEPENDANTS {
        let Some(ids) = removed.get(&target).filter(|ids| !ids.is_empty()) else {
            continue;
        };
        let mut count = 0u64;
        let mut shown = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let (found, examples) = tx
                .active_referring(table(dependant), column, chunk, DEPENDANTS_SHOWN)
                .await?;
            count += found;
            shown.extend(examples);
        }
        if count == 0 {
            continue;
        }
        shown.truncate(DEPENDANTS_SHOWN);
        let named: Vec<String> = shown
            .iter()
            .map(|(record, points_to)| format!("{record} → {points_to}"))
            .collect();
        let more = count.saturating_sub(named.len() as u64);
        let file = format!("{}.csv", dependant.base_name());
        let removed_from = format!("{}.csv", target.base_name());
        let mut problem = Problem::in_file(
            &file,
            format!(
                "{count} record(s) still active in the directory refer to records this import removes from {removed_from} ({}{}); remove them in the same import (status tobedeleted in a delta {file}, or leave them out of a bulk one), or keep what they refer to",
                named.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            ),
        );
        problem.column = Some(header.to_owned());
        problems.push(problem);
    }
    Ok(())
}

/// Reads, converts and checks one file on a thread of its own, sending batches of rows ready
/// for storage.
fn spawn_reader(
    prepared: &Prepared,
    kind: FileKind,
    stored: String,
    stamp: Arc<str>,
) -> tokio::sync::mpsc::Receiver<Batch> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Batch>(4);
    let index: Arc<IdIndex> = prepared.index.clone();
    let version = prepared.manifest.version;
    let profile = prepared.manifest.profile;
    let opened = match prepared.decodings.get(&kind) {
        Some(decoding) => {
            super::csvfile::CsvFile::open_decoded(&prepared.source, &stored, *decoding)
        }
        None => Err(Problem::in_file(&stored, "the file could not be read")),
    };
    std::thread::spawn(move || {
        let mut csv = match opened {
            Ok(csv) => csv,
            Err(problem) => {
                let _ = sender.blocking_send(Batch {
                    problems: vec![problem],
                    last: true,
                    ..Batch::new()
                });
                return;
            }
        };
        // The header's problems were reported by the first pass.
        let layout = match Layout::new(kind, &stored, &csv.headers, version) {
            Ok((layout, _)) => layout,
            Err(problems) => {
                let _ = sender.blocking_send(Batch {
                    problems,
                    last: true,
                    ..Batch::new()
                });
                return;
            }
        };
        let mut batch = Batch::new();
        while let Some(row) = csv.next_row() {
            // A row that cannot be split into fields was reported by the first pass, which
            // read the same bytes.
            if let Ok(row) = row {
                let (record, mut problems) =
                    record::convert(&layout, &stored, row.line, row.fields, version);
                if profile.is_some() && problems.is_empty() {
                    problems.extend(profile::check(kind, &record).into_iter().map(
                        |(column, reason)| {
                            Problem::at(&stored, row.line, Some(column.as_str()), reason)
                        },
                    ));
                }
                check_record(&index, kind, &stored, &record, &mut batch);
                if problems.is_empty() {
                    batch.rows.push(storage_row(kind, record, &index, &stamp));
                } else {
                    batch.problems.extend(problems);
                }
            }
            if batch.rows.len() >= BATCH
                || batch.problems.len() >= BATCH
                || batch.pending.len() >= BATCH
            {
                let full = std::mem::replace(&mut batch, Batch::new());
                if sender.blocking_send(full).is_err() {
                    return;
                }
            }
        }
        batch.last = true;
        let _ = sender.blocking_send(batch);
    });
    receiver
}

/// References that cannot resolve or must be looked up in the directory, and rules across
/// fields.
fn check_record(index: &IdIndex, kind: FileKind, file: &str, record: &Record, batch: &mut Batch) {
    if record.status == "tobedeleted" {
        return;
    }
    for reference in &record.references {
        match index.resolve(reference.target, &reference.id) {
            Ok(true) => {}
            Ok(false) => batch.pending.push((
                (reference.target, reference.id.clone()),
                Problem::at(
                    file,
                    record.line,
                    Some(reference.column),
                    format!(
                        "refers to {:?}, which is neither in the files nor in the directory",
                        reference.id
                    ),
                ),
            )),
            Err(reason) => batch.problems.push(Problem::at(
                file,
                record.line,
                Some(reference.column),
                reason,
            )),
        }
    }
    // A bulk roles.csv is the complete set: every user needs a primary role in it.
    if kind == FileKind::Users
        && index.modes.get(&FileKind::Roles) == Some(&Mode::Bulk)
        && !index.incomplete.contains(&FileKind::Roles)
        && !index.primary_roles.contains_key(&record.sourced_id)
    {
        batch.problems.push(Problem::at(
            file,
            record.line,
            None,
            "this user has no primary role in roles.csv; add a roles.csv row with roleType primary",
        ));
    }
}
/// The roster table of a file.
fn table(kind: FileKind) -> &'static Table {
    match kind {
        FileKind::Orgs => &tables::ORGS,
        FileKind::AcademicSessions => &tables::ACADEMIC_SESSIONS,
        FileKind::Courses => &tables::COURSES,
        FileKind::Classes => &tables::CLASSES,
        FileKind::Users => &tables::USERS,
        FileKind::UserProfiles => &tables::USER_PROFILES,
        FileKind::Roles => &tables::ROLES,
        FileKind::Enrollments => &tables::ENROLLMENTS,
        FileKind::Demographics => &tables::DEMOGRAPHICS,
        FileKind::Categories => &tables::CATEGORIES,
        FileKind::LineItems => &tables::LINE_ITEMS,
        FileKind::Results => &tables::RESULTS,
    }
}

/// Values of a table's join/filter columns, taken from the record.
fn extras(kind: FileKind, record: &Record) -> Vec<Option<String>> {
    let text = |field: &str| record.text(field).map(str::to_owned);
    let reference = |field: &str| record.reference(field).map(str::to_owned);
    match kind {
        FileKind::Orgs => vec![text("name"), text("type"), reference("parent")],
        FileKind::AcademicSessions => vec![text("type"), reference("parent"), text("schoolYear")],
        FileKind::Courses => vec![reference("org"), reference("schoolYear")],
        FileKind::Classes => vec![
            reference("school"),
            reference("course"),
            text("classType"),
            text("title"),
        ],
        FileKind::Enrollments => vec![
            reference("class"),
            reference("school"),
            reference("user"),
            text("role"),
        ],
        FileKind::Roles => vec![
            reference("user"),
            reference("org"),
            text("roleType"),
            text("role"),
        ],
        FileKind::UserProfiles => vec![reference("user")],
        FileKind::LineItems => vec![reference("class"), reference("category")],
        FileKind::Results => vec![reference("lineItem"), reference("student")],
        FileKind::Users | FileKind::Demographics | FileKind::Categories => vec![],
    }
}

/// The record as it is stored: a directory row, an account draft, or a removal.
fn storage_row(kind: FileKind, record: Record, index: &IdIndex, stamp: &str) -> Row {
    if record.status == "tobedeleted" {
        return Row::Removed(record.sourced_id);
    }
    let date_last_modified = Some(
        record
            .date_last_modified
            .clone()
            .unwrap_or_else(|| stamp.to_owned()),
    );
    let data = serde_json::to_string(&record.json).unwrap_or_default();
    if kind != FileKind::Users {
        return Row::Directory(DirectoryRow {
            extra: extras(kind, &record),
            sourced_id: record.sourced_id,
            status: record.status,
            date_last_modified,
            data,
        });
    }
    let text = |field: &str| record.text(field).map(str::to_owned);
    let kana = |key: &str| {
        record
            .metadata(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let json = &record.json;
    let enabled = json
        .get("enabledUser")
        .and_then(Value::as_bool)
        .unwrap_or(true)
        && record.status == "active";
    let row = AccountRow {
        // Time-ordered (v7): a board's accounts are appended to the id index instead of
        // landing on random pages of it, which made large imports thrash the page cache.
        id: uuid::Uuid::now_v7().to_string(),
        sourced_id: record.sourced_id.clone(),
        username: text("username").unwrap_or_default(),
        role: String::new(),
        given_name: text("givenName"),
        family_name: text("familyName"),
        given_name_kana: kana("jp.kanaGivenName"),
        family_name_kana: kana("jp.kanaFamilyName"),
        email: text("email"),
        password_hash: None,
        school_id: None,
        grade: json
            .get("grades")
            .and_then(|g| g.get(0))
            .and_then(Value::as_str)
            .map(str::to_owned),
        enabled,
        status: record.status.clone(),
        date_last_modified,
        data,
    };
    Row::Account(Box::new(AccountDraft {
        line: record.line,
        primary: index.primary_roles.get(&record.sourced_id).cloned(),
        role_column: text("role"),
        primary_org: record.reference("primaryOrg").map(str::to_owned),
        first_org: record
            .reference_list("orgs")
            .first()
            .map(|o| (*o).to_owned()),
        agents: record
            .reference_list("agents")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        password: record.password,
        row,
    }))
}

/// Writes a batch of rows, or with `writing` false (a problem was found already) only checks
/// what needs the directory (usernames taken).
#[allow(clippy::too_many_arguments)]
async fn write_batch(
    tx: &mut dyn ImportTx,
    prepared: &Prepared,
    kind: FileKind,
    file: &str,
    rows: Vec<Row>,
    stamp: &str,
    all_new: bool,
    taken: &Taken,
    changes: &mut Changes,
    leaving: &mut Leaving,
    writing: bool,
) -> Result<Vec<Problem>> {
    let mut removed = Vec::new();
    let mut directory = Vec::new();
    let mut accounts = Vec::new();
    for row in rows {
        match row {
            Row::Removed(id) => removed.push(id),
            Row::Directory(row) => directory.push(row),
            Row::Account(draft) => accounts.push(*draft),
        }
    }
    if kind == FileKind::Users {
        let mut problems = usernames_taken(tx, file, &accounts, taken).await?;
        let mut settled = settle_users(tx, prepared, file, accounts).await?;
        problems.extend(std::mem::take(&mut settled.problems));
        if !writing || !problems.is_empty() {
            return Ok(problems);
        }
        write_users(tx, settled, all_new, changes, leaving).await?;
        changes.deleted += remove_accounts(tx, &removed, leaving).await?;
        return Ok(problems);
    }
    if !writing {
        return Ok(Vec::new());
    }
    let Upserted { created, updated } = tx.upsert(table(kind), &directory, all_new).await?;
    changes.created += created;
    changes.updated += updated;
    changes.deleted += tx.mark_deleted(table(kind), &removed, stamp).await?;
    Ok(Vec::new())
}

/// Usernames of the batch that another account holds already.
async fn usernames_taken(
    tx: &mut dyn ImportTx,
    file: &str,
    drafts: &[AccountDraft],
    taken: &Taken,
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let usernames = drafts
        .iter()
        .filter(|d| !d.row.username.is_empty())
        .map(|d| &d.row.username);
    let owners: HashMap<String, Vec<(String, Option<String>)>> = match taken {
        Taken::Outside(names) => usernames
            .filter_map(|name| {
                let folded = fold_username(name);
                names
                    .get(&folded)
                    .map(|held| (folded, vec![(held.clone(), None)]))
            })
            .collect(),
        Taken::LookUp => {
            let usernames: Vec<String> = usernames.cloned().collect();
            tx.username_owners(&usernames).await?
        }
    };
    for draft in drafts {
        let name = &draft.row.username;
        let Some((held, owner)) = owners.get(&fold_username(name)).and_then(|holders| {
            holders
                .iter()
                .find(|(_, owner)| owner.as_deref() != Some(draft.row.sourced_id.as_str()))
        }) else {
            continue;
        };
        let whose = match owner {
            Some(other) => format!("the roster user {other:?}"),
            None => "an account created outside the roster".to_owned(),
        };
        let spelled = if held == name {
            String::new()
        } else {
            format!(" as {held:?} (usernames are compared without regard to case)")
        };
        problems.push(Problem::at(
            file,
            draft.line,
            Some("username"),
            format!(
                "username {name:?} already belongs to {whose}{spelled}; choose another username"
            ),
        ));
    }
    Ok(problems)
}

/// People of a batch settled as accounts (with the roster's passwords, by index, and the
/// guardian links), and the problems of those that cannot become one.
struct Settled {
    accounts: Vec<AccountRow>,
    passwords: Vec<(usize, String)>,
    agents: Vec<(String, String)>,
    problems: Vec<Problem>,
}

/// Settles each person's role and school (reading the directory, writing nothing).
async fn settle_users(
    tx: &mut dyn ImportTx,
    prepared: &Prepared,
    file: &str,
    drafts: Vec<AccountDraft>,
) -> Result<Settled> {
    let mut problems = Vec::new();
    let version = prepared.manifest.version;
    // OneRoster 1.2: a user whose primary role is not in this import's roles.csv keeps the one
    // the directory has; a user with none anywhere cannot become an account.
    let missing: Vec<String> = drafts
        .iter()
        .filter(|d| version == Version::V1_2 && d.primary.is_none())
        .map(|d| d.row.sourced_id.clone())
        .collect();
    let stored_roles = if missing.is_empty() {
        HashMap::new()
    } else {
        tx.primary_roles(&missing).await?
    };
    let mut accounts = Vec::with_capacity(drafts.len());
    let mut passwords = Vec::new();
    let mut agents = Vec::new();
    for draft in drafts {
        let stored = stored_roles.get(&draft.row.sourced_id);
        match draft.finish(version, stored, file) {
            Ok((row, password, of)) => {
                for agent in of {
                    agents.push((row.sourced_id.clone(), agent));
                }
                if let Some(password) = password {
                    passwords.push((accounts.len(), password));
                }
                accounts.push(row);
            }
            Err(problem) => problems.push(problem),
        }
    }
    Ok(Settled {
        accounts,
        passwords,
        agents,
        problems,
    })
}

/// Writes settled people as accounts: hashes new roster passwords, notes who leaves a school
/// (for the mass-change safeguard), and replaces their guardian links.
async fn write_users(
    tx: &mut dyn ImportTx,
    settled: Settled,
    all_new: bool,
    changes: &mut Changes,
    leaving: &mut Leaving,
) -> Result<()> {
    let Settled {
        mut accounts,
        passwords,
        agents,
        ..
    } = settled;
    if !passwords.is_empty() {
        let ids: Vec<String> = passwords
            .iter()
            .map(|(i, _)| accounts[*i].sourced_id.clone())
            .collect();
        let stored = tx.password_hashes(&ids).await?;
        let work: Vec<(usize, String, Option<String>)> = passwords
            .into_iter()
            .map(|(i, password)| {
                let last = stored.get(&accounts[i].sourced_id).cloned().flatten();
                (i, password, last)
            })
            .collect();
        let hashes = tokio::task::spawn_blocking(move || hash_passwords(work))
            .await
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))??;
        for (i, hash) in hashes {
            accounts[i].password_hash = hash;
        }
    }
    if !all_new {
        let ids: Vec<String> = accounts.iter().map(|a| a.sourced_id.clone()).collect();
        let places = tx.account_places(&ids).await?;
        for account in &accounts {
            if let Some(before) = places.get(&account.sourced_id) {
                let after = (account.school_id.as_deref(), account.enabled);
                leaving.note(&account.sourced_id, before, Some(after));
            }
        }
    }
    let Upserted { created, updated } = tx.upsert_accounts(&accounts, now(), all_new).await?;
    changes.created += created;
    changes.updated += updated;
    let ids: Vec<String> = accounts.iter().map(|a| a.sourced_id.clone()).collect();
    tx.replace_agents(&ids, &agents, all_new).await?;
    Ok(())
}

/// For each password from the roster: nothing to do if it is the password the roster gave last
/// time (so that importing the same file again changes nothing, and a password the person has
/// changed since stays), otherwise hash it with Argon2id. Runs on every core.
fn hash_passwords(
    work: Vec<(usize, String, Option<String>)>,
) -> Result<HashMap<usize, Option<String>>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let chunk = work.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(i, password, last_from_roster)| match last_from_roster {
                            // The roster repeats the password it gave before: keep whatever the
                            // person has now (they may have changed it).
                            Some(hash) if verify_password(password, hash) => (*i, None),
                            _ => (*i, Some(hash_password(password))),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut hashes = HashMap::new();
        for handle in handles {
            hashes.extend(
                handle
                    .join()
                    .map_err(|_| Error::internal("password hashing failed"))?,
            );
        }
        Ok(hashes)
    })
}

/// After a bulk file: records of its kind that it no longer lists are removed (logically:
/// `tobedeleted`; people are disabled, not erased). Returns their ids and how many changed.
async fn sweep(
    tx: &mut dyn ImportTx,
    index: &IdIndex,
    kind: FileKind,
    stamp: &str,
    leaving: &mut Leaving,
) -> Result<(Vec<String>, u64)> {
    let listed = index.files.get(&kind);
    let table = table(kind);
    let gone: Vec<String> = tx
        .all_ids(table)
        .await?
        .into_iter()
        .filter(|id| !listed.is_some_and(|ids| ids.contains(id)))
        .collect();
    let removed = if kind == FileKind::Users {
        remove_accounts(tx, &gone, leaving).await?
    } else {
        tx.mark_deleted(table, &gone, stamp).await?
    };
    Ok((gone, removed))
}

/// Removes roster accounts (see [`ImportTx::remove_accounts`]), noting those that could sign in.
async fn remove_accounts(
    tx: &mut dyn ImportTx,
    sourced_ids: &[String],
    leaving: &mut Leaving,
) -> Result<u64> {
    if sourced_ids.is_empty() {
        return Ok(0);
    }
    let places = tx.account_places(sourced_ids).await?;
    for id in sourced_ids {
        if let Some(before) = places.get(id) {
            leaving.note(id, before, None);
        }
    }
    Ok(tx.remove_accounts(sourced_ids, now()).await?)
}

/// References to records that are not in the files must exist in the directory (and not be
/// `tobedeleted`); each one that does not is a problem where it is made.
async fn check_in_directory(
    tx: &mut dyn ImportTx,
    pending: Vec<((Target, String), Problem)>,
    problems: &mut Problems,
) -> Result<()> {
    let mut by_target: BTreeMap<Target, Vec<(String, Problem)>> = BTreeMap::new();
    for ((target, id), problem) in pending {
        by_target.entry(target).or_default().push((id, problem));
    }
    for (target, entries) in by_target {
        let Some(kind) = FileKind::of_target(target) else {
            continue;
        };
        let mut ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(BATCH) {
            found.extend(tx.existing_active(table(kind), chunk).await?);
        }
        for (id, problem) in entries {
            if !found.contains(&id) {
                problems.push(problem);
            }
        }
    }
    Ok(())
}

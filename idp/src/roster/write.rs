//! The second pass of an import: convert and check every row, and write it inside the import's
//! transaction; then sweep what a bulk file no longer lists and check references that point
//! into the existing directory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::manifest::Mode;
use super::record::{self, Layout, Record};
use super::report::{Changes, Problem, Problems};
use super::schema::{FileKind, Target, Version};
use super::{IdIndex, Prepared, renkei_role};
use crate::crypto::{hash_password, now, verify_password};
use crate::error::{Error, Result};
use crate::store::directory::{AccountRow, DirectoryRow, ImportTx, Table, Upserted, tables};

/// Rows written per statement.
const BATCH: usize = 500;

/// What the second pass found and did.
pub struct Outcome {
    /// Per file, what changed.
    pub changes: HashMap<FileKind, Changes>,
    /// Problems; when any, the transaction must be rolled back.
    pub problems: Problems,
}

/// A reference to be looked up in the directory: where it was made.
type Pending = BTreeMap<(Target, String), Problem>;

struct Batch {
    records: Vec<Record>,
    problems: Vec<Problem>,
    /// Set on the reader's final batch: a channel that closes without it means the reader
    /// failed, and the import must not go on as if the file had ended.
    last: bool,
}

/// Runs the second pass over every file, in dependency order.
pub async fn apply(tx: &mut dyn ImportTx, prepared: &Prepared) -> Result<Outcome> {
    let mut outcome = Outcome {
        changes: HashMap::new(),
        problems: Problems::with_cap(prepared.cap),
    };
    let mut pending = Pending::new();
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::internal(e.to_string()))?;
    for (&kind, (mode, stored)) in &prepared.manifest.files {
        let mut changes = Changes::default();
        let mut receiver = spawn_reader(prepared, kind, stored.clone());
        let mut finished = false;
        while let Some(batch) = receiver.recv().await {
            finished |= batch.last;
            for problem in batch.problems {
                outcome.problems.push(problem);
            }
            changes.rows += batch.records.len() as u64;
            for record in batch.records.iter().filter(|r| r.status != "tobedeleted") {
                for reference in &record.references {
                    if let Ok(false) = prepared.index.resolve(reference.target, &reference.id) {
                        pending.entry((reference.target, reference.id.clone())).or_insert_with(|| {
                            Problem::at(stored, record.line, Some(reference.column), format!("refers to {:?}, which is neither in the files nor in the directory", reference.id))
                        });
                    }
                }
            }
            if outcome.problems.is_empty() {
                let problems = write_batch(
                    tx,
                    prepared,
                    kind,
                    stored,
                    &batch.records,
                    &stamp,
                    &mut changes,
                )
                .await?;
                for problem in problems {
                    outcome.problems.push(problem);
                }
            }
        }
        changes.unchanged = changes
            .rows
            .saturating_sub(changes.created + changes.updated + changes.deleted);
        if *mode == Mode::Bulk && outcome.problems.is_empty() {
            changes.deleted += sweep(tx, &prepared.index, kind, &stamp).await?;
        }
        if !finished {
            return Err(Error::internal(format!(
                "reading {stored} stopped before its end"
            )));
        }
        outcome.changes.insert(kind, changes);
    }
    check_pending(tx, pending, &mut outcome.problems).await?;
    Ok(outcome)
}

/// Reads, converts and checks one file on a blocking thread, sending batches.
fn spawn_reader(
    prepared: &Prepared,
    kind: FileKind,
    stored: String,
) -> tokio::sync::mpsc::Receiver<Batch> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Batch>(4);
    let index: Arc<IdIndex> = prepared.index.clone();
    let version = prepared.manifest.version;
    let encoding = prepared.encoding;
    let opened = super::csvfile::CsvFile::open(&prepared.source, &stored, encoding);
    std::thread::spawn(move || {
        let mut csv = match opened {
            Ok(csv) => csv,
            Err(problem) => {
                let _ = sender.blocking_send(Batch {
                    records: vec![],
                    problems: vec![problem],
                    last: true,
                });
                return;
            }
        };
        let layout = match Layout::new(kind, &stored, &csv.headers, version) {
            Ok(layout) => layout,
            Err(problems) => {
                let _ = sender.blocking_send(Batch {
                    records: vec![],
                    problems,
                    last: true,
                });
                return;
            }
        };
        let mut batch = Batch {
            records: Vec::with_capacity(BATCH),
            problems: Vec::new(),
            last: false,
        };
        while let Some(row) = csv.next_row() {
            match row
                .map_err(|p| vec![p])
                .and_then(|row| record::convert(&layout, &stored, row.line, row.fields, version))
            {
                Ok(record) => {
                    check_record(&index, kind, &stored, &record, &mut batch.problems);
                    batch.records.push(record);
                }
                Err(problems) => batch.problems.extend(problems),
            }
            if batch.records.len() >= BATCH || batch.problems.len() >= BATCH {
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        records: Vec::with_capacity(BATCH),
                        problems: Vec::new(),
                        last: false,
                    },
                );
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

/// References that cannot resolve, and rules across fields.
fn check_record(
    index: &IdIndex,
    kind: FileKind,
    file: &str,
    record: &Record,
    problems: &mut Vec<Problem>,
) {
    if record.status == "tobedeleted" {
        return;
    }
    for reference in &record.references {
        if let Err(reason) = index.resolve(reference.target, &reference.id) {
            problems.push(Problem::at(
                file,
                record.line,
                Some(reference.column),
                reason,
            ));
        }
    }
    // A bulk roles.csv is the complete set: every user needs a primary role in it.
    if kind == FileKind::Users
        && record.status != "tobedeleted"
        && index.modes.get(&FileKind::Roles) == Some(&Mode::Bulk)
        && !index.primary_roles.contains_key(&record.sourced_id)
    {
        problems.push(Problem::at(
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

fn directory_row(kind: FileKind, record: &Record, stamp: &str) -> DirectoryRow {
    DirectoryRow {
        sourced_id: record.sourced_id.clone(),
        status: record.status.clone(),
        date_last_modified: Some(
            record
                .date_last_modified
                .clone()
                .unwrap_or_else(|| stamp.to_owned()),
        ),
        extra: extras(kind, record),
        data: serde_json::to_string(&record.json).unwrap_or_default(),
    }
}

async fn write_batch(
    tx: &mut dyn ImportTx,
    prepared: &Prepared,
    kind: FileKind,
    file: &str,
    records: &[Record],
    stamp: &str,
    changes: &mut Changes,
) -> Result<Vec<Problem>> {
    let (removed, kept): (Vec<&Record>, Vec<&Record>) =
        records.iter().partition(|r| r.status == "tobedeleted");
    let removed_ids: Vec<String> = removed.iter().map(|r| r.sourced_id.clone()).collect();
    if kind == FileKind::Users {
        let problems = write_users(tx, prepared, file, &kept, stamp, changes).await?;
        changes.deleted += tx.remove_accounts(&removed_ids, now()).await?;
        return Ok(problems);
    }
    let rows: Vec<DirectoryRow> = kept.iter().map(|r| directory_row(kind, r, stamp)).collect();
    let Upserted { created, updated } = tx.upsert(table(kind), &rows).await?;
    changes.created += created;
    changes.updated += updated;
    changes.deleted += tx.mark_deleted(table(kind), &removed_ids, stamp).await?;
    Ok(Vec::new())
}

async fn write_users(
    tx: &mut dyn ImportTx,
    prepared: &Prepared,
    file: &str,
    records: &[&Record],
    stamp: &str,
    changes: &mut Changes,
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let usernames: Vec<String> = records
        .iter()
        .filter_map(|r| r.text("username").map(str::to_owned))
        .collect();
    let owners = tx.username_owners(&usernames).await?;
    for record in records {
        let Some(name) = record.text("username") else {
            continue;
        };
        if let Some(owner) = owners.get(name)
            && owner.as_deref() != Some(record.sourced_id.as_str())
        {
            let whose = match owner {
                Some(other) => format!("the roster user {other:?}"),
                None => "an account created outside the roster".to_owned(),
            };
            problems.push(Problem::at(
                file,
                record.line,
                Some("username"),
                format!("username {name:?} already belongs to {whose}; choose another username"),
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    let with_password: Vec<String> = records
        .iter()
        .filter(|r| r.password.is_some())
        .map(|r| r.sourced_id.clone())
        .collect();
    let stored = tx.password_hashes(&with_password).await?;
    let work: Vec<(usize, String, Option<String>)> = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.password
                .clone()
                .map(|p| (i, p, stored.get(&r.sourced_id).cloned().flatten()))
        })
        .collect();
    let hashes = tokio::task::spawn_blocking(move || hash_passwords(work))
        .await
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))??;
    let version = prepared.manifest.version;
    let index = &prepared.index;
    let mut accounts = Vec::with_capacity(records.len());
    let mut agents = Vec::new();
    // OneRoster 1.2: a user whose primary role is not in this import's roles.csv keeps the one
    // the directory has; a user with none anywhere cannot become an account.
    let stored_roles = if version == Version::V1_2 {
        let missing: Vec<String> = records
            .iter()
            .filter(|r| !index.primary_roles.contains_key(&r.sourced_id))
            .map(|r| r.sourced_id.clone())
            .collect();
        tx.primary_roles(&missing).await?
    } else {
        HashMap::new()
    };
    for (i, record) in records.iter().enumerate() {
        let json = &record.json;
        let primary = index
            .primary_roles
            .get(&record.sourced_id)
            .or_else(|| stored_roles.get(&record.sourced_id));
        if version == Version::V1_2 && primary.is_none() && record.status != "tobedeleted" {
            problems.push(Problem::at(
                file,
                record.line,
                None,
                "this user has no primary role, neither in roles.csv nor in the directory; add a roles.csv row with roleType primary",
            ));
            continue;
        }
        let oneroster_role = match version {
            Version::V1_1 => record.text("role").map(str::to_owned),
            Version::V1_2 => primary.map(|(role, _)| role.clone()),
        };
        let orgs = record.reference_list("orgs");
        let school_id = record
            .reference("primaryOrg")
            .map(str::to_owned)
            .or_else(|| primary.map(|(_, org)| org.clone()))
            .or_else(|| orgs.first().map(|o| (*o).to_owned()));
        let kana = |key: &str| {
            record
                .metadata(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        accounts.push(AccountRow {
            id: uuid::Uuid::new_v4().to_string(),
            sourced_id: record.sourced_id.clone(),
            username: record.text("username").unwrap_or_default().to_owned(),
            role: match oneroster_role.as_deref() {
                None => String::new(),
                Some(role) => match renkei_role(role) {
                    Some(mapped) => mapped.to_owned(),
                    None => {
                        problems.push(Problem::at(
                            file,
                            record.line,
                            Some("role"),
                            format!("the extension role {role:?} has no Renkei equivalent; give the person a OneRoster role (student, teacher, parent, administrator, …)"),
                        ));
                        continue;
                    }
                },
            },
            given_name: record.text("givenName").map(str::to_owned),
            family_name: record.text("familyName").map(str::to_owned),
            given_name_kana: kana("jp.kanaGivenName"),
            family_name_kana: kana("jp.kanaFamilyName"),
            email: record.text("email").map(str::to_owned),
            password_hash: hashes.get(&i).cloned().flatten(),
            school_id,
            grade: json
                .get("grades")
                .and_then(|g| g.get(0))
                .and_then(Value::as_str)
                .map(str::to_owned),
            enabled: json
                .get("enabledUser")
                .and_then(Value::as_bool)
                .unwrap_or(true)
                && record.status == "active",
            status: record.status.clone(),
            date_last_modified: Some(
                record
                    .date_last_modified
                    .clone()
                    .unwrap_or_else(|| stamp.to_owned()),
            ),
            data: serde_json::to_string(json).unwrap_or_default(),
        });
        for agent in record.reference_list("agents") {
            agents.push((record.sourced_id.clone(), agent.to_owned()));
        }
    }
    let Upserted { created, updated } = tx.upsert_accounts(&accounts, now()).await?;
    changes.created += created;
    changes.updated += updated;
    let ids: Vec<String> = records.iter().map(|r| r.sourced_id.clone()).collect();
    tx.replace_agents(&ids, &agents).await?;
    Ok(problems)
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
/// `tobedeleted`; people are disabled, not erased).
async fn sweep(tx: &mut dyn ImportTx, index: &IdIndex, kind: FileKind, stamp: &str) -> Result<u64> {
    let listed = index.files.get(&kind);
    let table = table(kind);
    let gone: Vec<String> = tx
        .all_ids(table)
        .await?
        .into_iter()
        .filter(|id| !listed.is_some_and(|ids| ids.contains_key(id)))
        .collect();
    let removed = if kind == FileKind::Users {
        tx.remove_accounts(&gone, now()).await?
    } else {
        tx.mark_deleted(table, &gone, stamp).await?
    };
    Ok(removed)
}

/// References to records that are not in the files must exist in the directory.
async fn check_pending(
    tx: &mut dyn ImportTx,
    pending: Pending,
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
        for chunk in entries.chunks(BATCH) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            let found = tx.existing_active(table(kind), &ids).await?;
            for (id, problem) in chunk {
                if !found.contains(id) {
                    problems.push(problem.clone());
                }
            }
        }
    }
    Ok(())
}

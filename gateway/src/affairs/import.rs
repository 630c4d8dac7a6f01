//! `renkei import affairs`: school-affairs records from the 校務系 system, as CSV (UTF-8 or
//! Shift_JIS, a header line) or JSON lines, one record per row or line.
//!
//! Every record has `sourcedId`; pupil records `studentSourcedId` (an active pupil of the
//! roster) and optionally `classSourcedId`; class records (timetables) `classSourcedId`.
//! Optional: `status` (`active`, or `tobedeleted` to remove), `dateLastModified`, `date`
//! (`YYYY-MM-DD`). Every other field is kept as it is and served. All or nothing: any problem
//! (reported with line, field and how to fix it) leaves the records as they were.

use renkei_directory::Role;
use renkei_platform::{AuditEvent, AuditLog};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use renkei_directory::import::csvfile::{CsvFile, EncodingChoice};
use renkei_directory::import::report::{Problem, Problems};
use renkei_directory::import::source::Source;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Collection;
use crate::store::{AffairsChanges, AffairsRow, By, GatewayStore, Table};

/// How to import.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Replace the category's records with the file's (records not in it are removed);
    /// otherwise the file is a delta.
    pub bulk: bool,
    /// Validate and report, change nothing.
    pub dry_run: bool,
    /// CSV encoding.
    pub encoding: EncodingChoice,
    /// Most problems listed.
    pub max_errors: usize,
}

/// What an import did (or, with problems, why it did nothing).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The collection (`attendance`, …).
    pub collection: &'static str,
    /// The file.
    pub file: String,
    /// Records read.
    pub records: u64,
    /// What changed (or would change).
    pub changes: AffairsChanges,
    /// Problems; if any, nothing changed.
    pub problems: Vec<String>,
    /// Problems found in all (the list stops at the cap).
    pub problem_count: usize,
    /// Nothing was written.
    pub dry_run: bool,
}

impl std::fmt::Display for Report {
    /// One summary line, or the problems one per line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.problems.is_empty() {
            return writeln!(
                f,
                "{} {}: {} records read; {} created, {} updated, {} removed{}",
                self.collection,
                self.file,
                self.records,
                self.changes.created,
                self.changes.updated,
                self.changes.deleted,
                if self.dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            );
        }
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        if self.problem_count > self.problems.len() {
            writeln!(f, "… and {} more", self.problem_count - self.problems.len())?;
        }
        Ok(())
    }
}

/// One row of the file, as a JSON object, with its line.
struct Row {
    line: u64,
    fields: Map<String, Value>,
}

fn rows(
    path: &Path,
    encoding: EncodingChoice,
    problems: &mut Problems,
) -> Result<(String, Vec<Row>), Problem> {
    let (source, name) = Source::file(path)?;
    let mut rows = Vec::new();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".json") {
        let reader = std::io::BufReader::new(source.reader(&name)?);
        for (index, line) in reader.lines().enumerate() {
            let number = index as u64 + 1;
            let line = line.map_err(|e| {
                Problem::at(
                    &name,
                    number,
                    None,
                    format!("not UTF-8 text: {e}; JSON lines must be UTF-8"),
                )
            })?;
            let text = line.trim().trim_start_matches('\u{feff}');
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => rows.push(Row {
                    line: number,
                    fields,
                }),
                Ok(_) => problems.push(Problem::at(
                    &name,
                    number,
                    None,
                    "each line must be one JSON object",
                )),
                Err(e) => problems.push(Problem::at(
                    &name,
                    number,
                    None,
                    format!("not valid JSON: {e}"),
                )),
            }
        }
    } else if lower.ends_with(".csv") {
        let mut file = CsvFile::open(&source, &name, encoding)?;
        let headers = file.headers.clone();
        while let Some(row) = file.next_row() {
            match row {
                Ok(row) if row.undecodable.is_some() => {
                    row.undecodable.into_iter().for_each(|p| problems.push(p));
                }
                Ok(row) => {
                    let fields = headers
                        .iter()
                        .zip(row.fields.iter())
                        .filter(|(_, v)| !v.trim().is_empty())
                        .map(|(h, v)| (h.clone(), Value::String(v.trim().to_owned())))
                        .collect();
                    rows.push(Row {
                        line: row.line,
                        fields,
                    });
                }
                Err(problem) => problems.push(problem),
            }
        }
    } else {
        return Err(Problem::general(format!(
            "{name}: give a .csv file or a JSON-lines file (.jsonl, .ndjson)"
        )));
    }
    Ok((name, rows))
}

fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_date(text: &str) -> bool {
    time::Date::parse(
        text,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
}

/// Imports `path` into `collection` (all or nothing).
///
/// An applied import (not a dry run, no problems) is audited through `via` before this returns.
pub async fn import(
    store: &dyn GatewayStore,
    audit: &AuditLog,
    via: &str,
    collection: &'static Collection,
    path: &Path,
    options: Options,
) -> Result<Report, Problem> {
    let mut problems = Problems::with_cap(options.max_errors.max(1));
    let (file, rows) = rows(path, options.encoding, &mut problems)?;
    let mentioned = |key: &str| -> Vec<String> {
        let set: HashSet<String> = rows.iter().filter_map(|r| text(&r.fields, key)).collect();
        set.into_iter().collect()
    };
    let students: HashMap<String, Option<String>> = store
        .select(Table::USERS, By::Id, &mentioned("studentSourcedId"))
        .await
        .map_err(|e| Problem::general(format!("cannot read the roster: {e}")))?
        .into_iter()
        .filter(|u| u.role() == Some(Role::Student))
        .map(|u| (u.sourced_id, u.school_id))
        .collect();
    let classes: HashMap<String, Option<String>> = store
        .select(Table::CLASSES, By::Id, &mentioned("classSourcedId"))
        .await
        .map_err(|e| Problem::general(format!("cannot read the roster: {e}")))?
        .into_iter()
        .map(|c| (c.sourced_id, c.school_id))
        .collect();
    // Where each pupil is enrolled: a record naming a class must name one of the pupil's.
    let mut enrolled: HashSet<(String, String)> = HashSet::new();
    for enrollment in store
        .select(Table::ENROLLMENTS, By::User, &mentioned("studentSourcedId"))
        .await
        .map_err(|e| Problem::general(format!("cannot read the roster: {e}")))?
    {
        if let (Some(user), Some(class)) = (enrollment.user_id, enrollment.class_id) {
            enrolled.insert((user, class));
        }
    }
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for row in &rows {
        let at = |column: &str, reason: String| Problem::at(&file, row.line, Some(column), reason);
        let Some(id) = text(&row.fields, "sourcedId") else {
            problems.push(at(
                "sourcedId",
                "missing; every record needs its own sourcedId from the school-affairs system"
                    .into(),
            ));
            continue;
        };
        if !seen.insert(id.clone()) {
            problems.push(at(
                "sourcedId",
                format!("{id:?} appears twice in the file; each record once"),
            ));
            continue;
        }
        let status = text(&row.fields, "status").unwrap_or_else(|| "active".into());
        match status.as_str() {
            "active" => {}
            "tobedeleted" => {
                removed.push(id);
                continue;
            }
            other => {
                problems.push(at(
                    "status",
                    format!("{other:?} is not a status; use active or tobedeleted"),
                ));
                continue;
            }
        }
        let student = text(&row.fields, "studentSourcedId");
        let class = text(&row.fields, "classSourcedId");
        let mut school = None;
        if collection.per_class {
            match &class {
                None => problems.push(at("classSourcedId", format!("missing; {} are kept per class", collection.path))),
                Some(c) => match classes.get(c) {
                    None => problems.push(at("classSourcedId", format!("no class {c:?} in the roster; import the roster first or correct the id"))),
                    Some(s) => school = s.clone(),
                },
            }
        } else {
            match &student {
                None => problems.push(at("studentSourcedId", format!("missing; {} are kept per pupil", collection.path))),
                Some(s) => match students.get(s) {
                    None => problems.push(at("studentSourcedId", format!("no active pupil {s:?} in the roster; import the roster first or correct the id"))),
                    Some(home) => school = home.clone(),
                },
            }
            if let Some(c) = &class {
                match classes.get(c) {
                    None => problems.push(at(
                        "classSourcedId",
                        format!("no class {c:?} in the roster; correct the id or leave it empty"),
                    )),
                    Some(_)
                        if student.as_ref().is_some_and(|s| {
                            students.contains_key(s) && !enrolled.contains(&(s.clone(), c.clone()))
                        }) =>
                    {
                        problems.push(at(
                            "classSourcedId",
                            format!(
                                "pupil {:?} is not enrolled in class {c:?}; correct the class or leave it empty",
                                student.as_deref().unwrap_or_default()
                            ),
                        ));
                    }
                    Some(s) => school = s.clone().or(school),
                }
            }
        }
        let date = text(&row.fields, "date");
        if let Some(d) = &date
            && !is_date(d)
        {
            problems.push(at(
                "date",
                format!("{d:?} is not a date; write YYYY-MM-DD, e.g. 2026-11-24"),
            ));
        }
        let modified = text(&row.fields, "dateLastModified").unwrap_or_else(|| stamp.clone());
        let mut data = Map::new();
        for (key, value) in &row.fields {
            match key.as_str() {
                "sourcedId" | "status" | "dateLastModified" | "studentSourcedId"
                | "classSourcedId" => {}
                _ => {
                    data.insert(key.clone(), value.clone());
                }
            }
        }
        if let Some(s) = &student {
            data.insert("student".into(), json!({"sourcedId": s, "type": "user"}));
        }
        if let Some(c) = &class {
            data.insert("class".into(), json!({"sourcedId": c, "type": "class"}));
        }
        if let Some(s) = &school {
            data.insert("school".into(), json!({"sourcedId": s, "type": "org"}));
        }
        kept.push(AffairsRow {
            sourced_id: id,
            status,
            date_last_modified: modified,
            student_id: if collection.per_class { None } else { student },
            class_id: class,
            school_id: school,
            record_date: date,
            data: Value::Object(data).to_string(),
        });
    }
    let mut report = Report {
        collection: collection.path,
        file,
        records: rows.len() as u64,
        changes: AffairsChanges::default(),
        problems: Vec::new(),
        problem_count: problems.total(),
        dry_run: options.dry_run,
    };
    if problems.total() > 0 {
        report.problems = problems
            .into_list()
            .iter()
            .map(ToString::to_string)
            .collect();
        return Ok(report);
    }
    report.changes = store
        .write_affairs(
            collection.category,
            &kept,
            &removed,
            options.bulk,
            options.dry_run,
        )
        .await
        .map_err(|e| {
            Problem::general(format!(
                "the records could not be written (nothing changed): {e}"
            ))
        })?;
    if !options.dry_run {
        audit
            .append(AuditEvent::change(
                "admin",
                None,
                vec![collection.category.into()],
                Vec::new(),
                via,
                format!(
                    "{} from {}: {} created, {} updated, {} removed",
                    collection.path,
                    report.file,
                    report.changes.created,
                    report.changes.updated,
                    report.changes.deleted
                ),
            ))
            .await
            .map_err(|e| {
                Problem::general(format!(
                    "the records were written but their audit record could not be: {e}"
                ))
            })?;
    }
    Ok(report)
}

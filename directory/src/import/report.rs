//! What an import reports: problems a school clerk can act on (file, line, column, reason)
//! and, per file, what changed.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// One problem found in the files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// File name, when the problem is in a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line (the header is line 1), when the problem is in a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Column header, when the problem is in one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
    /// Further lines with the same problem (the same file, column and reason), the first
    /// [`LINES_SHOWN`] of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_on_lines: Vec<u64>,
    /// How many further lines have it beyond those.
    #[serde(skip_serializing_if = "is_zero")]
    pub and_more: usize,
}

/// Further lines of a repeated problem that are named.
pub const LINES_SHOWN: usize = 5;

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Problem {
    /// A problem with the import as a whole.
    pub fn general(reason: impl Into<String>) -> Self {
        Problem {
            file: None,
            line: None,
            column: None,
            reason: reason.into(),
            also_on_lines: Vec::new(),
            and_more: 0,
        }
    }

    /// A problem with a whole file.
    pub fn in_file(file: &str, reason: impl Into<String>) -> Self {
        Problem {
            file: Some(file.to_owned()),
            line: None,
            column: None,
            reason: reason.into(),
            also_on_lines: Vec::new(),
            and_more: 0,
        }
    }

    /// A problem in one field of one row.
    pub fn at(file: &str, line: u64, column: Option<&str>, reason: impl Into<String>) -> Self {
        Problem {
            file: Some(file.to_owned()),
            line: Some(line),
            column: column.map(str::to_owned),
            reason: reason.into(),
            also_on_lines: Vec::new(),
            and_more: 0,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, &self.column) {
            (Some(file), Some(line), Some(column)) => {
                write!(f, "{file}:{line}: {column}: {}", self.reason)?;
            }
            (Some(file), Some(line), None) => write!(f, "{file}:{line}: {}", self.reason)?,
            (Some(file), None, _) => write!(f, "{file}: {}", self.reason)?,
            (None, _, _) => write!(f, "{}", self.reason)?,
        }
        if !self.also_on_lines.is_empty() {
            let lines: Vec<String> = self.also_on_lines.iter().map(u64::to_string).collect();
            write!(f, " (also on lines {}", lines.join(", "))?;
            if self.and_more > 0 {
                write!(f, " and {} more", self.and_more)?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Problems collected up to a cap; the count goes on past it. The same problem on many rows
/// (the same file, column and reason) is one entry naming its lines, so that one reason does
/// not crowd out the others.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<Problem>,
    /// (file, column, reason) → its entry in `list`, for problems found on a line.
    listed: std::collections::HashMap<(Option<String>, Option<String>, String), usize>,
    total: usize,
    cap: usize,
}

impl Problems {
    /// Collects up to `cap` problems.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            list: Vec::new(),
            listed: std::collections::HashMap::new(),
            total: 0,
            cap,
        }
    }

    /// Records a problem.
    pub fn push(&mut self, problem: Problem) {
        self.total += 1 + problem.also_on_lines.len() + problem.and_more;
        let Some(line) = problem.line else {
            if self.list.len() < self.cap {
                self.list.push(problem);
            }
            return;
        };
        let key = (
            problem.file.clone(),
            problem.column.clone(),
            problem.reason.clone(),
        );
        if let Some(&at) = self.listed.get(&key) {
            let entry = &mut self.list[at];
            for line in std::iter::once(line).chain(problem.also_on_lines) {
                if entry.also_on_lines.len() < LINES_SHOWN {
                    entry.also_on_lines.push(line);
                } else {
                    entry.and_more += 1;
                }
            }
            entry.and_more += problem.and_more;
            return;
        }
        if self.list.len() < self.cap {
            self.listed.insert(key, self.list.len());
            self.list.push(problem);
        }
    }

    /// Adds every problem of `other` (counted; listed while under the cap).
    pub fn append(&mut self, other: Problems) {
        let listed: usize = other
            .list
            .iter()
            .map(|p| 1 + p.also_on_lines.len() + p.and_more)
            .sum();
        self.total += other.total - listed;
        other.list.into_iter().for_each(|p| self.push(p));
    }

    /// Whether any problem was found.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Number of problems found (including those past the cap).
    pub fn total(&self) -> usize {
        self.total
    }

    /// The problems kept.
    pub fn into_list(self) -> Vec<Problem> {
        self.list
    }
}

/// What an import changed (or, in a dry run, would change) in one file's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Rows read.
    pub rows: u64,
    /// Records created.
    pub created: u64,
    /// Records changed.
    pub updated: u64,
    /// Records deleted (users: disabled).
    pub deleted: u64,
    /// Records that were already exactly so.
    pub unchanged: u64,
}

/// The outcome of an import.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// Identifier of the import record.
    pub id: String,
    /// `applied`, `dry-run`, `rejected` (problems in the files) or `held` (it would disable or
    /// move more accounts than the safeguard allows without `--confirm-mass-change`).
    pub outcome: &'static str,
    /// OneRoster version of the files.
    pub version: String,
    /// Per file: its mode (`bulk` or `delta`), checksum and changes.
    pub files: BTreeMap<String, FileReport>,
    /// Problems found (only when rejected).
    pub problems: Vec<Problem>,
    /// Number of problems, including those not listed.
    pub problem_count: usize,
    /// The archive's folder the files were read from, when the roster came as a zip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// What was left out without failing the import (files Renkei does not read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The accounts it disables or moves to another school, per school, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass_change: Option<super::rollover::MassChange>,
}

/// What happened to one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// `bulk` or `delta`.
    pub mode: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// The encoding it was read in (`UTF-8`, `Shift_JIS`).
    pub encoding: String,
    /// Counts.
    #[serde(flatten)]
    pub changes: Changes,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_outcome(f)?;
        if let Some(folder) = &self.folder {
            writeln!(f, "  Read from {folder} of the archive.")?;
        }
        for warning in &self.warnings {
            writeln!(f, "  Warning: {warning}")?;
        }
        if self.outcome == "rejected" && !self.files.is_empty() {
            let read: Vec<String> = self
                .files
                .iter()
                .map(|(file, report)| format!("{file} {}", report.encoding))
                .collect();
            writeln!(f, "  Read as: {}", read.join(", "))?;
        }
        if let Some(change) = &self.mass_change {
            write!(f, "{change}")?;
            if change.exceeds_threshold && self.outcome == "dry-run" {
                writeln!(
                    f,
                    "  Without --dry-run this import would be held until confirmed (--confirm-mass-change with the held import's id)."
                )?;
            }
        }
        Ok(())
    }
}

impl ImportReport {
    fn fmt_outcome(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            "held" => writeln!(
                f,
                "Import {} held: it would disable or move more than {}% of a school's accounts (or of the board's); nothing was changed. Check the summary below; if it is what the board intends, run the same import again with --confirm-mass-change {}.",
                self.id,
                self.mass_change
                    .as_ref()
                    .map_or(0, |change| change.threshold_percent),
                self.id
            ),
            "rejected" => {
                writeln!(
                    f,
                    "Import rejected: {} problem(s); nothing was changed.",
                    self.problem_count
                )?;
                for problem in &self.problems {
                    writeln!(f, "  {problem}")?;
                }
                let listed: usize = self
                    .problems
                    .iter()
                    .map(|p| 1 + p.also_on_lines.len() + p.and_more)
                    .sum();
                if self.problem_count > listed {
                    writeln!(
                        f,
                        "  … and {} more, not listed (raise --max-errors to list them)",
                        self.problem_count - listed
                    )?;
                }
                Ok(())
            }
            outcome => {
                let verb = if outcome == "dry-run" {
                    "Dry run (nothing was changed): would apply"
                } else {
                    "Applied"
                };
                writeln!(f, "{verb} OneRoster {} import {}", self.version, self.id)?;
                writeln!(
                    f,
                    "  {:<22} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}  encoding",
                    "file", "mode", "rows", "created", "updated", "deleted", "unchanged"
                )?;
                for (file, report) in &self.files {
                    let c = report.changes;
                    writeln!(
                        f,
                        "  {file:<22} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
                        report.mode,
                        c.rows,
                        c.created,
                        c.updated,
                        c.deleted,
                        c.unchanged,
                        report.encoding
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Problem, Problems};

    #[test]
    fn one_reason_on_many_rows_is_one_entry() {
        let mut problems = Problems::with_cap(3);
        for line in 2..=10 {
            problems.push(Problem::at("users.csv", line, Some("grades"), "bad"));
        }
        problems.push(Problem::at("users.csv", 4, Some("role"), "worse"));
        problems.push(Problem::in_file("orgs.csv", "missing"));
        assert_eq!(problems.total(), 11);
        let listed: Vec<String> = problems
            .into_list()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "users.csv:2: grades: bad (also on lines 3, 4, 5, 6, 7 and 3 more)",
                "users.csv:4: role: worse",
                "orgs.csv: missing",
            ]
        );
    }
}

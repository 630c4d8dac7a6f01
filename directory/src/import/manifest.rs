//! `manifest.csv`: which OneRoster version the files are and, per file, whether it is a bulk
//! (complete) set, a delta (changes only), or absent.

use std::collections::BTreeMap;

use super::csvfile::{CsvFile, Encodings};
use super::profile::Profile;
use super::report::Problem;
use super::schema::{FileKind, Version};
use super::source::Source;

/// How a file's rows apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The file is the complete set: records not in it are removed.
    Bulk,
    /// The file lists changes: `tobedeleted` rows remove, others create or update.
    Delta,
}

impl Mode {
    /// `bulk` or `delta`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bulk => "bulk",
            Mode::Delta => "delta",
        }
    }
}

/// The parsed manifest.
#[derive(Debug)]
pub struct Manifest {
    /// OneRoster version.
    pub version: Version,
    /// Files present, with their mode and their name as stored.
    pub files: BTreeMap<FileKind, (Mode, String)>,
    /// `source.systemName`, if given.
    pub system_name: Option<String>,
    /// The profile `oneroster.version` declares (`1.2_JP`), whose rules apply beside the base
    /// ones.
    pub profile: Option<Profile>,
    /// Files the manifest names but that cannot be read (missing, or with a mode that is not
    /// one): references into them are not checked, since their ids are unknown.
    pub unreadable: std::collections::BTreeSet<FileKind>,
}

/// Reads and checks `manifest.csv`, and that every file it names exists. Problems that leave
/// the file set readable (a repeated property, a bad mode, a missing or unlisted file) come
/// back beside the manifest of the files that can be read, so that the files' own problems are
/// found in the same run; without a manifest, a readable header or a known OneRoster version
/// nothing can be read, and that alone is the answer.
pub fn read(
    source: &Source,
    encodings: &Encodings,
) -> Result<(Manifest, Vec<Problem>), Vec<Problem>> {
    const NAME: &str = "manifest.csv";
    let stored = source
        .find(NAME)
        .ok_or_else(|| vec![Problem::general("manifest.csv is missing; a OneRoster file set starts with manifest.csv (propertyName,value)")])?;
    let mut csv =
        CsvFile::open(source, &stored, encodings.for_file(&stored)).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    if !(csv.headers.len() >= 2
        && csv.headers[0].eq_ignore_ascii_case("propertyName")
        && csv.headers[1].eq_ignore_ascii_case("value"))
    {
        return Err(vec![Problem::at(
            &stored,
            1,
            None,
            "the header must be propertyName,value",
        )]);
    }
    let mut properties: BTreeMap<String, (u64, String)> = BTreeMap::new();
    while let Some(row) = csv.next_row() {
        match row {
            Ok(row) if row.undecodable.is_some() => problems.extend(row.undecodable),
            Ok(row) => {
                let name = row.fields.get(0).unwrap_or("").trim().to_owned();
                let value = row.fields.get(1).unwrap_or("").trim().to_owned();
                if let Some((first, _)) = properties.get(&name) {
                    problems.push(Problem::at(
                        &stored,
                        row.line,
                        Some("propertyName"),
                        format!(
                            "{name} appears twice (lines {first} and {}); keep one of them",
                            row.line
                        ),
                    ));
                    continue;
                }
                properties.insert(name, (row.line, value));
            }
            Err(problem) => problems.push(problem),
        }
    }
    match properties.get("manifest.version") {
        Some((_, value)) if value == "1.0" => {}
        Some((line, value)) => problems.push(Problem::at(
            &stored,
            *line,
            Some("value"),
            format!("manifest.version {value:?} is not supported; OneRoster manifests are version 1.0 (manifest.version,1.0)"),
        )),
        None => problems.push(Problem::in_file(
            &stored,
            "manifest.version is missing; add a row manifest.version,1.0",
        )),
    }
    let version = match properties
        .get("oneroster.version")
        .map(|(line, v)| (*line, v.as_str()))
    {
        Some((line, value)) if Version::parse(value).is_none() => {
            let other = value;
            problems.push(Problem::at(
                &stored,
                line,
                Some("value"),
                format!("oneroster.version {other:?} is not supported; Renkei reads 1.1 and 1.2"),
            ));
            return Err(problems);
        }
        Some((_, value)) => Version::parse(value).unwrap_or(Version::V1_1),
        None => {
            problems.push(Problem::in_file(
                &stored,
                "oneroster.version is missing; add a row oneroster.version,1.1 (or 1.2)",
            ));
            return Err(problems);
        }
    };
    let mut files = BTreeMap::new();
    let mut unreadable = std::collections::BTreeSet::new();
    for kind in FileKind::ALL {
        let property = format!("file.{}", kind.base_name());
        let Some((line, mode)) = properties.get(&property) else {
            continue;
        };
        let mode = match mode.to_ascii_lowercase().as_str() {
            "bulk" => Mode::Bulk,
            "delta" => Mode::Delta,
            "absent" | "" => continue,
            other => {
                problems.push(Problem::at(
                    &stored,
                    *line,
                    Some("value"),
                    format!("{property} is {other:?}; use bulk, delta or absent"),
                ));
                unreadable.insert(kind);
                continue;
            }
        };
        if !kind.in_version(version) {
            problems.push(Problem::at(
                &stored,
                *line,
                None,
                format!("{property} is not part of OneRoster {}", version.as_str()),
            ));
            continue;
        }
        let file_name = format!("{}.csv", kind.base_name());
        match source.find(&file_name) {
            Some(stored_name) => {
                files.insert(kind, (mode, stored_name));
            }
            None => {
                problems.push(Problem::at(
                    &stored,
                    *line,
                    None,
                    format!(
                        "the manifest lists {file_name} ({}) but the file is missing",
                        mode.as_str()
                    ),
                ));
                unreadable.insert(kind);
            }
        }
    }
    for kind in FileKind::ALL
        .into_iter()
        .filter(|kind| !files.contains_key(kind))
    {
        let file_name = format!("{}.csv", kind.base_name());
        if source.find(&file_name).is_some() {
            problems.push(Problem::in_file(
                &stored,
                format!("{file_name} is present but the manifest does not list it as bulk or delta; add file.{},bulk (or delta), or remove the file", kind.base_name()),
            ));
        }
    }
    let profile = properties
        .get("oneroster.version")
        .and_then(|(_, value)| Profile::declared(value));
    Ok((
        Manifest {
            version,
            files,
            system_name: properties.get("source.systemName").map(|(_, v)| v.clone()),
            profile,
            unreadable,
        },
        problems,
    ))
}

//! Turning one CSV row into a OneRoster record: every field checked against its column's
//! format, references collected for checking, and the REST representation built.

use serde_json::{Map, Value, json};

use super::report::Problem;
use super::schema::{Column, FileKind, JAPAN_METADATA, Kind, Target, Version};

/// Where each header of a file goes.
pub struct Layout {
    /// The file.
    pub kind: FileKind,
    /// Per header position: the column or metadata key it fills.
    slots: Vec<Slot>,
    /// Position of the `sourcedId` column.
    id_index: usize,
    /// Position of the `status` column, if present.
    status_index: Option<usize>,
    /// Header names, for problems.
    headers: Vec<String>,
    /// What the header leaves out without failing (unknown columns, trailing empty ones).
    pub warnings: Vec<String>,
}

/// Most names in a metadata column's path (`metadata.jp.kanaGivenName` has two): each is a
/// level of nesting in the served record.
const METADATA_DEPTH: usize = 4;

enum Slot {
    Column(Column),
    Metadata(String, Kind),
    Ignored,
}

impl Layout {
    /// Matches a file's headers to its columns (metadata headers without regard to case).
    /// Missing required columns and repeated headers are problems at line 1, returned beside
    /// the layout so that the rows are still checked in the same run; only a file without a
    /// `sourcedId` column cannot be read row by row.
    pub fn new(
        kind: FileKind,
        file: &str,
        headers: &[String],
        version: Version,
    ) -> Result<(Self, Vec<Problem>), Vec<Problem>> {
        let columns = kind.columns();
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut slots = Vec::with_capacity(headers.len());
        let named = headers
            .iter()
            .rposition(|h| !h.is_empty())
            .map_or(0, |last| last + 1);
        if named < headers.len() {
            warnings.push(format!(
                "{file}: the header ends with {} column(s) without a name (trailing commas); their values were left out",
                headers.len() - named
            ));
        }
        for (i, header) in headers.iter().enumerate() {
            if header.is_empty() {
                if i < named {
                    problems.push(Problem::at(
                        file,
                        1,
                        None,
                        format!(
                            "column {} of the header has no name; name it or remove the column",
                            i + 1
                        ),
                    ));
                }
                slots.push(Slot::Ignored);
                continue;
            }
            if headers[..i].iter().any(|h| h.eq_ignore_ascii_case(header)) {
                problems.push(Problem::at(
                    file,
                    1,
                    Some(header),
                    "this column appears twice in the header; remove one",
                ));
            }
            let slot = if let Some(column) = columns
                .iter()
                .find(|c| c.header.eq_ignore_ascii_case(header))
            {
                Slot::Column(*column)
            } else if let Some(key) = header
                .strip_prefix("metadata.")
                .or_else(|| header.strip_prefix("Metadata."))
            {
                if key.split('.').count() > METADATA_DEPTH
                    || key.split('.').any(str::is_empty)
                    || key.len() > 128
                {
                    problems.push(Problem::at(
                        file,
                        1,
                        Some(header),
                        format!("a metadata column is named metadata. and then at most {METADATA_DEPTH} non-empty names separated by dots, 128 bytes in all (metadata.jp.kanaGivenName); rename or remove this column"),
                    ));
                    slots.push(Slot::Ignored);
                    continue;
                }
                match JAPAN_METADATA
                    .iter()
                    .find(|(known, _)| known.eq_ignore_ascii_case(key))
                {
                    Some((known, kind)) => Slot::Metadata((*known).to_owned(), *kind),
                    None => Slot::Metadata(key.to_owned(), Kind::Text),
                }
            } else {
                warnings.push(unknown_column(file, header, columns, version));
                Slot::Ignored
            };
            slots.push(slot);
        }
        for column in columns.iter().filter(|c| c.required_in(version)) {
            if !headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(column.header))
            {
                problems.push(Problem::at(
                    file,
                    1,
                    Some(column.header),
                    format!(
                        "required column {} is missing from the header (OneRoster {})",
                        column.header,
                        version.as_str()
                    ),
                ));
            }
        }
        let Some(id_index) = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("sourcedId"))
        else {
            return Err(problems);
        };
        let layout = Self {
            kind,
            slots,
            warnings,
            id_index,
            status_index: headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case("status")),
            headers: headers.to_vec(),
        };
        Ok((layout, problems))
    }

    /// The row's sourcedId (trimmed).
    pub fn sourced_id<'a>(&self, fields: &'a csv::StringRecord) -> &'a str {
        fields.get(self.id_index).unwrap_or("").trim()
    }

    /// The row's status, `active` when blank.
    pub fn status<'a>(&self, fields: &'a csv::StringRecord) -> &'a str {
        match self.status_index.and_then(|i| fields.get(i)).map(str::trim) {
            Some("") | None => "active",
            Some(status) => status,
        }
    }
}

/// A reference from a record to another.
#[derive(Clone, Debug)]
pub struct Reference {
    /// What it points to.
    pub target: Target,
    /// The sourcedId it names.
    pub id: String,
    /// The column it is in.
    pub column: &'static str,
}

/// A checked record.
#[derive(Clone, Debug)]
pub struct Record {
    /// Line in the file.
    pub line: u64,
    /// sourcedId.
    pub sourced_id: String,
    /// `active`, `tobedeleted` or `inactive`.
    pub status: String,
    /// As in the file.
    pub date_last_modified: Option<String>,
    /// The OneRoster REST representation (GUIDRefs without `href`; without `status` and
    /// `dateLastModified`, which are kept apart).
    pub json: Map<String, Value>,
    /// The references it makes.
    pub references: Vec<Reference>,
    /// The roster's password column (users), kept out of `json`.
    pub password: Option<String>,
}

impl Record {
    /// A text field of the representation.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.json.get(field).and_then(Value::as_str)
    }

    /// The sourcedId inside a GUIDRef field.
    pub fn reference(&self, field: &str) -> Option<&str> {
        self.json
            .get(field)
            .and_then(|r| r.get("sourcedId"))
            .and_then(Value::as_str)
    }

    /// The sourcedIds inside a list of GUIDRefs.
    pub fn reference_list(&self, field: &str) -> Vec<&str> {
        self.json
            .get(field)
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| r.get("sourcedId").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A metadata value by its dotted key (e.g. `jp.kanaGivenName`).
    pub fn metadata(&self, key: &str) -> Option<&Value> {
        let metadata = self.json.get("metadata")?;
        if let Some(value) = metadata.get(key) {
            return Some(value);
        }
        key.split('.')
            .try_fold(metadata, |value, part| value.get(part))
    }
}

/// Metadata columns as the OneRoster REST binding writes them: `metadata.jp.kanaGivenName`
/// becomes `{"jp": {"kanaGivenName": …}}` (as the Japan profile's REST examples show). A key
/// whose path is taken by a plain value stays as written.
fn nest(flat: Map<String, Value>) -> Map<String, Value> {
    let mut nested = Map::new();
    for (key, value) in flat {
        let parts: Vec<&str> = key.split('.').collect();
        if let Err(value) = place(&mut nested, &parts, value) {
            nested.insert(key, value);
        }
    }
    nested
}

/// Puts `value` at the path `parts` of `map`; gives it back when the path is taken.
fn place(map: &mut Map<String, Value>, parts: &[&str], value: Value) -> Result<(), Value> {
    let Some((first, rest)) = parts.split_first() else {
        return Err(value);
    };
    if rest.is_empty() {
        if map.contains_key(*first) {
            return Err(value);
        }
        map.insert((*first).to_owned(), value);
        return Ok(());
    }
    match map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(inner) => place(inner, rest, value),
        _ => Err(value),
    }
}

/// Checks and converts a row; every problem in it is reported beside what could be read of it
/// (its references are still checked; a row with problems is never stored).
pub fn convert(
    layout: &Layout,
    file: &str,
    line: u64,
    fields: &csv::StringRecord,
    version: Version,
) -> (Record, Vec<Problem>) {
    let mut json = Map::new();
    let mut metadata = Map::new();
    let mut references = Vec::new();
    let mut problems = Vec::new();
    let mut password = None;
    for (i, slot) in layout.slots.iter().enumerate() {
        let mut raw = fields.get(i).unwrap_or("").trim();
        if raw == "NULL"
            && matches!(
                slot,
                Slot::Column(Column {
                    kind: Kind::Ref(_) | Kind::RefList(_) | Kind::Date,
                    ..
                })
            )
        {
            raw = "";
        }
        let header = layout.headers[i].as_str();
        match slot {
            Slot::Ignored => {}
            Slot::Column(column) => {
                if raw.is_empty() {
                    if column.required_in(version) {
                        problems.push(Problem::at(
                            file,
                            line,
                            Some(column.header),
                            format!("{} is required and empty", column.header),
                        ));
                    }
                    continue;
                }
                if layout.kind == FileKind::Users && column.header == "password" {
                    password = Some(raw.to_owned());
                    continue;
                }
                if layout.kind == FileKind::UserProfiles && column.header == "password" {
                    continue;
                }
                match value(column.kind, raw, column.header, &mut references) {
                    Ok(value) => {
                        json.insert(column.field.to_owned(), value);
                    }
                    Err(reason) => {
                        problems.push(Problem::at(file, line, Some(column.header), reason))
                    }
                }
            }
            Slot::Metadata(key, kind) => {
                if raw.is_empty() {
                    continue;
                }
                let mut ignored = Vec::new();
                let refs = if matches!(kind, Kind::Ref(_)) {
                    &mut references
                } else {
                    &mut ignored
                };
                match value(*kind, raw, "metadata", refs) {
                    Ok(value) => {
                        metadata.insert(key.clone(), value);
                    }
                    Err(reason) => problems.push(Problem::at(file, line, Some(header), reason)),
                }
            }
        }
    }
    for reference in references.iter_mut().filter(|r| r.column == "metadata") {
        reference.column = "metadata.jp.homeClass";
    }
    if let Some(Value::String(ref_class)) = metadata.get("jp.homeClass").cloned() {
        metadata.insert(
            "jp.homeClass".into(),
            json!({"sourcedId": ref_class, "type": "class"}),
        );
    }
    if !metadata.is_empty() {
        json.insert("metadata".into(), Value::Object(nest(metadata)));
    }
    let sourced_id = layout.sourced_id(fields).to_owned();
    let status = layout.status(fields).to_owned();
    if layout.kind == FileKind::Demographics {
        // Demographics are keyed by the user's own sourcedId.
        references.push(Reference {
            target: Target::User,
            id: sourced_id.clone(),
            column: "sourcedId",
        });
    }
    // Status and modification time are kept as columns and laid over the JSON when served.
    json.remove("status");
    let date_last_modified = json
        .remove("dateLastModified")
        .and_then(|v| v.as_str().map(str::to_owned));
    let record = Record {
        line,
        sourced_id,
        status,
        date_last_modified,
        json,
        references,
        password,
    };
    (record, problems)
}

/// Longest value of a column, in bytes (names, identifiers, dates, codes): far above any real
/// roster's and far below what would burden the directory.
pub const FIELD_MAX_BYTES: usize = 4096;

/// Longest value of a list column (`agentSourcedIds`, `grades`, …), in bytes.
pub const LIST_MAX_BYTES: usize = 64 * 1024;

fn value(
    kind: Kind,
    raw: &str,
    column: &'static str,
    references: &mut Vec<Reference>,
) -> Result<Value, String> {
    let most = match kind {
        Kind::List | Kind::RefList(_) | Kind::Grades => LIST_MAX_BYTES,
        _ => FIELD_MAX_BYTES,
    };
    if raw.len() > most {
        return Err(format!(
            "the value is {} bytes long; at most {most} are accepted in this column",
            raw.len()
        ));
    }
    if let Some(control) = raw
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(format!(
            "the value holds a control character (U+{:04X}); remove it",
            u32::from(control)
        ));
    }
    let list = |raw: &str| {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    Ok(match kind {
        Kind::Text => json!(raw),
        Kind::Date => {
            check_date(raw).map_err(|_| {
                format!("{raw:?} is not a date; write it as YYYY-MM-DD (e.g. 2026-04-01)")
            })?;
            json!(raw)
        }
        Kind::DateTime => {
            let ok = raw.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && (check_date(raw).is_ok()
                    || time::OffsetDateTime::parse(
                        raw,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok()
                    || time::PrimitiveDateTime::parse(
                        raw,
                        &time::macros::format_description!(
                            "[year]-[month]-[day]T[hour]:[minute]:[second]"
                        ),
                    )
                    .is_ok());
            if !ok {
                return Err(format!(
                    "{raw:?} is not a date and time; write it as 2026-04-01T09:00:00Z"
                ));
            }
            json!(raw)
        }
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" => json!(true),
            "false" => json!(false),
            _ => return Err(format!("{raw:?} must be true or false")),
        },
        Kind::Number => {
            let number: f64 = raw
                .parse()
                .map_err(|_| format!("{raw:?} is not a number"))?;
            if number.fract() == 0.0 && number.abs() < 9e15 {
                json!(number as i64)
            } else {
                json!(number)
            }
        }
        Kind::ExtEnum(_) if raw.starts_with("ext:") && raw.len() > 4 => json!(raw),
        Kind::Enum(allowed) | Kind::ExtEnum(allowed) => {
            if !allowed.contains(&raw) {
                let close = allowed.iter().find(|a| a.eq_ignore_ascii_case(raw));
                return Err(match close {
                    Some(right) => {
                        format!("{raw:?} is not allowed; write it as {right:?} (the case matters)")
                    }
                    None => format!("{raw:?} is not allowed; use one of: {}", allowed.join(", ")),
                });
            }
            json!(raw)
        }
        Kind::List => json!(list(raw)),
        Kind::Grades => {
            let grades = list(raw);
            if let Some(bad) = grades
                .iter()
                .find(|g| !super::schema::GRADES.contains(&g.as_str()))
            {
                return Err(format!(
                    "unknown grade code {bad:?}; use P1–P6 (小), J1–J3 (中), H1–H3 (高), E1–E3 or the OneRoster codes KG, 01–13"
                ));
            }
            json!(grades)
        }
        Kind::Ref(target) => {
            references.push(Reference {
                target,
                id: raw.to_owned(),
                column,
            });
            json!({"sourcedId": raw, "type": target.type_name()})
        }
        Kind::RefList(target) => {
            let ids = list(raw);
            let refs: Vec<Value> = ids
                .iter()
                .map(|id| {
                    references.push(Reference {
                        target,
                        id: id.clone(),
                        column,
                    });
                    json!({"sourcedId": id, "type": target.type_name()})
                })
                .collect();
            json!(refs)
        }
    })
}

/// The warning for a header that is no column of the file: its values are left out. A
/// column one or two letters away is named (`prefferedGivenName` → `preferredGivenName`).
fn unknown_column(file: &str, header: &str, columns: &[Column], version: Version) -> String {
    let closest = columns
        .iter()
        .map(|c| {
            (
                edit_distance(&header.to_ascii_lowercase(), &c.header.to_ascii_lowercase()),
                c.header,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min();
    match closest {
        Some((_, known)) => format!(
            "{file}: column {header} is not a OneRoster {} column; its values were left out (did you mean {known}?)",
            version.as_str()
        ),
        None => format!(
            "{file}: column {header} is not a OneRoster {} column; its values were left out",
            version.as_str()
        ),
    }
}

/// Levenshtein distance between two short ASCII-lowercased names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A date written exactly `YYYY-MM-DD` (no sign, no more digits).
fn check_date(raw: &str) -> Result<time::Date, ()> {
    if raw.len() != 10 || !raw.as_bytes()[0].is_ascii_digit() {
        return Err(());
    }
    time::Date::parse(
        raw,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ())
}

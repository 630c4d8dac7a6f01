//! The rules of the 1EdTech OneRoster 1.2 CSV Japan K-12/Schools Profile, which a file set
//! declares with `oneroster.version` `1.2_JP`: narrower vocabularies (a school year is the
//! only academic session, a board and its schools the only organisations), the Japanese school
//! year's fixed dates, MEXT grade codes, no half-width katakana in names, and identifiers the
//! learning e-portals rely on (`userMasterIdentifier`). Each rule is checked on a converted
//! record, beside the base OneRoster checks.

use serde_json::Value;

use super::record::Record;
use super::schema::FileKind;

/// A profile a file set declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// OneRoster 1.2 CSV Japan K-12/Schools Profile (`oneroster.version` `1.2_JP`).
    JapanK12,
}

impl Profile {
    /// The profile a manifest's `oneroster.version` declares, if any.
    pub fn declared(version: &str) -> Option<Self> {
        (version == "1.2_JP").then_some(Profile::JapanK12)
    }

    /// How the profile is written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::JapanK12 => "1.2_JP",
        }
    }
}

/// Grade codes of the profile (MEXT): 小学校 P1–P6, 中学校 J1–J3, 高等学校 H1–H3, E1–E3.
const JAPAN_GRADES: &[&str] = &[
    "P1", "P2", "P3", "P4", "P5", "P6", "J1", "J2", "J3", "H1", "H2", "H3", "E1", "E2", "E3",
];

/// Text columns that name a person, an organisation or a class, which may not hold
/// half-width katakana: (file, CSV column, field of the REST representation).
const NAMES: &[(FileKind, &str, &str)] = &[
    (FileKind::Orgs, "name", "name"),
    (FileKind::AcademicSessions, "title", "title"),
    (FileKind::Courses, "title", "title"),
    (FileKind::Classes, "title", "title"),
    (FileKind::Classes, "location", "location"),
    (FileKind::Users, "givenName", "givenName"),
    (FileKind::Users, "familyName", "familyName"),
    (FileKind::Users, "middleName", "middleName"),
    (FileKind::Users, "preferredGivenName", "preferredFirstName"),
    (FileKind::Users, "preferredFamilyName", "preferredLastName"),
    (
        FileKind::Users,
        "preferredMiddleName",
        "preferredMiddleName",
    ),
    (FileKind::UserProfiles, "description", "description"),
];

/// Metadata keys holding kana readings.
const KANA: &[&str] = &[
    "kanaGivenName",
    "kanaFamilyName",
    "kanaMiddleName",
    "kanaPreferredGivenName",
    "kanaPreferredFamilyName",
    "kanaPreferredMiddleName",
];

/// One rule broken: the CSV column and what to do.
pub type Breach = (String, String);

/// Checks one record (already valid under base OneRoster) against the profile's rules that a
/// row alone can tell.
pub fn check(kind: FileKind, record: &Record) -> Vec<Breach> {
    let mut breaches = Vec::new();
    let mut breach = |column: &str, reason: String| breaches.push((column.to_owned(), reason));
    let text = |field: &str| record.text(field);
    for (_, column, field) in NAMES.iter().filter(|(k, _, _)| *k == kind) {
        if let Some(value) = text(field)
            && let Some(c) = half_width_kana(value)
        {
            breach(
                column,
                format!(
                    "{value:?} holds half-width katakana ({c}); write it in full-width characters (1.2_JP)"
                ),
            );
        }
    }
    if kind == FileKind::Users {
        for key in KANA {
            if let Some(Value::String(value)) = record.metadata(&format!("jp.{key}"))
                && let Some(c) = half_width_kana(value)
            {
                breach(
                    &format!("metadata.jp.{key}"),
                    format!(
                        "{value:?} holds half-width katakana ({c}); write the reading in full-width katakana (1.2_JP)"
                    ),
                );
            }
        }
        if let Some(id) = text("userMasterIdentifier")
            && !is_uuid_v4(id)
        {
            breach(
                "userMasterIdentifier",
                format!(
                    "{id:?} is not a UUID version 4 (e.g. 3c6e8551-cb1d-4d2f-99c3-e74d58c10fc8); the profile identifies each person across systems by one"
                ),
            );
        }
    }
    if matches!(
        kind,
        FileKind::Users | FileKind::Classes | FileKind::Courses
    ) && let Some(Value::Array(grades)) = record.json.get("grades")
    {
        for grade in grades.iter().filter_map(Value::as_str) {
            if !JAPAN_GRADES.contains(&grade) {
                breach(
                    "grades",
                    format!(
                        "{grade:?} is not a grade code of the Japan profile; use P1–P6 (小), J1–J3 (中), H1–H3 (高) or E1–E3"
                    ),
                );
            }
        }
    }
    match kind {
        FileKind::AcademicSessions => school_year(record, &mut breach),
        FileKind::Orgs => match text("type") {
            Some("district") if record.reference("parent").is_some() => breach(
                "parentSourcedId",
                "a district (教育委員会) has no parent organisation in the Japan profile; leave parentSourcedId empty".into(),
            ),
            Some("district" | "school") | None => {}
            Some(other) => breach(
                "type",
                format!("{other:?} is not an organisation type of the Japan profile; use district (教育委員会) or school"),
            ),
        },
        FileKind::Courses => {
            if let Some(code) = text("courseCode") {
                breach(
                    "courseCode",
                    format!("courseCode is always empty in the Japan profile, not {code:?}; leave it empty"),
                );
            }
            if let Some(title) = text("title")
                && fiscal_year_prefix(title).is_none()
            {
                breach(
                    "title",
                    format!("{title:?} does not start with its school year; write it as 2026年度 followed by the subject (2026年度算数) or ホームルーム"),
                );
            }
        }
        FileKind::Classes => match text("classType") {
            Some("homeroom" | "scheduled") | None => {}
            Some(other) => breach(
                "classType",
                format!("{other:?} is not a class type of the Japan profile; use homeroom (学級) or scheduled (a subject class); a special-needs class is marked with metadata.jp.specialNeeds"),
            ),
        },
        FileKind::Enrollments
            if text("role") == Some("student")
                && record.json.get("primary") == Some(&Value::Bool(true)) =>
        {
            breach(
                "primary",
                "a pupil's enrollment has primary false in the Japan profile (primary marks a class's main teacher)".into(),
            );
        }
        FileKind::Demographics => {
            if let Some(sex) = text("sex").filter(|s| s.starts_with("ext:")) {
                breach(
                    "sex",
                    format!("{sex:?}: the Japan profile has no extension values for sex; use male, female, unspecified or other"),
                );
            }
        }
        _ => {}
    }
    breaches
}

/// A school year: type `schoolYear`, title `YYYY年度`, from April 1 of that year to March 31
/// of the next.
fn school_year(record: &Record, breach: &mut impl FnMut(&str, String)) {
    let text = |field: &str| record.text(field);
    if let Some(other) = text("type").filter(|t| *t != "schoolYear") {
        breach(
            "type",
            format!(
                "{other:?}: the Japan profile's only academic session is the school year; use schoolYear"
            ),
        );
        return;
    }
    let Some(year) = text("schoolYear")
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|y| y.parse::<u32>().ok())
    else {
        breach(
            "schoolYear",
            format!(
                "{:?}: a school year is written as its four-digit year (2026)",
                text("schoolYear").unwrap_or("")
            ),
        );
        return;
    };
    match text("title") {
        Some(title) if title == format!("{year}年度") => {}
        Some(title) => breach(
            "title",
            format!("{title:?}: a school year's title is its year followed by 年度 ({year}年度)"),
        ),
        None => {}
    }
    let (start, end) = (format!("{year}-04-01"), format!("{}-03-31", year + 1));
    if let Some(date) = text("startDate").filter(|d| *d != start) {
        breach(
            "startDate",
            format!("{date:?}: the school year {year} starts on {start} (4月1日)"),
        );
    }
    if let Some(date) = text("endDate").filter(|d| *d != end) {
        breach(
            "endDate",
            format!("{date:?}: the school year {year} ends on {end} (3月31日)"),
        );
    }
}

/// The year a course title starts with (`2026年度…`).
fn fiscal_year_prefix(title: &str) -> Option<u32> {
    let (year, rest) = title.split_at_checked(4)?;
    (year.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with("年度"))
        .then(|| year.parse().ok())
        .flatten()
}

/// The first half-width katakana character in `value` (U+FF65–U+FF9F), if any.
fn half_width_kana(value: &str) -> Option<char> {
    value
        .chars()
        .find(|c| ('\u{FF65}'..='\u{FF9F}').contains(c))
}

/// Whether `id` is a UUID of version 4 and the RFC 4122 variant, written with hyphens (any
/// case), as the profile's `userMasterIdentifier`.
fn is_uuid_v4(id: &str) -> bool {
    id.len() == 36
        && uuid::Uuid::try_parse(id)
            .is_ok_and(|u| u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pieces_of_the_rules() {
        assert_eq!(half_width_kana("ﾀﾛｳ"), Some('ﾀ'));
        assert_eq!(half_width_kana("タロウ 太郎"), None);
        assert!(is_uuid_v4("3c6e8551-cb1d-4d2f-99c3-e74d58c10fc8"));
        assert!(
            !is_uuid_v4("3c6e8551-cb1d-1d2f-99c3-e74d58c10fc8"),
            "version 1"
        );
        assert!(
            !is_uuid_v4("3c6e8551cb1d4d2f99c3e74d58c10fc8"),
            "no hyphens"
        );
        assert!(
            !is_uuid_v4("3c6e8551-cb1d-4d2f-29c3-e74d58c10fc8"),
            "not the RFC 4122 variant"
        );
        assert_eq!(fiscal_year_prefix("2026年度算数"), Some(2026));
        assert_eq!(fiscal_year_prefix("算数"), None);
        assert_eq!(Profile::declared("1.2_JP"), Some(Profile::JapanK12));
        assert_eq!(Profile::declared("1.2"), None);
    }
}

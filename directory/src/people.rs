//! People as the console lists them: a page of a search by name, kana, username or class
//! within the schools an administrator reaches, and the people a policy would show an app.
//! The one SQL of the search serves both databases.

use serde::Serialize;

use crate::store::{ClassRef, Directory};
use renkei_platform::StoreResult;

/// The most people one page lists.
pub const MAX_PAGE: u32 = 200;

/// The longest search text (characters): names and usernames are shorter.
pub const MAX_TEXT: usize = 100;

/// What the console searches for.
#[derive(Clone, Debug, Default)]
pub struct PeopleQuery {
    /// Part of a name (family, given, or both without a space), its kana, or a username;
    /// matched without regard to case. Empty matches everyone.
    pub text: String,
    /// Only people placed in this school.
    pub school: Option<String>,
    /// Only pupils enrolled in this class.
    pub class: Option<String>,
    /// Only this role (`student`, `teacher`, `guardian`, `administrator`).
    pub role: Option<String>,
    /// How many to skip.
    pub offset: u32,
    /// How many at most (bounded by [`MAX_PAGE`]).
    pub limit: u32,
}

/// A person as the console shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The account's id.
    pub account_id: String,
    /// The roster's sourcedId (none for accounts made outside the roster).
    pub sourced_id: Option<String>,
    /// Sign-in name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Family name then given name, as the roster writes them.
    pub name: String,
    /// The name's kana reading.
    pub kana: String,
    /// Primary school.
    pub school_id: Option<String>,
    /// Grade code.
    pub grade: Option<String>,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Whether an administrator locked the account (it stays disabled whatever the roster
    /// says until unlocked).
    pub locked: bool,
    /// Roster status (`active`, `tobedeleted`).
    pub status: String,
    /// The classes the person is enrolled in as a pupil.
    pub classes: Vec<ClassRef>,
}

/// One row of [`PERSON_SELECT`].
#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    id: String,
    sourced_id: Option<String>,
    username: String,
    role: String,
    family_name: Option<String>,
    given_name: Option<String>,
    family_name_kana: Option<String>,
    given_name_kana: Option<String>,
    school_id: Option<String>,
    grade: Option<String>,
    enabled: bool,
    locked: bool,
    status: String,
}

/// The columns a [`Person`] is read from (users `u`).
pub(crate) const PERSON_SELECT: &str = "SELECT u.id, u.sourced_id, u.username, u.role, u.family_name, u.given_name, \
    u.family_name_kana, u.given_name_kana, u.school_id, u.grade, u.enabled, u.locked_at IS NOT NULL AS locked, u.status FROM users u";

/// The search's SQL and its values, in order (`$1`, `$2`, …).
pub(crate) fn people_search_sql(query: &PeopleQuery) -> (String, Vec<String>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    let next = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let text: String = query
        .text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect();
    if !text.is_empty() {
        let lower = text.to_lowercase();
        let p = next(format!("%{}%", escape_like(&lower)), &mut binds);
        // Kana may be typed in hiragana; rosters write it in katakana.
        let katakana = to_katakana(&lower);
        if katakana == lower {
            conditions.push(format!("u.search_key LIKE {p} ESCAPE '\\'"));
        } else {
            let k = next(format!("%{}%", escape_like(&katakana)), &mut binds);
            conditions.push(format!(
                "(u.search_key LIKE {p} ESCAPE '\\' OR u.search_key LIKE {k} ESCAPE '\\')"
            ));
        }
    }
    if let Some(school) = &query.school {
        let p = next(school.clone(), &mut binds);
        conditions.push(format!(
            "(u.school_id = {p} \
             OR EXISTS (SELECT 1 FROM roles r WHERE r.user_id = u.sourced_id AND r.org_id = {p} AND r.status = 'active') \
             OR EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = u.sourced_id AND e.school_id = {p} AND e.status = 'active'))"
        ));
    }
    if let Some(class) = &query.class {
        let p = next(class.clone(), &mut binds);
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = u.sourced_id AND e.class_id = {p} AND e.status = 'active')"
        ));
    }
    if let Some(role) = &query.role {
        let p = next(role.clone(), &mut binds);
        conditions.push(format!("u.role = {p}"));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let limit = query.limit.clamp(1, MAX_PAGE);
    let sql = format!(
        "{PERSON_SELECT}{filter} ORDER BY COALESCE(u.family_name_kana, '') || COALESCE(u.given_name_kana, ''), u.username \
         LIMIT {limit} OFFSET {}",
        query.offset
    );
    (sql, binds)
}

/// `text` with its hiragana written in katakana (ぁ–ゖ → ァ–ヶ).
fn to_katakana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            other => other,
        })
        .collect()
}

/// `text` with LIKE's wildcards and its escape character taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The rows as people, each with the classes they are enrolled in as pupils.
pub(crate) async fn with_classes(
    directory: &dyn Directory,
    rows: Vec<PersonRow>,
) -> StoreResult<Vec<Person>> {
    let ids: Vec<String> = rows.iter().filter_map(|r| r.sourced_id.clone()).collect();
    let mut classes: std::collections::HashMap<String, Vec<ClassRef>> = Default::default();
    for (person, class) in directory.enrolled_classes(&ids).await? {
        classes.entry(person).or_default().push(class);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let name = join_name(row.family_name, row.given_name);
            let kana = join_name(row.family_name_kana, row.given_name_kana);
            Person {
                classes: row
                    .sourced_id
                    .as_ref()
                    .and_then(|id| classes.remove(id))
                    .unwrap_or_default(),
                account_id: row.id,
                sourced_id: row.sourced_id,
                name: if name.is_empty() {
                    row.username.clone()
                } else {
                    name
                },
                username: row.username,
                role: row.role,
                kana,
                school_id: row.school_id,
                grade: row.grade,
                enabled: row.enabled,
                locked: row.locked,
                status: row.status,
            }
        })
        .collect())
}

/// The roll number (出席番号) an enrollment record states, if any: the Japan profile's
/// `metadata.jp.shussekiNo`, a number or a numeric text.
pub(crate) fn roll_number(enrollment_json: &str) -> Option<i64> {
    let record: serde_json::Value = serde_json::from_str(enrollment_json).ok()?;
    let number = &record["metadata"]["jp"]["shussekiNo"];
    number
        .as_i64()
        .or_else(|| number.as_str().and_then(|text| text.trim().parse().ok()))
}

/// Family and given name with one full-width space between them, as Japanese rosters print
/// names; either alone as it is.
fn join_name(family: Option<String>, given: Option<String>) -> String {
    match (family, given) {
        (Some(family), Some(given)) => format!("{family}\u{3000}{given}"),
        (family, given) => family.or(given).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_numbers_are_read_as_numbers_or_numeric_text() {
        assert_eq!(
            roll_number(r#"{"metadata":{"jp":{"shussekiNo":7}}}"#),
            Some(7)
        );
        assert_eq!(
            roll_number(r#"{"metadata":{"jp":{"shussekiNo":" 12"}}}"#),
            Some(12)
        );
        assert_eq!(roll_number(r#"{"metadata":{}}"#), None);
        assert_eq!(roll_number("not json"), None);
    }

    #[test]
    fn hiragana_is_searched_as_katakana_too() {
        assert_eq!(to_katakana("やまだ たろう"), "ヤマダ タロウ");
        assert_eq!(to_katakana("山田abc"), "山田abc");
        let (sql, binds) = people_search_sql(&PeopleQuery {
            text: "やまだ".into(),
            ..PeopleQuery::default()
        });
        assert_eq!(binds, ["%やまだ%", "%ヤマダ%"]);
        assert!(sql.contains("search_key LIKE $2"), "{sql}");
    }

    #[test]
    fn wildcards_in_the_text_are_taken_literally() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }

    #[test]
    fn the_page_is_bounded_and_every_value_is_bound_not_written() {
        let (sql, binds) = people_search_sql(&PeopleQuery {
            text: "x'; DROP TABLE users; --".into(),
            school: Some("s1".into()),
            limit: 100_000,
            ..PeopleQuery::default()
        });
        assert!(sql.contains("LIMIT 200 OFFSET 0"));
        assert!(!sql.contains("DROP"));
        assert_eq!(binds.len(), 2);
    }
}

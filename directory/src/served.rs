//! The roster as the OneRoster REST binding serves it: each table's records as OneRoster JSON
//! with the columns reads are narrowed by, where people are placed, and guardianship links.
//! Deleted (`tobedeleted`) records are never served; `inactive` ones are, as the binding says.

/// Largest number of values bound in one `IN (…)` list; longer lists are read in chunks.
pub const CHUNK: usize = 500;

/// The lists of values a read binds, one statement each: `values` in chunks of [`CHUNK`], or a
/// single empty list for [`By::All`].
pub fn read_in_chunks(
    by: By,
    values: &[String],
) -> Box<dyn Iterator<Item = &[String]> + Send + '_> {
    if by == By::All {
        Box::new(std::iter::once(&[][..]))
    } else {
        Box::new(values.chunks(CHUNK))
    }
}

/// `select` narrowed by `narrow` (a condition with `{}` or `{0}` for the list) to `values`
/// parameters numbered from `first` (`$first, …`).
pub fn narrowed(select: &str, narrow: &str, first: usize, values: usize) -> String {
    let list = (first..first + values)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let narrow = if narrow.contains("{0}") {
        narrow.replace("{0}", &list)
    } else {
        narrow.replacen("{}", &list, 1)
    };
    format!("{select} AND {narrow}")
}

/// The roster tables the OneRoster REST binding serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterTable {
    /// Organisations (board, schools).
    Orgs,
    /// School years, terms, grading periods.
    AcademicSessions,
    /// Courses.
    Courses,
    /// Classes.
    Classes,
    /// People from the roster.
    Users,
    /// Enrollments of people in classes.
    Enrollments,
    /// Demographics (one per person, same sourcedId).
    Demographics,
    /// Gradebook categories.
    Categories,
    /// Gradebook line items.
    LineItems,
    /// Gradebook results.
    Results,
}

/// How a read narrows a table; each table maps it to one of its own columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// By sourcedId.
    Id,
    /// By the school the record belongs to (for users: placed in, by role or enrollment).
    School,
    /// By class (for users: enrolled in).
    Class,
    /// By the person it is about (results, enrollments, and records about a person).
    User,
    /// By its parent: an org's parent, a session's parent, a class's course, a line item's
    /// category, a result's line item.
    Parent,
    /// Every record (board-wide tables: academic sessions, gradebook categories).
    All,
}

impl RosterTable {
    /// `SELECT` of the [`Record`] columns, `FROM` the table, with deleted records left out.
    pub fn select(self) -> &'static str {
        match self {
            // A school is its own school; the board and other orgs belong to no school.
            RosterTable::Orgs => {
                "SELECT id AS sourced_id, status, date_last_modified, CASE WHEN org_type = 'school' THEN id END AS school_id, \
                 CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, org_type AS kind, parent_id, data FROM orgs WHERE data IS NOT NULL AND status <> 'tobedeleted'"
            }
            RosterTable::AcademicSessions => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, session_type AS kind, parent_id, data FROM academic_sessions WHERE status <> 'tobedeleted'"
            }
            RosterTable::Courses => {
                "SELECT sourced_id, status, date_last_modified, org_id AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS kind, school_year_id AS parent_id, data FROM courses WHERE status <> 'tobedeleted'"
            }
            RosterTable::Classes => {
                "SELECT sourced_id, status, date_last_modified, school_id, sourced_id AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, class_type AS kind, course_id AS parent_id, data FROM classes WHERE status <> 'tobedeleted'"
            }
            RosterTable::Users => {
                "SELECT sourced_id, status, date_last_modified, school_id, CAST(NULL AS TEXT) AS class_id, \
                 sourced_id AS user_id, role AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM users WHERE data IS NOT NULL AND status <> 'tobedeleted'"
            }
            RosterTable::Enrollments => {
                "SELECT sourced_id, status, date_last_modified, school_id, class_id, user_id, role AS kind, \
                 class_id AS parent_id, data FROM enrollments WHERE status <> 'tobedeleted'"
            }
            RosterTable::Demographics => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 sourced_id AS user_id, CAST(NULL AS TEXT) AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM demographics WHERE status <> 'tobedeleted'"
            }
            RosterTable::Categories => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM categories WHERE status <> 'tobedeleted'"
            }
            RosterTable::LineItems => {
                "SELECT l.sourced_id, l.status, l.date_last_modified, c.school_id, l.class_id, CAST(NULL AS TEXT) AS user_id, \
                 CAST(NULL AS TEXT) AS kind, l.category_id AS parent_id, l.data FROM line_items l LEFT JOIN classes c ON c.sourced_id = l.class_id \
                 WHERE l.status <> 'tobedeleted'"
            }
            RosterTable::Results => {
                "SELECT r.sourced_id, r.status, r.date_last_modified, c.school_id, l.class_id, r.student_id AS user_id, \
                 CAST(NULL AS TEXT) AS kind, r.line_item_id AS parent_id, r.data FROM results r \
                 JOIN line_items l ON l.sourced_id = r.line_item_id LEFT JOIN classes c ON c.sourced_id = l.class_id \
                 WHERE r.status <> 'tobedeleted' AND l.status <> 'tobedeleted'"
            }
        }
    }

    /// The column (or membership test) that `by` narrows on, with `{}` for the values.
    pub fn narrow(self, by: By) -> Option<&'static str> {
        use By::*;
        use RosterTable::*;
        Some(match (self, by) {
            (_, All) => "1 = 1",
            (Orgs, Id) => "id IN ({})",
            (Orgs, Parent) => "parent_id IN ({})",
            (Orgs, School) => "id IN ({})",
            (AcademicSessions, Id) => "sourced_id IN ({})",
            (AcademicSessions, Parent) => "parent_id IN ({})",
            (Courses, Id) => "sourced_id IN ({})",
            (Courses, School) => "org_id IN ({})",
            (Classes, Id) | (Classes, Class) => "sourced_id IN ({})",
            (Classes, School) => "school_id IN ({})",
            (Classes, Parent) => "course_id IN ({})",
            (Classes, User) => {
                "sourced_id IN (SELECT class_id FROM enrollments WHERE status <> 'tobedeleted' AND user_id IN ({}))"
            }
            (Users, Id) | (Users, User) => "sourced_id IN ({})",
            (Users, Class) => {
                "sourced_id IN (SELECT user_id FROM enrollments WHERE status <> 'tobedeleted' AND class_id IN ({}))"
            }
            (Users, School) => {
                "(school_id IN ({0}) OR sourced_id IN (SELECT user_id FROM roles WHERE status <> 'tobedeleted' AND org_id IN ({0})) \
                 OR sourced_id IN (SELECT user_id FROM enrollments WHERE status <> 'tobedeleted' AND school_id IN ({0})))"
            }
            (Enrollments, Id) => "sourced_id IN ({})",
            (Enrollments, School) => "school_id IN ({})",
            (Enrollments, Class) => "class_id IN ({})",
            (Enrollments, User) => "user_id IN ({})",
            (Demographics, Id) | (Demographics, User) => "sourced_id IN ({})",
            (Categories, Id) => "sourced_id IN ({})",
            (LineItems, Id) => "l.sourced_id IN ({})",
            (LineItems, Class) => "l.class_id IN ({})",
            (LineItems, School) => "c.school_id IN ({})",
            (LineItems, Parent) => "l.category_id IN ({})",
            (Results, Id) => "r.sourced_id IN ({})",
            (Results, Class) => "l.class_id IN ({})",
            (Results, School) => "c.school_id IN ({})",
            (Results, User) => "r.student_id IN ({})",
            (Results, Parent) => "r.line_item_id IN ({})",
            _ => return None,
        })
    }

    /// The statement reading the records whose `by` is one of `values` values.
    pub fn query(self, by: By, values: usize) -> Option<String> {
        Some(narrowed(self.select(), self.narrow(by)?, 1, values))
    }
}

/// A record as stored: OneRoster JSON plus the columns reads are narrowed by.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Record {
    /// sourcedId.
    pub sourced_id: String,
    /// `active` (or `inactive`).
    pub status: String,
    /// Last change (ISO 8601), if the export gave one.
    pub date_last_modified: Option<String>,
    /// The school it belongs to (a school org: itself; the board: none).
    pub school_id: Option<String>,
    /// The class it belongs to (classes: itself).
    pub class_id: Option<String>,
    /// The person it is about (users: themselves).
    pub user_id: Option<String>,
    /// Users: Renkei role (`student`, `teacher`, `guardian`, `administrator`); enrollments:
    /// role; orgs: type; sessions: type; classes: type.
    pub kind: Option<String>,
    /// See [`By::Parent`].
    pub parent_id: Option<String>,
    /// OneRoster JSON.
    pub data: String,
}

impl Record {
    /// The role it states: a user's account role, an enrollment's role (`None` for other
    /// records or roles Renkei does not type).
    pub fn role(&self) -> Option<crate::Role> {
        crate::Role::of(self.kind.as_deref())
    }
}

/// One placement row: a person in a school (and class).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlacementRow {
    /// The person.
    pub user_id: String,
    /// A school.
    pub school_id: Option<String>,
    /// A class, if the row is an enrollment.
    pub class_id: Option<String>,
}

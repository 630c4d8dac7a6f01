//! The directory's storage: one interface ([`Directory`]) over the roster tables, with a SQLite
//! and a PostgreSQL implementation generated from one body of SQL.
//!
//! The provider reads people's roles and classes through it, the consent service and the
//! gateway ask it who may act for a child, and the OneRoster import writes through the
//! transaction it opens ([`roster::ImportTx`]).

mod import_sql;
pub mod roster;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use renkei_platform::{Database, StoreResult};
use sqlx::sqlite::SqlitePoolOptions;

use crate::people::{
    PERSON_SELECT, PeopleQuery, Person, PersonRow, people_search_sql, with_classes,
};
use crate::served::{By, CHUNK, PlacementRow, Record, RosterTable, read_in_chunks};
use import_sql::sql_import_tx;
use renkei_platform::sql::placeholders;
use roster::{
    AccountPlace, AccountRow, DirectoryRow, ImportRecord, ImportTx, Params, Table, Upserted,
    account_upsert_sql, fold_username, tables, upsert_sql,
};

/// A role of a person in an organisation, from the roster.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RoleRow {
    /// OneRoster role (`student`, `teacher`, `principal`, …).
    pub role: String,
    /// `primary` or `secondary`.
    pub role_type: String,
    /// The organisation's sourcedId.
    pub org_id: String,
    /// Its name.
    pub org_name: Option<String>,
    /// Its type (`school`, `district`, …).
    pub org_type: Option<String>,
}

/// A class someone teaches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ClassRef {
    /// The class's sourcedId.
    pub id: String,
    /// Its title, e.g. 3年1組.
    pub title: String,
    /// Its school.
    pub school_id: String,
}

/// An organisation of the school board: the board itself or one of its schools.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrgRow {
    /// Stable identifier (the OneRoster `sourcedId` once rosters are imported).
    pub id: String,
    /// Display name, e.g. 「みなと区立桜小学校」.
    pub name: String,
    /// OneRoster org type: `district`, `school`, …
    pub org_type: String,
    /// The organisation above it (board → school).
    pub parent_id: Option<String>,
}

/// What erasing departed people removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// People erased.
    pub people: u64,
    /// Children whose links to audit events were removed (their sourcedIds).
    pub unlinked: Vec<String>,
}

/// Where an active pupil is placed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Schools the pupil belongs to (primary school, active roles and enrollments).
    pub schools: Vec<String>,
    /// Grade code.
    pub grade: Option<String>,
    /// Classes the pupil is enrolled in (active enrollments).
    pub classes: Vec<String>,
}

/// An active pupil and their grade.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Pupil {
    /// sourcedId.
    #[sqlx(rename = "sourced_id")]
    pub id: String,
    /// Grade code.
    pub grade: Option<String>,
}

/// The roster field an upstream sign-in is matched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterField {
    /// The person's e-mail address (compared without case).
    Email,
    /// The person's username (as sign-in folds it).
    Username,
}

/// What every part reads and writes of the roster directory.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// The active roles of a person (OneRoster 1.2 `roles.csv`), primary first.
    async fn roles_of(&self, sourced_id: &str) -> StoreResult<Vec<RoleRow>>;
    /// The active classes a teacher teaches, by title.
    async fn classes_taught_by(&self, sourced_id: &str) -> StoreResult<Vec<ClassRef>>;
    /// Whether a guardian may act for a child: the one rule every part asks. The roster links
    /// them (agents, either direction), the guardian is active and not disabled by the roster
    /// (a lock stops sign-ins, not custody), and the child is an active pupil.
    async fn is_guardian_of(&self, guardian: &str, student: &str) -> StoreResult<bool>;
    /// The pupils a guardian may act for (by the rule of [`Directory::is_guardian_of`]), by
    /// sourcedId.
    async fn children_of(&self, guardian: &str) -> StoreResult<Vec<String>>;
    /// An organisation (the board or a school) by id.
    async fn org(&self, id: &str) -> StoreResult<Option<OrgRow>>;
    /// The accounts of roster people whose `field` is `value`: how a sign-in through an
    /// upstream provider finds who it is. The roster is the authority: an account made outside
    /// it is never found.
    async fn roster_accounts_matching(
        &self,
        field: RosterField,
        value: &str,
    ) -> StoreResult<Vec<String>>;
    /// Whether the directory has this active school.
    async fn school_exists(&self, id: &str) -> StoreResult<bool>;
    /// Whether the directory has this active class.
    async fn class_exists(&self, id: &str) -> StoreResult<bool>;
    /// The school of an active class.
    async fn class_school(&self, class_id: &str) -> StoreResult<Option<String>>;
    /// A person's name as the roster gives it (family name first), by sourcedId.
    async fn person_name(&self, sourced_id: &str) -> StoreResult<Option<String>>;
    /// Where an active pupil (sourcedId) is: schools, grade, classes; `None` if there is no
    /// such active pupil.
    async fn placement(&self, sourced_id: &str) -> StoreResult<Option<Placement>>;
    /// Active pupils of a school (primary school, active role or enrollment there).
    async fn pupils_of_school(&self, school_id: &str) -> StoreResult<Vec<Pupil>>;
    /// Active pupils enrolled in a class.
    async fn pupils_of_class(&self, class_id: &str) -> StoreResult<Vec<Pupil>>;
    /// Which of `among` are active pupils of the school, exactly as
    /// [`Directory::pupils_of_school`] lists them, without listing the whole school.
    async fn pupils_within_school(
        &self,
        school_id: &str,
        among: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Which of `among` are active pupils of the class, exactly as
    /// [`Directory::pupils_of_class`] lists them.
    async fn pupils_within_class(
        &self,
        class_id: &str,
        among: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Everyone the directory places in a school, in any role and status.
    async fn people_in_school(&self, school_id: &str) -> StoreResult<Vec<String>>;
    /// Whether `sourced_id` belongs to the school now: their primary school, or an active role
    /// or enrollment there (what a school administrator acts on).
    async fn belongs_to_school(&self, sourced_id: &str, school_id: &str) -> StoreResult<bool>;
    /// Everyone enrolled in a class, in any role and status.
    async fn people_in_class(&self, class_id: &str) -> StoreResult<Vec<String>>;
    /// The served records of `table` whose `by` is one of `values` (none for an empty list or a
    /// narrowing the table does not have).
    async fn records(
        &self,
        table: RosterTable,
        by: By,
        values: &[String],
    ) -> StoreResult<Vec<Record>>;
    /// Where each of `users` is placed (schools and classes; rows not deleted).
    async fn placements(&self, users: &[String]) -> StoreResult<Vec<PlacementRow>>;
    /// Guardianship links the roster states touching `users`, as (child, guardian) pairs: the
    /// links an app may be shown, whatever the accounts' state.
    async fn agents(&self, users: &[String]) -> StoreResult<Vec<(String, String)>>;
    /// The accounts (`users.id`) that may act as guardians of these children now, as (child,
    /// account) pairs: the rule of [`Directory::is_guardian_of`], asked child first, for
    /// deciding whether a guardian's earlier consent still counts.
    async fn guardian_accounts_of(&self, children: &[String])
    -> StoreResult<Vec<(String, String)>>;
    /// Erases roster people who left the board (disabled as `tobedeleted`) before `before`,
    /// with their roster records, sessions and grants, their school-affairs and consent records
    /// and the links of audit events to them, in one transaction: the end of the retention
    /// period. Returns what was erased.
    async fn erase_departed(&self, before: i64) -> StoreResult<Erased>;
    /// The board's active schools, by name: what the console offers to choose from.
    async fn schools(&self) -> StoreResult<Vec<OrgRow>>;
    /// The active classes of a school, by title.
    async fn classes_of_school(&self, school_id: &str) -> StoreResult<Vec<ClassRef>>;
    /// Active pupils of the board in a grade (a policy reaching a grade reaches them all).
    async fn pupils_of_grade(&self, grade: &str) -> StoreResult<Vec<Pupil>>;
    /// The people with these sourcedIds as the console lists them (any status), with the
    /// classes they are enrolled in as pupils.
    async fn people(&self, ids: &[String]) -> StoreResult<Vec<Person>>;
    /// The classes each of `people` (sourcedIds) is actively enrolled in as a pupil, as
    /// (person, class) pairs by class title.
    async fn enrolled_classes(&self, people: &[String]) -> StoreResult<Vec<(String, ClassRef)>>;
    /// The latest `limit` imports (applied, dry runs and rejected ones), newest first.
    async fn recent_imports(&self, limit: i64) -> StoreResult<Vec<ImportRecord>>;
    /// The active pupils of an active class with their roll numbers (出席番号, the Japan
    /// profile's `metadata.jp.shussekiNo`), by number.
    async fn class_roll(&self, class_id: &str) -> StoreResult<Vec<(String, Option<i64>)>>;
    /// People matching `query`, a page of them, by kana then username.
    async fn search_people(&self, query: &PeopleQuery) -> StoreResult<Vec<Person>>;
    /// How many enabled accounts each role has, in a school (or the whole board).
    async fn people_by_role(&self, school_id: Option<&str>) -> StoreResult<Vec<(String, i64)>>;
    /// Starts the transaction a roster import runs in.
    async fn begin_import(&self) -> StoreResult<Box<dyn ImportTx>>;
    /// Records an import that was rejected or dry-run (outside its rolled-back transaction).
    async fn record_import(&self, record: &ImportRecord) -> StoreResult<()>;
}

/// The directory on an open database.
pub fn open(database: &Database) -> Arc<dyn Directory> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteDirectory { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresDirectory { pool: pool.clone() }),
    }
}

struct SqliteDirectory {
    pool: sqlx::SqlitePool,
}

impl SqliteDirectory {
    /// The connection an import runs on, in a pool of its own that closes when the import
    /// ends: a board-sized import touches more pages than the server's connections cache, and
    /// spilling them to the WAL in mid-transaction cost a sixth of its time, so this one
    /// caches 128 MiB, freed with it.
    async fn import_pool(&self) -> StoreResult<sqlx::SqlitePool> {
        let options = (*self.pool.connect_options())
            .clone()
            .pragma("cache_size", "-131072");
        Ok(SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?)
    }
}

struct PostgresDirectory {
    pool: sqlx::PgPool,
}

impl PostgresDirectory {
    /// The pool an import runs on: the server's own (PostgreSQL caches on its side).
    async fn import_pool(&self) -> StoreResult<sqlx::PgPool> {
        Ok(self.pool.clone())
    }
}

// Takes SQLite's write lock at once (a no-op write).
sql_import_tx!(
    SqliteImport,
    sqlx::Sqlite,
    Params::Positional,
    "UPDATE imports SET outcome = outcome WHERE 1 = 0"
);
// A transaction-scoped advisory lock, the same key for every Renkei import.
sql_import_tx!(
    PostgresImport,
    sqlx::Postgres,
    Params::Numbered,
    "SELECT pg_advisory_xact_lock(7246101)"
);

/// The rows (`s`: the child) a guardian `$1` may act for: linked by the roster either way, the
/// guardian active and not disabled by the roster (an administrator's lock stops their
/// sign-ins, not their custody), the child an active pupil.
const GUARDIANSHIP: &str = "FROM user_agents a \
    JOIN users g ON g.sourced_id = $1 AND g.status = 'active' AND g.disabled_at IS NULL \
    JOIN users s ON s.status = 'active' AND s.role = 'student' \
    AND ((a.user_id = $1 AND a.agent_id = s.sourced_id) OR (a.agent_id = $1 AND a.user_id = s.sourced_id))";

/// SQL condition: user `u` is placed in the school `$1` (its primary school, or an active role
/// or enrollment there). One definition for listing a school's pupils and for asking about a
/// few of them.
macro_rules! placed_in_school {
    () => {
        "(u.school_id = $1 \
         OR EXISTS (SELECT 1 FROM roles r WHERE r.user_id = u.sourced_id AND r.org_id = $1 AND r.status = 'active') \
         OR EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = u.sourced_id AND e.school_id = $1 AND e.status = 'active'))"
    };
}

/// SQL condition: user `u` is enrolled as a pupil in the class `$1`.
const ENROLLED_IN_CLASS: &str = "EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = u.sourced_id \
    AND e.class_id = $1 AND e.status = 'active' AND e.role = 'student')";

/// Implements [`Directory`] for `$store` (a struct with a `pool: sqlx::Pool<$db>` field and an
/// `import_pool` method), importing through `$import`.
macro_rules! directory_store {
    ($store:ty, $db:ty, $import:ident) => {
        #[async_trait]
        impl Directory for $store {
            async fn roles_of(&self, sourced_id: &str) -> StoreResult<Vec<RoleRow>> {
                Ok(sqlx::query_as::<$db, RoleRow>(
                    "SELECT r.role, r.role_type, r.org_id, o.name AS org_name, o.org_type FROM roles r \
                     LEFT JOIN orgs o ON o.id = r.org_id WHERE r.user_id = $1 AND r.status = 'active' \
                     ORDER BY r.role_type, r.org_id",
                )
                .bind(sourced_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn classes_taught_by(&self, sourced_id: &str) -> StoreResult<Vec<ClassRef>> {
                Ok(sqlx::query_as::<$db, ClassRef>(
                    "SELECT c.sourced_id AS id, c.title, c.school_id FROM enrollments e \
                     JOIN classes c ON c.sourced_id = e.class_id WHERE e.user_id = $1 AND e.role = 'teacher' \
                     AND e.status = 'active' AND c.status = 'active' ORDER BY c.title, c.sourced_id",
                )
                .bind(sourced_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn is_guardian_of(&self, guardian: &str, student: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {GUARDIANSHIP} AND s.sourced_id = $2"))
                    .bind(guardian)
                    .bind(student)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn children_of(&self, guardian: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar(&format!("SELECT DISTINCT s.sourced_id {GUARDIANSHIP} ORDER BY s.sourced_id"))
                    .bind(guardian)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn org(&self, id: &str) -> StoreResult<Option<OrgRow>> {
                Ok(sqlx::query_as::<$db, OrgRow>("SELECT id, name, org_type, parent_id FROM orgs WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn school_exists(&self, id: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs WHERE id = $1 AND org_type = 'school' AND status = 'active'")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn class_exists(&self, id: &str) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM classes WHERE sourced_id = $1 AND status = 'active'")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn class_school(&self, class_id: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT school_id FROM classes WHERE sourced_id = $1 AND status = 'active'")
                    .bind(class_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn person_name(&self, sourced_id: &str) -> StoreResult<Option<String>> {
                let row: Option<(Option<String>, Option<String>, String)> =
                    sqlx::query_as("SELECT family_name, given_name, username FROM users WHERE sourced_id = $1")
                        .bind(sourced_id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(family, given, username)| match (family, given) {
                    (None, None) => username,
                    (family, given) => format!("{} {}", family.unwrap_or_default(), given.unwrap_or_default()).trim().to_owned(),
                }))
            }

            async fn placement(&self, sourced_id: &str) -> StoreResult<Option<Placement>> {
                let student: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT school_id, grade FROM users WHERE sourced_id = $1 AND role = 'student' AND status = 'active'",
                )
                .bind(sourced_id)
                .fetch_optional(&self.pool)
                .await?;
                let Some((school, grade)) = student else { return Ok(None) };
                let mut schools: Vec<String> = sqlx::query_scalar(
                    "SELECT org_id FROM roles WHERE user_id = $1 AND status = 'active' UNION SELECT school_id FROM enrollments \
                     WHERE user_id = $1 AND status = 'active'",
                )
                .bind(sourced_id)
                .fetch_all(&self.pool)
                .await?;
                schools.extend(school);
                schools.sort();
                schools.dedup();
                let classes: Vec<String> =
                    sqlx::query_scalar("SELECT class_id FROM enrollments WHERE user_id = $1 AND status = 'active' ORDER BY class_id")
                        .bind(sourced_id)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(Some(Placement { schools, grade, classes }))
            }

            async fn pupils_of_school(&self, school_id: &str) -> StoreResult<Vec<Pupil>> {
                Ok(sqlx::query_as::<$db, Pupil>(concat!(
                    "SELECT u.sourced_id, u.grade FROM users u WHERE u.role = 'student' AND u.status = 'active' \
                     AND u.sourced_id IS NOT NULL AND ",
                    placed_in_school!(),
                    " ORDER BY u.sourced_id"
                ))
                .bind(school_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn pupils_of_class(&self, class_id: &str) -> StoreResult<Vec<Pupil>> {
                Ok(sqlx::query_as::<$db, Pupil>(
                    "SELECT u.sourced_id, u.grade FROM enrollments e JOIN users u ON u.sourced_id = e.user_id \
                     WHERE e.class_id = $1 AND e.status = 'active' AND e.role = 'student' AND u.role = 'student' AND u.status = 'active' \
                     ORDER BY u.sourced_id",
                )
                .bind(class_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn pupils_within_school(&self, school_id: &str, among: &[String]) -> StoreResult<Vec<String>> {
                pupils_within::<$db>(&self.pool, placed_in_school!(), school_id, among).await
            }

            async fn pupils_within_class(&self, class_id: &str, among: &[String]) -> StoreResult<Vec<String>> {
                pupils_within::<$db>(&self.pool, ENROLLED_IN_CLASS, class_id, among).await
            }

            async fn people_in_school(&self, school_id: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT sourced_id FROM users WHERE school_id = $1 AND sourced_id IS NOT NULL \
                     UNION SELECT user_id FROM roles WHERE org_id = $1 UNION SELECT user_id FROM enrollments WHERE school_id = $1",
                )
                .bind(school_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn roster_accounts_matching(&self, field: RosterField, value: &str) -> StoreResult<Vec<String>> {
                let (query, value) = match field {
                    RosterField::Email => (
                        "SELECT id FROM users WHERE sourced_id IS NOT NULL AND lower(email) = $1 ORDER BY id LIMIT 2",
                        value.to_lowercase(),
                    ),
                    RosterField::Username => (
                        "SELECT id FROM users WHERE sourced_id IS NOT NULL AND username = $1 ORDER BY id LIMIT 2",
                        fold_username(value),
                    ),
                };
                Ok(sqlx::query_scalar(query).bind(value).fetch_all(&self.pool).await?)
            }

            async fn belongs_to_school(&self, sourced_id: &str, school_id: &str) -> StoreResult<bool> {
                let found: Option<String> = sqlx::query_scalar(
                    "SELECT sourced_id FROM users WHERE sourced_id = $1 AND school_id = $2 \
                     UNION SELECT user_id FROM roles WHERE user_id = $1 AND org_id = $2 AND status = 'active' \
                     UNION SELECT user_id FROM enrollments WHERE user_id = $1 AND school_id = $2 AND status = 'active'",
                )
                .bind(sourced_id)
                .bind(school_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.is_some())
            }

            async fn people_in_class(&self, class_id: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT user_id FROM enrollments WHERE class_id = $1")
                    .bind(class_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn records(&self, table: RosterTable, by: By, values: &[String]) -> StoreResult<Vec<Record>> {
                let mut records = Vec::new();
                for chunk in read_in_chunks(by, values) {
                    let Some(sql) = table.query(by, chunk.len()) else {
                        return Ok(records);
                    };
                    let mut query = sqlx::query_as::<$db, Record>(&sql);
                    for value in chunk {
                        query = query.bind(value);
                    }
                    records.extend(query.fetch_all(&self.pool).await?);
                }
                Ok(records)
            }

            async fn placements(&self, users: &[String]) -> StoreResult<Vec<PlacementRow>> {
                let mut rows = Vec::new();
                for chunk in users.chunks(CHUNK) {
                    let list = placeholders(chunk.len());
                    let sql = format!(
                        "SELECT user_id, school_id, class_id FROM enrollments WHERE status <> 'tobedeleted' AND user_id IN ({list}) \
                         UNION ALL SELECT user_id, org_id AS school_id, CAST(NULL AS TEXT) AS class_id FROM roles \
                         WHERE status <> 'tobedeleted' AND user_id IN ({list}) \
                         UNION ALL SELECT sourced_id AS user_id, school_id, CAST(NULL AS TEXT) AS class_id FROM users \
                         WHERE school_id IS NOT NULL AND sourced_id IN ({list})"
                    );
                    let mut query = sqlx::query_as::<$db, PlacementRow>(&sql);
                    for user in chunk {
                        query = query.bind(user);
                    }
                    rows.extend(query.fetch_all(&self.pool).await?);
                }
                Ok(rows)
            }

            async fn agents(&self, users: &[String]) -> StoreResult<Vec<(String, String)>> {
                let mut links = Vec::new();
                for chunk in users.chunks(CHUNK) {
                    let list = placeholders(chunk.len());
                    // A link is written by whichever record lists the other as its agent; the
                    // child is the one whose role is student.
                    let sql = format!(
                        "SELECT a.user_id, a.agent_id, u.role FROM user_agents a JOIN users u ON u.sourced_id = a.user_id \
                         WHERE a.user_id IN ({list}) OR a.agent_id IN ({list})"
                    );
                    let mut query = sqlx::query_as::<$db, (String, String, String)>(&sql);
                    for user in chunk {
                        query = query.bind(user);
                    }
                    for (user, agent, role) in query.fetch_all(&self.pool).await? {
                        links.push(if role == "student" { (user, agent) } else { (agent, user) });
                    }
                }
                links.sort();
                links.dedup();
                Ok(links)
            }

            async fn guardian_accounts_of(&self, children: &[String]) -> StoreResult<Vec<(String, String)>> {
                let mut links = Vec::new();
                for chunk in children.chunks(CHUNK) {
                    let list = placeholders(chunk.len());
                    // The conditions of GUARDIANSHIP, from the child's side: a link written by
                    // either record, each way as its own indexed join.
                    let sql = format!(
                        "SELECT s.sourced_id, g.id FROM users s JOIN user_agents a ON a.user_id = s.sourced_id \
                         JOIN users g ON g.sourced_id = a.agent_id AND g.status = 'active' AND g.disabled_at IS NULL \
                         WHERE s.status = 'active' AND s.role = 'student' AND s.sourced_id IN ({list}) \
                         UNION \
                         SELECT s.sourced_id, g.id FROM users s JOIN user_agents a ON a.agent_id = s.sourced_id \
                         JOIN users g ON g.sourced_id = a.user_id AND g.status = 'active' AND g.disabled_at IS NULL \
                         WHERE s.status = 'active' AND s.role = 'student' AND s.sourced_id IN ({list})"
                    );
                    let mut query = sqlx::query_as::<$db, (String, String)>(&sql);
                    for child in chunk {
                        query = query.bind(child);
                    }
                    links.extend(query.fetch_all(&self.pool).await?);
                }
                links.sort();
                Ok(links)
            }

            async fn erase_departed(&self, before: i64) -> StoreResult<Erased> {
                let mut tx = self.pool.begin().await?;
                let departed = "SELECT sourced_id FROM users WHERE status = 'tobedeleted' AND sourced_id IS NOT NULL \
                                AND disabled_at IS NOT NULL AND disabled_at < $1";
                let unlinked: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT DISTINCT child_id FROM audit_children WHERE child_id IN ({departed}) ORDER BY child_id"
                ))
                .bind(before)
                .fetch_all(&mut *tx)
                .await?;
                for statement in [
                    format!("DELETE FROM enrollments WHERE user_id IN ({departed})"),
                    format!("DELETE FROM roles WHERE user_id IN ({departed})"),
                    format!("DELETE FROM user_profiles WHERE user_id IN ({departed})"),
                    format!("DELETE FROM demographics WHERE sourced_id IN ({departed})"),
                    format!("DELETE FROM results WHERE student_id IN ({departed})"),
                    format!("DELETE FROM user_agents WHERE user_id IN ({departed}) OR agent_id IN ({departed})"),
                    // What other parts keep about the child goes too, so that a sourcedId the
                    // board reuses never attaches it to a new pupil: school-affairs records,
                    // consent records, and the links of audit events to the child (the events
                    // themselves stay: the chain must not break).
                    format!("DELETE FROM affairs_records WHERE student_id IN ({departed})"),
                    format!("DELETE FROM consent_records WHERE student_id IN ({departed})"),
                    format!("DELETE FROM audit_children WHERE child_id IN ({departed})"),
                    // Their sign-in cards, enrolment links, recovery codes and upstream links (by account).
                    format!(
                        "DELETE FROM sign_in_cards WHERE user_id IN (SELECT id FROM users WHERE sourced_id IN ({departed}))"
                    ),
                    format!(
                        "DELETE FROM enrolment_links WHERE user_id IN (SELECT id FROM users WHERE sourced_id IN ({departed}))"
                    ),
                    format!(
                        "DELETE FROM recovery_codes WHERE user_id IN (SELECT id FROM users WHERE sourced_id IN ({departed}))"
                    ),
                    format!(
                        "DELETE FROM upstream_links WHERE user_id IN (SELECT id FROM users WHERE sourced_id IN ({departed}))"
                    ),
                ] {
                    sqlx::query(&statement).bind(before).execute(&mut *tx).await?;
                }
                let erased = sqlx::query(
                    "DELETE FROM users WHERE status = 'tobedeleted' AND sourced_id IS NOT NULL \
                     AND disabled_at IS NOT NULL AND disabled_at < $1",
                )
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Erased {
                    people: erased,
                    unlinked,
                })
            }

            async fn schools(&self) -> StoreResult<Vec<OrgRow>> {
                Ok(sqlx::query_as::<$db, OrgRow>(
                    "SELECT id, name, org_type, parent_id FROM orgs WHERE org_type = 'school' AND status = 'active' ORDER BY name, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn classes_of_school(&self, school_id: &str) -> StoreResult<Vec<ClassRef>> {
                Ok(sqlx::query_as::<$db, ClassRef>(
                    "SELECT sourced_id AS id, title, school_id FROM classes WHERE school_id = $1 AND status = 'active' \
                     ORDER BY title, sourced_id",
                )
                .bind(school_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn pupils_of_grade(&self, grade: &str) -> StoreResult<Vec<Pupil>> {
                Ok(sqlx::query_as::<$db, Pupil>(
                    "SELECT sourced_id, grade FROM users WHERE role = 'student' AND status = 'active' \
                     AND sourced_id IS NOT NULL AND grade = $1 ORDER BY sourced_id",
                )
                .bind(grade)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn people(&self, ids: &[String]) -> StoreResult<Vec<Person>> {
                let mut people = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    let sql = format!("{PERSON_SELECT} WHERE u.sourced_id IN ({})", placeholders(chunk.len()));
                    let mut query = sqlx::query_as::<$db, PersonRow>(&sql);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    people.extend(query.fetch_all(&self.pool).await?);
                }
                with_classes(self, people).await
            }

            async fn recent_imports(&self, limit: i64) -> StoreResult<Vec<ImportRecord>> {
                Ok(sqlx::query_as::<$db, ImportRecord>(
                    "SELECT id, started_at, finished_at, actor, source, outcome, summary FROM imports \
                     ORDER BY finished_at DESC, id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn class_roll(&self, class_id: &str) -> StoreResult<Vec<(String, Option<i64>)>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT u.sourced_id, e.data FROM enrollments e JOIN users u ON u.sourced_id = e.user_id \
                     WHERE e.class_id = $1 AND e.status = 'active' AND e.role = 'student' AND u.role = 'student' \
                     AND u.status = 'active' ORDER BY u.sourced_id",
                )
                .bind(class_id)
                .fetch_all(&self.pool)
                .await?;
                let mut roll: Vec<(String, Option<i64>)> = rows
                    .into_iter()
                    .map(|(id, data)| (id, crate::people::roll_number(&data)))
                    .collect();
                roll.sort_by_key(|(id, number)| (number.is_none(), *number, id.clone()));
                Ok(roll)
            }

            async fn search_people(&self, query: &PeopleQuery) -> StoreResult<Vec<Person>> {
                let (sql, binds) = people_search_sql(query);
                let mut select = sqlx::query_as::<$db, PersonRow>(&sql);
                for value in binds {
                    select = select.bind(value);
                }
                let rows = select.fetch_all(&self.pool).await?;
                with_classes(self, rows).await
            }

            async fn people_by_role(&self, school_id: Option<&str>) -> StoreResult<Vec<(String, i64)>> {
                let sql = match school_id {
                    Some(_) => concat!(
                        "SELECT u.role, COUNT(*) FROM users u WHERE u.enabled AND u.status = 'active' AND ",
                        placed_in_school!(),
                        " GROUP BY u.role ORDER BY u.role"
                    ),
                    None => "SELECT u.role, COUNT(*) FROM users u WHERE u.enabled AND u.status = 'active' GROUP BY u.role ORDER BY u.role",
                };
                let mut query = sqlx::query_as::<$db, (String, i64)>(sql);
                if let Some(school) = school_id {
                    query = query.bind(school);
                }
                Ok(query.fetch_all(&self.pool).await?)
            }

            async fn enrolled_classes(&self, people: &[String]) -> StoreResult<Vec<(String, ClassRef)>> {
                let mut pairs = Vec::new();
                for chunk in people.chunks(CHUNK) {
                    let sql = format!(
                        "SELECT e.user_id, c.sourced_id, c.title, c.school_id FROM enrollments e JOIN classes c ON c.sourced_id = e.class_id \
                         WHERE e.status = 'active' AND c.status = 'active' AND e.role = 'student' AND e.user_id IN ({}) \
                         ORDER BY c.title, c.sourced_id",
                        placeholders(chunk.len())
                    );
                    let mut query = sqlx::query_as::<$db, (String, String, String, String)>(&sql);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    pairs.extend(
                        query
                            .fetch_all(&self.pool)
                            .await?
                            .into_iter()
                            .map(|(user, id, title, school_id)| (user, ClassRef { id, title, school_id })),
                    );
                }
                Ok(pairs)
            }

            async fn begin_import(&self) -> StoreResult<Box<dyn ImportTx>> {
                Ok(Box::new($import::begin(self.import_pool().await?).await?))
            }

            async fn record_import(&self, record: &ImportRecord) -> StoreResult<()> {
                let mut tx: Box<dyn ImportTx> = Box::new($import { tx: self.pool.begin().await? });
                tx.record_import(record).await?;
                tx.commit().await
            }
        }
    };
}

/// Which of `among` are active pupils meeting `condition` (about the group `$1` = `id`), in
/// chunks of 500 parameters.
async fn pupils_within<DB>(
    pool: &sqlx::Pool<DB>,
    condition: &str,
    id: &str,
    among: &[String],
) -> StoreResult<Vec<String>>
where
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q String: sqlx::Encode<'q, DB>,
    String: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    (String,): for<'r> sqlx::FromRow<'r, <DB as sqlx::Database>::Row>,
{
    let mut within = Vec::new();
    for chunk in among.chunks(500) {
        let list = renkei_platform::sql::placeholders(chunk.len() + 1);
        let list = list.split_once(", ").map_or("", |(_, rest)| rest);
        let sql = format!(
            "SELECT u.sourced_id FROM users u WHERE u.sourced_id IN ({list}) AND u.role = 'student' \
             AND u.status = 'active' AND {condition}"
        );
        let mut query = sqlx::query_scalar::<DB, String>(&sql).bind(id);
        for candidate in chunk {
            query = query.bind(candidate);
        }
        within.extend(query.fetch_all(pool).await?);
    }
    Ok(within)
}

directory_store!(SqliteDirectory, sqlx::Sqlite, SqliteImport);
directory_store!(PostgresDirectory, sqlx::Postgres, PostgresImport);

//! The gateway's storage interface: roster records as OneRoster JSON with the columns reads are
//! narrowed by, where people are placed, and school-affairs records; one body of SQL for SQLite
//! and PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_platform::sql::placeholders;
use renkei_platform::{Database, StoreResult};

/// Largest number of values bound in one `IN (…)` list; longer lists are read in chunks.
const CHUNK: usize = 500;

/// The kinds of record the gateway serves, each a table of the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
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
    /// School-affairs records of one category (the extension endpoints).
    Affairs(&'static str),
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
    /// By the person it is about (results, enrollments, school-affairs records).
    User,
    /// By its parent: an org's parent, a session's parent, a class's course, a line item's
    /// category, a result's line item.
    Parent,
    /// Every record (board-wide tables: academic sessions, gradebook categories).
    All,
}

impl Table {
    /// `SELECT` of the [`Record`] columns, `FROM` the table, with deleted records left out.
    fn select(self) -> &'static str {
        match self {
            // A school is its own school; the board and other orgs belong to no school.
            Table::Orgs => {
                "SELECT id AS sourced_id, status, date_last_modified, CASE WHEN org_type = 'school' THEN id END AS school_id, \
                 CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, org_type AS kind, parent_id, data FROM orgs WHERE data IS NOT NULL AND status <> 'tobedeleted'"
            }
            Table::AcademicSessions => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, session_type AS kind, parent_id, data FROM academic_sessions WHERE status <> 'tobedeleted'"
            }
            Table::Courses => {
                "SELECT sourced_id, status, date_last_modified, org_id AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS kind, school_year_id AS parent_id, data FROM courses WHERE status <> 'tobedeleted'"
            }
            Table::Classes => {
                "SELECT sourced_id, status, date_last_modified, school_id, sourced_id AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, class_type AS kind, course_id AS parent_id, data FROM classes WHERE status <> 'tobedeleted'"
            }
            Table::Users => {
                "SELECT sourced_id, status, date_last_modified, school_id, CAST(NULL AS TEXT) AS class_id, \
                 sourced_id AS user_id, role AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM users WHERE data IS NOT NULL AND status <> 'tobedeleted'"
            }
            Table::Enrollments => {
                "SELECT sourced_id, status, date_last_modified, school_id, class_id, user_id, role AS kind, \
                 class_id AS parent_id, data FROM enrollments WHERE status <> 'tobedeleted'"
            }
            Table::Demographics => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 sourced_id AS user_id, CAST(NULL AS TEXT) AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM demographics WHERE status <> 'tobedeleted'"
            }
            Table::Categories => {
                "SELECT sourced_id, status, date_last_modified, CAST(NULL AS TEXT) AS school_id, CAST(NULL AS TEXT) AS class_id, \
                 CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM categories WHERE status <> 'tobedeleted'"
            }
            Table::LineItems => {
                "SELECT l.sourced_id, l.status, l.date_last_modified, c.school_id, l.class_id, CAST(NULL AS TEXT) AS user_id, \
                 CAST(NULL AS TEXT) AS kind, l.category_id AS parent_id, l.data FROM line_items l LEFT JOIN classes c ON c.sourced_id = l.class_id \
                 WHERE l.status <> 'tobedeleted'"
            }
            Table::Results => {
                "SELECT r.sourced_id, r.status, r.date_last_modified, c.school_id, l.class_id, r.student_id AS user_id, \
                 CAST(NULL AS TEXT) AS kind, r.line_item_id AS parent_id, r.data FROM results r \
                 JOIN line_items l ON l.sourced_id = r.line_item_id LEFT JOIN classes c ON c.sourced_id = l.class_id \
                 WHERE r.status <> 'tobedeleted' AND l.status <> 'tobedeleted'"
            }
            Table::Affairs(_) => {
                "SELECT sourced_id, status, date_last_modified, school_id, class_id, student_id AS user_id, \
                 category AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM affairs_records WHERE category = $1"
            }
        }
    }

    /// The column (or membership test) that `by` narrows on, with `{}` for the values.
    fn narrow(self, by: By) -> Option<&'static str> {
        use By::*;
        use Table::*;
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
            (Affairs(_), Id) => "sourced_id IN ({})",
            (Affairs(_), Class) => "class_id IN ({})",
            (Affairs(_), School) => "school_id IN ({})",
            (Affairs(_), User) => "student_id IN ({})",
            _ => return None,
        })
    }

    /// The statement reading the records whose `by` is one of `values` values.
    fn query(self, by: By, values: usize) -> Option<String> {
        let first = if matches!(self, Table::Affairs(_)) {
            2
        } else {
            1
        };
        let list = (first..first + values)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let narrow = self.narrow(by)?;
        let narrow = if narrow.contains("{0}") {
            narrow.replace("{0}", &list)
        } else {
            narrow.replacen("{}", &list, 1)
        };
        Some(format!("{} AND {narrow}", self.select()))
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

/// A school-affairs record to store.
#[derive(Clone, Debug)]
pub struct AffairsRow {
    /// sourcedId (unique within the category).
    pub sourced_id: String,
    /// `active`.
    pub status: String,
    /// Last change (ISO 8601).
    pub date_last_modified: String,
    /// The pupil it is about (absent for class records such as timetables).
    pub student_id: Option<String>,
    /// The class it is about.
    pub class_id: Option<String>,
    /// The school.
    pub school_id: Option<String>,
    /// The day it concerns (`YYYY-MM-DD`).
    pub record_date: Option<String>,
    /// JSON as served.
    pub data: String,
}

/// What an affairs import changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AffairsChanges {
    /// New records.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records removed (`tobedeleted`, or absent from a bulk file).
    pub deleted: u64,
}

/// What the gateway reads and writes.
#[async_trait]
pub trait GatewayStore: Send + Sync + 'static {
    /// The records of `table` whose `by` is one of `values` (none for an empty list or a
    /// narrowing the table does not have).
    async fn select(&self, table: Table, by: By, values: &[String]) -> StoreResult<Vec<Record>>;
    /// Where each of `users` is placed (schools and classes, active rows).
    async fn placements(&self, users: &[String]) -> StoreResult<Vec<PlacementRow>>;
    /// Guardianship links touching `users`, as (child, guardian) pairs.
    async fn agents(&self, users: &[String]) -> StoreResult<Vec<(String, String)>>;
    /// Writes school-affairs records of `category` in one transaction: upserts `rows`, removes
    /// `removed`, and (bulk) every other record of the category.
    async fn write_affairs(
        &self,
        category: &str,
        rows: &[AffairsRow],
        removed: &[String],
        bulk: bool,
        dry_run: bool,
    ) -> StoreResult<AffairsChanges>;
}

/// The gateway storage on an open database.
pub fn open(database: &Database) -> Arc<dyn GatewayStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteGatewayStore { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresGatewayStore { pool: pool.clone() }),
    }
}

struct SqliteGatewayStore {
    pool: sqlx::SqlitePool,
}

struct PostgresGatewayStore {
    pool: sqlx::PgPool,
}

macro_rules! gateway_store {
    ($store:ty, $db:ty, $numbered:expr) => {
        #[async_trait]
        impl GatewayStore for $store {
            async fn select(&self, table: Table, by: By, values: &[String]) -> StoreResult<Vec<Record>> {
                let mut records = Vec::new();
                let everything = [Vec::new()];
                let chunks: Box<dyn Iterator<Item = &[String]> + Send> = if by == By::All {
                    Box::new(everything.iter().map(Vec::as_slice))
                } else {
                    Box::new(values.chunks(CHUNK))
                };
                for chunk in chunks {
                    let Some(sql) = table.query(by, chunk.len()) else {
                        return Ok(records);
                    };
                    let mut query = sqlx::query_as::<$db, Record>(&sql);
                    if let Table::Affairs(category) = table {
                        query = query.bind(category);
                    }
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

            async fn write_affairs(
                &self,
                category: &str,
                rows: &[AffairsRow],
                removed: &[String],
                bulk: bool,
                dry_run: bool,
            ) -> StoreResult<AffairsChanges> {
                let mut tx = self.pool.begin().await?;
                // Take the write lock before reading (SQLite would otherwise refuse to upgrade
                // a read transaction that another writer overtook).
                sqlx::query("UPDATE affairs_records SET status = status WHERE 1 = 0")
                    .execute(&mut *tx)
                    .await?;
                let mut changes = AffairsChanges::default();
                let existing: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT sourced_id, status, data FROM affairs_records WHERE category = $1",
                )
                .bind(category)
                .fetch_all(&mut *tx)
                .await?;
                let existing: std::collections::HashMap<String, (String, String)> = existing
                    .into_iter()
                    .map(|(id, status, data)| (id, (status, data)))
                    .collect();
                for row in rows {
                    match existing.get(&row.sourced_id) {
                        Some((status, data)) if *status == row.status && *data == row.data => continue,
                        Some(_) => changes.updated += 1,
                        None => changes.created += 1,
                    }
                    sqlx::query(
                        "INSERT INTO affairs_records (category, sourced_id, status, date_last_modified, student_id, class_id, \
                         school_id, record_date, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (category, sourced_id) DO UPDATE SET status = excluded.status, \
                         date_last_modified = excluded.date_last_modified, student_id = excluded.student_id, \
                         class_id = excluded.class_id, school_id = excluded.school_id, record_date = excluded.record_date, \
                         data = excluded.data",
                    )
                    .bind(category)
                    .bind(&row.sourced_id)
                    .bind(&row.status)
                    .bind(&row.date_last_modified)
                    .bind(&row.student_id)
                    .bind(&row.class_id)
                    .bind(&row.school_id)
                    .bind(&row.record_date)
                    .bind(&row.data)
                    .execute(&mut *tx)
                    .await?;
                }
                let kept: std::collections::HashSet<&str> =
                    rows.iter().map(|r| r.sourced_id.as_str()).collect();
                let gone: Vec<&String> = if bulk {
                    existing.keys().filter(|id| !kept.contains(id.as_str())).collect()
                } else {
                    removed.iter().filter(|id| existing.contains_key(*id)).collect()
                };
                for id in gone {
                    sqlx::query("DELETE FROM affairs_records WHERE category = $1 AND sourced_id = $2")
                        .bind(category)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    changes.deleted += 1;
                }
                if dry_run {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(changes)
            }
        }
    };
}

gateway_store!(SqliteGatewayStore, sqlx::Sqlite, false);
gateway_store!(PostgresGatewayStore, sqlx::Postgres, true);

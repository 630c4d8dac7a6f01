//! The gateway's storage interface: the records it serves — the roster's, read through the
//! directory, and its own school-affairs records — with one body of SQL for SQLite and
//! PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_directory::Directory;
use renkei_directory::served::{narrowed, read_in_chunks};
use renkei_platform::{Database, StoreResult};

pub use renkei_directory::served::{By, PlacementRow, Record, RosterTable};

/// The kinds of record the gateway serves: the roster's tables, and school-affairs records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// A table of the roster, read through the directory.
    Roster(RosterTable),
    /// School-affairs records of one category (the extension endpoints).
    Affairs(&'static str),
}

impl Table {
    /// Organisations (board, schools).
    pub const ORGS: Table = Table::Roster(RosterTable::Orgs);
    /// School years, terms, grading periods.
    pub const ACADEMIC_SESSIONS: Table = Table::Roster(RosterTable::AcademicSessions);
    /// Courses.
    pub const COURSES: Table = Table::Roster(RosterTable::Courses);
    /// Classes.
    pub const CLASSES: Table = Table::Roster(RosterTable::Classes);
    /// People from the roster.
    pub const USERS: Table = Table::Roster(RosterTable::Users);
    /// Enrollments of people in classes.
    pub const ENROLLMENTS: Table = Table::Roster(RosterTable::Enrollments);
    /// Demographics (one per person, same sourcedId).
    pub const DEMOGRAPHICS: Table = Table::Roster(RosterTable::Demographics);
    /// Gradebook categories.
    pub const CATEGORIES: Table = Table::Roster(RosterTable::Categories);
    /// Gradebook line items.
    pub const LINE_ITEMS: Table = Table::Roster(RosterTable::LineItems);
    /// Gradebook results.
    pub const RESULTS: Table = Table::Roster(RosterTable::Results);
}

/// `SELECT` of the [`Record`] columns from the school-affairs records of category `$1`.
const AFFAIRS_SELECT: &str = "SELECT sourced_id, status, date_last_modified, school_id, class_id, student_id AS user_id, \
     category AS kind, CAST(NULL AS TEXT) AS parent_id, data FROM affairs_records WHERE category = $1";

/// The column school-affairs reads narrow on, with `{}` for the values.
fn affairs_narrow(by: By) -> Option<&'static str> {
    Some(match by {
        By::All => "1 = 1",
        By::Id => "sourced_id IN ({})",
        By::Class => "class_id IN ({})",
        By::School => "school_id IN ({})",
        By::User => "student_id IN ({})",
        By::Parent => return None,
    })
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

/// The gateway storage on an open database: roster reads through `directory`, its own
/// school-affairs records.
pub fn open(database: &Database, directory: Arc<dyn Directory>) -> Arc<dyn GatewayStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteGatewayStore {
            pool: pool.clone(),
            directory,
        }),
        Database::Postgres(pool) => Arc::new(PostgresGatewayStore {
            pool: pool.clone(),
            directory,
        }),
    }
}

struct SqliteGatewayStore {
    pool: sqlx::SqlitePool,
    directory: Arc<dyn Directory>,
}

struct PostgresGatewayStore {
    pool: sqlx::PgPool,
    directory: Arc<dyn Directory>,
}

macro_rules! gateway_store {
    ($store:ty, $db:ty, $numbered:expr) => {
        #[async_trait]
        impl GatewayStore for $store {
            async fn select(&self, table: Table, by: By, values: &[String]) -> StoreResult<Vec<Record>> {
                let category = match table {
                    Table::Roster(roster) => return self.directory.records(roster, by, values).await,
                    Table::Affairs(category) => category,
                };
                let Some(narrow) = affairs_narrow(by) else {
                    return Ok(Vec::new());
                };
                let mut records = Vec::new();
                for chunk in read_in_chunks(by, values) {
                    let sql = narrowed(AFFAIRS_SELECT, narrow, 2, chunk.len());
                    let mut query = sqlx::query_as::<$db, Record>(&sql).bind(category);
                    for value in chunk {
                        query = query.bind(value);
                    }
                    records.extend(query.fetch_all(&self.pool).await?);
                }
                Ok(records)
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

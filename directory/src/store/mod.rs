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

use import_sql::sql_import_tx;
use roster::{
    AccountRow, DirectoryRow, ImportRecord, ImportTx, Params, Table, Upserted, account_upsert_sql,
    tables, upsert_sql,
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
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClassRef {
    /// The class's sourcedId.
    pub id: String,
    /// Its title, e.g. 3年1組.
    pub title: String,
    /// Its school.
    pub school_id: String,
}

/// What every part reads and writes of the roster directory.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// The active roles of a person (OneRoster 1.2 `roles.csv`), primary first.
    async fn roles_of(&self, sourced_id: &str) -> StoreResult<Vec<RoleRow>>;
    /// The active classes a teacher teaches, by title.
    async fn classes_taught_by(&self, sourced_id: &str) -> StoreResult<Vec<ClassRef>>;
    /// Whether a guardian may act for a child: the one rule every part asks. The roster links
    /// them (agents, either direction), the guardian is active with an enabled account, and
    /// the child is an active pupil.
    async fn is_guardian_of(&self, guardian: &str, student: &str) -> StoreResult<bool>;
    /// The pupils a guardian may act for (by the rule of [`Directory::is_guardian_of`]), by
    /// sourcedId.
    async fn children_of(&self, guardian: &str) -> StoreResult<Vec<String>>;
    /// Erases roster people who left the board (disabled as `tobedeleted`) before `before`,
    /// with their roster records, sessions and grants: the end of the retention period.
    /// Returns how many people were erased.
    async fn erase_departed(&self, before: i64) -> StoreResult<u64>;
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
/// guardian active with an enabled account, the child an active pupil.
const GUARDIANSHIP: &str = "FROM user_agents a \
    JOIN users g ON g.sourced_id = $1 AND g.status = 'active' AND g.enabled \
    JOIN users s ON s.status = 'active' AND s.role = 'student' \
    AND ((a.user_id = $1 AND a.agent_id = s.sourced_id) OR (a.agent_id = $1 AND a.user_id = s.sourced_id))";

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

            async fn erase_departed(&self, before: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let departed = "SELECT sourced_id FROM users WHERE status = 'tobedeleted' AND sourced_id IS NOT NULL \
                                AND disabled_at IS NOT NULL AND disabled_at < $1";
                for statement in [
                    format!("DELETE FROM enrollments WHERE user_id IN ({departed})"),
                    format!("DELETE FROM roles WHERE user_id IN ({departed})"),
                    format!("DELETE FROM user_profiles WHERE user_id IN ({departed})"),
                    format!("DELETE FROM demographics WHERE sourced_id IN ({departed})"),
                    format!("DELETE FROM results WHERE student_id IN ({departed})"),
                    format!("DELETE FROM user_agents WHERE user_id IN ({departed}) OR agent_id IN ({departed})"),
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
                Ok(erased)
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

directory_store!(SqliteDirectory, sqlx::Sqlite, SqliteImport);
directory_store!(PostgresDirectory, sqlx::Postgres, PostgresImport);

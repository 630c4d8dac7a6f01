//! SQLite implementation of [`Store`](super::Store): the embedded default, one file, WAL mode.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use std::collections::{HashMap, HashSet};

use super::directory::{
    AccountRow, DirectoryRow, ImportRecord, Params, Table, Upserted, account_upsert_sql, tables,
    upsert_sql,
};
use super::import_sql::sql_import_tx;
use super::sql::{passkey_columns, sql_store, user_columns};
use super::{
    ClassRef, ClientRow, CodeRow, GrantRow, OrgRow, PasskeyRow, Redemption, RefreshTokenRow,
    RoleRow, SessionRow, SigningKeyRow, StoreResult, UserRow, conflict_as,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Renkei's storage in one SQLite file.
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Storage on an open pool.
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        Self { pool }
    }

    /// Opens (creating if missing) the SQLite database at `url`, in WAL mode so that readers
    /// never wait for the writer.
    pub async fn open_pool(url: &str) -> StoreResult<sqlx::SqlitePool> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 32 MiB of page cache per connection (the default 2 MiB thrashes on board-sized imports).
            .pragma("cache_size", "-32768");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file's connection cannot go stale: no ping before each use.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(pool)
    }

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

// Takes SQLite's write lock at once (a no-op write).
sql_import_tx!(
    ImportTransaction,
    sqlx::Sqlite,
    Params::Positional,
    "UPDATE imports SET outcome = outcome WHERE 1 = 0"
);
sql_store!(SqliteStore, sqlx::Sqlite, MIGRATOR);

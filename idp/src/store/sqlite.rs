//! SQLite implementation of [`Store`](super::Store): the embedded default, one file, WAL mode.

use sqlx::sqlite::SqlitePoolOptions;

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

/// Renkei's storage in one SQLite file.
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Storage on an open pool.
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        Self { pool }
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
sql_store!(SqliteStore, sqlx::Sqlite);

//! PostgreSQL implementation of [`Store`](super::Store): for boards that run several Renkei
//! processes against one database.

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

/// Renkei's storage in a PostgreSQL database.
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Storage on an open pool.
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }

    /// The pool an import runs on: the server's own (PostgreSQL caches on its side).
    async fn import_pool(&self) -> StoreResult<sqlx::PgPool> {
        Ok(self.pool.clone())
    }
}

// A transaction-scoped advisory lock, the same key for every Renkei import.
sql_import_tx!(
    ImportTransaction,
    sqlx::Postgres,
    Params::Numbered,
    "SELECT pg_advisory_xact_lock(7246101)"
);
sql_store!(PostgresStore, sqlx::Postgres);

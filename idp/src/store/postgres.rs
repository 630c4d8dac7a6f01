//! PostgreSQL implementation of [`Store`](super::Store): for boards that run several Renkei
//! processes against one database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use super::sql::{sql_store, user_columns};
use super::{
    ClientRow, CodeRow, GrantRow, OrgRow, Redemption, RefreshTokenRow, SessionRow, SigningKeyRow,
    StoreResult, UserRow, conflict_as,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Renkei's storage in a PostgreSQL database.
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to the PostgreSQL database at `url`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

sql_store!(PostgresStore, sqlx::Postgres, MIGRATOR);

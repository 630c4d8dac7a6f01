//! PostgreSQL implementation of [`Store`](super::Store): for boards that run several Renkei
//! processes against one database.

use super::sql::{
    INSERT_PASSKEY, UPSTREAM_COLUMNS, UPSTREAM_FLOW_COLUMNS, passkey_columns, sql_store,
    user_columns,
};
use super::{
    ApprovalRow, AssuranceRow, CardRow, ClientRow, CodeRow, EnrolmentLinkRow, GrantRow, PasskeyRow,
    RecoveryCodesLeft, Redemption, RefreshTokenRow, SessionRow, SigningKeyRow, StoreResult,
    UpstreamFlowRow, UpstreamLinkRow, UpstreamRow, UserRow, conflict_as,
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
}

sql_store!(PostgresStore, sqlx::Postgres);

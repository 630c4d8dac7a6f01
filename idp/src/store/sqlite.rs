//! SQLite implementation of [`Store`](super::Store): the embedded default, one file, WAL mode.

use super::sql::{
    INSERT_PASSKEY, UPSTREAM_COLUMNS, UPSTREAM_FLOW_COLUMNS, passkey_columns, sql_store,
    user_columns,
};
use super::{
    ApprovalRow, AssuranceRow, CardRow, ClientRow, CodeRow, EnrolmentLinkRow, GrantRow, PasskeyRow,
    RecoveryCodesLeft, Redemption, RefreshTokenRow, SessionRow, SigningKeyRow, StoreResult,
    UpstreamFlowRow, UpstreamLinkRow, UpstreamRow, UserRow, conflict_as,
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
}

sql_store!(SqliteStore, sqlx::Sqlite);

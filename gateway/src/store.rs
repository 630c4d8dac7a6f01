//! The gateway's storage interface: roster records as OneRoster JSON, where children are
//! placed, and the audit chain; one body of SQL for SQLite and PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_idp::store::{Database, StoreResult};

use crate::audit::{AuditEvent, ChainedEvent, GENESIS, chain_hash};

/// Whose records a read is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Members {
    /// The active pupils of a class.
    Class(String),
    /// The active pupils of a school.
    School(String),
    /// One person.
    One(String),
}

impl Members {
    fn subquery(&self) -> &'static str {
        match self {
            Members::Class(_) => {
                "SELECT user_id FROM enrollments WHERE class_id = $1 AND status = 'active' AND role = 'student'"
            }
            Members::School(_) => {
                "SELECT sourced_id FROM users WHERE role = 'student' AND status = 'active' AND (school_id = $1 \
                 OR sourced_id IN (SELECT user_id FROM roles WHERE org_id = $1 AND status = 'active') \
                 OR sourced_id IN (SELECT user_id FROM enrollments WHERE school_id = $1 AND status = 'active'))"
            }
            Members::One(_) => "SELECT CAST($1 AS TEXT)",
        }
    }

    fn id(&self) -> &str {
        match self {
            Members::Class(id) | Members::School(id) | Members::One(id) => id,
        }
    }
}

/// A roster record as stored: OneRoster JSON plus the columns it is found by.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Record {
    /// sourcedId.
    pub sourced_id: String,
    /// `active` or `tobedeleted`.
    pub status: String,
    /// Last change (ISO 8601), if the export gave one.
    pub date_last_modified: Option<String>,
    /// The school it belongs to.
    pub school_id: Option<String>,
    /// `student`, `teacher`, … (users only).
    pub role: Option<String>,
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

/// A stored audit event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRow {
    /// Position.
    pub seq: i64,
    /// The event JSON as hashed.
    pub event: String,
    /// Previous hash.
    pub prev_hash: String,
    /// This hash.
    pub hash: String,
}

/// What the gateway reads and writes.
#[async_trait]
pub trait GatewayStore: Send + Sync + 'static {
    /// An active class.
    async fn class(&self, id: &str) -> StoreResult<Option<Record>>;
    /// The users (any role, any status but deleted) among `members`, by sourcedId.
    async fn users(&self, members: &Members) -> StoreResult<Vec<Record>>;
    /// Where each of `members` is placed (schools and classes).
    async fn placements(&self, members: &Members) -> StoreResult<Vec<PlacementRow>>;
    /// Appends events to the chain (one transaction).
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Up to `limit` events after `after_seq`, in order.
    async fn audit_rows(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Events at or after `since` (Unix seconds), after `after_seq`.
    async fn audit_since(
        &self,
        since: i64,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
    /// The newest events concerning a child.
    async fn audit_of_child(&self, child_id: &str, limit: i64) -> StoreResult<Vec<AuditRow>>;
}

/// The gateway storage on an open database.
pub fn open(database: &Database) -> Arc<dyn GatewayStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteGatewayStore { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresGatewayStore { pool: pool.clone() }),
    }
}

/// Parses a stored row back into its event and position.
pub fn chained(row: AuditRow) -> Option<ChainedEvent> {
    Some(ChainedEvent {
        seq: row.seq,
        event: serde_json::from_str(&row.event).ok()?,
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}

struct SqliteGatewayStore {
    pool: sqlx::SqlitePool,
}

struct PostgresGatewayStore {
    pool: sqlx::PgPool,
}

macro_rules! gateway_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl GatewayStore for $store {
            async fn class(&self, id: &str) -> StoreResult<Option<Record>> {
                Ok(sqlx::query_as::<$db, Record>(
                    "SELECT sourced_id, status, date_last_modified, school_id, CAST(NULL AS TEXT) AS role, data FROM classes \
                     WHERE sourced_id = $1 AND status = 'active'",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn users(&self, members: &Members) -> StoreResult<Vec<Record>> {
                Ok(sqlx::query_as::<$db, Record>(&format!(
                    "SELECT sourced_id, status, date_last_modified, school_id, role, data FROM users \
                     WHERE sourced_id IN ({}) AND data IS NOT NULL ORDER BY sourced_id",
                    members.subquery()
                ))
                .bind(members.id())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn placements(&self, members: &Members) -> StoreResult<Vec<PlacementRow>> {
                let sub = members.subquery();
                Ok(sqlx::query_as::<$db, PlacementRow>(&format!(
                    "SELECT user_id, school_id, class_id FROM enrollments WHERE status = 'active' AND user_id IN ({sub}) \
                     UNION ALL SELECT user_id, org_id AS school_id, CAST(NULL AS TEXT) AS class_id FROM roles \
                     WHERE status = 'active' AND user_id IN ({sub}) \
                     UNION ALL SELECT sourced_id AS user_id, school_id, CAST(NULL AS TEXT) AS class_id FROM users \
                     WHERE school_id IS NOT NULL AND sourced_id IN ({sub})"
                ))
                .bind(members.id())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                let (mut seq, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
                for event in events {
                    let json = serde_json::to_string(event).expect("audit events serialise");
                    let hash = chain_hash(&prev, &json);
                    seq += 1;
                    sqlx::query("INSERT INTO audit_events (seq, at, event, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)")
                        .bind(seq)
                        .bind(event.at)
                        .bind(&json)
                        .bind(&prev)
                        .bind(&hash)
                        .execute(&mut *tx)
                        .await?;
                    for child in &event.children {
                        sqlx::query("INSERT INTO audit_children (seq, child_id) VALUES ($1, $2)")
                            .bind(seq)
                            .bind(child)
                            .execute(&mut *tx)
                            .await?;
                    }
                    prev = hash;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn audit_rows(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as::<$db, AuditRow>(
                    "SELECT seq, event, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_since(&self, since: i64, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as::<$db, AuditRow>(
                    "SELECT seq, event, prev_hash, hash FROM audit_events WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(since)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_of_child(&self, child_id: &str, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as::<$db, AuditRow>(
                    "SELECT e.seq, e.event, e.prev_hash, e.hash FROM audit_children c JOIN audit_events e ON e.seq = c.seq \
                     WHERE c.child_id = $1 ORDER BY e.seq DESC LIMIT $2",
                )
                .bind(child_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

gateway_store!(SqliteGatewayStore, sqlx::Sqlite);
gateway_store!(PostgresGatewayStore, sqlx::Postgres);

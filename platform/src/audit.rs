//! The audit log: append-only and tamper-evident (each event's hash covers the previous hash).
//!
//! Every data read and every administrative action is recorded by the operation itself:
//! - reads go through [`AuditLog::record`], which queues the event for one background writer
//!   that stores batches, so that requests never wait on it (flushed before a clean shutdown);
//! - administrative actions and consent changes go through [`AuditLog::append`], which returns
//!   once the event is stored, so an action is never reported done without its record.
//!
//! Appends of every process are serialised (SQLite's write lock, a PostgreSQL advisory lock),
//! so each continues the chain from its true end.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::database::{Database, StoreResult};
use crate::sql::{in_chunks, value_rows};

/// One audited event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When (Unix seconds).
    pub at: i64,
    /// `read` (a gateway read), `admin` or `consent`.
    pub kind: String,
    /// The app.
    pub client_id: Option<String>,
    /// The capability token's id (hex of its authority revocation id).
    pub token_id: Option<String>,
    /// Categories involved.
    pub categories: Vec<String>,
    /// Children whose data was returned (sourcedIds).
    pub children: Vec<String>,
    /// Endpoint (method and path), or the command that acted.
    pub endpoint: String,
    /// Number of records returned.
    pub records: i64,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// Why refused, or what an administrator did.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An administrator's action or a consent change (not a data read), made now.
    pub fn change(
        kind: &str,
        client_id: Option<&str>,
        categories: Vec<String>,
        children: Vec<String>,
        endpoint: &str,
        detail: String,
    ) -> Self {
        AuditEvent {
            at: crate::clock::now(),
            kind: kind.into(),
            client_id: client_id.map(str::to_owned),
            token_id: None,
            categories,
            records: 0,
            children,
            endpoint: endpoint.into(),
            outcome: "allowed".into(),
            detail: Some(detail),
        }
    }

    /// An administrator's action that concerns no app, category or child.
    pub fn admin(endpoint: &str, detail: String) -> Self {
        AuditEvent::change("admin", None, Vec::new(), Vec::new(), endpoint, detail)
    }
}

/// A stored event with its place in the chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainedEvent {
    /// Position (1, 2, …).
    pub seq: i64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Hash of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 of the previous hash and this event's JSON.
    pub hash: String,
}

/// A stored audit event as written.
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

impl AuditRow {
    /// Parses the row back into its event and position (`None` for unreadable JSON).
    pub fn chained(self) -> Option<ChainedEvent> {
        Some(ChainedEvent {
            seq: self.seq,
            event: serde_json::from_str(&self.event).ok()?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The hash that chains an event to its predecessor.
pub fn chain_hash(prev_hash: &str, event_json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(event_json.as_bytes());
    format!("{:x}", hasher.finalize())
}

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the chain is stored.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends events to the chain (one transaction).
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Up to `limit` events after `after_seq`, in order.
    async fn audit_rows(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Events at or after `since` (Unix seconds), after `after_seq`, in order.
    async fn audit_since(
        &self,
        since: i64,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
    /// The newest events concerning a child, newest first.
    async fn audit_of_child(&self, child_id: &str, limit: i64) -> StoreResult<Vec<AuditRow>>;
}

/// The chain's storage on an open database.
pub fn store(database: &Database) -> Arc<dyn AuditStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteAuditStore { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresAuditStore { pool: pool.clone() }),
    }
}

enum Message {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// The audit log of one process; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    /// The background writer of queued events.
    sender: mpsc::UnboundedSender<Message>,
}

impl AuditLog {
    /// The log on `database`, with its background writer for [`AuditLog::record`] (runs inside
    /// a tokio runtime). A short-lived process (a command) that records reads calls
    /// [`AuditLog::flush`] before it exits; administrative actions use [`AuditLog::append`].
    pub fn start(database: &Database) -> Self {
        let store = store(database);
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store.clone(), receiver));
        AuditLog { store, sender }
    }

    /// The chain's storage (for reading it).
    pub fn store(&self) -> &dyn AuditStore {
        self.store.as_ref()
    }

    /// Queues an event for the background writer (never blocks): for data reads, so that
    /// requests never wait on the chain.
    pub fn record(&self, event: AuditEvent) {
        if self.sender.send(Message::Event(event)).is_err() {
            tracing::error!("audit writer stopped; an audit event was not recorded");
        }
    }

    /// Stores an event and returns when it is in the chain: for administrative actions and
    /// consent changes, which are reported done only once audited.
    pub async fn append(&self, event: AuditEvent) -> StoreResult<()> {
        self.store.append_audit(std::slice::from_ref(&event)).await
    }

    /// Waits until every event queued before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// Appends events, retrying until they are stored: events are never dropped (a database
/// fail-over, another process's batch taking the same sequence numbers), with a back-off
/// capped at one second.
async fn append_until_stored(store: &dyn AuditStore, events: &[AuditEvent]) {
    let mut attempts: u64 = 0;
    while let Err(error) = store.append_audit(events).await {
        attempts += 1;
        if attempts.is_multiple_of(10) {
            tracing::error!(%error, events = events.len(), attempts, "audit events not yet written; retrying");
        }
        tokio::time::sleep(std::time::Duration::from_millis((5 * attempts).min(1000))).await;
    }
}

async fn write_batches(store: Arc<dyn AuditStore>, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => batch.push(event),
                Message::Flush(done) => waiting.push(done),
            }
            if batch.len() < 512 {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            append_until_stored(store.as_ref(), &batch).await;
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Result of checking the chain.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Events checked.
    pub events: i64,
    /// The first event whose hash or link does not match, if any.
    pub broken_at: Option<i64>,
}

/// Recomputes every hash of the chain.
pub async fn verify(store: &dyn AuditStore) -> StoreResult<Verification> {
    let mut prev = GENESIS.to_owned();
    let mut events = 0;
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 5000).await?;
        if rows.is_empty() {
            return Ok(Verification {
                events,
                broken_at: None,
            });
        }
        for row in rows {
            if row.prev_hash != prev
                || chain_hash(&prev, &row.event) != row.hash
                || row.seq != after + 1
            {
                return Ok(Verification {
                    events,
                    broken_at: Some(row.seq),
                });
            }
            prev = row.hash;
            after = row.seq;
            events += 1;
        }
    }
}

/// Hands every event at or after `since` (Unix seconds) to `each`, in order, reading the chain
/// in pages so that memory stays bounded whatever its length.
pub async fn export<E>(
    store: &dyn AuditStore,
    since: i64,
    mut each: impl FnMut(ChainedEvent) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<crate::database::StoreError>,
{
    let mut after = 0;
    loop {
        let rows = store.audit_since(since, after, 5000).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.seq;
        for row in rows {
            if let Some(event) = row.chained() {
                each(event)?;
            }
        }
    }
}

struct SqliteAuditStore {
    pool: sqlx::SqlitePool,
}

struct PostgresAuditStore {
    pool: sqlx::PgPool,
}

/// Implements [`AuditStore`] for `$store`; `$serialise` makes appends of every process wait
/// for one another, so that each reads the chain's true end and none takes another's place.
macro_rules! audit_store {
    ($store:ty, $db:ty, $numbered:expr, $serialise:expr) => {
        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($serialise).execute(&mut *tx).await?;
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                let (mut seq, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
                let mut rows = Vec::with_capacity(events.len());
                let mut children = Vec::new();
                for event in events {
                    let json = serde_json::to_string(event).expect("audit events serialise");
                    let hash = chain_hash(&prev, &json);
                    seq += 1;
                    children.extend(event.children.iter().map(|child| (seq, child.as_str())));
                    rows.push((seq, event.at, json, std::mem::replace(&mut prev, hash.clone()), hash));
                }
                for chunk in in_chunks(&rows, &[64, 16, 4, 1]) {
                    let sql = format!(
                        "INSERT INTO audit_events (seq, at, event, prev_hash, hash) VALUES {}",
                        value_rows(chunk.len(), 5, $numbered)
                    );
                    let mut insert = sqlx::query(&sql);
                    for (seq, at, json, prev_hash, hash) in chunk {
                        insert = insert.bind(seq).bind(at).bind(json).bind(prev_hash).bind(hash);
                    }
                    insert.execute(&mut *tx).await?;
                }
                for chunk in in_chunks(&children, &[1024, 256, 64, 16, 4, 1]) {
                    let sql = format!(
                        "INSERT INTO audit_children (seq, child_id) VALUES {}",
                        value_rows(chunk.len(), 2, $numbered)
                    );
                    let mut insert = sqlx::query(&sql);
                    for (seq, child) in chunk {
                        insert = insert.bind(seq).bind(*child);
                    }
                    insert.execute(&mut *tx).await?;
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

// SQLite: take the write lock at once (a no-op write).
audit_store!(
    SqliteAuditStore,
    sqlx::Sqlite,
    false,
    "UPDATE audit_events SET seq = seq WHERE 1 = 0"
);
// PostgreSQL: a transaction-scoped advisory lock, the same key in every process.
audit_store!(
    PostgresAuditStore,
    sqlx::Postgres,
    true,
    "SELECT pg_advisory_xact_lock(7246102)"
);

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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::database::{Database, StoreResult};
use crate::sql::{in_chunks, value_rows};

pub mod search;

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
    /// Children (by [`erased_child_digest`]) whose links to earlier events retention erased
    /// with this event: `audit verify` accepts those links missing, and no other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<String>,
}

/// How a retention erasure names a child whose links to earlier events it removed: the hex
/// SHA-256 of the sourcedId (the chain says that links went, not whose they were in clear).
pub fn erased_child_digest(child_id: &str) -> String {
    format!("{:x}", Sha256::digest(child_id.as_bytes()))
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
            erased: Vec::new(),
        }
    }

    /// An administrator's action that concerns no app, category or child.
    pub fn admin(endpoint: &str, detail: String) -> Self {
        AuditEvent::change("admin", None, Vec::new(), Vec::new(), endpoint, detail)
    }

    /// An administrator's action on one person's account: the person (their roster sourcedId,
    /// if they come from the roster) is named among the people it concerns, so that their
    /// school's administrators and the person filter find it.
    pub fn admin_about(endpoint: &str, person: Option<&str>, detail: String) -> Self {
        let people = person.map(str::to_owned).into_iter().collect();
        AuditEvent::change("admin", None, Vec::new(), people, endpoint, detail)
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
    /// The `at` column (what `export --since` selects by); must equal the event's `at`.
    pub at: i64,
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
    /// Up to `limit` events before `before_seq`, newest first, at or after `from` and before
    /// `until` (Unix seconds), only those concerning `child` when given: a page of a search.
    async fn audit_page(
        &self,
        before_seq: i64,
        from: i64,
        until: i64,
        child: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
    /// The links of events `from..=through` to children (`audit_children`), by event.
    async fn audit_links(&self, from: i64, through: i64) -> StoreResult<Vec<(i64, String)>>;
}

/// The chain's storage on an open database.
pub fn store(database: &Database) -> Arc<dyn AuditStore> {
    match database {
        Database::Sqlite(pool) => Arc::new(SqliteAuditStore { pool: pool.clone() }),
        Database::Postgres(pool) => Arc::new(PostgresAuditStore { pool: pool.clone() }),
    }
}

enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// The audit log of one process; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    /// The background writer of queued events.
    sender: mpsc::UnboundedSender<Message>,
    /// Anonymous refusals counted since the last summary.
    refusals: Arc<RefusalCounts>,
}

/// Anonymous refusals counted since the last summary, by endpoint and reason.
type RefusalCounts = Mutex<BTreeMap<(String, String), u64>>;

/// How often counted anonymous refusals are written as one summary event per endpoint.
pub const REFUSAL_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Longest `endpoint` an event keeps, in bytes (a path an anonymous client made 60 KB long
/// must not be chained 60 KB long).
pub const ENDPOINT_MAX: usize = 512;

/// Longest `detail` an event keeps, in bytes.
pub const DETAIL_MAX: usize = 2048;

/// Distinct (endpoint, reason) pairs counted at most between two summaries; the rest are
/// counted under one "other" entry.
const REFUSAL_KINDS_MAX: usize = 256;

impl AuditLog {
    /// The log on `database`, with its background writer for [`AuditLog::record`] (runs inside
    /// a tokio runtime). A short-lived process (a command) that records reads calls
    /// [`AuditLog::flush`] before it exits; administrative actions use [`AuditLog::append`].
    pub fn start(database: &Database) -> Self {
        let store = store(database);
        let (sender, receiver) = mpsc::unbounded_channel();
        let refusals = Arc::new(Mutex::default());
        tokio::spawn(write_batches(store.clone(), receiver, refusals.clone()));
        AuditLog {
            store,
            sender,
            refusals,
        }
    }

    /// The chain's storage (for reading it).
    pub fn store(&self) -> &dyn AuditStore {
        self.store.as_ref()
    }

    /// Queues an event for the background writer (never blocks): for data reads, so that
    /// requests never wait on the chain.
    pub fn record(&self, event: AuditEvent) {
        if self
            .sender
            .send(Message::Event(Box::new(bounded(event))))
            .is_err()
        {
            tracing::error!("audit writer stopped; an audit event was not recorded");
        }
    }

    /// Stores an event and returns when it is in the chain: for administrative actions and
    /// consent changes, which are reported done only once audited.
    pub async fn append(&self, event: AuditEvent) -> StoreResult<()> {
        self.store.append_audit(&[bounded(event)]).await
    }

    /// Counts a read refused before anyone was identified (no token, or one that does not
    /// verify): such refusals are written as one summary event per endpoint and reason every
    /// [`REFUSAL_SUMMARY_EVERY`] (and on [`AuditLog::flush`]), so that anonymous requests
    /// cannot grow the chain by one event each. `endpoint` is the route's template, never
    /// the path the client sent.
    pub fn count_refused(&self, endpoint: &str, reason: &str) {
        let mut refusals = self.refusals.lock().expect("refusal counter lock poisoned");
        let key = (endpoint.to_owned(), reason.to_owned());
        if refusals.len() >= REFUSAL_KINDS_MAX && !refusals.contains_key(&key) {
            *refusals
                .entry(("other".into(), "other".into()))
                .or_default() += 1;
        } else {
            *refusals.entry(key).or_default() += 1;
        }
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

/// An event with its client-influenced text cut to [`ENDPOINT_MAX`] and [`DETAIL_MAX`].
fn bounded(mut event: AuditEvent) -> AuditEvent {
    cut(&mut event.endpoint, ENDPOINT_MAX);
    if let Some(detail) = &mut event.detail {
        cut(detail, DETAIL_MAX);
    }
    event
}

/// Cuts `text` to at most `max` bytes, on a character boundary, marking the cut with "…".
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// The counted anonymous refusals as summary events, emptying the counter.
fn summaries(refusals: &RefusalCounts) -> Vec<AuditEvent> {
    let counted = std::mem::take(&mut *refusals.lock().expect("refusal counter lock poisoned"));
    let at = crate::clock::now();
    counted
        .into_iter()
        .map(|((endpoint, reason), count)| {
            bounded(AuditEvent {
                at,
                kind: "read".into(),
                client_id: None,
                token_id: None,
                categories: Vec::new(),
                children: Vec::new(),
                endpoint,
                records: 0,
                outcome: "refused".into(),
                detail: Some(format!(
                    "{count} anonymous reads refused ({reason}), counted since the previous summary"
                )),
                erased: Vec::new(),
            })
        })
        .collect()
}

/// Stores the summaries of the counted refusals, if any.
async fn write_summaries(store: &dyn AuditStore, refusals: &RefusalCounts) {
    let counted = summaries(refusals);
    if !counted.is_empty() {
        append_until_stored(store, &counted).await;
    }
}

async fn write_batches(
    store: Arc<dyn AuditStore>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    refusals: Arc<RefusalCounts>,
) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    let mut summary = tokio::time::interval(REFUSAL_SUMMARY_EVERY);
    summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    summary.tick().await;
    loop {
        let first = tokio::select! {
            message = receiver.recv() => message,
            _ = summary.tick() => {
                write_summaries(store.as_ref(), &refusals).await;
                continue;
            }
        };
        let Some(first) = first else {
            write_summaries(store.as_ref(), &refusals).await;
            break;
        };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => batch.push(*event),
                Message::Flush(done) => {
                    batch.extend(summaries(&refusals));
                    waiting.push(done);
                }
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
    /// The first event found changed, unlinked or missing, if any.
    pub broken_at: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
    /// The newest event, when the whole chain verifies: the checkpoint to keep elsewhere.
    pub newest: Option<Checkpoint>,
}

/// A point of the chain the board kept elsewhere (`renkei audit checkpoint`): the event at
/// `seq` must still be there with this `hash`, so that cutting off the newest events, or
/// rewriting the whole chain, is noticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The event's position.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was written (Unix seconds), for the reader.
    #[serde(default)]
    pub at: i64,
}

/// Recomputes every hash of the chain and checks what the hashes do not cover directly: each
/// event's `at` column and its links to children (`audit_children`, what guardians' read
/// history comes from) must match the hashed event, a link may be missing only where a later
/// retention erasure says it erased it, and every checkpoint must still be there.
pub async fn verify(
    store: &dyn AuditStore,
    checkpoints: &[Checkpoint],
) -> StoreResult<Verification> {
    use std::collections::{BTreeSet, HashMap};
    let expected: HashMap<i64, &str> = checkpoints
        .iter()
        .map(|checkpoint| (checkpoint.seq, checkpoint.hash.as_str()))
        .collect();
    let broken = |events: i64, seq: i64, problem: String| {
        Ok(Verification {
            events,
            broken_at: Some(seq),
            problem: Some(problem),
            newest: None,
        })
    };
    let mut newest = None;
    // Child digest → the newest event whose link to it is missing / the newest erasure of it.
    let mut unlinked: HashMap<String, i64> = HashMap::new();
    let mut erasures: HashMap<String, i64> = HashMap::new();
    let mut prev = GENESIS.to_owned();
    let mut events = 0;
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 5000).await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            break;
        };
        let mut links: HashMap<i64, BTreeSet<String>> = HashMap::new();
        for (seq, child) in store.audit_links(first.seq, last.seq).await? {
            links.entry(seq).or_default().insert(child);
        }
        for row in rows {
            if row.prev_hash != prev
                || chain_hash(&prev, &row.event) != row.hash
                || row.seq != after + 1
            {
                return broken(
                    events,
                    after + 1,
                    "the event was changed or removed after it was written".into(),
                );
            }
            let Ok(event) = serde_json::from_str::<AuditEvent>(&row.event) else {
                return broken(events, row.seq, "the event cannot be read".into());
            };
            if row.at != event.at {
                return broken(
                    events,
                    row.seq,
                    format!(
                        "its time column says {} but the event says {} (export --since reads the column)",
                        row.at, event.at
                    ),
                );
            }
            let named: BTreeSet<&str> = event.children.iter().map(String::as_str).collect();
            let linked = links.remove(&row.seq).unwrap_or_default();
            if let Some(stranger) = linked.iter().find(|child| !named.contains(child.as_str())) {
                return broken(
                    events,
                    row.seq,
                    format!("it is linked to child {stranger:?}, whom the event does not name"),
                );
            }
            for child in named.iter().filter(|child| !linked.contains(**child)) {
                unlinked.insert(erased_child_digest(child), row.seq);
            }
            for digest in &event.erased {
                erasures.insert(digest.clone(), row.seq);
            }
            if let Some(hash) = expected.get(&row.seq)
                && *hash != row.hash
            {
                return broken(
                    events,
                    row.seq,
                    "it differs from the checkpoint kept of it".into(),
                );
            }
            newest = Some(Checkpoint {
                seq: row.seq,
                hash: row.hash.clone(),
                at: row.at,
            });
            prev = row.hash;
            after = row.seq;
            events += 1;
        }
    }
    if let Some(first_unexplained) = unlinked
        .iter()
        .filter(|&(digest, &seq)| erasures.get(digest).is_none_or(|&erased| erased < seq))
        .map(|(_, &seq)| seq)
        .min()
    {
        return broken(
            events,
            first_unexplained,
            "a link to a child it names was removed, and no retention erasure says so".into(),
        );
    }
    if let Some(beyond) = checkpoints
        .iter()
        .map(|c| c.seq)
        .filter(|seq| *seq > after)
        .min()
    {
        return broken(
            events,
            beyond,
            format!(
                "the chain ends at event {after}, but a checkpoint names event {beyond}: the newest events were cut off"
            ),
        );
    }
    Ok(Verification {
        events,
        broken_at: None,
        problem: None,
        newest,
    })
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
                    "SELECT seq, at, event, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_since(&self, since: i64, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as::<$db, AuditRow>(
                    "SELECT seq, at, event, prev_hash, hash FROM audit_events WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(since)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_links(&self, from: i64, through: i64) -> StoreResult<Vec<(i64, String)>> {
                Ok(sqlx::query_as(
                    "SELECT seq, child_id FROM audit_children WHERE seq >= $1 AND seq <= $2 ORDER BY seq, child_id",
                )
                .bind(from)
                .bind(through)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_page(
                &self,
                before_seq: i64,
                from: i64,
                until: i64,
                child: Option<&str>,
                limit: i64,
            ) -> StoreResult<Vec<AuditRow>> {
                let query = match child {
                    Some(child) => sqlx::query_as::<$db, AuditRow>(
                        "SELECT e.seq, e.at, e.event, e.prev_hash, e.hash FROM audit_children c JOIN audit_events e ON e.seq = c.seq \
                         WHERE c.child_id = $1 AND e.seq < $2 AND e.at >= $3 AND e.at < $4 ORDER BY e.seq DESC LIMIT $5",
                    )
                    .bind(child),
                    None => sqlx::query_as::<$db, AuditRow>(
                        "SELECT seq, at, event, prev_hash, hash FROM audit_events \
                         WHERE seq < $1 AND at >= $2 AND at < $3 ORDER BY seq DESC LIMIT $4",
                    ),
                };
                Ok(query
                    .bind(before_seq)
                    .bind(from)
                    .bind(until)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn audit_of_child(&self, child_id: &str, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as::<$db, AuditRow>(
                    "SELECT e.seq, e.at, e.event, e.prev_hash, e.hash FROM audit_children c JOIN audit_events e ON e.seq = c.seq \
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

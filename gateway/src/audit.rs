//! The audit log: append-only, tamper-evident (each event's hash covers the previous hash),
//! written in batches by one background task so that requests never wait on it, and flushed
//! before a clean shutdown.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::store::GatewayStore;

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
    /// Endpoint (method and path).
    pub endpoint: String,
    /// Number of records returned.
    pub records: i64,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// Why refused, or what an administrator did.
    pub detail: Option<String>,
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

/// The hash that chains an event to its predecessor.
pub fn chain_hash(prev_hash: &str, event_json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(event_json.as_bytes());
    renkei_consent::capability::hex(&hasher.finalize())
}

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

enum Message {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// Where handlers send events; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::UnboundedSender<Message>,
}

impl AuditLog {
    /// Starts the writer task on `store`.
    pub fn start(store: Arc<dyn GatewayStore>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, receiver));
        AuditLog { sender }
    }

    /// Queues an event (never blocks).
    pub fn record(&self, event: AuditEvent) {
        if self.sender.send(Message::Event(event)).is_err() {
            tracing::error!("audit writer stopped; an audit event was not recorded");
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

async fn write_batches(
    store: Arc<dyn GatewayStore>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
) {
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
            // Never drop events: retry (a database failover, another process's batch taking the
            // same sequence numbers) with a back-off capped at one second.
            let mut attempts: u64 = 0;
            while let Err(error) = store.append_audit(&batch).await {
                attempts += 1;
                if attempts.is_multiple_of(10) {
                    tracing::error!(%error, events = batch.len(), attempts, "audit events not yet written; retrying");
                }
                tokio::time::sleep(std::time::Duration::from_millis((5 * attempts).min(1000)))
                    .await;
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

impl AuditEvent {
    /// An administrator's action or a consent change (not a data read).
    pub fn change(
        kind: &str,
        client_id: Option<&str>,
        categories: Vec<String>,
        children: Vec<String>,
        endpoint: &str,
        detail: String,
    ) -> Self {
        AuditEvent {
            at: renkei_idp::crypto::now(),
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
}

impl AuditEvent {
    /// A consent record appended through `endpoint` (portal API or command line).
    pub fn consent(record: &renkei_consent::record::ConsentRecord, endpoint: &str) -> Self {
        AuditEvent::change(
            "consent",
            Some(&record.client_id),
            vec![record.category_id.clone()],
            vec![record.student_id.clone()],
            endpoint,
            format!(
                "{} by {} ({}), policy version {}",
                record.action, record.by_user_id, record.by_role, record.policy_version
            ),
        )
    }
}

impl renkei_consent::service::AuditSink for AuditLog {
    fn consent_changed(&self, record: &renkei_consent::record::ConsentRecord, endpoint: &str) {
        self.record(AuditEvent::consent(record, endpoint));
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
pub async fn verify(
    store: &dyn GatewayStore,
) -> Result<Verification, renkei_idp::store::StoreError> {
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

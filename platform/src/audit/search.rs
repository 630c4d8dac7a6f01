//! Finding events in the audit log: by app, person, category, kind and date, newest first, a
//! page at a time. Each request reads a bounded stretch of the chain, so a search that finds
//! little in a long log answers with where to go on instead of reading it all.

use super::{AuditStore, ChainedEvent};
use crate::database::StoreResult;

/// The most events one page returns.
pub const MAX_PAGE: usize = 500;

/// How many stored events one request reads at most while looking for matches.
pub const MAX_SCANNED: usize = 10_000;

/// What the events must match (every given part).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// At or after (Unix seconds).
    pub from: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// The app's client id.
    pub client: Option<String>,
    /// A data category among the event's.
    pub category: Option<String>,
    /// A child (sourcedId) among those whose data the event concerns.
    pub child: Option<String>,
    /// `read`, `admin` or `consent`.
    pub kind: Option<String>,
    /// Text within the endpoint or the detail (who acted, what was done), any case.
    pub text: Option<String>,
}

impl AuditFilter {
    /// Whether `event` matches everything but the dates and the child (which the store's
    /// query selects).
    fn matches(&self, event: &ChainedEvent) -> bool {
        let e = &event.event;
        self.client
            .as_ref()
            .is_none_or(|c| e.client_id.as_ref() == Some(c))
            && self
                .category
                .as_ref()
                .is_none_or(|c| e.categories.contains(c))
            && self.kind.as_ref().is_none_or(|k| &e.kind == k)
            && self.text.as_ref().is_none_or(|text| {
                let text = text.to_lowercase();
                e.endpoint.to_lowercase().contains(&text)
                    || e.detail
                        .as_ref()
                        .is_some_and(|d| d.to_lowercase().contains(&text))
            })
    }
}

/// A page of matching events.
#[derive(Clone, Debug)]
pub struct AuditPage {
    /// The events, newest first.
    pub events: Vec<ChainedEvent>,
    /// Where the next page starts (pass as `before`); `None` when the log has no more.
    pub next_before: Option<i64>,
    /// How many stored events this request read.
    pub scanned: usize,
}

/// Up to `limit` events before the event `before` (the newest when `None`) that match
/// `filter` and that `admit` lets the reader see, newest first.
pub async fn search(
    store: &dyn AuditStore,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: usize,
    admit: impl Fn(&ChainedEvent) -> bool,
) -> StoreResult<AuditPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let from = filter.from.unwrap_or(i64::MIN);
    let until = filter.until.unwrap_or(i64::MAX);
    let mut cursor = before.unwrap_or(i64::MAX);
    let mut events = Vec::new();
    let mut scanned = 0;
    while scanned < MAX_SCANNED {
        let batch = (MAX_SCANNED - scanned).min(500) as i64;
        let rows = store
            .audit_page(cursor, from, until, filter.child.as_deref(), batch)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(AuditPage {
                events,
                next_before: None,
                scanned,
            });
        };
        let exhausted = (rows.len() as i64) < batch;
        cursor = last.seq;
        for row in rows {
            scanned += 1;
            let seq = row.seq;
            let Some(event) = row.chained() else {
                continue;
            };
            if filter.matches(&event) && admit(&event) {
                events.push(event);
                if events.len() == limit {
                    return Ok(AuditPage {
                        events,
                        next_before: Some(seq),
                        scanned,
                    });
                }
            }
        }
        if exhausted {
            return Ok(AuditPage {
                events,
                next_before: None,
                scanned,
            });
        }
    }
    Ok(AuditPage {
        events,
        next_before: Some(cursor),
        scanned,
    })
}

//! What the console shows of people is a read of their roster data, and is audited like the
//! gateway's reads: who looked, at whom, how many records.

use renkei_platform::AuditEvent;

use crate::Console;
use crate::actor::Actor;

/// Records that `actor` was shown `people` (sourcedIds) by `what`, through the audit log's
/// background writer (a read does not wait for its record).
pub fn audit(console: &Console, actor: &Actor, people: Vec<String>, what: &str) {
    if people.is_empty() {
        return;
    }
    let records = people.len() as i64;
    let mut event = AuditEvent::change(
        "read",
        None,
        Vec::new(),
        people,
        &actor.via(),
        what.to_owned(),
    );
    event.records = records;
    console.audit.record(event);
}

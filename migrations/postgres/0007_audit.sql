-- The audit log: every data read through the gateway, every administrative action and consent
-- change. Append-only and tamper-evident: each event's hash covers the previous event's hash.
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    event     TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);

-- Which children an event concerns, so that a guardian's portal can list the reads of a child.
CREATE TABLE audit_children (
    seq      BIGINT NOT NULL,
    child_id TEXT NOT NULL,
    PRIMARY KEY (child_id, seq)
);

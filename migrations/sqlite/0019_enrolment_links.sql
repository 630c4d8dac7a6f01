-- One-time links an administrator gives a staff member to register a passkey on their own
-- device: only the link's SHA-256 digest is kept; it expires, and it works once.
CREATE TABLE enrolment_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
-- At most one unused link per account: issuing a new one voids the earlier (two at once: one
-- of them fails).
CREATE UNIQUE INDEX enrolment_links_unused ON enrolment_links (user_id) WHERE used_at IS NULL;

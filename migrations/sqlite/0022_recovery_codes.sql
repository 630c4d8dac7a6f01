-- One-time recovery codes a person prints after enrolling a passkey, for the day the device
-- with the passkey is lost: only each code's SHA-256 digest is kept, and a code works once.
CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_of_user ON recovery_codes (user_id);

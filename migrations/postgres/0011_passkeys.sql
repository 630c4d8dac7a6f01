-- Passkeys (WebAuthn discoverable credentials) and the server side of their ceremonies.
--
-- A passkey row keeps webauthn-rs's serialised credential (public key, signature counter,
-- backup flags) as JSON; the counter changes at every sign-in, so the row is rewritten then.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A ceremony (registration or sign-in) started on one process may finish on another, so its
-- challenge state is kept here, keyed by the SHA-256 of a random id, and taken exactly once.
CREATE TABLE webauthn_ceremonies (
    id_hash    BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Passkeys (WebAuthn discoverable credentials).
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

-- A passkey ceremony's state travels sealed with the browser; finishing one records the seal
-- in used_client_assertions, which from now on holds every single-use identifier. It keeps its
-- name so that processes of the previous release go on working during a rolling upgrade.

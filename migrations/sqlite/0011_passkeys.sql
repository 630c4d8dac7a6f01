-- Passkeys (WebAuthn discoverable credentials), and single use for their ceremonies.
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

-- Single-use identifiers: client assertions' (as before) and now passkey ceremonies' too
-- (whose state travels sealed with the browser; finishing one records it here).
ALTER TABLE used_client_assertions RENAME TO used_once;

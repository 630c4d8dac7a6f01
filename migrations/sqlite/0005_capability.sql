-- Capability tokens: the Ed25519 root keys that sign them and the tokens minted, so that a
-- withdrawal, a policy change or a disabled app can revoke outstanding ones at once.

-- Root keys; the id is the Biscuit root_key_id and the JWK kid (as a decimal string).
CREATE TABLE capability_keys (
    id          BIGINT PRIMARY KEY,
    private_key BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- One row per minted token: its revocation id (hex of the authority block's), the app, the
-- categories it carries (space-separated) and its expiry.
CREATE TABLE capability_tokens (
    revocation_id TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    categories    TEXT NOT NULL,
    subject       TEXT NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX capability_tokens_client ON capability_tokens (client_id, expires_at);

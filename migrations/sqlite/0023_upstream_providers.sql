-- Upstream OpenID Connect providers the board signs people in through (Google Workspace,
-- Microsoft Entra ID, any standard provider), while the roster stays the authority on who a
-- person is. `scopes`, `allowed_domains` and `schools` are space-separated lists.
CREATE TABLE upstream_providers (
    name            TEXT PRIMARY KEY,
    issuer          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    client_secret   TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    allowed_domains TEXT NOT NULL DEFAULT '',
    tenant          TEXT,
    schools         TEXT NOT NULL DEFAULT '',
    link_by         TEXT NOT NULL,
    label_ja        TEXT NOT NULL,
    label_en        TEXT NOT NULL,
    only_way        BOOLEAN NOT NULL DEFAULT FALSE,
    trust_mfa       BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
-- Which upstream account (provider, subject) is which Renkei account: one per provider and
-- person. `linked_by` says how the link was made (email, claim, subject, person, administrator).
CREATE TABLE upstream_links (
    provider  TEXT NOT NULL,
    subject   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX upstream_links_one_per_person ON upstream_links (provider, user_id);
-- Sign-ins through an upstream in progress: found by the digest of their `state`, used once,
-- bound to the browser that started them (the digest of a cookie), expiring after minutes.
CREATE TABLE upstream_flows (
    state_hash    TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    request       TEXT NOT NULL,
    link_user     TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX upstream_flows_expiry ON upstream_flows (expires_at);

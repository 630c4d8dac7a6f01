-- Signing keys are published before they sign (apps refresh cached JWK sets first), and
-- only clients registered as resource servers may introspect other clients' access tokens.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN may_introspect BOOLEAN NOT NULL DEFAULT FALSE;

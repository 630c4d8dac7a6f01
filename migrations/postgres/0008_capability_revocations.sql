-- When an app's tokens were revoked (of one category, or all): a token issued at or before such
-- a moment is refused even if it was recorded after the revocation ran (a mint racing a
-- withdrawal).
CREATE TABLE capability_revocations (
    client_id   TEXT NOT NULL,
    category_id TEXT,
    at          BIGINT NOT NULL -- milliseconds
);
CREATE INDEX capability_revocations_client ON capability_revocations (client_id, at);

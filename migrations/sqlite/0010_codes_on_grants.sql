-- Every authorization code starts a grant of its own, so the code is kept on its grant's row:
-- issuing a code is one INSERT (no transaction around two), and redeeming it one UPDATE that
-- returns the grant. A used code's digest stays until the grant expires, so a replay is
-- recognised (and the grant revoked) for as long as its tokens could live.
ALTER TABLE grants ADD COLUMN code_hash BLOB;
ALTER TABLE grants ADD COLUMN redirect_uri TEXT;
ALTER TABLE grants ADD COLUMN code_challenge TEXT;
ALTER TABLE grants ADD COLUMN code_expires_at BIGINT;
ALTER TABLE grants ADD COLUMN code_used_at BIGINT;
UPDATE grants
SET code_hash = c.code_hash,
    redirect_uri = c.redirect_uri,
    code_challenge = c.code_challenge,
    code_expires_at = c.expires_at,
    code_used_at = c.used_at
FROM authorization_codes c
WHERE c.grant_id = grants.id;
DROP TABLE authorization_codes;
CREATE UNIQUE INDEX grants_code ON grants (code_hash);

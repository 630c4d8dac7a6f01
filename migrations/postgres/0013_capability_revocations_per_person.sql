-- A revocation mark may concern one person's tokens only (a person who stops using an app):
-- NULL means every person's.
ALTER TABLE capability_revocations ADD COLUMN subject TEXT;

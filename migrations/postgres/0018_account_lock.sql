-- An administrator's lock on an account (a lost card, a leaked password, a departure not yet
-- in the roster): while set, the account is disabled whatever the roster says, and a roster
-- import does not enable it again. Unlocking gives the roster's word back.
ALTER TABLE users ADD COLUMN locked_at BIGINT;
ALTER TABLE users ADD COLUMN locked_by TEXT;

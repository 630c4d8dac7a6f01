-- Usernames are compared without regard to case (sign-in counts attempts per lower-cased
-- name, so USER02 and user02 must be one name): an import looks them up by lower(username).
CREATE INDEX users_username_folded ON users (lower(username));

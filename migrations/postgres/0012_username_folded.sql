-- Usernames are compared without regard to ASCII case (sign-in counts attempts per folded
-- name, so USER02 and user02 must be one name). An import finds the holder of a folded name
-- by the username itself when it is stored in lower case (the unique index), and through this
-- index otherwise: it holds only the usernames that have capitals, so that a board's usual
-- lower-case usernames cost nothing more to write.
CREATE INDEX users_username_folded ON users (lower(username)) WHERE username <> lower(username);

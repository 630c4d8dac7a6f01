-- Which sign-in methods count, per role (the board's assurance policy): a role that must use a
-- passkey, optionally from a date on (before it, a password sign-in is asked to enrol one).
CREATE TABLE assurance_policies (
    role        TEXT PRIMARY KEY,
    requirement TEXT NOT NULL,
    grace_until BIGINT,
    set_at      BIGINT NOT NULL,
    set_by      TEXT NOT NULL
);

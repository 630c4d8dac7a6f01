-- Renkei roster directory: a faithful copy of the board's OneRoster data (SQLite).
-- Every roster table keeps the record's OneRoster JSON (`data`, the REST representation
-- without hrefs) and, as columns, only what is needed to join and filter. References are
-- OneRoster sourcedIds.

ALTER TABLE orgs ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE orgs ADD COLUMN date_last_modified TEXT;
ALTER TABLE orgs ADD COLUMN data TEXT;

ALTER TABLE users ADD COLUMN sourced_id TEXT;
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE users ADD COLUMN date_last_modified TEXT;
ALTER TABLE users ADD COLUMN data TEXT;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
-- Argon2id hash of the password the roster last supplied (so that a re-import does not undo a
-- password the person has changed since).
ALTER TABLE users ADD COLUMN roster_password_hash TEXT;
CREATE UNIQUE INDEX users_sourced_id ON users (sourced_id);

CREATE TABLE academic_sessions (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    session_type       TEXT NOT NULL,
    parent_id          TEXT,
    school_year        TEXT,
    data               TEXT NOT NULL
);

CREATE TABLE courses (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    org_id             TEXT NOT NULL,
    school_year_id     TEXT,
    data               TEXT NOT NULL
);

CREATE TABLE classes (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    school_id          TEXT NOT NULL,
    course_id          TEXT NOT NULL,
    class_type         TEXT NOT NULL,
    title              TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX classes_school ON classes (school_id);

CREATE TABLE enrollments (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    class_id           TEXT NOT NULL,
    school_id          TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    role               TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX enrollments_class ON enrollments (class_id);
CREATE INDEX enrollments_user ON enrollments (user_id);

CREATE TABLE roles (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    user_id            TEXT NOT NULL,
    org_id             TEXT NOT NULL,
    role_type          TEXT NOT NULL,
    role               TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX roles_user ON roles (user_id);

CREATE TABLE user_profiles (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    user_id            TEXT NOT NULL,
    data               TEXT NOT NULL
);

CREATE TABLE user_agents (
    user_id  TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    PRIMARY KEY (user_id, agent_id)
);
CREATE INDEX user_agents_agent ON user_agents (agent_id);

-- Sensitive: demographics and gradebook data are kept apart from the roster core.
CREATE TABLE demographics (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    data               TEXT NOT NULL
);

CREATE TABLE categories (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    data               TEXT NOT NULL
);

CREATE TABLE line_items (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    class_id           TEXT NOT NULL,
    category_id        TEXT,
    data               TEXT NOT NULL
);
CREATE INDEX line_items_class ON line_items (class_id);

CREATE TABLE results (
    sourced_id         TEXT PRIMARY KEY,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    line_item_id       TEXT NOT NULL,
    student_id         TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX results_line_item ON results (line_item_id);
CREATE INDEX results_student ON results (student_id);

CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    source      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    summary     TEXT NOT NULL
);

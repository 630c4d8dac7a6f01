-- Renkei consent service: data categories, administrators' policies and consent records.

-- What learning apps may ask to read. Sensitivity follows the information-asset classes of
-- MEXT's education information-security guideline: 1 = class I (要配慮個人情報), 2 = class II,
-- 3 = class III.
CREATE TABLE data_categories (
    id             TEXT PRIMARY KEY,
    name_ja        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    description_ja TEXT NOT NULL,
    description_en TEXT NOT NULL,
    sensitivity    BIGINT NOT NULL CHECK (sensitivity IN (1, 2, 3)),
    builtin        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     BIGINT NOT NULL DEFAULT 0
);

INSERT INTO data_categories (id, name_ja, name_en, description_ja, description_en, sensitivity) VALUES
('https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly', '名簿（基本）', 'Roster (core)',
 '氏名・学校・学級・学年・在籍', 'Names, schools, classes, grades and enrollments', 3),
('https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly', '名簿（連絡先を含む）', 'Roster with contact data',
 '名簿の基本情報に加え、メールアドレスや電話番号などの連絡先', 'The roster core plus e-mail addresses, phone numbers and other contact data', 2),
('https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly', '属性情報', 'Demographics',
 '生年月日・性別など', 'Date of birth, sex and similar attributes', 2),
('https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly', '成績', 'Grades',
 'テストや課題の評価・成績', 'Scores and results of tests and assignments', 2),
('urn:renkei:scope:attendance.readonly', '出欠', 'Attendance',
 '出席・欠席・遅刻・早退の記録', 'Records of presence, absence, late arrival and early leave', 3),
('urn:renkei:scope:timetable.readonly', '時間割', 'Timetable',
 '学級の時間割', 'The class timetable', 3),
('urn:renkei:scope:daily-observations.readonly', '日常所見', 'Daily observations',
 '教員による日々の観察記録', 'Teachers'' day-to-day observations', 2),
('urn:renkei:scope:health-room-visits.readonly', '保健室利用', 'Health-room visits',
 '保健室の利用記録', 'Records of visits to the school nurse''s room', 2),
('urn:renkei:scope:guidance.readonly', '生徒指導', 'Student guidance',
 '生徒指導に関する記録', 'Records of student guidance', 2),
('urn:renkei:scope:family-situation.readonly', '家庭状況', 'Family situation',
 '家庭の状況に関する情報（要配慮個人情報）', 'Information on the family situation (special-care personal information)', 1),
('urn:renkei:scope:special-needs.readonly', '特別支援', 'Special-needs support',
 '特別な支援に関する情報（要配慮個人情報）', 'Information on special-needs support (special-care personal information)', 1),
('urn:renkei:scope:health.readonly', '保健', 'Health',
 '健康診断などの保健情報（要配慮個人情報）', 'Health checks and other health information (special-care personal information)', 1);

-- Which app may read which category, for which schools / grades / classes, on which legal
-- basis. Every change is a new version; a consent names the version it agreed to.
CREATE TABLE consent_policies (
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    category_id   TEXT NOT NULL REFERENCES data_categories (id),
    version       BIGINT NOT NULL,
    basis         TEXT NOT NULL CHECK (basis IN ('school', 'guardian', 'student')),
    scopes        TEXT NOT NULL,
    purpose_ja    TEXT,
    purpose_en    TEXT,
    valid_until   BIGINT,
    justification TEXT,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at    BIGINT,
    PRIMARY KEY (client_id, category_id, version)
);

-- Append-only: a grant or a withdrawal by a guardian, a student or an administrator; `seq`
-- orders them (the latest decides, even within one second).
CREATE TABLE consent_records (
    id             TEXT PRIMARY KEY,
    seq            BIGINT NOT NULL UNIQUE,
    student_id     TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    category_id    TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
    by_user_id     TEXT NOT NULL,
    by_role        TEXT NOT NULL,
    at             BIGINT NOT NULL,
    until          BIGINT
);
CREATE INDEX consent_records_subject ON consent_records (student_id, client_id, category_id, seq);

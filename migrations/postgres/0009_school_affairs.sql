-- School-affairs records that OneRoster has no place for (attendance, timetables, daily
-- observations, health-room visits, guidance, …), filled by `renkei import affairs` from the
-- school-affairs system and served by the gateway's extension endpoints. `data` is the record's
-- JSON as served (without hrefs); the other columns are what reads join and filter on.
CREATE TABLE affairs_records (
    category           TEXT NOT NULL,
    sourced_id         TEXT NOT NULL,
    status             TEXT NOT NULL,
    date_last_modified TEXT,
    student_id         TEXT,
    class_id           TEXT,
    school_id          TEXT,
    record_date        TEXT,
    data               TEXT NOT NULL,
    PRIMARY KEY (category, sourced_id)
);
CREATE INDEX affairs_records_student ON affairs_records (category, student_id);
CREATE INDEX affairs_records_class ON affairs_records (category, class_id);

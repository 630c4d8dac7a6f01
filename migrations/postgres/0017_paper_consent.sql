-- A consent given on paper (紙の同意書) and recorded by an administrator names the guardian
-- who signed it (their account id): such a record counts, like the guardian's own, only while
-- the roster links that guardian to the child.
ALTER TABLE consent_records ADD COLUMN paper_from TEXT;

-- An app registered for the admin API acts for the whole board unless it is limited to one
-- school: then it reaches that school only, as the school's administrators do.
ALTER TABLE clients ADD COLUMN admin_school TEXT;

-- What the console shows of an app: who makes it and where its privacy policy is.
ALTER TABLE clients ADD COLUMN vendor TEXT;
ALTER TABLE clients ADD COLUMN policy_uri TEXT;

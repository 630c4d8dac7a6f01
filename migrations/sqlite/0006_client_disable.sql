-- A disabled app can no longer sign users in, get tokens or exchange capabilities.
ALTER TABLE clients ADD COLUMN disabled_at BIGINT;

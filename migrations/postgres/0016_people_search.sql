-- The console's people search matches one text per account, in lower case: the username, the
-- name (family then given) and its kana, separated by line feeds so that no search spans two.
ALTER TABLE users ADD COLUMN search_key TEXT GENERATED ALWAYS AS (
    lower(username || chr(10) || coalesce(family_name, '') || coalesce(given_name, '')
    || chr(10) || coalesce(family_name_kana, '') || coalesce(given_name_kana, ''))
) STORED;
-- A trigram index answers substring searches of a whole board without reading every account.
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension; where it is missing the
-- search still works, reading every account.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX users_search_key ON users USING gin (search_key gin_trgm_ops);
EXCEPTION WHEN others THEN
    RAISE NOTICE 'pg_trgm is not available (%): the people search reads every account', SQLERRM;
END
$$;

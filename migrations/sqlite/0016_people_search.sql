-- The console's people search matches one text per account, in lower case: the username, the
-- name (family then given) and its kana, separated by line feeds so that no search spans two.
ALTER TABLE users ADD COLUMN search_key TEXT GENERATED ALWAYS AS (
    lower(username || char(10) || coalesce(family_name, '') || coalesce(given_name, '')
    || char(10) || coalesce(family_name_kana, '') || coalesce(given_name_kana, ''))
) VIRTUAL;

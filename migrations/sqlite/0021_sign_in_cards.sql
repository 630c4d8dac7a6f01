-- Printed sign-in cards for pupils who cannot type yet: a QR code with a high-entropy secret
-- (only its SHA-256 digest is kept) and, from the grade a school chooses, a PIN (its Argon2id
-- hash). One live card per pupil: a new card voids the earlier one. A card ends with the school
-- year (31 March) or when it is voided.
CREATE TABLE sign_in_cards (
    secret_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    pin_hash    TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    voided_at   BIGINT
);
CREATE UNIQUE INDEX sign_in_cards_live ON sign_in_cards (user_id) WHERE voided_at IS NULL;

-- One live code per SMS factor: a new send replaces the row (so the old code
-- dies), and attempts/used_at are bumped by conditional UPDATEs.
CREATE TABLE sms_codes (
    factor_id  TEXT PRIMARY KEY REFERENCES factors(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id     TEXT NOT NULL,
    code_hash  BYTEA NOT NULL,
    sent_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    BIGINT NOT NULL DEFAULT 0
);

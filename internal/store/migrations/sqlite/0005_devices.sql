-- Remembered browsers ("Remember this device", docs/api.md): a 256-bit random
-- token lives only in the browser's cookie; the table holds its SHA-256, so
-- the database alone cannot be used to skip anyone's second factor. id is
-- the public name the user sees and revokes it by.
CREATE TABLE devices (
    token_hash   BLOB PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices(user_id);

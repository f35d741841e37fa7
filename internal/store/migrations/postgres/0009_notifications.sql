-- Security notifications waiting to be sent (docs/notifications.md): a
-- queue in the database, so nothing is lost on a restart and every
-- instance shares it. One row per recipient and channel. The recipient (an
-- e-mail address or an E.164 number) is sealed with the keyring, bound to
-- the row id, and erased once the row is sent or has failed for good; the
-- payload holds only what the message says (event, time, address, a
-- browser summary), never a code or secret.
--
-- A worker claims a due row by one conditional UPDATE that sets
-- lease_owner and lease_until (so two instances never hold the same row),
-- sends it, then marks sent_at on the condition that it still holds the
-- lease. failed_at marks a row given up on (max attempts, or a permanent
-- refusal). id is random and also the Message-ID's local part.
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    event       TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    recipient   BYTEA NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    sent_at     BIGINT NOT NULL DEFAULT 0,
    failed_at   BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);
-- Due rows in order; sent and failed rows leave the pending set.
CREATE INDEX notifications_pending ON notifications(next_at) WHERE sent_at = 0 AND failed_at = 0;
-- The per-user cap of notification texts a day counts by user and time.
CREATE INDEX notifications_user ON notifications(user_id, created_at);

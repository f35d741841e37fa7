-- Second-factor failures (docs/throttling.md) live with the account, in the
-- database, so they hold across instances and the CLI can clear them on
-- SQLite too: counted until a success (no daily amnesty), with the time of
-- the last failure for the exponential back-off; at 100 the second factor
-- stays locked until an administrator unlocks it. mfa_busy_until is a short
-- lease that lets one second-factor attempt of a user run at a time, so a
-- burst of parallel guesses cannot all pass the back-off check.
ALTER TABLE users ADD COLUMN mfa_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_failed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_busy_until BIGINT NOT NULL DEFAULT 0;

-- TOTP replay protection per authenticator app (each has its own secret):
-- a second app's first code is no longer refused as a replay of the first
-- app's step. Existing apps inherit their user's last step, so no code used
-- before the upgrade works again after it.
ALTER TABLE factors ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
UPDATE factors SET totp_last_step = (SELECT u.totp_last_step FROM users u WHERE u.id = factors.user_id)
    WHERE type = 'totp';
ALTER TABLE users DROP COLUMN totp_last_step;

-- When the user last signed in (twostep user list).
ALTER TABLE users ADD COLUMN last_login_at BIGINT NOT NULL DEFAULT 0;

-- When the user's last SMS set-up began: one conditional UPDATE lets one of
-- several parallel set-up requests through per resend cooldown.
ALTER TABLE users ADD COLUMN sms_setup_at BIGINT NOT NULL DEFAULT 0;

-- Audit retention: `twostep audit prune` deletes the entries before a date
-- and leaves a checkpoint in their place, the last pruned entry's seq and
-- hash under a MAC of the key file, from which `audit verify` goes on. A
-- database writer without the key file can neither forge one nor delete
-- the head of the chain unnoticed.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    at        BIGINT NOT NULL,
    pruned_at BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    mac       BYTEA NOT NULL
);

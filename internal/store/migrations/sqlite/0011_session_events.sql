-- Session-cache invalidation (docs/deploy.md "Session cache"): every change
-- that must end or alter a session some instance's forward-auth cache holds
-- leaves one row here, written by a trigger in the same transaction as the
-- change, so every writer is covered: each instance, and the CLI run as a
-- separate process against the same database (`twostep user disable`).
-- Each instance reads the rows after the last it saw every 250 ms and drops
-- the cache entries they name.
--
--   user_id    whose cached sessions the change concerns
--   token_hash the one session that ended; NULL for all of the user's
--   at         when the row was written (Unix milliseconds), for pruning
--
-- What writes a row, and what does not (the triggers' WHEN clauses):
--   sessions DELETE (logout, end, rotation to aal2, disable, expiry)
--   sessions UPDATE of aal, user_id or created_at (no writer does; kept so
--            one never slips past); never the idle-timer touch or the plan
--   users    UPDATE of a column an entry holds (disabled, username, email,
--            groups, grace_*); never the failure counters, the login time,
--            the password hash or the WebAuthn handle, which sign-in and
--            verification write all the time
--   users    DELETE
--   factors  INSERT, DELETE, UPDATE of status, type or user_id (the
--            "no allowed second factor" flag an entry holds); never
--            last_used_at, totp_last_step, label or a re-sealed secret
--
-- On SQLite writers are serialised by the database lock (across processes
-- too) and seq is assigned inside it, so rows become visible in seq order:
-- a reader's "seq > last" misses nothing.
CREATE TABLE session_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    user_id    TEXT NOT NULL,
    token_hash BLOB
);
CREATE INDEX session_events_at ON session_events(at);

CREATE TRIGGER session_events_sessions_delete AFTER DELETE ON sessions
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.user_id, OLD.token_hash);
END;

CREATE TRIGGER session_events_sessions_update AFTER UPDATE OF aal, user_id, created_at ON sessions
WHEN OLD.aal IS NOT NEW.aal OR OLD.user_id IS NOT NEW.user_id OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.user_id, OLD.token_hash);
END;

-- UPDATE OF: an UPDATE that sets none of these columns (the lease, the
-- failure counters, the login time, a hash upgrade: every sign-in and
-- verification) does not even compile the trigger into its statement,
-- which in SQLite cost a verification about 40 % more CPU (the WHEN clause
-- alone still compiled it into every UPDATE of users).
CREATE TRIGGER session_events_users_update AFTER UPDATE OF disabled, username, email, groups, grace_policy, grace_started_at, grace_extended ON users
WHEN OLD.disabled IS NOT NEW.disabled OR OLD.username IS NOT NEW.username OR OLD.email IS NOT NEW.email
  OR OLD.groups IS NOT NEW.groups OR OLD.grace_policy IS NOT NEW.grace_policy
  OR OLD.grace_started_at IS NOT NEW.grace_started_at OR OLD.grace_extended IS NOT NEW.grace_extended
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.id, NULL);
END;

CREATE TRIGGER session_events_users_delete AFTER DELETE ON users
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.id, NULL);
END;

CREATE TRIGGER session_events_factors_insert AFTER INSERT ON factors
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.user_id, NULL);
END;

CREATE TRIGGER session_events_factors_delete AFTER DELETE ON factors
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.user_id, NULL);
END;

CREATE TRIGGER session_events_factors_update AFTER UPDATE OF status, type, user_id ON factors
WHEN OLD.status IS NOT NEW.status OR OLD.type IS NOT NEW.type OR OLD.user_id IS NOT NEW.user_id
BEGIN
    INSERT INTO session_events (at, user_id, token_hash)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.user_id, NULL);
    INSERT INTO session_events (at, user_id, token_hash)
    SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.user_id, NULL WHERE NEW.user_id IS NOT OLD.user_id;
END;

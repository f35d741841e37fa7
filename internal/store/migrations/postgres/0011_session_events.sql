-- Session-cache invalidation (docs/deploy.md "Session cache"): every change
-- that must end or alter a session some instance's forward-auth cache holds
-- leaves one row here, written by a trigger in the same transaction as the
-- change, so every writer is covered: each instance, and the CLI run as a
-- separate process against the same database (`twostep user disable`).
-- Each instance reads the new rows every 250 ms and drops the cache entries
-- they name.
--
--   user_id    whose cached sessions the change concerns
--   token_hash the one session that ended; NULL for all of the user's
--   xid        the writing transaction (pg_current_xact_id), see below
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
-- A sequence hands out seq before commit, so transactions may commit out of
-- seq order and "seq > last" could skip a row that commits late. The reader
-- therefore goes by transaction ids instead: every poll also reads the xmin
-- of its own snapshot (the oldest transaction still running then), and the
-- next poll reads every row with xid >= that xmin, skipping the seqs it has
-- already applied. A row with a smaller xid was committed before the
-- earlier snapshot and so was read by it.
CREATE TABLE session_events (
    seq        BIGSERIAL PRIMARY KEY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at         BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    user_id    TEXT NOT NULL,
    token_hash BYTEA
);
CREATE INDEX session_events_xid ON session_events(xid);
CREATE INDEX session_events_at ON session_events(at);

CREATE FUNCTION session_events_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_events (user_id, token_hash) VALUES (OLD.user_id, OLD.token_hash);
    RETURN NULL;
END $$;

CREATE FUNCTION session_events_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO session_events (user_id) VALUES (OLD.id);
    ELSE
        INSERT INTO session_events (user_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION session_events_factors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO session_events (user_id) VALUES (OLD.user_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id) THEN
        INSERT INTO session_events (user_id) VALUES (NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER session_events_sessions_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION session_events_sessions();
CREATE TRIGGER session_events_sessions_update AFTER UPDATE OF aal, user_id, created_at ON sessions
    FOR EACH ROW WHEN (OLD.aal IS DISTINCT FROM NEW.aal OR OLD.user_id IS DISTINCT FROM NEW.user_id
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION session_events_sessions();
-- UPDATE OF: an UPDATE that sets none of these columns (the lease, the
-- failure counters, the login time, a hash upgrade: every sign-in and
-- verification) does not even compile the trigger into its statement,
-- which in SQLite cost a verification about 40 % more CPU (the WHEN clause
-- alone still compiled it into every UPDATE of users).
CREATE TRIGGER session_events_users_update AFTER UPDATE OF disabled, username, email, groups, grace_policy, grace_started_at, grace_extended ON users
    FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.username IS DISTINCT FROM NEW.username
                       OR OLD.email IS DISTINCT FROM NEW.email OR OLD.groups IS DISTINCT FROM NEW.groups
                       OR OLD.grace_policy IS DISTINCT FROM NEW.grace_policy
                       OR OLD.grace_started_at IS DISTINCT FROM NEW.grace_started_at
                       OR OLD.grace_extended IS DISTINCT FROM NEW.grace_extended)
    EXECUTE FUNCTION session_events_user();
CREATE TRIGGER session_events_users_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION session_events_user();
CREATE TRIGGER session_events_factors_change AFTER INSERT OR DELETE ON factors
    FOR EACH ROW EXECUTE FUNCTION session_events_factors();
CREATE TRIGGER session_events_factors_update AFTER UPDATE OF status, type, user_id ON factors
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.type IS DISTINCT FROM NEW.type
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION session_events_factors();

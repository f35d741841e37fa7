-- Passkeys and security keys (WebAuthn, docs/passkeys.md).

-- Each user's WebAuthn user handle: 64 random bytes, made at the first
-- passkey set-up, never derived from the user name (WebAuthn L3 §14.6.1
-- user handle privacy). Unique, so a discoverable credential's handle names
-- one account; NULL until then (NULLs do not collide in a UNIQUE index).
ALTER TABLE users ADD COLUMN webauthn_handle BYTEA;
CREATE UNIQUE INDEX users_webauthn_handle ON users(webauthn_handle);

-- One credential record (WebAuthn L3 §4) per passkey, beside its factor
-- row (type webauthn), which carries the name, status and times like any
-- other method and takes the record with it when removed. The credential
-- id is the primary key: unique across all users (L3 §7.1 step 26), so
-- registering an id already known is refused. The public key is a COSE
-- key, public by nature, so it is not sealed.
CREATE TABLE passkeys (
    credential_id      BYTEA PRIMARY KEY,
    factor_id          TEXT NOT NULL UNIQUE REFERENCES factors(id) ON DELETE CASCADE,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    public_key         BYTEA NOT NULL,
    sign_count         BIGINT NOT NULL DEFAULT 0,
    aaguid             BYTEA NOT NULL,
    transports         TEXT NOT NULL DEFAULT '',
    backup_eligible    INTEGER NOT NULL DEFAULT 0,
    backup_state       INTEGER NOT NULL DEFAULT 0,
    user_verified      INTEGER NOT NULL DEFAULT 0,
    attestation_type   TEXT NOT NULL DEFAULT '',
    attestation_format TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- A ceremony begun (a registration, a second-factor assertion or a
-- passwordless sign-in): kept in the database so any instance can finish
-- what another began, found by the SHA-256 of its id, and consumed by one
-- DELETE ... RETURNING that also checks its kind, its binding (the user and
-- session that asked; both '' for a passwordless ceremony, bound to its id
-- alone) and its expiry, so it is used at most once.
CREATE TABLE webauthn_ceremonies (
    id_hash      BYTEA PRIMARY KEY,
    kind         TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    session_hash TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_session ON webauthn_ceremonies(session_hash, kind);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires_at);

-- How a session was signed in, for amr claims later (RFC 8176): the methods
-- that passed in order ("password,totp", "webauthn" for a passwordless
-- passkey), whether a passkey verified its user, and the factor that passed
-- last (a passkey's record tells a synced from a device-bound key).
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN auth_uv INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_factor_id TEXT NOT NULL DEFAULT '';

-- Sessions as their user sees them (docs/pages.md "Sessions and devices",
-- GET /api/v1/sessions): a public id to name one by, and the client that
-- signed in.
--
-- id is 128 random bits made by the service (token.NewID), never derived
-- from the token, and copied when the session is rotated to aal2, so the
-- same sign-in keeps its name. The token hash stays the only way in: the id
-- only lets its own user end the session. ip and user_agent are what the
-- client sent at sign-in, cut by the service to a bound length; the user
-- agent is text an attacker chooses, so every page escapes it.
ALTER TABLE sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- Sessions signed in before this migration get a random id of the same
-- shape as the service's (26 characters of the lowercase base32 alphabet):
-- 13 random bytes as hex, the digits moved to the letters g-p, so it passes
-- the same check as every other id (104 random bits).
UPDATE sessions SET id = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    lower(hex(randomblob(13))),
    '0', 'g'), '1', 'h'), '2', 'i'), '3', 'j'), '4', 'k'), '5', 'l'), '6', 'm'), '7', 'n'), '8', 'o'), '9', 'p')
  WHERE id = '';
CREATE UNIQUE INDEX sessions_id ON sessions(id);

-- Attributes forward-auth passes to applications: Remote-Email and
-- Remote-Groups (groups as a comma-separated list, set with the CLI).
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '';

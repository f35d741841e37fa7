package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
)

// TestMigrateSessionIDs: sessions signed in before 0010_sessions.sql get a
// public id of the service's shape (26 characters of lowercase base32),
// each its own, so every live session can be listed and ended by id after
// the upgrade. The database is taken back to before 0010 by hand (its
// columns and index dropped, its row in schema_migrations removed), given
// sessions the old way, and migrated again.
func TestMigrateSessionIDs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dialect store.Dialect
		dsn     func(t *testing.T) string
		driver  string
	}{
		{"SQLite", store.SQLite, func(t *testing.T) string { return filepath.Join(t.TempDir(), "twostep.db") }, "sqlite"},
		{"Postgres", store.Postgres, func(t *testing.T) string { return storetest.PostgresDSN(t) }, "pgx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := tc.dsn(t)
			s, err := store.Open(ctx, tc.dialect, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{
				`DROP INDEX sessions_id`,
				`ALTER TABLE sessions DROP COLUMN id`,
				`ALTER TABLE sessions DROP COLUMN ip`,
				`ALTER TABLE sessions DROP COLUMN user_agent`,
				`DELETE FROM schema_migrations WHERE version = 10`,
				`INSERT INTO users (id, username, password_hash, created_at) VALUES ('u1', 'alice', 'x', 1)`,
				`INSERT INTO sessions (token_hash, user_id, aal, created_at, last_seen_at) VALUES ('h1', 'u1', 'aal1', 1, 1)`,
				`INSERT INTO sessions (token_hash, user_id, aal, created_at, last_seen_at) VALUES ('h2', 'u1', 'aal2', 1, 1)`,
				`INSERT INTO sessions (token_hash, user_id, aal, created_at, last_seen_at) VALUES ('h3', 'u1', 'aal2', 1, 1)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) != 1 || applied[0] != "0010_sessions.sql" {
				t.Fatalf("Migrate = %v, %v; want 0010_sessions.sql applied", applied, err)
			}
			rows, err := db.QueryContext(ctx, `SELECT id, ip, user_agent FROM sessions`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			shape, seen := regexp.MustCompile(`^[a-z2-7]{26}$`), map[string]bool{}
			for rows.Next() {
				var id, ip, ua string
				if err := rows.Scan(&id, &ip, &ua); err != nil {
					t.Fatal(err)
				}
				if !shape.MatchString(id) || seen[id] || ip != "" || ua != "" {
					t.Fatalf("migrated session: id %q (seen before: %v), ip %q, user agent %q", id, seen[id], ip, ua)
				}
				seen[id] = true
			}
			if err := rows.Err(); err != nil || len(seen) != 3 {
				t.Fatalf("%d sessions, %v; want 3", len(seen), err)
			}
		})
	}
}

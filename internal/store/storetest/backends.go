// Package storetest is the store contract suite: one set of tests that every
// backend must pass (Run), and constructors for a fresh SQLite file or a
// fresh PostgreSQL database per test.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/testskip"

	"github.com/twostep/twostep/internal/store"
)

// PostgresURLEnv names the environment variable holding the PostgreSQL
// server URL used by tests (e.g. postgres://postgres@127.0.0.1:5432/postgres).
const PostgresURLEnv = "TWOSTEP_TEST_POSTGRES_URL"

// BackendEnv set to "postgres" makes New, and the test harnesses built on
// it, use a fresh PostgreSQL database instead of SQLite, so .ci/run can
// run the whole suite on both backends.
const BackendEnv = "TWOSTEP_TEST_BACKEND"

// OnPostgres reports whether the suite runs on PostgreSQL (BackendEnv).
func OnPostgres() bool { return os.Getenv(BackendEnv) == "postgres" }

// New opens a fresh store on the backend the suite runs on (BackendEnv).
func New(t testing.TB) *store.Store {
	t.Helper()
	if OnPostgres() {
		return NewPostgres(t)
	}
	return NewSQLite(t)
}

// NewSQLite opens and migrates a store on a new SQLite file in t.TempDir().
func NewSQLite(t testing.TB) *store.Store {
	t.Helper()
	return open(t, store.SQLite, filepath.Join(t.TempDir(), "twostep.db"))
}

// PostgresDSN creates a new, empty PostgreSQL database for this test, drops
// it when the test ends, and returns its URL. It skips the test when
// TWOSTEP_TEST_POSTGRES_URL is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		testskip.Skip(t, PostgresURLEnv+" is not set", "set "+PostgresURLEnv+"=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (a server where tests may create databases)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "twostep_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewPostgres opens and migrates a store on a fresh PostgreSQL database,
// or skips the test when TWOSTEP_TEST_POSTGRES_URL is unset.
func NewPostgres(t testing.TB) *store.Store {
	t.Helper()
	return open(t, store.Postgres, PostgresDSN(t))
}

func open(t testing.TB, d store.Dialect, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), d, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return s
}

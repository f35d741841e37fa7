// Package store persists twostep's state in SQLite (the embedded default) or
// PostgreSQL. It is one concrete *Store over database/sql with plain SQL
// beside each method; every query text is valid in both dialects ($N
// placeholders, BIGINT unix-millisecond times, 0/1 flags), so the only
// per-dialect code is opening, migrations and the audit-chain lock.
//
// Every single-use mark and counter is one conditional UPDATE or INSERT, so
// parallel requests (and several instances on one PostgreSQL) cannot slip
// past it.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/twostep/twostep/internal/model"
)

// Dialect names a supported database.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	w       *sql.DB // writes; for SQLite a single connection (one writer)
	r       *sql.DB // reads; for PostgreSQL the same pool as w
	audit   auditQueue
	lock    *os.File // the SQLite file held by LockSQLite, if any
}

// Open connects to the database named by dialect and dsn (a file path for
// SQLite, a postgres:// URL for PostgreSQL). It does not migrate.
func Open(ctx context.Context, dialect Dialect, dsn string) (*Store, error) {
	return OpenDriver(ctx, dialect, dsn, "")
}

// OpenDriver is Open through the database/sql driver registered under the
// name driver instead of the dialect's own ("sqlite", "pgx"; "" for that).
// The tests put a wrapper that counts statements and transactions there
// (storetest.NewCounting); the wrapper must pass everything on to the
// dialect's driver.
func OpenDriver(ctx context.Context, dialect Dialect, dsn, driver string) (*Store, error) {
	var s *Store
	switch dialect {
	case SQLite:
		var err error
		s, err = openSQLite(cmp.Or(driver, "sqlite"), dsn)
		if err != nil {
			return nil, err
		}
	case Postgres:
		db, err := sql.Open(cmp.Or(driver, "pgx"), dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(4 * runtime.NumCPU())
		db.SetMaxIdleConns(4 * runtime.NumCPU())
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &Store{dialect: Postgres, w: db, r: db}
	default:
		return nil, fmt.Errorf("unknown database dialect %q", dialect)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.r.PingContext(pctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect %s: %w", dialect, err)
	}
	return s, nil
}

// openSQLite opens two pools on one WAL database: a single writer connection
// (SQLite allows one writer at a time; queueing in Go instead of retrying on
// SQLITE_BUSY avoids "database is locked" under load) and a pool of readers,
// which WAL lets run beside the writer.
func openSQLite(driver, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// The database holds password hashes: create it private (the WAL and
	// shared-memory files inherit its mode). Failing here says why, where
	// the driver would only say "unable to open database file (14)".
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open or create the database %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open(driver, dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, 2*runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	// The writer creates the file and switches it to WAL before readers open.
	if err := w.Ping(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{dialect: SQLite, w: w, r: r}, nil
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close releases the connections.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	return err
}

// tx runs fn in a write transaction and commits when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") // PostgreSQL unique_violation
}

// one turns "no row affected" into model.ErrNotFound.
func one(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return model.ErrNotFound
	}
	return nil
}

// notFound maps sql.ErrNoRows to model.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return model.ErrNotFound
	}
	return err
}

// ms converts a time to the stored unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// flag converts a bool to the stored 0/1.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// conflictIfNone turns "no row affected" into model.ErrConflict (a
// conditional write whose condition did not hold).
func conflictIfNone(res sql.Result, err error) error {
	err = one(res, err)
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrConflict
	}
	return err
}

package storetest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twostep/twostep/internal/store"
)

// Counter counts what a store sends to its database: statements (each
// Exec or Query, one round trip on PostgreSQL) and transactions (their
// BEGIN, COMMIT and ROLLBACK). It wraps the database/sql driver, so every
// path of the store is counted without the store knowing (issue #12: the
// round trips of a verification, asserted so a regression fails).
type Counter struct {
	mu sync.Mutex
	on bool
	// Log has each statement by verb and table, in order ("BEGIN",
	// "UPDATE factors", …); a pgx batch is "BATCH" followed by its
	// statements marked "+".
	Log       []string
	Begins    int
	Commits   int
	Rollbacks int
}

// Start resets the counts and starts counting.
func (c *Counter) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.Log, c.Begins, c.Commits, c.Rollbacks = true, nil, 0, 0, 0
}

// Stop stops counting and returns a copy of the counts.
func (c *Counter) Stop() Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return Counter{Log: append([]string(nil), c.Log...), Begins: c.Begins, Commits: c.Commits, Rollbacks: c.Rollbacks}
}

// Statements is the number of statements counted (transaction control
// excluded, pipelined ones included).
func (c *Counter) Statements() int {
	n := 0
	for _, s := range c.Log {
		switch s {
		case "BEGIN", "COMMIT", "ROLLBACK", "BATCH":
		default:
			n++
		}
	}
	return n
}

// RoundTrips is the number of exchanges with the server: every entry of
// the log but the statements sent in a batch ("+…"), which travel with
// their BATCH. On SQLite, an embedded library, these are calls, not
// network round trips.
func (c *Counter) RoundTrips() int {
	n := 0
	for _, s := range c.Log {
		if !strings.HasPrefix(s, "+") {
			n++
		}
	}
	return n
}

func (c *Counter) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return
	}
	c.Log = append(c.Log, what)
	switch what {
	case "BEGIN":
		c.Begins++
	case "COMMIT":
		c.Commits++
	case "ROLLBACK":
		c.Rollbacks++
	}
}

// label names a statement by its verb and table ("SELECT sessions",
// "UPDATE users", "INSERT audit_log"), enough to read the log.
func label(query string) string {
	f := strings.Fields(query)
	if len(f) == 0 {
		return ""
	}
	verb := strings.ToUpper(f[0])
	after := map[string]string{"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}[verb]
	for i, w := range f[:len(f)-1] {
		if after != "" && strings.EqualFold(w, after) {
			return verb + " " + strings.Trim(f[i+1], "(,")
		}
	}
	if len(f) > 1 { // SELECT f(x) with no table
		name, _, _ := strings.Cut(f[1], "(")
		return verb + " " + name
	}
	return verb
}

var registerMu sync.Mutex
var registered = map[string]*Counter{}

// NewCounting opens a fresh store like New (the backend of BackendEnv),
// with every statement and transaction it sends counted by the returned
// Counter (counting starts with Counter.Start).
func NewCounting(t testing.TB) (*store.Store, *Counter) {
	t.Helper()
	d, dsn, inner := store.SQLite, filepath.Join(t.TempDir(), "twostep.db"), "sqlite"
	if OnPostgres() {
		d, dsn, inner = store.Postgres, PostgresDSN(t), "pgx"
	}
	// The dialect's driver, without connecting.
	db, err := sql.Open(inner, "")
	if err != nil {
		t.Fatal(err)
	}
	drv := db.Driver()
	db.Close()
	c := &Counter{}
	name := "counting-" + inner + "-" + strings.ReplaceAll(t.Name(), "/", "-")
	registerMu.Lock()
	if _, ok := registered[name]; ok {
		registerMu.Unlock()
		t.Fatalf("NewCounting called twice in %s", t.Name())
	}
	registered[name] = c
	sql.Register(name, countingDriver{drv, c})
	registerMu.Unlock()

	s, err := store.OpenDriver(context.Background(), d, dsn, name)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return s, c
}

// countingDriver and countingConn pass everything on to the dialect's
// driver, counting on the way. What the wrapped connection offers
// (ExecerContext, QueryerContext, NamedValueChecker, …) is offered on;
// database/sql falls back as it would for the dialect's own driver.
type countingDriver struct {
	inner driver.Driver
	c     *Counter
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{conn, d.c}, nil
}

type countingConn struct {
	driver.Conn
	c *Counter
}

// Raw gives the wrapped connection to code that needs the driver's own
// API (sql.Conn.Raw: the pgx batch of store.RotateSession).
func (c *countingConn) Raw() any { return c.Conn }

// Count lets that code count what it sends itself.
func (c *countingConn) Count(what string) { c.c.add(what) }

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.c.add(label(query))
	return e.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.c.add(label(query))
	return q.QueryContext(ctx, query, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{st, c.c, label(query)}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 a driver without BeginTx has only Begin
		tx, err = c.Conn.Begin()
	}
	if err != nil {
		return nil, err
	}
	c.c.add("BEGIN")
	return countingTx{tx, c.c}, nil
}

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type countingTx struct {
	driver.Tx
	c *Counter
}

func (t countingTx) Commit() error   { t.c.add("COMMIT"); return t.Tx.Commit() }
func (t countingTx) Rollback() error { t.c.add("ROLLBACK"); return t.Tx.Rollback() }

type countingStmt struct {
	driver.Stmt
	c     *Counter
	label string
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.add(s.label)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.add(s.label)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

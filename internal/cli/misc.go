package cli

import (
	"fmt"
	"log/slog"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/version"
)

// migrate applies pending database migrations and lists them.
func (e *cmdEnv) migrate(args []string) error {
	f := newFlags("migrate", e.stderr, "database")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	cfg, err := e.config(f)
	if err != nil {
		return err
	}
	driver, dsn := cfg.DatabaseDriver()
	st, err := store.Open(e.ctx, store.Dialect(driver), dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(e.ctx)
	for _, m := range applied {
		fmt.Fprintf(e.stdout, "applied %s\n", m)
	}
	if err != nil {
		return err
	}
	cur, _, err := st.SchemaVersion(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema at version %d\n", cur)
	return nil
}

// auditVerify checks the audit log's hash chain.
func (e *cmdEnv) auditVerify(args []string) error {
	f := newFlags("audit verify", e.stderr, "database")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	a, err := e.open(f, e.stderr, slog.LevelWarn)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := audit.Verify(e.ctx, a.store)
	if err != nil {
		return fmt.Errorf("audit log broken after %d good entries: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d entries\n", n)
	return nil
}

func (e *cmdEnv) version() error {
	fmt.Fprintln(e.stdout, version.String())
	return nil
}

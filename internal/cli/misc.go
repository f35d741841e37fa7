package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/version"
)

// migrate creates the database and key file of a fresh installation, or
// applies pending migrations to an existing one, and lists what it applied.
func (e *cmdEnv) migrate(args []string) error {
	f := newFlags("migrate", e.stderr, "database")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	a, err := e.open(f, e.stderr, slog.LevelWarn, initialise)
	if err != nil {
		return err
	}
	defer a.close()
	for _, m := range a.applied {
		fmt.Fprintf(e.stdout, "applied %s\n", m)
	}
	cur, _, err := a.store.SchemaVersion(e.ctx)
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
	a, err := e.open(f, e.stderr, slog.LevelWarn, existing)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := audit.Verify(e.ctx, a.store, a.keys)
	if err != nil {
		return fmt.Errorf("audit log broken after %d good entries: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d entries\n", n)
	return nil
}

// auditPrune deletes the audit entries before a date, optionally archiving
// them first, and leaves a keyed checkpoint so `audit verify` still checks
// what remains (docs/deploy.md, "Audit retention").
func (e *cmdEnv) auditPrune(args []string) error {
	f := newFlags("audit prune", e.stderr, "database")
	beforeArg := f.String("before", "", "delete entries older than this date (YYYY-MM-DD, UTC) or RFC 3339 time")
	archivePath := f.String("archive", "", "first append the entries to this new file as JSON lines")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	before, err := time.Parse(time.DateOnly, *beforeArg)
	if err != nil {
		if before, err = time.Parse(time.RFC3339, *beforeArg); err != nil {
			return usageErr("audit prune needs --before DATE (YYYY-MM-DD or an RFC 3339 time), not %q", *beforeArg)
		}
	}
	a, err := e.open(f, e.stderr, slog.LevelWarn, existing)
	if err != nil {
		return err
	}
	defer a.close()
	var archive io.Writer // nil: no archive
	if *archivePath != "" {
		// O_EXCL: an archive is never overwritten.
		f, err := os.OpenFile(*archivePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		archive = f
	}
	n, err := audit.Prune(e.ctx, a.store, a.keys, before, time.Now(), archive)
	if err != nil {
		return err
	}
	a.svc.RecordAdmin(e.ctx, cliClient, map[string]string{"action": "audit_prune", "before": before.UTC().Format(time.RFC3339), "entries": strconv.FormatInt(n, 10)})
	fmt.Fprintf(e.stdout, "audit log: %d entries before %s pruned; a checkpoint stands for them\n", n, before.UTC().Format(time.RFC3339))
	return nil
}

func (e *cmdEnv) version() error {
	fmt.Fprintln(e.stdout, version.String())
	return nil
}

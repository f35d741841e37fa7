package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twostep/twostep/internal/audit"
)

// auditCommands is the table of `twostep audit` commands.
var auditCommands = []*command{
	{name: "verify", config: []string{"database"}, summary: "Check the audit log's hash chain and name the first entry altered, inserted or deleted.",
		run: func(e *cmdEnv, a *app, _ string) error { return e.auditVerify(a) }},
	{name: "prune", config: []string{"database"}, needs: []string{"before"},
		summary: "Delete the audit entries before a date, optionally archiving them first; a keyed checkpoint stands for them (docs/deploy.md).",
		setup: func(f *flags) runFunc {
			var before dateFlag
			f.Var(&before, "before", "delete the entries older than this `DATE` (YYYY-MM-DD, UTC, or an RFC 3339 time)")
			archive := f.String("archive", "", "first write the entries to this new `FILE` as JSON lines")
			return func(e *cmdEnv, a *app, _ string) error { return e.auditPrune(a, before.Time, *archive) }
		}},
}

// auditVerify checks the audit log's hash chain.
func (e *cmdEnv) auditVerify(a *app) error {
	n, err := audit.Verify(e.ctx, a.store, a.keys)
	if err != nil {
		return fmt.Errorf("audit log broken after %d good entries: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d entries\n", n)
	return nil
}

// auditPrune prunes through the service, which audits the prune.
func (e *cmdEnv) auditPrune(a *app, before time.Time, archivePath string) error {
	var archive io.Writer // nil: no archive
	if archivePath != "" {
		// O_EXCL: an archive is never overwritten.
		f, err := os.OpenFile(archivePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		archive = f
	}
	n, err := a.svc.PruneAudit(e.ctx, cliClient, before, archive)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "audit log: %d entries before %s pruned; a checkpoint stands for them\n", n, before.UTC().Format(time.RFC3339))
	return nil
}

// dateFlag is a date (midnight UTC) or an RFC 3339 time.
type dateFlag struct{ time.Time }

func (d *dateFlag) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.RFC3339)
}

func (d *dateFlag) Set(s string) error {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return errors.New("want YYYY-MM-DD or an RFC 3339 time")
		}
	}
	d.Time = t
	return nil
}

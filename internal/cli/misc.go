package cli

import (
	"fmt"

	"github.com/twostep/twostep/internal/version"
)

// migrate lists the migrations open applied (creating the database and key
// file of a fresh installation) and the schema version.
func (e *cmdEnv) migrate(a *app, _ string) error {
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

func (e *cmdEnv) version(*app, string) error {
	fmt.Fprintln(e.stdout, version.String())
	return nil
}

package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/twostep/twostep/internal/auth"
)

// keysCommands is the table of `twostep keys` commands. What they do to
// the key file and the stored secrets, and the rules that make a rotation
// resumable, are the service's (auth.Service.RotateKeys); these print.
var keysCommands = []*command{
	{name: "rotate",
		summary: "Add a key and re-encrypt every factor secret under it; --resume finishes an unfinished rotation without adding one.",
		setup: func(f *flags) runFunc {
			resume := f.Bool("resume", false, "add no key; finish re-encrypting under the current primary key")
			return func(e *cmdEnv, a *app, _ string) error { return e.keysRotate(a, *resume) }
		}},
	{name: "add",
		summary: "Add a key, the primary key of every process started from then on; nothing is re-encrypted yet.",
		run:     func(e *cmdEnv, a *app, _ string) error { return e.keysAdd(a) }},
	{name: "status", summary: "Show every key and what still uses it, and which keys may leave the key file.",
		run: func(e *cmdEnv, a *app, _ string) error { return e.keysStatus(a) }},
}

func (e *cmdEnv) keysAdd(a *app) error {
	id, err := a.svc.AddKey(e.ctx, cliClient, a.cfg.KeyFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added key %s to %s; it is the primary key for every process started from now on\n", id, a.cfg.KeyFile)
	fmt.Fprintln(e.stdout, "copy the key file to every instance and restart them, then run `twostep keys rotate --resume`")
	return nil
}

// keysRotate prints what the rotation did, then the key status.
func (e *cmdEnv) keysRotate(a *app, resume bool) error {
	rot, err := a.svc.RotateKeys(e.ctx, cliClient, a.cfg.KeyFile, resume)
	if errors.Is(err, auth.ErrRotationUnfinished) {
		return fmt.Errorf("%w; finish it with `twostep keys rotate --resume` (no key is added)", err)
	}
	if rot.Added != "" {
		fmt.Fprintf(e.stdout, "added key %s to %s; it is now the primary key\n", rot.Added, a.cfg.KeyFile)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "re-encrypted %d factor secrets under key %s\n", rot.Resealed, rot.Primary)
	if rot.Skipped > 0 {
		fmt.Fprintf(e.stdout, "skipped %d factor secrets changed by a running instance meanwhile; run `twostep keys rotate --resume` again\n", rot.Skipped)
	}
	if err := e.keysStatus(a); err != nil {
		return err
	}
	if len(rot.Failed) > 0 {
		return fmt.Errorf("could not open the secrets of %d factors (first: %s): they were left as they are",
			len(rot.Failed), strings.Join(rot.Failed[:min(len(rot.Failed), 10)], ", "))
	}
	return nil
}

// keysStatus prints the key table, then what may be done about each key
// that is neither the primary one nor missing.
func (e *cmdEnv) keysStatus(a *app) error {
	keys, err := a.svc.KeyStatus(e.ctx, a.cfg.KeyFile)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tFACTOR SECRETS\tRECOVERY CODES\tSMS CODES")
	var notes []string
	for _, k := range keys {
		switch {
		case k.State == auth.KeyUnused:
			notes = append(notes, fmt.Sprintf("key %s is used by nothing: its line may be removed from the key file (keep a backup)", k.KeyID))
		case k.State != auth.KeyOld:
		case k.FactorSecrets > 0:
			notes = append(notes, fmt.Sprintf("key %s still seals factor secrets: run `twostep keys rotate --resume`", k.KeyID))
		case k.RecoveryCodes+k.SMSCodes == 0:
			notes = append(notes, fmt.Sprintf("key %s still seals %d queued security notification(s): keep it until they are sent (docs/notifications.md)", k.KeyID, k.Notifications))
		default:
			notes = append(notes, fmt.Sprintf("key %s must stay: recovery and SMS codes are keyed hashes that cannot be re-encrypted; "+
				"they leave it as users regenerate their recovery codes and SMS codes expire", k.KeyID))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", k.KeyID, k.State, k.FactorSecrets, k.RecoveryCodes, k.SMSCodes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

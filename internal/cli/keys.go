package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/store"
)

// resealBatch is how many factor secrets one transaction re-encrypts: a
// crash loses at most one batch of work, and no transaction holds locks
// on many rows while serving instances use them.
const resealBatch = 100

// keys runs `twostep keys rotate|add|status`.
//
// Rotation re-encrypts what can be re-encrypted: factor secrets (TOTP seeds
// and phone numbers) are opened with the key that sealed them and sealed
// again under the primary key. Recovery and SMS codes are stored as keyed
// hashes, which cannot be recomputed without the codes: they keep their key
// until users regenerate their recovery codes (SMS codes die within minutes
// by themselves). No key is ever removed from the file here; `keys status`
// shows when one is no longer used (docs/deploy.md).
func (e *cmdEnv) keys(args []string) error {
	if len(args) == 0 {
		return usageErr("keys needs a subcommand: rotate, add, status")
	}
	sub := args[0]
	f := newFlags("keys "+sub, e.stderr)
	resume := f.Bool("resume", false, "keys rotate: add no key; finish re-encrypting under the current primary key")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	switch sub {
	case "rotate", "add", "status":
	default:
		return usageErr("unknown keys subcommand %q", sub)
	}
	if *resume && sub != "rotate" {
		return usageErr("--resume only goes with rotate")
	}
	a, err := e.open(f, e.stderr, slog.LevelWarn, existing)
	if err != nil {
		return err
	}
	defer a.close()
	switch sub {
	case "rotate":
		return e.keysRotate(a, *resume)
	case "add":
		id, err := keyring.AddKey(a.cfg.KeyFile)
		if err != nil {
			return err
		}
		a.recordKeys(e.ctx, "keys_add", id, nil)
		fmt.Fprintf(e.stdout, "added key %s to %s; it is the primary key for every process started from now on\n", id, a.cfg.KeyFile)
		fmt.Fprintln(e.stdout, "copy the key file to every instance and restart them, then run `twostep keys rotate --resume`")
		return nil
	}
	return e.keyStatus(a, a.keys)
}

// keysRotate adds a key (unless resume) and re-encrypts every factor secret
// not yet under the primary key.
//
// The rule that makes it resumable: the primary key is the last line of the
// key file, and every factor secret sealed under another key is still to
// do. Plain `rotate` refuses to start while any such secret exists (a run
// that stopped midway, or a `keys add` whose re-encryption has not run), so
// a retry never piles up keys; `rotate --resume` finishes the job without
// adding one, and is a no-op once nothing is left.
func (e *cmdEnv) keysRotate(a *app, resume bool) error {
	ctx := e.ctx
	if !resume {
		left, err := a.store.SecretsNotUnder(ctx, a.keys.PrimaryID(), "", 1)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("a key rotation is unfinished: factor secrets are still sealed under keys other than the primary key %s; "+
				"finish it with `twostep keys rotate --resume` (no key is added)", a.keys.PrimaryID())
		}
		id, err := keyring.AddKey(a.cfg.KeyFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added key %s to %s; it is now the primary key\n", id, a.cfg.KeyFile)
	}
	kr, err := keyring.Load(a.cfg.KeyFile)
	if err != nil {
		return err
	}
	primary := kr.PrimaryID()
	var done, skipped int
	var failed []string
	for after := ""; ; {
		batch, err := a.store.SecretsNotUnder(ctx, primary, after, resealBatch)
		if err != nil {
			return fmt.Errorf("after %d re-encrypted: %w", done, err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].FactorID
		updates := make([]store.Reseal, 0, len(batch))
		for _, ss := range batch {
			r, err := reseal(kr, ss)
			if err != nil {
				failed = append(failed, ss.FactorID)
				continue
			}
			updates = append(updates, r)
		}
		n, err := a.store.UpdateFactorSecrets(ctx, updates)
		if err != nil {
			return fmt.Errorf("after %d re-encrypted: %w", done, err)
		}
		done += n
		skipped += len(updates) - n
	}
	a.recordKeys(ctx, "keys_rotate", primary, map[string]string{"reencrypted": fmt.Sprint(done)})
	fmt.Fprintf(e.stdout, "re-encrypted %d factor secrets under key %s\n", done, primary)
	if skipped > 0 {
		fmt.Fprintf(e.stdout, "skipped %d factor secrets changed by a running instance meanwhile; run `twostep keys rotate --resume` again\n", skipped)
	}
	if err := e.keyStatus(a, kr); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not open the secrets of %d factors (first: %s): they were left as they are",
			len(failed), strings.Join(failed[:min(len(failed), 10)], ", "))
	}
	return nil
}

// reseal opens a factor secret with the key that sealed it and seals it
// again under kr's primary key. The additional data binds the secret to its
// factor row, exactly as the service seals it (auth.factorAAD); the e2e
// key test signs in after a rotation, so a mismatch cannot go unnoticed.
func reseal(kr *keyring.Keyring, ss store.SealedSecret) (store.Reseal, error) {
	aad := []byte("factor:" + ss.FactorID)
	pt, err := kr.Open(ss.KeyID, ss.Secret, aad)
	if err != nil {
		return store.Reseal{}, err
	}
	id, sealed, err := kr.Seal(pt, aad)
	clear(pt)
	if err != nil {
		return store.Reseal{}, err
	}
	return store.Reseal{FactorID: ss.FactorID, OldKeyID: ss.KeyID, NewKeyID: id, Secret: sealed}, nil
}

// keyStatus prints, for every key in the file (file order, primary last)
// and any key the database names that the file lacks, what still uses it.
func (e *cmdEnv) keyStatus(a *app, kr *keyring.Keyring) error {
	usage, err := a.store.KeyUsage(e.ctx, time.Now())
	if err != nil {
		return err
	}
	byID := map[string]store.KeyUse{}
	for _, u := range usage {
		byID[u.KeyID] = u
	}
	ids := kr.IDs()
	for _, u := range usage {
		if !slices.Contains(ids, u.KeyID) {
			ids = append(ids, u.KeyID)
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tFACTOR SECRETS\tRECOVERY CODES\tSMS CODES")
	var notes []string
	for _, id := range ids {
		u := byID[id]
		state := "old"
		switch {
		case !slices.Contains(kr.IDs(), id):
			state = "missing from key file"
		case id == kr.PrimaryID():
			state = "primary"
		case u.FactorSecrets+u.RecoveryCodes+u.SMSCodes == 0:
			state = "unused"
			notes = append(notes, fmt.Sprintf("key %s is used by nothing: its line may be removed from the key file (keep a backup)", id))
		case u.FactorSecrets > 0:
			notes = append(notes, fmt.Sprintf("key %s still seals factor secrets: run `twostep keys rotate --resume`", id))
		default:
			notes = append(notes, fmt.Sprintf("key %s must stay: recovery and SMS codes are keyed hashes that cannot be re-encrypted; "+
				"they leave it as users regenerate their recovery codes and SMS codes expire", id))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", id, state, u.FactorSecrets, u.RecoveryCodes, u.SMSCodes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// recordKeys writes a key operation to the audit log: key ids only, which
// name keys but reveal nothing of them. A failed audit write is logged by
// the recorder and does not undo the operation.
func (a *app) recordKeys(ctx context.Context, action, keyID string, attrs map[string]string) {
	m := map[string]string{"action": action, "key_id": keyID}
	maps.Copy(m, attrs)
	a.svc.RecordAdmin(ctx, cliClient, m)
}

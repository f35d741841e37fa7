package auth

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/store"
)

// Key operations (docs/deploy.md, "Rotation"). They take the key file's
// path rather than use the service's keyring: the service loaded the file
// when it started, and a key added since is only in the file.
//
// Rotation re-encrypts what can be re-encrypted: factor secrets (TOTP seeds
// and phone numbers) are opened with the key that sealed them and sealed
// again under the primary key, bound to their factor row as every seal is
// (factorAAD). Recovery and SMS codes are stored as keyed hashes, which
// cannot be recomputed without the codes: they keep their key until users
// regenerate their recovery codes (SMS codes die within minutes by
// themselves). No key is ever removed from the file here; KeyStatus says
// when one is no longer used.

// resealBatch is how many factor secrets one transaction re-encrypts: a
// crash loses at most one batch of work, and no transaction holds locks
// on many rows while serving instances use them.
const resealBatch = 100

// Rotation is what RotateKeys did.
type Rotation struct {
	Added    string // the key added to the file; empty when resuming
	Primary  string // the key the secrets were re-encrypted under
	Resealed int    // factor secrets re-encrypted
	// Skipped were changed by a running instance between being read and
	// written (a user re-enrolled): they were not overwritten, and a
	// further resume picks up any still under an old key.
	Skipped int
	// Failed are the factors whose secrets did not open under the key that
	// sealed them; they were left as they are.
	Failed []string
}

// AddKey appends a fresh key to the key file, where it becomes the primary
// key of every process started from then on, and audits it. Nothing is
// re-encrypted: RotateKeys with resume does that once every instance has
// the new file.
func (s *Service) AddKey(ctx context.Context, c Client, keyFile string) (string, error) {
	id, err := keyring.AddKey(keyFile)
	if err != nil {
		return "", err
	}
	s.recordKey(ctx, c, "keys_add", id, nil)
	return id, nil
}

// RotateKeys re-encrypts every factor secret not yet under the key file's
// primary key, after adding a new key unless resume is set, and audits
// what it did.
//
// The rule that makes it resumable: the primary key is the last line of
// the key file, and every factor secret sealed under another key is still
// to do. Without resume it refuses (ErrRotationUnfinished) while any such
// secret exists, a run that stopped midway or a key added by AddKey whose
// re-encryption has not run; with resume it adds no key, and does nothing
// once nothing is left.
func (s *Service) RotateKeys(ctx context.Context, c Client, keyFile string, resume bool) (Rotation, error) {
	var rot Rotation
	if !resume {
		kr, err := keyring.Load(keyFile)
		if err != nil {
			return rot, err
		}
		left, err := s.d.Store.SecretsNotUnder(ctx, kr.PrimaryID(), "", 1)
		if err != nil {
			return rot, err
		}
		if len(left) > 0 {
			return rot, fmt.Errorf("%w: factor secrets are still sealed under keys other than the primary key %s", ErrRotationUnfinished, kr.PrimaryID())
		}
		if rot.Added, err = keyring.AddKey(keyFile); err != nil {
			return rot, err
		}
	}
	kr, err := keyring.Load(keyFile)
	if err == nil {
		rot.Primary = kr.PrimaryID()
		err = s.reseal(ctx, kr, &rot)
	}
	// Audited even when it stopped midway: the key file may have changed.
	attrs := map[string]string{"reencrypted": strconv.Itoa(rot.Resealed)}
	if rot.Added != "" {
		attrs["added"] = rot.Added
	}
	if rot.Skipped > 0 {
		attrs["skipped"] = strconv.Itoa(rot.Skipped)
	}
	if len(rot.Failed) > 0 {
		attrs["failed"] = strconv.Itoa(len(rot.Failed))
	}
	if err != nil {
		attrs["stopped"] = "error"
	}
	s.recordKey(ctx, c, "keys_rotate", rot.Primary, attrs)
	if err != nil {
		return rot, fmt.Errorf("after %d re-encrypted: %w", rot.Resealed, err)
	}
	return rot, nil
}

// reseal pages through the factor secrets not under kr's primary key and
// re-encrypts them, one transaction per batch. A secret that does not open
// is passed over (rot.Failed), not retried.
func (s *Service) reseal(ctx context.Context, kr *keyring.Keyring, rot *Rotation) error {
	for after := ""; ; {
		batch, err := s.d.Store.SecretsNotUnder(ctx, kr.PrimaryID(), after, resealBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		after = batch[len(batch)-1].FactorID
		updates := make([]store.Reseal, 0, len(batch))
		for _, ss := range batch {
			r, err := resealSecret(kr, ss)
			if err != nil {
				rot.Failed = append(rot.Failed, ss.FactorID)
				continue
			}
			updates = append(updates, r)
		}
		n, err := s.d.Store.UpdateFactorSecrets(ctx, updates)
		if err != nil {
			return err
		}
		rot.Resealed += n
		rot.Skipped += len(updates) - n
	}
}

// resealSecret opens a factor secret with the key that sealed it and seals
// it again under kr's primary key, with the same additional data as every
// other seal of a factor secret (factorAAD).
func resealSecret(kr *keyring.Keyring, ss store.SealedSecret) (store.Reseal, error) {
	aad := factorAAD(ss.FactorID)
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

// KeyState says whether a key may leave the key file.
type KeyState string

// The states of a key, as `keys status` shows them.
const (
	KeyPrimary KeyState = "primary" // seals everything new
	KeyOld     KeyState = "old"     // still used by something stored: it must stay
	KeyUnused  KeyState = "unused"  // used by nothing stored: its line may go
	KeyMissing KeyState = "missing from key file"
)

// KeyStatus is one key with what still uses it.
type KeyStatus struct {
	store.KeyUse // KeyID and the counts
	State        KeyState
}

// KeyStatus returns every key of the key file (file order, primary last)
// and then any key the database names that the file lacks, each with the
// stored records that still use it (SMS codes only while they are valid).
func (s *Service) KeyStatus(ctx context.Context, keyFile string) ([]KeyStatus, error) {
	kr, err := keyring.Load(keyFile)
	if err != nil {
		return nil, err
	}
	usage, err := s.d.Store.KeyUsage(ctx, s.d.Now())
	if err != nil {
		return nil, err
	}
	byID := map[string]store.KeyUse{}
	ids := kr.IDs()
	for _, u := range usage {
		byID[u.KeyID] = u
		if !slices.Contains(ids, u.KeyID) {
			ids = append(ids, u.KeyID)
		}
	}
	out := make([]KeyStatus, len(ids))
	for i, id := range ids {
		u := byID[id]
		u.KeyID = id
		state := KeyOld
		switch {
		case !slices.Contains(kr.IDs(), id):
			state = KeyMissing
		case id == kr.PrimaryID():
			state = KeyPrimary
		case u.FactorSecrets+u.RecoveryCodes+u.SMSCodes+u.Notifications == 0:
			state = KeyUnused
		}
		out[i] = KeyStatus{KeyUse: u, State: state}
	}
	return out, nil
}

// recordKey writes a key operation to the audit log: key ids only, which
// name keys but reveal nothing of them.
func (s *Service) recordKey(ctx context.Context, c Client, action, keyID string, attrs map[string]string) {
	m := map[string]string{"action": action, "key_id": keyID}
	maps.Copy(m, attrs)
	s.record(ctx, c, audit.AdminAction, "", "", m)
}

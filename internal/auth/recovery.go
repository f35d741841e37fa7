package auth

import (
	"context"
	"fmt"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/token"
)

// RecoveryCodeCount is how many recovery codes a user gets (docs/pages.md).
const RecoveryCodeCount = 10

// recoveryCodeSet makes a fresh set of recovery codes for u: the codes to
// show, and the rows to store. Only keyed hashes (HMAC-SHA256 under the key
// file) are stored, so the database alone cannot be brute-forced for them.
func (s *Service) recoveryCodeSet(u model.User) ([]string, []model.RecoveryCode, error) {
	keyID, now := s.d.Keys.PrimaryID(), s.d.Now()
	codes := make([]string, RecoveryCodeCount)
	rows := make([]model.RecoveryCode, RecoveryCodeCount)
	for i := range codes {
		codes[i] = token.NewRecoveryCode()
		norm, _ := token.NormalizeRecoveryCode(codes[i])
		mac, err := s.d.Keys.MAC(keyID, "recovery", []byte(norm))
		if err != nil {
			return nil, nil, fmt.Errorf("recovery code mac: %w", err)
		}
		rows[i] = model.RecoveryCode{ID: token.NewID(), UserID: u.ID, KeyID: keyID, CodeHash: mac, CreatedAt: now}
	}
	return codes, rows, nil
}

// newRecoveryCodes replaces the user's recovery codes with fresh ones and
// returns them.
func (s *Service) newRecoveryCodes(ctx context.Context, c Client, u model.User) ([]string, error) {
	codes, rows, err := s.recoveryCodeSet(u)
	if err != nil {
		return nil, err
	}
	if err := s.d.Store.ReplaceRecoveryCodes(ctx, u.ID, rows); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	s.record(ctx, c, audit.RecoveryCodesNew, u.ID, u.Username, nil)
	return codes, nil
}

// RegenerateRecoveryCodes issues a new set; the old codes stop working.
// It needs a recent second-factor check.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c Client, cur Current) ([]string, error) {
	if err := s.requireRecent(cur); err != nil {
		return nil, err
	}
	active, err := s.activeFactors(ctx, cur.User.ID)
	if err != nil {
		return nil, err
	}
	if len(active) == 0 {
		return nil, ErrNoFactor
	}
	return s.newRecoveryCodes(ctx, c, cur.User)
}

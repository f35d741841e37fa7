package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
)

// Methods returns the user's active factors with Preferred set on the one
// the verification page should offer first: the one set as preferred, or
// else the one used last (docs/pages.md).
func (s *Service) Methods(ctx context.Context, userID string) ([]model.Factor, error) {
	fs, err := s.activeFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	markPreferred(fs)
	return fs, nil
}

func markPreferred(fs []model.Factor) {
	best := -1
	for i, f := range fs {
		if f.Preferred {
			return
		}
		if best < 0 || f.LastUsedAt.After(fs[best].LastUsedAt) {
			best = i
		}
	}
	if best >= 0 {
		fs[best].Preferred = true
	}
}

// RemoveFactor deletes one of the user's methods. It needs a second-factor
// check within the last few minutes, and the last active method cannot go
// while MFA is required (checked and deleted in one transaction).
func (s *Service) RemoveFactor(ctx context.Context, c Client, cur Current, id string) error {
	if err := s.requireRecent(cur); err != nil {
		return err
	}
	if !isID(id) {
		return ErrNotFound
	}
	f, err := s.d.Store.Factor(ctx, cur.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("load factor: %w", err)
	}
	if f.Status == model.FactorActive && s.policyFor(cur.User).Required {
		err = s.d.Store.DeleteActiveFactorUnlessLast(ctx, cur.User.ID, id)
	} else {
		err = s.d.Store.DeleteFactor(ctx, cur.User.ID, id)
	}
	switch {
	case errors.Is(err, model.ErrConflict):
		return ErrLastFactor
	case errors.Is(err, model.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("remove factor: %w", err)
	}
	s.record(ctx, c, audit.FactorRemoved, cur.User.ID, cur.User.Username, map[string]string{"factor_id": id, "type": string(f.Type)})
	return nil
}

// SetPreferred makes an active method the one offered first at sign-in.
func (s *Service) SetPreferred(ctx context.Context, c Client, cur Current, id string) error {
	if err := RequireAAL2(cur); err != nil {
		return err
	}
	if !isID(id) {
		return ErrNotFound
	}
	err := s.d.Store.SetPreferred(ctx, cur.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set preferred: %w", err)
	}
	s.record(ctx, c, audit.FactorPreferred, cur.User.ID, cur.User.Username, map[string]string{"factor_id": id})
	return nil
}

package store

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// CreateInvite stores a set-up invite (only the token's hash).
func (s *Store) CreateInvite(ctx context.Context, inv model.Invite) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO invites (token_hash, user_id, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, 0)`, inv.TokenHash, inv.UserID, ms(inv.CreatedAt), ms(inv.ExpiresAt))
	return err
}

// UseInvite consumes the unexpired, unused invite for userID whose token
// hashes to hash. One conditional UPDATE: an invite works once.
func (s *Store) UseInvite(ctx context.Context, hash []byte, userID string, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE invites SET used_at = $1
		WHERE token_hash = $2 AND user_id = $3 AND used_at = 0 AND expires_at > $1`, ms(now), hash, userID))
}

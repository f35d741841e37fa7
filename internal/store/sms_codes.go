package store

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// PutSMSCode stores c as the factor's live code, replacing (and so ending)
// any earlier code, unless the earlier one is unused and was sent after
// resendAfter: then it returns model.ErrConflict and changes nothing. (A
// used code does not hold the cooldown: signing in right after set-up must
// not wait.) One statement, so two parallel clicks cannot both send. A
// factor deleted meanwhile (a reset, a newer set-up) also gives
// model.ErrConflict, never a foreign-key error.
func (s *Store) PutSMSCode(ctx context.Context, c model.SMSCode, resendAfter time.Time) error {
	return conflictIfNone(s.w.ExecContext(ctx, `INSERT INTO sms_codes
		(factor_id, user_id, key_id, code_hash, sent_at, expires_at, attempts, used_at)
		SELECT $1, $2, $3, $4, $5, $6, 0, 0 WHERE EXISTS (SELECT 1 FROM factors WHERE id = $1)
		ON CONFLICT (factor_id) DO UPDATE SET user_id = excluded.user_id, key_id = excluded.key_id,
			code_hash = excluded.code_hash, sent_at = excluded.sent_at, expires_at = excluded.expires_at,
			attempts = 0, used_at = 0
		WHERE sms_codes.sent_at <= $7 OR sms_codes.used_at > 0`,
		c.FactorID, c.UserID, c.KeyID, c.CodeHash, ms(c.SentAt), ms(c.ExpiresAt), ms(resendAfter)))
}

// SMSCode returns the factor's stored code (used or not) or model.ErrNotFound.
func (s *Store) SMSCode(ctx context.Context, factorID string) (model.SMSCode, error) {
	c := model.SMSCode{FactorID: factorID}
	var sent, exp, used int64
	err := s.r.QueryRowContext(ctx, `SELECT user_id, key_id, code_hash, sent_at, expires_at, attempts, used_at
		FROM sms_codes WHERE factor_id = $1`, factorID).Scan(&c.UserID, &c.KeyID, &c.CodeHash, &sent, &exp, &c.Attempts, &used)
	if err != nil {
		return model.SMSCode{}, notFound(err)
	}
	c.SentAt, c.ExpiresAt, c.UsedAt = fromMS(sent), fromMS(exp), fromMS(used)
	return c, nil
}

// AttemptSMSCode counts one attempt against the factor's live code and
// returns the code to compare with. It returns model.ErrNotFound when there
// is no code that is unused, unexpired and under maxAttempts: the count and
// the check are one UPDATE, so parallel guesses cannot exceed the limit.
func (s *Store) AttemptSMSCode(ctx context.Context, factorID string, now time.Time, maxAttempts int) (model.SMSCode, error) {
	c := model.SMSCode{FactorID: factorID}
	var sent, exp int64
	err := s.w.QueryRowContext(ctx, `UPDATE sms_codes SET attempts = attempts + 1
		WHERE factor_id = $1 AND used_at = 0 AND expires_at > $2 AND attempts < $3
		RETURNING user_id, key_id, code_hash, sent_at, expires_at, attempts`, factorID, ms(now), maxAttempts).
		Scan(&c.UserID, &c.KeyID, &c.CodeHash, &sent, &exp, &c.Attempts)
	if err != nil {
		return model.SMSCode{}, notFound(err)
	}
	c.SentAt, c.ExpiresAt = fromMS(sent), fromMS(exp)
	return c, nil
}

// UseSMSCode marks the factor's code used; model.ErrNotFound when it already
// was (single use under parallel requests).
func (s *Store) UseSMSCode(ctx context.Context, factorID string, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE sms_codes SET used_at = $1 WHERE factor_id = $2 AND used_at = 0`, ms(now), factorID))
}

// DeleteSMSCode removes the factor's code (a send that failed must not
// hold the resend cooldown).
func (s *Store) DeleteSMSCode(ctx context.Context, factorID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sms_codes WHERE factor_id = $1`, factorID)
	return err
}

// BeginSMSSetup records that the user starts an SMS set-up at now, unless
// one began after since: then it returns model.ErrConflict (one conditional
// UPDATE, so of parallel requests exactly one passes per cooldown).
func (s *Store) BeginSMSSetup(ctx context.Context, userID string, now, since time.Time) error {
	return conflictIfNone(s.w.ExecContext(ctx, `UPDATE users SET sms_setup_at = $1 WHERE id = $2 AND sms_setup_at <= $3`,
		ms(now), userID, ms(since)))
}

// SMSSetupAt returns when the user's last SMS set-up began.
func (s *Store) SMSSetupAt(ctx context.Context, userID string) (time.Time, error) {
	var at int64
	err := s.r.QueryRowContext(ctx, `SELECT sms_setup_at FROM users WHERE id = $1`, userID).Scan(&at)
	return fromMS(at), notFound(err)
}

// EndSMSSetup forgets a set-up that began at began and sent nothing, so it
// holds no cooldown (a later set-up's mark stays).
func (s *Store) EndSMSSetup(ctx context.Context, userID string, began time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE users SET sms_setup_at = 0 WHERE id = $1 AND sms_setup_at = $2`, userID, ms(began))
	return err
}

package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/totp"
)

// Verify checks a second factor and raises the session to aal2 with a new
// token (pass). Failures count towards the user's back-off (attempt.go);
// while it lasts every attempt gets ErrTooManyAttempts, and after LockAfter
// failures ErrMFALocked (NIST SP 800-63B §5.2.2).
func (s *Service) Verify(ctx context.Context, c Client, cur Current, p Proof) (_ Passed, err error) {
	defer func() { err = about(p.Method, err) }()
	switch p.Method {
	case "totp", "recovery", "sms":
	case "webauthn":
		if s.d.WebAuthn == nil {
			return Passed{}, ErrNotImplemented
		}
	default:
		return Passed{}, invalid(`method must be "totp", "sms", "recovery" or "webauthn"`)
	}
	if _, err := s.d.Limiter.Allow(ctx, "verify:ip:"+clientKey(c.IP), s.cfg.VerifyPerIP); err != nil {
		return Passed{}, s.limited(ctx, c, cur.User, "verify_per_ip", err, ErrRateLimited, nil)
	}
	// The user's group policy decides which methods count (policy.go),
	// before the attempt is counted: a refusal of the policy is no guess.
	if p.Method == "recovery" {
		if err := s.allowsRecovery(ctx, cur.User); err != nil {
			return Passed{}, err
		}
	} else if err := s.allowMethod(cur.User, p.Method); err != nil {
		return Passed{}, err
	}
	// A malformed code is answered before anything is counted or written.
	if !wellFormed(p) {
		return Passed{}, ErrCodeFormat
	}
	a, err := s.beginAttempt(ctx, c, cur.User, p.Method)
	if err != nil {
		return Passed{}, err
	}
	defer a.end(ctx)
	var f model.Factor
	var rot store.Rotation
	var uv bool
	switch p.Method {
	case "totp":
		f, rot.TOTPStep, err = s.verifyTOTP(ctx, cur.User, p.Code)
	case "sms":
		f, err = s.verifySMS(ctx, cur.User, p.Code)
	case "webauthn":
		f, rot.Passkey, uv, err = s.verifyPasskey(ctx, c, cur, p)
	default:
		err = s.verifyRecovery(ctx, c, cur.User, p.Code)
	}
	var res Passed
	if err == nil {
		// The step (a passkey's counter) is recorded in the same
		// transaction as the rotation: a code raced by a parallel request
		// fails there, as a replay.
		rot.FactorID = f.ID
		res, err = s.pass(ctx, c, &cur, p, cur.Session.Plan, rot, a, passed{method: p.Method, factorID: f.ID, uv: uv,
			event: audit.VerifyOK, attrs: map[string]string{"method": p.Method, "factor_id": f.ID}})
	}
	if err != nil {
		return Passed{}, a.fail(ctx, err)
	}
	return res, nil
}

// wellFormed reports whether p has the shape of a proof of its method:
// the code an authenticator app, a text or a recovery sheet shows, or a
// passkey ceremony's id with the browser's answer.
func wellFormed(p Proof) bool {
	switch p.Method {
	case "totp":
		return isDigits(p.Code, 6, 8)
	case "sms":
		return isDigits(p.Code, smsCodeDigits, smsCodeDigits)
	case "webauthn":
		return wellFormedPasskey(p.Code, p.Credential)
	}
	_, ok := token.NormalizeRecoveryCode(p.Code)
	return ok
}

// verifyTOTP finds the active authenticator app of u that produced code
// and the time step it matched; the caller records the step.
func (s *Service) verifyTOTP(ctx context.Context, u model.User, code string) (model.Factor, int64, error) {
	if !isDigits(code, 6, 8) {
		return model.Factor{}, 0, ErrCodeFormat
	}
	fs, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return model.Factor{}, 0, err
	}
	err = ErrNoFactor
	for _, f := range fs {
		if f.Type != model.FactorTOTP {
			continue
		}
		step, ok, cerr := s.checkTOTP(f, code)
		switch {
		case cerr != nil:
			return model.Factor{}, 0, cerr
		case ok:
			return f, step, nil
		}
		err = ErrInvalidCode
	}
	return model.Factor{}, 0, err
}

// checkTOTP validates code against one factor and returns the matched time
// step. It records nothing: the step is marked used by one atomic UPDATE
// in the caller's write, so a code is accepted once whatever the number of
// parallel requests or instances (docs/throttling.md).
func (s *Service) checkTOTP(f model.Factor, code string) (int64, bool, error) {
	p, err := s.decodeParams(f.Params)
	if err != nil {
		return 0, false, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	secret, err := s.d.Keys.Open(f.KeyID, f.Secret, factorAAD(f.ID))
	if err != nil {
		return 0, false, fmt.Errorf("open factor %s secret: %w", f.ID, err)
	}
	step, ok := totp.Validate(secret, p, code, s.d.Now())
	clear(secret)
	return step, ok, nil
}

// verifyRecovery consumes a matching unused recovery code of u.
func (s *Service) verifyRecovery(ctx context.Context, c Client, u model.User, code string) error {
	norm, ok := token.NormalizeRecoveryCode(code)
	if !ok {
		return ErrCodeFormat
	}
	codes, err := s.d.Store.UnusedRecoveryCodes(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("load recovery codes: %w", err)
	}
	macs := map[string][]byte{} // one MAC per key id
	for _, rc := range codes {
		mac, seen := macs[rc.KeyID]
		if !seen {
			if mac, err = s.d.Keys.MAC(rc.KeyID, "recovery", []byte(norm)); err != nil {
				return fmt.Errorf("recovery code mac: %w", err)
			}
			macs[rc.KeyID] = mac
		}
		if subtle.ConstantTimeCompare(mac, rc.CodeHash) != 1 {
			continue
		}
		err := s.d.Store.UseRecoveryCode(ctx, rc.ID, s.d.Now())
		if errors.Is(err, model.ErrNotFound) {
			return ErrInvalidCode // used by a parallel request
		}
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		s.record(ctx, c, audit.RecoveryCodeUsed, u.ID, u.Username, map[string]string{"remaining": strconv.Itoa(len(codes) - 1)})
		return nil
	}
	return ErrInvalidCode
}

// isDigits reports whether s is min..max ASCII digits (no spaces, signs or
// letters: a code is exactly what the authenticator shows).
func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeParams stores a factor's TOTP parameters with it, so changing the
// configuration later does not break apps already set up.
func encodeParams(p totp.Params) string {
	return fmt.Sprintf("%s:%d:%d", p.Algorithm, p.Digits, p.Period)
}

// decodeParams is the inverse of encodeParams; the skew comes from the
// current configuration.
func (s *Service) decodeParams(v string) (totp.Params, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return totp.Params{}, fmt.Errorf("bad totp params %q", v)
	}
	digits, err1 := strconv.Atoi(parts[1])
	period, err2 := strconv.Atoi(parts[2])
	p := totp.Params{Algorithm: parts[0], Digits: digits, Period: period, Skew: s.cfg.TOTP.Skew}
	if err := errors.Join(err1, err2, p.Validate()); err != nil {
		return totp.Params{}, fmt.Errorf("bad totp params %q: %w", v, err)
	}
	return p, nil
}

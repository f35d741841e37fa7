package auth

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/outcome"
	"github.com/twostep/twostep/internal/phone"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/token"
)

// The numbers of SMS codes (docs/sms.md).
const (
	SMSCodeTTL      = 5 * time.Minute
	SMSMaxAttempts  = 5
	SMSResendWait   = 30 * time.Second
	smsCodeDigits   = 6
	smsMACPurpose   = "sms"
	smsFactorPrefix = "SMS to "
)

// SMSBudgets are the sending budgets against SMS pumping (toll fraud): each
// scope has an hourly and a daily limit (docs/sms.md).
type SMSBudgets struct {
	PerNumber, PerUser, PerIP, PerCountry, Global [2]ratelimit.Limit
}

// SMSSetup is the answer to starting a phone's set-up or a sign-in code.
type SMSSetup struct {
	FactorID  string
	Phone     string // masked: •••• 0123
	ExpiresIn time.Duration
}

// StartSMS parses and checks a phone number, creates a pending SMS factor
// (the number sealed like a TOTP secret) and texts it a code.
func (s *Service) StartSMS(ctx context.Context, c Client, cur Current, country, input string) (_ SMSSetup, err error) {
	defer func() { err = about("sms_send", err) }()
	if _, err := s.canEnroll(ctx, cur, "sms"); err != nil {
		return SMSSetup{}, err
	}
	if err := checkPlanStep(cur, "sms"); err != nil {
		return SMSSetup{}, err
	}
	num, err := phone.Parse(input, country)
	if err != nil {
		var pe *phone.Error
		if errors.As(err, &pe) {
			return SMSSetup{}, ErrInvalidPhone.With(outcome.Error{Detail: pe.Msg})
		}
		return SMSSetup{}, err
	}
	if err := s.allowedCountry(num); err != nil {
		return SMSSetup{}, err
	}
	// A new set-up replaces the pending one (a new factor, so the code's
	// own cooldown cannot hold across set-ups). One conditional UPDATE on
	// the user lets one set-up through per cooldown, before any budget is
	// spent: parallel clicks once sent four texts and raced one another's
	// factor into a foreign-key error.
	now := s.d.Now()
	if err := s.d.Store.BeginSMSSetup(ctx, cur.User.ID, now, now.Add(-SMSResendWait)); err != nil {
		if !errors.Is(err, model.ErrConflict) {
			return SMSSetup{}, fmt.Errorf("begin sms set-up: %w", err)
		}
		wait := SMSResendWait
		if began, err := s.d.Store.SMSSetupAt(ctx, cur.User.ID); err == nil {
			wait = began.Add(SMSResendWait).Sub(now)
		}
		return SMSSetup{}, retry(ErrRateLimited, max(wait, time.Second))
	}
	// Nothing half-done: a set-up that sends nothing holds no cooldown.
	sent := false
	defer func() {
		if !sent {
			_ = s.d.Store.EndSMSSetup(context.WithoutCancel(ctx), cur.User.ID, now)
		}
	}()
	if err := s.smsBudgets(ctx, c, cur.User, num.E164); err != nil {
		return SMSSetup{}, err
	}
	id := token.NewID()
	keyID, sealed, err := s.d.Keys.Seal([]byte(num.E164), factorAAD(id))
	if err != nil {
		return SMSSetup{}, fmt.Errorf("seal phone: %w", err)
	}
	if err := s.d.Store.DeletePendingFactors(ctx, cur.User.ID, model.FactorSMS); err != nil {
		return SMSSetup{}, fmt.Errorf("clear pending: %w", err)
	}
	f := model.Factor{ID: id, UserID: cur.User.ID, Type: model.FactorSMS, Label: smsFactorPrefix + phone.Mask(num.E164),
		Status: model.FactorPending, KeyID: keyID, Secret: sealed, CreatedAt: s.d.Now()}
	if err := s.d.Store.CreateFactor(ctx, f); err != nil {
		return SMSSetup{}, fmt.Errorf("create factor: %w", err)
	}
	st, err := s.sendCode(ctx, c, cur.User, f, num.E164)
	if err != nil {
		// Nothing half-done: a phone whose code never left stays unknown.
		_ = s.d.Store.DeleteFactor(ctx, cur.User.ID, f.ID)
		return st, err
	}
	sent = true
	return st, nil
}

// resendCooldown refuses while the factor's last code is younger than
// SMSResendWait.
func (s *Service) resendCooldown(ctx context.Context, factorID string) error {
	prev, err := s.d.Store.SMSCode(ctx, factorID)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load sms code: %w", err)
	}
	if wait := prev.SentAt.Add(SMSResendWait).Sub(s.d.Now()); wait > 0 && prev.UsedAt.IsZero() {
		return retry(ErrRateLimited, max(wait, time.Second))
	}
	return nil
}

// allowedCountry applies the country allow-list ("*" allows every country).
func (s *Service) allowedCountry(num phone.Number) error {
	list := s.cfg.SMSAllowedCountries
	if slices.Contains(list, "*") || slices.Contains(list, num.Country) {
		return nil
	}
	name := num.Country
	if ct, ok := phone.LookupCountry(num.Country); ok {
		name = ct.Name
	}
	return ErrInvalidPhone.With(outcome.Error{Detail: "Text messages to numbers in " + name + " are not enabled here. Use an authenticator app instead, or ask your administrator."})
}

// ConfirmSMS activates the pending phone when the code texted to it is
// entered.
func (s *Service) ConfirmSMS(ctx context.Context, c Client, cur Current, p Proof) (_ Passed, err error) {
	defer func() { err = confirming("sms_setup", err) }()
	code := p.Code
	active, err := s.canEnroll(ctx, cur, "sms")
	if err != nil {
		return Passed{}, err
	}
	if !isDigits(code, smsCodeDigits, smsCodeDigits) {
		return Passed{}, ErrCodeFormat
	}
	a, err := s.beginAttempt(ctx, c, cur.User, "sms_setup")
	if err != nil {
		return Passed{}, err
	}
	defer a.end(ctx)
	f, err := s.newestFactor(ctx, cur.User.ID, model.FactorSMS, model.FactorPending)
	if err != nil {
		return Passed{}, err
	}
	if err := s.checkSMS(ctx, f, code); err != nil {
		return Passed{}, a.fail(ctx, err)
	}
	codes, err := s.activate(ctx, cur.User, f, len(active) == 0)
	if err != nil {
		return Passed{}, err
	}
	return s.finishSetup(ctx, c, &cur, p, f, passed{method: "sms"}, codes, a)
}

// ChallengeSMS texts a sign-in code to one of the user's phones: factorID,
// or else the preferred (or last used) one. Sent only when asked (docs/pages.md).
func (s *Service) ChallengeSMS(ctx context.Context, c Client, cur Current, factorID string) (_ SMSSetup, err error) {
	defer func() { err = about("sms_send", err) }()
	if err := s.allowMethod(cur.User, "sms"); err != nil {
		return SMSSetup{}, err
	}
	fs, err := s.Methods(ctx, cur.User.ID)
	if err != nil {
		return SMSSetup{}, err
	}
	var f model.Factor
	for _, x := range fs {
		if x.Type == model.FactorSMS && (x.ID == factorID || (factorID == "" && (f.ID == "" || x.Preferred))) {
			f = x
		}
	}
	if f.ID == "" {
		if factorID != "" {
			return SMSSetup{}, ErrNotFound
		}
		return SMSSetup{}, ErrNoFactor
	}
	e164, err := s.d.Keys.Open(f.KeyID, f.Secret, factorAAD(f.ID))
	if err != nil {
		return SMSSetup{}, fmt.Errorf("open phone of factor %s: %w", f.ID, err)
	}
	if err := s.resendCooldown(ctx, f.ID); err != nil {
		return SMSSetup{}, err
	}
	if err := s.smsBudgets(ctx, c, cur.User, string(e164)); err != nil {
		return SMSSetup{}, err
	}
	return s.sendCode(ctx, c, cur.User, f, string(e164))
}

// sendCode stores a fresh code (ending the previous one; the conditional
// write also enforces the resend cooldown against parallel clicks) and
// texts it. Callers check the budgets first. A failed send removes the code
// and is not retried here: one click, at most one text (the sender retries
// only when the connection never opened).
func (s *Service) sendCode(ctx context.Context, c Client, u model.User, f model.Factor, e164 string) (SMSSetup, error) {
	now := s.d.Now()
	code := token.NewNumericCode(smsCodeDigits)
	keyID := s.d.Keys.PrimaryID()
	mac, err := s.d.Keys.MAC(keyID, smsMACPurpose, []byte(f.ID+":"+code))
	if err != nil {
		return SMSSetup{}, fmt.Errorf("sms code mac: %w", err)
	}
	err = s.d.Store.PutSMSCode(ctx, model.SMSCode{FactorID: f.ID, UserID: u.ID, KeyID: keyID, CodeHash: mac,
		SentAt: now, ExpiresAt: now.Add(SMSCodeTTL)}, now.Add(-SMSResendWait))
	if errors.Is(err, model.ErrConflict) {
		wait := SMSResendWait
		if prev, perr := s.d.Store.SMSCode(ctx, f.ID); perr == nil {
			wait = prev.SentAt.Add(SMSResendWait).Sub(now)
		}
		return SMSSetup{}, retry(ErrRateLimited, max(wait, time.Second))
	}
	if err != nil {
		return SMSSetup{}, fmt.Errorf("store sms code: %w", err)
	}
	masked := phone.Mask(e164)
	msg := sms.Message{To: e164, Body: sms.Text(s.cfg.Issuer, code, s.cfg.SMSHost)}
	if err := s.d.SMS.Send(ctx, msg); err != nil {
		_ = s.d.Store.DeleteSMSCode(ctx, f.ID)
		s.record(ctx, c, audit.CodeSendFailed, u.ID, u.Username, map[string]string{"factor_id": f.ID, "to": masked, "provider": s.d.SMS.Name()})
		s.d.Log.WarnContext(ctx, "sms send failed", "factor_id", f.ID, "to", masked, "error", err)
		var se *sms.SendError
		if errors.As(err, &se) {
			return SMSSetup{}, ErrSMSFailed.With(outcome.Error{Detail: se.Msg, Err: err})
		}
		return SMSSetup{}, ErrSMSFailed.With(outcome.Error{Err: err})
	}
	s.record(ctx, c, audit.CodeSent, u.ID, u.Username, map[string]string{"factor_id": f.ID, "to": masked, "provider": s.d.SMS.Name()})
	return SMSSetup{FactorID: f.ID, Phone: masked, ExpiresIn: SMSCodeTTL}, nil
}

// smsBudgets counts one send against every budget, from the most specific
// scope to the most shared, so a flood from one IP is refused before it
// can use up the country or global budget of everyone else.
func (s *Service) smsBudgets(ctx context.Context, c Client, u model.User, e164 string) error {
	b := s.cfg.SMSBudgets
	region := phone.RegionOf(e164)
	var checks []ratelimit.Check
	add := func(scope, key string, lims [2]ratelimit.Limit) {
		for i, period := range []string{"h", "d"} {
			checks = append(checks, ratelimit.Check{Key: "sms:" + scope + ":" + period + ":" + key, Limit: lims[i]})
		}
	}
	// Counters may live in the database or Redis: the number is keyed by
	// a keyed hash, so no counter reveals it (secrets at rest, docs/sms.md).
	numKey, err := s.d.Keys.MAC(s.d.Keys.PrimaryID(), "sms-budget", []byte(e164))
	if err != nil {
		return fmt.Errorf("budget key: %w", err)
	}
	add("ip", clientKey(c.IP), b.PerIP)
	add("user", u.ID, b.PerUser)
	add("number", hex.EncodeToString(numKey[:16]), b.PerNumber)
	add("country", region, b.PerCountry)
	add("global", "", b.Global)
	if err := s.d.Limiter.AllowAll(ctx, checks); err != nil {
		return s.limited(ctx, c, u, "sms_budget", err, ErrRateLimited, map[string]string{"to": phone.Mask(e164), "country": region})
	}
	return nil
}

// checkSMS counts an attempt against f's live code and compares it (keyed
// hash, constant time); a match marks the code used.
func (s *Service) checkSMS(ctx context.Context, f model.Factor, code string) error {
	live, err := s.d.Store.AttemptSMSCode(ctx, f.ID, s.d.Now(), SMSMaxAttempts)
	if errors.Is(err, model.ErrNotFound) {
		return ErrCodeExpired
	}
	if err != nil {
		return fmt.Errorf("sms attempt: %w", err)
	}
	mac, err := s.d.Keys.MAC(live.KeyID, smsMACPurpose, []byte(f.ID+":"+code))
	if err != nil {
		return fmt.Errorf("sms code mac: %w", err)
	}
	if subtle.ConstantTimeCompare(mac, live.CodeHash) != 1 {
		return ErrInvalidCode
	}
	if err := s.d.Store.UseSMSCode(ctx, f.ID, s.d.Now()); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return ErrCodeExpired // used by a parallel request
		}
		return fmt.Errorf("use sms code: %w", err)
	}
	return nil
}

// verifySMS checks a sign-in code against the user's active phones.
func (s *Service) verifySMS(ctx context.Context, u model.User, code string) (model.Factor, error) {
	if !isDigits(code, smsCodeDigits, smsCodeDigits) {
		return model.Factor{}, ErrCodeFormat
	}
	fs, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return model.Factor{}, err
	}
	err = ErrNoFactor
	for _, f := range fs {
		if f.Type != model.FactorSMS {
			continue
		}
		if err = s.checkSMS(ctx, f, code); err == nil {
			return f, nil
		}
		if !errors.Is(err, ErrInvalidCode) && !errors.Is(err, ErrCodeExpired) {
			return model.Factor{}, err
		}
	}
	return model.Factor{}, err
}

// newestFactor returns the user's newest factor of a type and status.
func (s *Service) newestFactor(ctx context.Context, userID string, typ model.FactorType, st model.FactorStatus) (model.Factor, error) {
	fs, err := s.d.Store.Factors(ctx, userID)
	if err != nil {
		return model.Factor{}, fmt.Errorf("load factors: %w", err)
	}
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].Type == typ && fs[i].Status == st {
			return fs[i], nil
		}
	}
	return model.Factor{}, ErrNotFound
}

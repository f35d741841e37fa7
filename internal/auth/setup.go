package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/totp"
)

// canEnroll decides whether cur may set up a factor of the given methods.
// Each must be one the user's group policy allows (policy.go). The first
// factor may be set up by the aal1 session (with enrollment: invite the
// set-up link was already checked at login); any further factor needs a
// recent second-factor check, so a stolen password alone cannot add an
// attacker's device. "First" counts only methods the policy allows: a user
// whose methods are all disallowed now sets up an allowed one as a new
// user would (docs/rollout.md says what that means with enrollment:
// password). It returns every active factor (for labels, and recovery
// codes go with the very first factor only).
func (s *Service) canEnroll(ctx context.Context, cur Current, methods ...string) ([]model.Factor, error) {
	for _, m := range methods {
		if err := s.allowMethod(cur.User, m); err != nil {
			return nil, err
		}
	}
	active, err := s.activeFactors(ctx, cur.User.ID)
	if err != nil {
		return nil, err
	}
	if len(allowedOf(s.policyFor(cur.User), active)) > 0 {
		if err := s.requireRecent(cur); err != nil {
			return nil, err
		}
	}
	return active, nil
}

// Plan records which methods the user chose to set up and returns the order
// they will be set up in: SMS/Text first when both are chosen (docs/pages.md).
func (s *Service) Plan(ctx context.Context, cur Current, methods []string) ([]string, error) {
	if len(methods) == 0 || len(methods) > 2 {
		return nil, invalid(`methods must list "totp", "sms" or both`)
	}
	var steps []string
	for _, m := range []string{"sms", "totp"} { // the enforced order
		if slices.Contains(methods, m) {
			steps = append(steps, m)
		}
	}
	for _, m := range methods {
		if m != "sms" && m != "totp" {
			return nil, invalid(`methods must list "totp", "sms" or both`)
		}
	}
	if len(steps) != len(methods) {
		return nil, invalid("methods must not repeat")
	}
	if _, err := s.canEnroll(ctx, cur, steps...); err != nil {
		return nil, err
	}
	if err := s.d.Store.SetSessionPlan(ctx, cur.Session.TokenHash, strings.Join(steps, ",")); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return nil, ErrUnauthenticated
		}
		return nil, fmt.Errorf("save plan: %w", err)
	}
	return steps, nil
}

// checkPlanStep refuses to start step while an earlier step of the plan in
// progress is unfinished.
func checkPlanStep(cur Current, step string) error {
	if steps := planSteps(cur.Session.Plan); len(steps) > 0 && steps[0] != step {
		return ErrPlanOrder
	}
	return nil
}

// TOTPSetup is what the user needs to add an authenticator app.
type TOTPSetup struct {
	FactorID   string
	Secret     string // base32, for typing into desktop apps
	OTPAuthURI string
	QRPNG      []byte
}

// StartTOTP creates a pending authenticator-app factor with a fresh 160-bit
// secret, sealed with AES-256-GCM before it reaches the database.
func (s *Service) StartTOTP(ctx context.Context, c Client, cur Current, name string) (TOTPSetup, error) {
	active, err := s.canEnroll(ctx, cur, "totp")
	if err != nil {
		return TOTPSetup{}, err
	}
	if err := checkPlanStep(cur, "totp"); err != nil {
		return TOTPSetup{}, err
	}
	label, err := cleanLabel(name, "Authenticator app")
	if err != nil {
		return TOTPSetup{}, err
	}
	label = uniqueLabel(label, active)
	secret, err := totp.NewSecret()
	if err != nil {
		return TOTPSetup{}, err
	}
	id := token.NewID()
	keyID, sealed, err := s.d.Keys.Seal(secret, factorAAD(id))
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("seal secret: %w", err)
	}
	// An abandoned set-up is replaced, so pending secrets do not pile up.
	if err := s.d.Store.DeletePendingFactors(ctx, cur.User.ID, model.FactorTOTP); err != nil {
		return TOTPSetup{}, fmt.Errorf("clear pending: %w", err)
	}
	p := s.cfg.TOTP
	f := model.Factor{ID: id, UserID: cur.User.ID, Type: model.FactorTOTP, Label: label, Status: model.FactorPending,
		KeyID: keyID, Secret: sealed, Params: encodeParams(p), CreatedAt: s.d.Now()}
	if err := s.d.Store.CreateFactor(ctx, f); err != nil {
		return TOTPSetup{}, fmt.Errorf("create factor: %w", err)
	}
	uri := totp.URI(s.cfg.Issuer, cur.User.Username, secret, p)
	png, err := totp.QRPNG(uri, 256)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("qr code: %w", err)
	}
	return TOTPSetup{FactorID: id, Secret: totp.EncodeSecret(secret), OTPAuthURI: uri, QRPNG: png}, nil
}

// ConfirmTOTP activates a pending authenticator app (p.FactorID, or the
// newest) once the user proves it produces valid codes.
func (s *Service) ConfirmTOTP(ctx context.Context, c Client, cur Current, p Proof) (_ Passed, err error) {
	defer func() { err = confirming("totp_setup", err) }()
	code := p.Code
	active, err := s.canEnroll(ctx, cur, "totp")
	if err != nil {
		return Passed{}, err
	}
	if !isDigits(code, 6, 8) {
		return Passed{}, ErrCodeFormat
	}
	a, err := s.beginAttempt(ctx, c, cur.User, "totp_setup")
	if err != nil {
		return Passed{}, err
	}
	defer a.end(ctx)
	f, err := s.pendingTOTP(ctx, cur.User.ID, p.FactorID)
	if err != nil {
		return Passed{}, err
	}
	step, ok, err := s.checkTOTP(f, code)
	if err != nil {
		return Passed{}, err
	}
	if ok {
		// Recorded before activation, so a replayed code activates nothing.
		ok, err = s.d.Store.AcceptTOTPStep(ctx, f.ID, step)
		if err != nil {
			return Passed{}, fmt.Errorf("record totp step: %w", err)
		}
	}
	if !ok {
		return Passed{}, a.fail(ctx, ErrInvalidCode)
	}
	codes, err := s.activate(ctx, cur.User, f, len(active) == 0)
	if err != nil {
		return Passed{}, err
	}
	return s.finishSetup(ctx, c, &cur, p, f, passed{method: "totp"}, codes, a)
}

// activate makes the pending factor f active. The user's first factor
// also gets the recovery codes, in the same transaction: a crash between
// two separate writes would leave an active factor without recovery codes,
// whose owner has no way back in after losing the device. It returns the
// codes to show (nil unless first).
func (s *Service) activate(ctx context.Context, u model.User, f model.Factor, first bool) ([]string, error) {
	var codes []string
	var rows []model.RecoveryCode
	if first {
		var err error
		if codes, rows, err = s.recoveryCodeSet(u); err != nil {
			return nil, err
		}
	}
	if err := s.d.Store.ActivateFactor(ctx, u.ID, f.ID, s.d.Now(), rows); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return nil, ErrNotFound // confirmed by a parallel request
		}
		return nil, fmt.Errorf("activate: %w", err)
	}
	return codes, nil
}

// confirming words the refusal of a set-up confirmation: a wrong code is a
// mismatch with the new method, not a failed sign-in (it counts towards
// the back-off all the same, attempt.fail).
func confirming(method string, err error) error {
	if errors.Is(err, ErrInvalidCode) {
		err = ErrCodeMismatch
	}
	return about(method, err)
}

// finishSetup runs after a factor became active (with codes, the recovery
// codes issued with it): the plan moves on past how.method and the second
// factor passed.
func (s *Service) finishSetup(ctx context.Context, c Client, cur *Current, p Proof, f model.Factor, how passed, codes []string, a *attempt) (Passed, error) {
	s.record(ctx, c, audit.FactorAdded, cur.User.ID, cur.User.Username, map[string]string{"factor_id": f.ID, "type": string(f.Type)})
	if codes != nil {
		// factor_id: issued with this first method, not a regeneration
		// (no notice of its own, notify.go).
		s.record(ctx, c, audit.RecoveryCodesNew, cur.User.ID, cur.User.Username, map[string]string{"factor_id": f.ID})
	}
	how.factorID = f.ID
	res, err := s.pass(ctx, c, cur, p, planAfter(cur.Session.Plan, how.method), store.Rotation{}, a, how)
	if err != nil {
		return Passed{}, err
	}
	res.RecoveryCodes = codes
	return res, nil
}

// pendingTOTP finds the pending authenticator app to confirm: factorID,
// or else the newest one.
func (s *Service) pendingTOTP(ctx context.Context, userID, factorID string) (model.Factor, error) {
	if factorID == "" {
		return s.newestFactor(ctx, userID, model.FactorTOTP, model.FactorPending)
	}
	if !isID(factorID) {
		return model.Factor{}, ErrNotFound
	}
	f, err := s.d.Store.Factor(ctx, userID, factorID)
	if errors.Is(err, model.ErrNotFound) || (err == nil && (f.Type != model.FactorTOTP || f.Status != model.FactorPending)) {
		return model.Factor{}, ErrNotFound
	}
	return f, err
}

// uniqueLabel appends " 2", " 3", ... so each active method has its own name.
func uniqueLabel(label string, active []model.Factor) string {
	taken := func(l string) bool {
		return slices.ContainsFunc(active, func(f model.Factor) bool { return f.Label == l })
	}
	for i, l := 2, label; ; i++ {
		if !taken(l) {
			return l
		}
		l = fmt.Sprintf("%s %d", label, i)
	}
}

// factorAAD binds a sealed secret to its factor row, so a secret copied to
// another row does not decrypt.
func factorAAD(id string) []byte { return []byte("factor:" + id) }

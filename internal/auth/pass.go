package auth

import (
	"context"
	"strconv"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Proof is what a person presents as a second factor: to Verify at
// sign-in, or to ConfirmTOTP and ConfirmSMS when a method is set up.
type Proof struct {
	Method string // Verify: "totp", "sms", "recovery" or "webauthn"
	// Code is the code typed; for "webauthn" (and ConfirmPasskey) the id of
	// the ceremony begun by ChallengePasskey (StartPasskey).
	Code string
	// Credential is, for "webauthn", the JSON the browser's
	// navigator.credentials.create() or .get() returned (the
	// PublicKeyCredential.toJSON() shape).
	Credential []byte
	// Name is ConfirmPasskey's label ("Work laptop"); "" a default one.
	Name     string
	FactorID string // ConfirmTOTP: the pending app to confirm; "" the newest
	// Remember asks to remember this browser once the proof passes
	// ("Remember this device", device.go); ignored while remember_device.days is 0.
	Remember bool
}

// Passed is the outcome of a second factor that passed, whichever method
// and whichever step (sign-in or set-up) it was.
type Passed struct {
	Token         string // the rotated aal2 session
	AAL           model.AAL
	Next          string   // what the session does next (NextDone after Verify)
	RecoveryCodes []string // set-up of the user's first method only
	// Device is the browser just remembered; its Token is "" when none was
	// (not asked, or the feature is off).
	Device RememberedDevice
}

// passed is what passed, as the session records it (for amr claims) and
// the audit says it.
type passed struct {
	method   string // "totp", "sms", "recovery", "webauthn"
	factorID string // the factor that passed, "" for a recovery code
	uv       bool   // a passkey verified its user
	event    string // audit event, "" for none
	attrs    map[string]string
}

// pass ends every second factor that passed in the same way: one
// transaction rotates the session to aal2 (no fixation across levels,
// ASVS V3.2.1) with what the check must record (rot: a TOTP step, a
// passkey's counter, the factor's last use) and how the session signed in
// (how), the end of the user's run of failures and, when the proof asked
// for it, the remembered browser; then the attempt a is over and the
// outcome is audited with how.event (when not "").
//
// Remembering inside the rotation costs the hot path two statements in a
// transaction it runs anyway, rather than a second authentication of the
// new token and a round of device reads and writes after it.
func (s *Service) pass(ctx context.Context, c Client, cur *Current, p Proof, plan string, rot store.Rotation, a *attempt, how passed) (Passed, error) {
	var dev RememberedDevice
	if p.Remember && s.cfg.RememberDeviceDays > 0 {
		dev, rot.Remember = s.newDevice(c, cur.User.ID)
		if c.Device != "" && len(c.Device) <= maxTokenLen {
			rot.ForgetDevice = token.Hash(c.Device) // one browser, one entry
		}
		rot.KeepDevices = maxDevicesPerUser
	}
	tok, err := s.elevate(ctx, cur, plan, rot, how)
	if err != nil {
		return Passed{}, err
	}
	a.passed()
	if how.event != "" {
		s.record(ctx, c, how.event, cur.User.ID, cur.User.Username, how.attrs)
	}
	if rot.Remember != nil {
		s.record(ctx, c, "device_remembered", cur.User.ID, cur.User.Username,
			map[string]string{"device_id": dev.ID, "days": strconv.Itoa(s.cfg.RememberDeviceDays)})
	}
	return Passed{Token: tok, AAL: model.AAL2, Next: nextAfterSetup(plan), Device: dev}, nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// "Remember this device" (docs/api.md, off unless remember_device.days > 0).
//
// After a fresh second factor the user may ask to have the browser
// remembered. The service then issues a device token: 256 random bits
// (token.New) that only the browser keeps, in an HttpOnly cookie; the
// store keeps its SHA-256, like a session. The requirement of a "signed device
// cookie" is met by that lookup rather than by a MAC: an unguessable random
// value found by its hash cannot be forged any more than a MAC'd one (both
// rest on 256 bits nobody else has), and unlike a self-contained signed
// cookie each one can be listed and revoked server-side, and a database
// dump does not contain usable tokens.
//
// At sign-in, the password still has to be right: a valid, unexpired token
// of that same user then skips the second factor, and the session starts
// at aal2 with AAL2At left zero, so every "recent second factor" action
// (adding or removing a method, new recovery codes) still asks for a code
// (NIST SP 800-63B §7.2 allows remembering a device only to skip, never to
// stand in for, a re-authentication).

const (
	maxDevicesPerUser = 20 // the oldest go first beyond this
	maxDeviceLabel    = 64
	maxTokenLen       = 128 // longer presented tokens are not looked at
)

// RememberDays is remember_device.days: how long a remembered browser may
// skip the second factor, 0 when the feature is off.
func (s *Service) RememberDays() int { return s.cfg.RememberDeviceDays }

// rememberFor is the lifetime of a device token.
func (s *Service) rememberFor() time.Duration {
	return time.Duration(s.cfg.RememberDeviceDays) * 24 * time.Hour
}

// RememberedDevice is a device token just issued: Token goes into the
// cookie (with MaxAge), and is never stored.
type RememberedDevice struct {
	Token     string
	ID        string
	ExpiresAt time.Time
	MaxAge    time.Duration
}

// newDevice makes a device token for the browser of c, for the user
// passing a second factor now; pass stores it with the rotation, which
// also replaces the browser's previous token, clears the user's expired
// ones and keeps the newest maxDevicesPerUser.
func (s *Service) newDevice(c Client, userID string) (RememberedDevice, *store.Device) {
	tok, life, now := token.New(), s.rememberFor(), s.d.Now()
	d := &store.Device{TokenHash: token.Hash(tok), ID: token.NewID(), UserID: userID, Label: DeviceLabel(c.UserAgent),
		CreatedAt: now, ExpiresAt: now.Add(life)}
	return RememberedDevice{Token: tok, ID: d.ID, ExpiresAt: d.ExpiresAt, MaxAge: life}, d
}

// rememberedLogin starts an aal2 session for u, whose password was just
// checked, when the browser presents (c.Device) an unexpired device token of u. ok is false
// (and the caller asks for the second factor as usual) for no token, an
// unknown, expired or revoked one, another user's, or with the feature off.
// The session's AAL2At stays zero: recent-auth actions still need a code.
func (s *Service) rememberedLogin(ctx context.Context, c Client, u model.User, active []model.Factor) (LoginResult, bool, error) {
	device := c.Device
	if device == "" || len(device) > maxTokenLen || s.cfg.RememberDeviceDays <= 0 || len(active) == 0 {
		return LoginResult{}, false, nil
	}
	now := s.d.Now()
	hash := token.Hash(device)
	d, err := s.d.Store.DeviceByHash(ctx, hash, now)
	if errors.Is(err, model.ErrNotFound) {
		return LoginResult{}, false, nil
	}
	if err != nil {
		// Fail closed: without the device, the second factor is asked.
		s.d.Log.WarnContext(ctx, "device lookup failed", "user_id", u.ID, "error", err)
		return LoginResult{}, false, nil
	}
	// A shorter remember_device.days also shortens devices remembered
	// under a longer one.
	if d.UserID != u.ID || !now.Before(d.CreatedAt.Add(s.rememberFor())) {
		return LoginResult{}, false, nil
	}
	if err := s.d.Store.TouchDevice(ctx, hash, now); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return LoginResult{}, false, nil // forgotten meanwhile
		}
		return LoginResult{}, false, fmt.Errorf("touch device: %w", err)
	}
	tok := token.New()
	ss := newSessionRow(c, token.Hash(tok), u.ID, model.AAL2, now)
	ss.Methods = []string{"password", "device"}
	if err := s.d.Store.CreateSession(ctx, ss); err != nil {
		return LoginResult{}, false, fmt.Errorf("create session: %w", err)
	}
	s.record(ctx, c, audit.LoginOK, u.ID, u.Username, map[string]string{"aal": string(model.AAL2), "next": NextDone,
		"device": "remembered", "device_id": d.ID})
	markPreferred(active)
	return LoginResult{Token: tok, AAL: model.AAL2, Next: NextDone, Methods: active, Device: d.ID}, true, nil
}

// Device is a remembered browser as its user sees it.
type Device struct {
	ID         string
	Label      string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero when never used to sign in
	Current    bool      // the browser asking holds this device's token
}

// Devices lists the user's remembered browsers that have not expired,
// marking the one of the browser asking (c.Device).
func (s *Service) Devices(ctx context.Context, c Client, cur Current) ([]Device, error) {
	if err := RequireAAL2(cur); err != nil {
		return nil, err
	}
	now := s.d.Now()
	ds, err := s.d.Store.ListDevices(ctx, cur.User.ID, now)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	var mine string
	if c.Device != "" && len(c.Device) <= maxTokenLen {
		if d, err := s.d.Store.DeviceByHash(ctx, token.Hash(c.Device), now); err == nil && d.UserID == cur.User.ID {
			mine = d.ID
		}
	}
	out := make([]Device, 0, len(ds))
	for _, d := range ds {
		out = append(out, Device{ID: d.ID, Label: d.Label, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt,
			LastUsedAt: d.LastUsedAt, Current: d.ID == mine})
	}
	return out, nil
}

// ForgetDevice revokes one of the user's remembered browsers: its next
// sign-in asks for the second factor again. It needs aal2 but no recent
// check, since it only takes a shortcut away.
func (s *Service) ForgetDevice(ctx context.Context, c Client, cur Current, id string) error {
	if err := RequireAAL2(cur); err != nil {
		return err
	}
	if !isID(id) {
		return ErrNotFound
	}
	err := s.d.Store.DeleteDevice(ctx, cur.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("forget device: %w", err)
	}
	s.record(ctx, c, "device_forgotten", cur.User.ID, cur.User.Username, map[string]string{"device_id": id})
	return nil
}

// forgetDevices revokes every remembered browser of a user (MFA reset, new
// password, disabled account).
func (s *Service) forgetDevices(ctx context.Context, userID string) error {
	if err := s.d.Store.DeleteUserDevices(ctx, userID); err != nil {
		return fmt.Errorf("forget devices: %w", err)
	}
	return nil
}

// DeviceLabel summarises a user agent for the list of remembered browsers:
// "Firefox on Linux", "Safari on iPhone", at most 64 characters. Unknown
// agents keep their first printable characters.
func DeviceLabel(ua string) string {
	browser, system := ClassifyUserAgent(ua)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	clean := strings.TrimSpace(strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, ua))
	if clean == "" {
		return "Unknown browser"
	}
	if r := []rune(clean); len(r) > maxDeviceLabel {
		clean = string(r[:maxDeviceLabel-1]) + "…"
	}
	return clean
}

package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/totp"
)

const days = 30

func remembering(c *auth.Config) { c.RememberDeviceDays = days }

// holding is the test client presenting device token dev.
func holding(dev string) auth.Client {
	c := client
	c.Device = dev
	return c
}

// rememberedUser is a user with an authenticator app who just passed it
// and asked to remember the browser: it returns the device token.
func rememberedUser(t *testing.T, f *fixture, name string) (auth.Current, string) {
	t.Helper()
	secret, cur, _ := f.enrolTOTP(f.user(name))
	cur, d := remember(t, f, client, cur, secret)
	return cur, d.Token
}

// remember passes the authenticator app (secret) again from browser c with
// "Remember this device" ticked and returns the new session and device.
func remember(t *testing.T, f *fixture, c auth.Client, cur auth.Current, secret []byte) (auth.Current, auth.RememberedDevice) {
	t.Helper()
	f.nextStep()
	res, err := f.svc.Verify(ctx, c, cur, auth.Proof{Method: "totp", Code: f.code(secret), Remember: true})
	if err != nil {
		t.Fatalf("Verify with remember: %v", err)
	}
	d := res.Device
	if d.Token == "" || d.ID == "" || d.MaxAge != days*24*time.Hour || !d.ExpiresAt.Equal(f.clock.Now().Add(d.MaxAge)) {
		t.Fatalf("remembered device = %+v", d)
	}
	return f.auth(res.Token), d
}

func TestRememberedDeviceSkipsSecondFactor(t *testing.T) {
	f := newFixture(t, remembering)
	cur, dev := rememberedUser(t, f, "alice")

	// Only the hash is stored.
	ds, err := f.st.ListDevices(ctx, cur.User.ID, f.clock.Now())
	if err != nil || len(ds) != 1 || string(ds[0].TokenHash) == dev || ds[0].Label != "test" {
		t.Fatalf("stored devices = %+v, %v", ds, err)
	}

	f.clock.Add(24 * time.Hour)
	res, err := f.svc.Login(ctx, holding(dev), auth.Credentials{Username: "alice", Password: pw})
	if err != nil || res.AAL != model.AAL2 || res.Next != auth.NextDone || res.Device != ds[0].ID {
		t.Fatalf("login with the device = %+v, %v; want aal2, done", res, err)
	}
	sess := f.auth(res.Token)
	if sess.Session.AAL != model.AAL2 || !sess.Session.AAL2At.IsZero() {
		t.Fatalf("session = %+v; want aal2 without a second-factor time", sess.Session)
	}
	if ds, _ := f.st.ListDevices(ctx, cur.User.ID, f.clock.Now()); !ds[0].LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("last used = %v, want now", ds[0].LastUsedAt)
	}
	events, _ := f.st.AuditEvents(ctx, 0, 1000)
	found := false
	for _, e := range events {
		found = found || (e.Event == "login_ok" && strings.Contains(e.Detail, `"device":"remembered"`))
	}
	if !found {
		t.Fatal(`no login_ok with "device":"remembered" in the audit log`)
	}

	// The password is still checked.
	if _, err := f.svc.Login(ctx, holding(dev), auth.Credentials{Username: "alice", Password: "wrong password!"}); err == nil {
		t.Fatal("a device token let a wrong password in")
	}
	// Without the token, the second factor is due as before.
	if res, _ := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw}); res.AAL != model.AAL1 || res.Next != auth.NextVerify {
		t.Fatalf("login without the device = %+v", res)
	}
}

func TestRememberedDeviceExpires(t *testing.T) {
	f := newFixture(t, remembering)
	_, dev := rememberedUser(t, f, "alice")
	f.clock.Add(days*24*time.Hour - time.Minute)
	if res, _ := f.svc.Login(ctx, holding(dev), auth.Credentials{Username: "alice", Password: pw}); res.AAL != model.AAL2 {
		t.Fatalf("a minute before expiry: %+v", res)
	}
	f.clock.Add(time.Minute)
	res, err := f.svc.Login(ctx, holding(dev), auth.Credentials{Username: "alice", Password: pw})
	if err != nil || res.AAL != model.AAL1 || res.Next != auth.NextVerify || res.Device != "" {
		t.Fatalf("after %d days = %+v, %v; want aal1 and verify", days, res, err)
	}
}

func TestRememberedDeviceIgnored(t *testing.T) {
	tests := []struct {
		name  string
		after func(t *testing.T, f *fixture, cur auth.Current, dev string) (string, *auth.Service)
	}{
		{"another user's token", func(t *testing.T, f *fixture, _ auth.Current, dev string) (string, *auth.Service) {
			_, _, _ = f.enrolTOTP(f.user("bob"))
			return "bob", f.svc
		}},
		{"forgotten by the user", func(t *testing.T, f *fixture, cur auth.Current, _ string) (string, *auth.Service) {
			ds, _ := f.svc.Devices(ctx, holding(""), cur)
			if err := f.svc.ForgetDevice(ctx, client, cur, ds[0].ID); err != nil {
				t.Fatal(err)
			}
			return "alice", f.svc
		}},
		{"MFA reset by the administrator", func(t *testing.T, f *fixture, cur auth.Current, _ string) (string, *auth.Service) {
			if err := f.svc.ResetMFA(ctx, client, "alice"); err != nil {
				t.Fatal(err)
			}
			// Set up again: the old device must not skip the new factor.
			f.nextStep()
			_, _, _ = f.enrolTOTP(f.login("alice"))
			return "alice", f.svc
		}},
		{"new password", func(t *testing.T, f *fixture, _ auth.Current, _ string) (string, *auth.Service) {
			if err := f.svc.SetPassword(ctx, client, "alice", pw); err != nil {
				t.Fatal(err)
			}
			return "alice", f.svc
		}},
		{"disabled and enabled again", func(t *testing.T, f *fixture, _ auth.Current, _ string) (string, *auth.Service) {
			if err := f.svc.SetDisabled(ctx, client, "alice", true); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.SetDisabled(ctx, client, "alice", false); err != nil {
				t.Fatal(err)
			}
			return "alice", f.svc
		}},
		{"feature turned off", func(t *testing.T, f *fixture, _ auth.Current, _ string) (string, *auth.Service) {
			cfg := f.svc.Config()
			cfg.RememberDeviceDays = 0
			return "alice", auth.New(cfg, f.deps)
		}},
		{"remember_device.days shortened", func(t *testing.T, f *fixture, _ auth.Current, _ string) (string, *auth.Service) {
			f.clock.Add(8 * 24 * time.Hour)
			cfg := f.svc.Config()
			cfg.RememberDeviceDays = 7
			return "alice", auth.New(cfg, f.deps)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, remembering)
			cur, dev := rememberedUser(t, f, "alice")
			name, svc := tc.after(t, f, cur, dev)
			res, err := svc.Login(ctx, holding(dev), auth.Credentials{Username: name, Password: pw})
			if err != nil || res.AAL != model.AAL1 || res.Next != auth.NextVerify || res.Device != "" {
				t.Fatalf("login = %+v, %v; want aal1 and verify", res, err)
			}
		})
	}
}

// TestRememberedSessionStillNeedsRecentAuth: a session that skipped the
// second factor is aal2 for the pages and forward-auth, but changing
// methods, new recovery codes and remembering again need a fresh code.
func TestRememberedSessionStillNeedsRecentAuth(t *testing.T) {
	f := newFixture(t, remembering)
	_, dev := rememberedUser(t, f, "alice")
	f.nextStep()
	res, err := f.svc.Login(ctx, holding(dev), auth.Credentials{Username: "alice", Password: pw})
	if err != nil || res.AAL != model.AAL2 {
		t.Fatalf("login = %+v, %v", res, err)
	}
	cur := f.auth(res.Token)
	methods, _ := f.svc.Methods(ctx, cur.User.ID)
	wantErr(t, f.svc.RemoveFactor(ctx, client, cur, methods[0].ID), auth.ErrRecentAuthRequired)
	_, err = f.svc.RegenerateRecoveryCodes(ctx, client, cur)
	wantErr(t, err, auth.ErrRecentAuthRequired)
	_, err = f.svc.StartTOTP(ctx, client, cur, "Laptop")
	wantErr(t, err, auth.ErrRecentAuthRequired)
	if _, err := f.svc.Devices(ctx, holding(dev), cur); err != nil {
		t.Fatalf("listing devices needs aal2 only: %v", err)
	}
}

// TestRememberDeviceRules: a browser is remembered only by a second factor
// that passes with the box ticked, and only while the feature is on.
func TestRememberDeviceRules(t *testing.T) {
	f := newFixture(t, nil) // feature off
	secret, cur, _ := f.enrolTOTP(f.user("alice"))
	f.nextStep()
	res, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret), Remember: true})
	if err != nil || res.Device.Token != "" {
		t.Fatalf("Verify with the feature off = %+v, %v; want a pass without a device", res, err)
	}
	if ds, _ := f.st.ListDevices(ctx, cur.User.ID, f.clock.Now()); len(ds) != 0 {
		t.Fatalf("devices stored with the feature off: %+v", ds)
	}

	f = newFixture(t, remembering)
	aal1 := f.user("alice")
	// A wrong code remembers nothing.
	if _, err := f.svc.Verify(ctx, client, aal1, auth.Proof{Method: "recovery", Code: "aaaaa-aaaaa", Remember: true}); err == nil {
		t.Fatal("a wrong code passed")
	}
	_, cur, first := f.enrolTOTP(aal1)
	if first.Device.Token != "" {
		t.Fatalf("set-up without the box ticked remembered %+v", first.Device)
	}
	// The box ticked on the set-up of the first method remembers too.
	f.nextStep()
	st, err := f.svc.StartTOTP(ctx, client, cur, "Second")
	if err != nil {
		t.Fatal(err)
	}
	second, _ := totp.DecodeSecret(st.Secret)
	res, err = f.svc.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: st.FactorID, Code: f.code(second), Remember: true})
	if err != nil || res.Device.Token == "" {
		t.Fatalf("ConfirmTOTP with remember = %+v, %v", res, err)
	}
	if ds, _ := f.st.ListDevices(ctx, cur.User.ID, f.clock.Now()); len(ds) != 1 || ds[0].ID != res.Device.ID {
		t.Fatalf("devices = %+v, want the one just remembered", ds)
	}
}

// TestRememberedDevicesBounded: a user keeps at most 20 remembered
// browsers; remembering another drops the oldest, and expired ones go.
func TestRememberedDevicesBounded(t *testing.T) {
	f := newFixture(t, remembering)
	secret, cur, _ := f.enrolTOTP(f.user("alice"))
	_, oldest := remember(t, f, client, cur, secret)
	f.clock.Add(days * 24 * time.Hour) // the first one expires...
	cur = f.login("alice")
	var ids []string
	for range 21 { // ...and 21 more are remembered
		var d auth.RememberedDevice
		cur, d = remember(t, f, client, cur, secret)
		ids = append(ids, d.ID)
	}
	all, err := f.st.ListDevices(ctx, cur.User.ID, time.Time{}) // expired ones included
	if err != nil || len(all) != 20 {
		t.Fatalf("stored devices = %d, %v; want 20", len(all), err)
	}
	for _, d := range all {
		if d.ID == oldest.ID || d.ID == ids[0] {
			t.Fatalf("device %s should have been dropped", d.ID)
		}
	}
}

func TestDevicesListAndReplace(t *testing.T) {
	f := newFixture(t, remembering)
	secret, cur, _ := f.enrolTOTP(f.user("alice"))
	cur, firstDev := remember(t, f, client, cur, secret)
	first := firstDev.Token
	firefox := auth.Client{IP: client.IP, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}
	cur, second := remember(t, f, firefox, cur, secret)
	ds, err := f.svc.Devices(ctx, holding(second.Token), cur)
	if err != nil || len(ds) != 2 || ds[0].ID != second.ID || !ds[0].Current || ds[1].Current || ds[0].Label != "Firefox on Linux" {
		t.Fatalf("Devices = %+v, %v", ds, err)
	}
	// Remembering again from a browser that holds a token replaces it.
	firefox.Device = second.Token
	cur, third := remember(t, f, firefox, cur, secret)
	ds, _ = f.svc.Devices(ctx, holding(""), cur)
	if len(ds) != 2 || ds[0].ID != third.ID || ds[1].Current {
		t.Fatalf("after replacing: %+v", ds)
	}
	if res, _ := f.svc.Login(ctx, holding(second.Token), auth.Credentials{Username: "alice", Password: pw}); res.AAL != model.AAL1 {
		t.Fatal("the replaced token still works")
	}
	if res, _ := f.svc.Login(ctx, holding(first), auth.Credentials{Username: "alice", Password: pw}); res.AAL != model.AAL2 {
		t.Fatal("the other browser's token stopped working")
	}
	// One user cannot forget another's device.
	_, bob, _ := f.enrolTOTP(f.user("bob"))
	wantErr(t, f.svc.ForgetDevice(ctx, client, bob, third.ID), auth.ErrNotFound)
	if ds, _ := f.svc.Devices(ctx, holding(third.Token), bob); len(ds) != 0 {
		t.Fatalf("bob sees %+v", ds)
	}
}

func TestDeviceLabel(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/138.0.0.0 Safari/537.36", "Headless Chrome on Linux"},
		{"curl/8.14.1", "curl"},
		{"", "Unknown browser"},
		{"my-app/1.0 \x00\n", "my-app/1.0"},
		{strings.Repeat("x", 300), strings.Repeat("x", 63) + "…"},
	}
	for _, tc := range tests {
		if got := auth.DeviceLabel(tc.ua); got != tc.want || len([]rune(got)) > 64 {
			t.Errorf("DeviceLabel(%.40q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

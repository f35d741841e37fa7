package auth_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/notify"
)

// withNotices rebuilds the fixture's service with a notification queue
// over its store; keys seal the queue's recipients (a keyring without a
// key makes every enqueue fail).
func withNotices(f *fixture, keys *keyring.Keyring, size int, newDevice bool) *notify.Queue {
	q := notify.NewQueue(notify.QueueConfig{Email: true, SMS: true, Size: size, SMSPerUserDay: 10}, f.st, keys, f.deps.Log, f.clock.Now)
	d := f.deps
	d.Notify = q
	cfg := f.cfg
	cfg.NotifyNewDevice = newDevice
	f.svc = auth.New(cfg, d)
	return q
}

func (f *fixture) notices() map[string]int {
	f.t.Helper()
	all, err := f.st.Notifications(ctx, "")
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, n := range all {
		out[n.Event]++
	}
	return out
}

// TestNewDeviceNotice: a password sign-in without a valid known-browser
// token of the account notifies (when on); the same browser presenting
// the token it was given does not; another account's token does not
// count as known; off by default.
func TestNewDeviceNotice(t *testing.T) {
	for _, on := range []bool{true, false} {
		f := newFixture(t, nil)
		withNotices(f, f.deps.Keys, 100, on)
		if _, err := f.svc.CreateUser(ctx, client, "alice", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CreateUser(ctx, client, "bob", pw); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SetAttributes(ctx, client, "alice", "alice@example.org", nil); err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		bobs, err := f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]int{true: 1, false: 0}[on]
		if got := f.notices()["new_device"]; got != want {
			t.Fatalf("new_device %v: %d notices after a first sign-in, want %d", on, got, want)
		}
		if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw, Known: res.Known}); err != nil {
			t.Fatal(err)
		}
		if got := f.notices()["new_device"]; got != want {
			t.Fatalf("new_device %v: %d notices after a sign-in from the known browser, want %d", on, got, want)
		}
		if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw, Known: bobs.Known}); err != nil {
			t.Fatal(err)
		}
		if got := f.notices()["new_device"]; got != 2*want {
			t.Fatalf("new_device %v: %d notices after a sign-in with bob's token, want %d", on, got, 2*want)
		}
	}
}

// TestNoticesNeverBlock: when queueing fails (the keyring cannot seal) or
// the queue is full, the action that caused the notice still succeeds.
func TestNoticesNeverBlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys func(f *fixture) *keyring.Keyring
		size int
	}{
		{"enqueue fails", func(*fixture) *keyring.Keyring { return &keyring.Keyring{} }, 100},
		{"queue full", func(f *fixture) *keyring.Keyring { return f.deps.Keys }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			withNotices(f, tc.keys(f), tc.size, true)
			cur := f.user("alice")
			if err := f.svc.SetAttributes(ctx, client, "alice", "alice@example.org", nil); err != nil {
				t.Fatal(err)
			}
			_, aal2, _ := f.enrolTOTP(cur)
			f.login("alice")
			if _, err := f.svc.RegenerateRecoveryCodes(ctx, client, aal2); err != nil {
				t.Fatalf("regenerate with a failing queue: %v", err)
			}
			if err := f.svc.ResetMFA(ctx, client, "alice"); err != nil {
				t.Fatalf("reset with a failing queue: %v", err)
			}
			n := 0
			for _, c := range f.notices() {
				n += c
			}
			if want := map[string]int{"enqueue fails": 0, "queue full": 1}[tc.name]; n != want {
				t.Fatalf("%d rows queued, want %d", n, want)
			}
		})
	}
}

// TestAttributeEmail: the address is one bare RFC 5322 address or empty;
// ChangeAttributes keeps what it is not given.
func TestAttributeEmail(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice")
	for _, bad := range []string{"alice", "alice@", "@example.org", "Alice <alice@example.org>", "a@example.org, b@example.org",
		"alice@example.org\nBcc: x@example.org", "alice@localhost", "alice@exa mple.org", "(c)alice@example.org"} {
		if err := f.svc.SetAttributes(ctx, client, "alice", bad, nil); err == nil {
			t.Errorf("SetAttributes accepted %q", bad)
		}
	}
	if err := f.svc.SetAttributes(ctx, client, "alice", "alice@example.org", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	groups := []string{"ops"}
	if err := f.svc.ChangeAttributes(ctx, client, "alice", auth.AttributeChange{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	u, _ := f.st.UserByUsername(ctx, "alice")
	if u.Email != "alice@example.org" || len(u.Groups) != 1 || u.Groups[0] != "ops" {
		t.Fatalf("after a groups-only change: %q %v", u.Email, u.Groups)
	}
	empty := ""
	if err := f.svc.ChangeAttributes(ctx, client, "alice", auth.AttributeChange{Email: &empty}); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.st.UserByUsername(ctx, "alice"); u.Email != "" || len(u.Groups) != 1 {
		t.Fatalf("after clearing the address: %q %v", u.Email, u.Groups)
	}
	if err := f.svc.ChangeAttributes(ctx, client, "alice", auth.AttributeChange{}); err == nil {
		t.Error("an empty change was accepted")
	}
}

// TestKeyStatusCountsQueuedNotices: a key that seals only a queued notice's
// recipient is still in use (removing it from the key file would lose the
// notice); once the notice is sent it is unused.
func TestKeyStatusCountsQueuedNotices(t *testing.T) {
	f := newFixture(t, nil)
	keyFile := filepath.Join(t.TempDir(), "keys")
	if _, _, err := keyring.LoadOrCreate(keyFile); err != nil {
		t.Fatal(err)
	}
	f.withKeyFile(keyFile)
	first := f.deps.Keys.PrimaryID()
	withNotices(f, f.deps.Keys, 100, false)
	if _, err := f.svc.CreateUser(ctx, client, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetAttributes(ctx, client, "alice", "alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, client, "alice", "another horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddKey(ctx, client, keyFile); err != nil {
		t.Fatal(err)
	}
	state := func() auth.KeyState {
		t.Helper()
		ks, err := f.svc.KeyStatus(ctx, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if k.KeyID == first {
				return k.State
			}
		}
		t.Fatalf("no status for key %s", first)
		return ""
	}
	if s := state(); s != auth.KeyOld {
		t.Fatalf("key sealing a queued notice is %q, want %q", s, auth.KeyOld)
	}
	rows, err := f.st.ClaimNotifications(ctx, "w", f.clock.Now(), f.clock.Now().Add(time.Minute), 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("claim: %v %v", rows, err)
	}
	if err := f.st.MarkNotificationSent(ctx, rows[0].ID, "w", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != auth.KeyUnused {
		t.Fatalf("after the notice was sent the key is %q, want %q", s, auth.KeyUnused)
	}
}

// TestNoticeBrowserNames: the browser a notice names comes from the fixed
// tables of ClassifyUserAgent, so a User-Agent cannot put words or a link
// into a mail; common programs are named too.
func TestNoticeBrowserNames(t *testing.T) {
	hostile := `Mozilla/5.0 Your account is locked, go to http://evil.example/login <a href="http://evil.example">now</a>`
	for ua, want := range map[string]string{
		"":                   "an unrecognised browser or program",
		"x":                  "an unrecognised browser or program",
		hostile:              "an unrecognised browser or program",
		"Go-http-client/1.1": "Go program",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 Edg/140.0":                   "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"curl/8.5.0":                      "curl",
		"Mozilla/5.0 (X11; Linux x86_64)": "a browser on Linux",
	} {
		got := notify.Summarize(auth.ClassifyUserAgent(ua))
		if got != want || strings.Contains(got, "evil") || strings.Contains(got, "http") {
			t.Errorf("Summarize(ClassifyUserAgent(%.40q)) = %q, want %q", ua, got, want)
		}
	}
}

package auth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
)

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// signInFrom signs name in from a client with the given user agent and passes
// the second factor, returning the aal2 session.
func (f *fixture) signInFrom(name, ua string, secret []byte) auth.Current {
	f.t.Helper()
	c := auth.Client{IP: "198.51.100.7", UserAgent: ua}
	res, err := f.svc.Login(ctx, c, auth.Credentials{Username: name, Password: pw})
	if err != nil {
		f.t.Fatalf("Login: %v", err)
	}
	f.nextStep()
	p, err := f.svc.Verify(ctx, c, f.auth(res.Token), auth.Proof{Method: "totp", Code: f.code(secret)})
	if err != nil {
		f.t.Fatalf("Verify: %v", err)
	}
	return f.auth(p.Token)
}

// TestSessionsList: the user sees their live sessions only, with a public
// id that is not the token and survives the step to aal2, the client at
// sign-in (cleaned), browser and system, and which one is asking.
func TestSessionsList(t *testing.T) {
	f := newFixture(t, nil)
	first := f.user("alice")
	secret, home, _ := f.enrolTOTP(first)
	if home.Session.ID != first.Session.ID || len(home.Session.ID) != 26 {
		t.Fatalf("id across the step to aal2: %q then %q", first.Session.ID, home.Session.ID)
	}
	work := f.signInFrom("alice", firefox, secret)
	_, bobs, _ := f.enrolTOTP(f.user("bob"))

	list, err := f.svc.Sessions(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("alice's sessions = %+v; want her two, not bob's", list)
	}
	byID := map[string]auth.SessionInfo{}
	for _, s := range list {
		byID[s.ID] = s
		if s.ID == bobs.Session.ID {
			t.Fatal("bob's session listed for alice")
		}
		if tok := f.tokenOf(work); strings.Contains(s.ID, tok) || s.ID == string(work.Session.TokenHash) {
			t.Fatal("a session id is derived from the token")
		}
	}
	w, h := byID[work.Session.ID], byID[home.Session.ID]
	if !w.Current || h.Current || w.Browser != "Firefox" || w.OS != "Linux" || w.IP != "198.51.100.7" || w.UserAgent != firefox {
		t.Fatalf("work session = %+v", w)
	}
	if h.IP != client.IP || h.UserAgent != client.UserAgent || h.Browser != "" || !h.CreatedAt.Equal(first.Session.CreatedAt) {
		t.Fatalf("home session = %+v", h)
	}

	// An aal1 session sees nothing: where the account is signed in is not
	// for a password alone.
	_, err = f.svc.Sessions(ctx, f.login("alice"))
	wantErr(t, err, auth.ErrAAL2Required)

	// Idle sessions are not listed.
	f.clock.Add(f.cfg.IdleTimeout + time.Second)
	work = f.signInFrom("alice", firefox, secret)
	list, err = f.svc.Sessions(ctx, work)
	if err != nil || len(list) != 1 || list[0].ID != work.Session.ID {
		t.Fatalf("after the others idled out: %+v, %v", list, err)
	}
}

// TestSessionClientText: the user agent and address kept with a session
// are what the client sent, made safe to store and show: no invalid UTF-8
// or NUL (PostgreSQL refuses both, which would refuse the sign-in), no
// control or bidirectional-override characters, at most 256 and 64 bytes.
func TestSessionClientText(t *testing.T) {
	tests := []struct{ name, ua, ip, wantUA, wantIP string }{
		{"plain", "curl/8.5.0", "192.0.2.1", "curl/8.5.0", "192.0.2.1"},
		{"markup stays text", `<script>alert(1)</script>`, "192.0.2.1", `<script>alert(1)</script>`, "192.0.2.1"},
		{"invalid UTF-8 and NUL", "a\xffb\x00c", "192.0.2.1\x00", "a\uFFFDbc", "192.0.2.1"},
		{"controls and bidi override", "Fire\u202efox\r\nX-Evil: 1\u200b", "192.0.2.1", "FirefoxX-Evil: 1", "192.0.2.1"},
		{"long", strings.Repeat("é", 200), strings.Repeat("1", 100), strings.Repeat("é", 128), strings.Repeat("1", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if _, err := f.svc.CreateUser(ctx, client, "alice", pw); err != nil {
				t.Fatal(err)
			}
			res, err := f.svc.Login(ctx, auth.Client{IP: tc.ip, UserAgent: tc.ua}, auth.Credentials{Username: "alice", Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			cur := f.auth(res.Token)
			if cur.Session.UserAgent != tc.wantUA || cur.Session.IP != tc.wantIP {
				t.Fatalf("stored %q from %q, want %q and %q", cur.Session.UserAgent, cur.Session.IP, tc.wantUA, tc.wantIP)
			}
		})
	}
}

// TestEndSession: a user ends one of their own sessions by id; an unknown,
// malformed, already ended or another user's id all answer the same
// ErrNotFound and end nothing; the ended token stops working at once,
// forward-auth on this instance included, though its entry was cached.
func TestEndSession(t *testing.T) {
	f := newFixture(t, nil)
	secret, home, _ := f.enrolTOTP(f.user("alice"))
	work := f.signInFrom("alice", firefox, secret)
	_, bobs, _ := f.enrolTOTP(f.user("bob"))
	workTok, bobTok := f.tokenOf(work), f.tokenOf(bobs)
	for _, tok := range []string{workTok, bobTok} {
		if d, _, _ := f.svc.Check(ctx, tok, "app.example.com", "/"); d != auth.Allow {
			t.Fatalf("before: %v", d)
		}
	}

	for _, id := range []string{bobs.Session.ID, "aaaaaaaaaaaaaaaaaaaaaaaaaa", "", "../x", strings.ToUpper(work.Session.ID), string(work.Session.TokenHash), workTok} {
		wantErr(t, f.svc.EndSession(ctx, client, home, id), auth.ErrNotFound)
	}
	if d, _, _ := f.svc.Check(ctx, bobTok, "app.example.com", "/"); d != auth.Allow {
		t.Fatalf("bob after alice tried his id: %v", d)
	}
	if _, err := f.svc.Authenticate(ctx, bobTok); err != nil {
		t.Fatalf("bob's session after alice tried his id: %v", err)
	}

	seq := lastSeq(t, f)
	if err := f.svc.EndSession(ctx, client, home, work.Session.ID); err != nil {
		t.Fatal(err)
	}
	// The clock has not moved: the cache would still answer for the
	// ended session had ending it not dropped it.
	if d, _, _ := f.svc.Check(ctx, workTok, "app.example.com", "/"); d != auth.NeedLogin {
		t.Fatalf("forward-auth with the ended token: %v, want NeedLogin at once", d)
	}
	if _, err := f.svc.Authenticate(ctx, workTok); err == nil {
		t.Fatal("the ended token still authenticates")
	}
	wantErr(t, f.svc.EndSession(ctx, client, home, work.Session.ID), auth.ErrNotFound)
	e := endedEvent(t, f, seq)
	if e.attrs["reason"] != "user" || e.attrs["count"] != "1" || e.attrs["session_ids"] != work.Session.ID || e.UserID != home.User.ID {
		t.Fatalf("audit entry = %+v", e)
	}

	// aal1 may not end sessions.
	wantErr(t, f.svc.EndSession(ctx, client, f.login("alice"), home.Session.ID), auth.ErrAAL2Required)
	if _, err := f.svc.Authenticate(ctx, f.tokenOf(home)); err != nil {
		t.Fatalf("home after an aal1 attempt: %v", err)
	}
}

// TestEndOtherSessions: "sign out everywhere else" ends every session of
// the user but the one asking (aal1 ones included), leaves other users'
// alone, and drops them from this instance's forward-auth cache.
func TestEndOtherSessions(t *testing.T) {
	f := newFixture(t, nil)
	secret, home, _ := f.enrolTOTP(f.user("alice"))
	a := f.signInFrom("alice", firefox, secret)
	b := f.signInFrom("alice", "curl/8.5.0", secret)
	half := f.login("alice")
	_, bobs, _ := f.enrolTOTP(f.user("bob"))
	for _, cur := range []auth.Current{a, b} {
		if d, _, _ := f.svc.Check(ctx, f.tokenOf(cur), "app.example.com", "/"); d != auth.Allow {
			t.Fatalf("before: %v", d)
		}
	}
	seq := lastSeq(t, f)
	n, err := f.svc.EndOtherSessions(ctx, client, home)
	if err != nil || n != 3 {
		t.Fatalf("EndOtherSessions = %d, %v; want 3", n, err)
	}
	for _, cur := range []auth.Current{a, b, half} {
		if d, _, _ := f.svc.Check(ctx, f.tokenOf(cur), "app.example.com", "/"); d != auth.NeedLogin {
			t.Fatalf("forward-auth with an ended session: %v", d)
		}
	}
	for _, cur := range []auth.Current{home, bobs} {
		if _, err := f.svc.Authenticate(ctx, f.tokenOf(cur)); err != nil {
			t.Fatalf("a session that should stay: %v", err)
		}
	}
	e := endedEvent(t, f, seq)
	if e.attrs["reason"] != "others" || e.attrs["count"] != "3" || strings.Count(e.attrs["session_ids"], ",") != 2 ||
		strings.Contains(e.Detail, f.tokenOf(a)) {
		t.Fatalf("audit entry = %+v", e)
	}
	// Nothing left to end: no entry.
	seq = lastSeq(t, f)
	if n, err := f.svc.EndOtherSessions(ctx, client, home); err != nil || n != 0 {
		t.Fatalf("again = %d, %v", n, err)
	}
	if lastSeq(t, f) != seq {
		t.Fatal("an audit entry for ending nothing")
	}
	_, err = f.svc.EndOtherSessions(ctx, client, half)
	wantErr(t, err, auth.ErrAAL2Required)
}

// TestAdminActionsEndEverySession: an administrator's reset-mfa,
// set-password and disable end every session of the user, each dropped
// from this instance's forward-auth cache at once, with one audit entry.
func TestAdminActionsEndEverySession(t *testing.T) {
	tests := []struct {
		reason string
		act    func(f *fixture) error
	}{
		{"reset_mfa", func(f *fixture) error { return f.svc.ResetMFA(ctx, client, "alice") }},
		{"set_password", func(f *fixture) error { return f.svc.SetPassword(ctx, client, "alice", "another long passphrase") }},
		{"user_disable", func(f *fixture) error { return f.svc.SetDisabled(ctx, client, "alice", true) }},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFixture(t, nil)
			secret, home, _ := f.enrolTOTP(f.user("alice"))
			work := f.signInFrom("alice", firefox, secret)
			_, bobs, _ := f.enrolTOTP(f.user("bob"))
			for _, cur := range []auth.Current{home, work} {
				if d, _, _ := f.svc.Check(ctx, f.tokenOf(cur), "app.example.com", "/"); d != auth.Allow {
					t.Fatalf("before: %v", d)
				}
			}
			seq := lastSeq(t, f)
			if err := tc.act(f); err != nil {
				t.Fatal(err)
			}
			for _, cur := range []auth.Current{home, work} {
				if d, _, _ := f.svc.Check(ctx, f.tokenOf(cur), "app.example.com", "/"); d != auth.NeedLogin {
					t.Fatalf("forward-auth right after %s: %v, want NeedLogin", tc.reason, d)
				}
			}
			if _, err := f.svc.Authenticate(ctx, f.tokenOf(bobs)); err != nil {
				t.Fatalf("bob's session: %v", err)
			}
			e := endedEvent(t, f, seq)
			if e.attrs["reason"] != tc.reason || e.attrs["count"] != "2" {
				t.Fatalf("audit entry = %+v", e)
			}
		})
	}
}

// TestClassifyUserAgent: the browser and system names of common agents;
// Chromium-based browsers and phones are not taken for what their header
// also mentions.
func TestClassifyUserAgent(t *testing.T) {
	tests := []struct{ ua, browser, system string }{
		{firefox, "Firefox", "Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge", "Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome", "Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari", "macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "iPhone"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome", "Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Headless Chrome", "Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome", "ChromeOS"},
		{"curl/8.5.0", "curl", ""},
		{"", "", ""},
		{"<b>bold</b>", "", ""},
	}
	for _, tc := range tests {
		if b, s := auth.ClassifyUserAgent(tc.ua); b != tc.browser || s != tc.system {
			t.Errorf("ClassifyUserAgent(%q) = %q, %q; want %q, %q", tc.ua, b, s, tc.browser, tc.system)
		}
	}
}

type endedEntry struct {
	model.AuditEvent
	attrs map[string]string
}

// endedEvent returns the one session_ended entry after seq.
func endedEvent(t *testing.T, f *fixture, seq int64) endedEntry {
	t.Helper()
	events, err := f.st.AuditEvents(context.Background(), seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	var found []endedEntry
	for _, e := range events {
		if e.Event == audit.SessionEnded {
			x := endedEntry{AuditEvent: e}
			if err := json.Unmarshal([]byte(e.Detail), &x.attrs); err != nil {
				t.Fatal(err)
			}
			found = append(found, x)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d session_ended entries, want 1: %+v", len(found), events)
	}
	return found[0]
}

func lastSeq(t *testing.T, f *fixture) int64 {
	t.Helper()
	var seq int64
	for {
		events, err := f.st.AuditEvents(context.Background(), seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			return seq
		}
		seq = events[len(events)-1].Seq
	}
}

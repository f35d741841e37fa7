package e2e

import (
	"bytes"
	"database/sql"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/notify/notifytest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// Security notifications end to end (docs/notifications.md): a real SMTP
// server (notifytest, go-smtp) receives what `twostep serve` sends; texts
// go to the file provider.

const supportURL = "https://help.example.com/security"

// notifySettings points an instance's notifications at the SMTP server
// (plain SMTP, allowed to a loopback host) with both channels on.
func notifySettings(srv *notifytest.Server, extra ...string) []string {
	return append([]string{
		"TWOSTEP_ADMIN_TOKEN=" + adminToken,
		"TWOSTEP_NOTIFY_CHANNELS=email,sms",
		"TWOSTEP_NOTIFY_FROM=Example SSO <security@example.com>",
		"TWOSTEP_NOTIFY_SMTP_HOST=127.0.0.1",
		"TWOSTEP_NOTIFY_SMTP_PORT=" + strconv.Itoa(srv.Port()),
		"TWOSTEP_NOTIFY_SMTP_TLS=none",
		"TWOSTEP_NOTIFY_SMTP_TIMEOUT=5s",
		"TWOSTEP_SUPPORT_CONTACT_URL=" + supportURL,
		"TWOSTEP_BRAND_NAME=Example SSO",
	}, extra...)
}

// received is one delivered e-mail, decoded.
type received struct {
	subject, messageID, text, html, raw string
}

func decodeMail(t *testing.T, m notifytest.Message) received {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mail does not parse: %v", err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	r := received{subject: subject, messageID: msg.Header.Get("Message-Id"), raw: string(m.Data)}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			r.html = string(b)
		} else {
			r.text = string(b)
		}
	}
	return r
}

// knownCookie returns the known-browser cookie a sign-in set.
func knownCookie(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if strings.TrimPrefix(c.Name, "__Host-") == "twostep_known" {
			return c
		}
	}
	t.Fatalf("sign-in set no known-browser cookie")
	return nil
}

// TestNotificationEvents walks every event that notifies and checks that
// each delivers exactly one e-mail with the right content (and a text to
// each phone enrolled at the time), that nothing else notifies, and that
// no message holds a code, a secret, a token or a link but support's.
func TestNotificationEvents(t *testing.T) {
	t.Parallel()
	const e164, national = "+12015550199", "2015550199"
	srv := notifytest.Start(t, notifytest.Options{NoTLS: true})
	const metricsToken = "e2e-metrics-token-0123456789abcdef0123"
	in, ob := smsInstance(t, "", notifySettings(srv, "TWOSTEP_NOTIFY_NEW_DEVICE=true", "TWOSTEP_METRICS_TOKEN="+metricsToken,
		"TWOSTEP_NOTIFY_RETRY_BASE=1s", "TWOSTEP_NOTIFY_RETRY_MAX=2s")...)
	s := in.start(t)
	admin := bearer(adminToken)
	ua := header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 http://evil.example/phish")

	const firefox = "Firefox on Linux" // the summary of ua: its link never reaches a message
	var mails []received
	// expect waits for exactly one more e-mail, with want in its subject,
	// and for texts to reach texts in total.
	expect := func(what, want, browser string, texts int) received {
		t.Helper()
		got := srv.Wait(t, len(mails)+1, 20*time.Second)
		m := decodeMail(t, got[len(mails)])
		mails = append(mails, m)
		if !strings.Contains(m.subject, want) {
			t.Errorf("%s: subject %q, want %q", what, m.subject, want)
		}
		for _, body := range []string{m.text, m.html} {
			for _, must := range []string{"alice", browser, supportURL} {
				if !strings.Contains(body, must) {
					t.Errorf("%s: body lacks %q:\n%s", what, must, body)
				}
			}
		}
		for deadline := time.Now().Add(10 * time.Second); len(notices(ob, t)) < texts && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(notices(ob, t)); n != texts {
			t.Errorf("%s: %d notification texts, want %d", what, n, texts)
		}
		return m
	}

	// The e-mail address through the admin API: bad input changes nothing.
	s.AddUser(t, "alice")
	for _, bad := range []string{"not-an-address", "Alice <alice@example.org>", "alice@example.org, bob@example.org", "alice@example.org\r\nBcc: x@y.z"} {
		s.call(t, "PATCH", "/api/v1/admin/users/alice", map[string]string{"email": bad}, admin).wantErr(t, 400, "invalid_request", "email "+bad)
	}
	s.call(t, "PATCH", "/api/v1/admin/users/alice", map[string]any{}, admin).wantErr(t, 400, "invalid_request", "empty patch")
	s.call(t, "PATCH", "/api/v1/admin/users/ghost", map[string]string{"email": "g@example.org"}, admin).wantErr(t, 404, "not_found", "unknown user")
	s.call(t, "PATCH", "/api/v1/admin/users/alice", map[string]string{"email": "alice@example.org"}).wantErr(t, 401, "unauthenticated", "no token")
	s.call(t, "PATCH", "/api/v1/admin/users/alice", map[string]any{"groups": []string{"staff"}}, admin).want(t, 204, "groups only")
	s.call(t, "PATCH", "/api/v1/admin/users/alice", map[string]string{"email": "alice@example.org"}, admin).want(t, 204, "email only")
	if out := in.MustCLI(t, "", "user", "list", "--json"); !strings.Contains(out, "alice@example.org") || !strings.Contains(out, "staff") {
		t.Fatalf("after two PATCHes, user list: %s (want the address and the group kept)", out)
	}

	// 1. Sign-in from a browser that never signed in: new device.
	first := s.login(t, "alice", ua)
	known := knownCookie(t, first)
	expect("new device", "new sign-in", firefox, 0)
	// 2. The first method (its recovery codes are part of it: one mail).
	u := s.enrolTOTP(t, "alice", first.str(t, "token"))
	expect("method added", "was added", "Go program", 0)
	// A sign-in from the known browser tells nobody.
	tok := s.login(t, "alice", ua, func(r *http.Request) { r.AddCookie(known) }).str(t, "token")
	// 3. New recovery codes.
	res := s.call(t, "POST", "/api/v1/recovery-codes", nil, bearer(u.aal2), ua).want(t, 200, "new codes")
	for _, c := range res.obj(t)["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, c.(string))
	}
	expect("codes regenerated", "new recovery codes", firefox, 0)
	// 4. A phone: the new phone is told too.
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"sms"}}, bearer(u.aal2)).want(t, 200, "plan sms")
	s.startSMS(t, u.aal2, "US", national, ua)
	smsCode := ob.lastCode(t, e164, 1)
	res = s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": smsCode}, bearer(u.aal2), ua).want(t, 200, "confirm sms")
	aal2 := res.str(t, "token")
	smsID := ""
	for _, f := range s.call(t, "GET", "/api/v1/factors", nil, bearer(aal2)).want(t, 200, "factors").obj(t)["factors"].([]any) {
		if fm := f.(map[string]any); fm["type"] == "sms" {
			smsID = fm["id"].(string)
		}
	}
	expect("phone added", "was added", firefox, 1)
	// 5. A recovery code used: e-mail and the phone.
	rc := u.recovery[len(u.recovery)-1]
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": rc}, bearer(tok), ua).want(t, 200, "recovery code")
	expect("recovery code used", "recovery code was used", firefox, 2)
	// 6. The phone removed: it is gone before the notice, so only e-mail.
	s.call(t, "DELETE", "/api/v1/factors/"+smsID, nil, bearer(aal2), ua).want(t, 204, "remove phone")
	expect("phone removed", "was removed", firefox, 2)
	// 7. Password set on the command line (queued by the CLI, sent by the server).
	in.MustCLI(t, "new horse battery staple\n", "user", "set-password", "alice", "--password-stdin")
	expect("password changed", "password was changed", "command line", 2)
	// 8. MFA reset through the admin API.
	s.call(t, "POST", "/api/v1/admin/users/alice/reset-mfa", nil, admin, ua).want(t, 204, "reset")
	expect("mfa reset", "reset", firefox, 2)

	// Nothing else notified (logouts, renames, failed sign-ins, set_attributes).
	s.call(t, "POST", "/api/v1/login", map[string]string{"username": "alice", "password": "wrong password here"}).wantErr(t, 401, "invalid_credentials", "wrong password")
	time.Sleep(time.Second) // the worker wakes at once on a queued notice
	if n := len(srv.Messages()); n != len(mails) {
		t.Fatalf("%d e-mails delivered, want %d", n, len(mails))
	}
	ids := map[string]bool{}
	for _, m := range mails {
		if ids[m.messageID] || !strings.HasSuffix(m.messageID, "@example.com>") {
			t.Errorf("Message-ID %q repeated or not on the From domain", m.messageID)
		}
		ids[m.messageID] = true
	}

	// No code, secret, token or sign-in link in any message.
	sec := secrets{password: e2etest.Password, totp: []string{u.secret}, codes: u.codesUsed, recovery: u.recovery,
		tokens: []string{tok, u.aal2, aal2, first.str(t, "token"), known.Value}, adminTok: adminToken,
		extraText: []string{smsCode, "new horse battery staple"}}
	links := regexp.MustCompile(`(?i)(https?://|www\.)[^\s"<>]*`)
	var all []string
	for _, m := range mails {
		all = append(all, m.raw, m.subject, m.text, m.html)
	}
	for _, n := range notices(ob, t) {
		all = append(all, n.Body)
		if n.To != e164 {
			t.Errorf("notice text to %s", n.To)
		}
	}
	for i, body := range all {
		lower := strings.ToLower(body)
		for what, v := range sec.forms(t) {
			if strings.Contains(lower, v) {
				t.Errorf("message %d contains the %s", i, what)
			}
		}
		for _, code := range append(u.codesUsed, smsCode) {
			if regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`).MatchString(body) {
				t.Errorf("message %d contains the code %s", i, code)
			}
		}
		if i%4 == 0 && strings.Contains(body, "quoted-printable") {
			continue // the raw form: its soft line breaks split links; the decoded parts are checked
		}
		for _, l := range links.FindAllString(body, -1) {
			if strings.TrimRight(l, ".") != supportURL {
				t.Errorf("message %d has the link %q", i, l)
			}
		}
	}
	// The server's counters: 8 mails sent, 7 of them queued by the server
	// (the password change was queued by the command line's process), and
	// 2 texts.
	body := string(s.call(t, "GET", "/metrics", nil, bearer(metricsToken)).want(t, 200, "metrics").body)
	for _, want := range []string{
		`twostep_notifications_total{channel="email",state="queued"} 7`,
		`twostep_notifications_total{channel="email",state="sent"} 8`,
		`twostep_notifications_total{channel="sms",state="sent"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The queue holds no address or number in clear.
	db := in.OpenDB(t)
	assertQueueSealed(t, db, "alice@example.org", e164)
}

// notices are the texts that are notifications (not sign-in codes).
func notices(ob outbox, t *testing.T) []e2etest.Text {
	var out []e2etest.Text
	for _, m := range ob.All(t) {
		if strings.Contains(m.Body, "Example SSO:") && strings.Contains(m.Body, "Not you?") {
			out = append(out, m)
		}
	}
	return out
}

func assertQueueSealed(t *testing.T, db *sql.DB, clear ...string) {
	t.Helper()
	rows, err := db.Query(`SELECT id, recipient, payload, last_error FROM notifications`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, payload, lastErr string
		var rcpt []byte
		if err := rows.Scan(&id, &rcpt, &payload, &lastErr); err != nil {
			t.Fatal(err)
		}
		n++
		for _, c := range clear {
			if bytes.Contains(rcpt, []byte(c)) || strings.Contains(payload, c) || strings.Contains(lastErr, c) {
				t.Errorf("notification %s holds %s in clear", id, c)
			}
		}
	}
	if n == 0 {
		t.Fatal("no notification rows to check")
	}
}

// TestNotificationsSurviveKill: notices queued while the mail server is
// down survive a SIGKILL of `twostep serve`, and after the restart (and
// the mail server's return) each is delivered exactly once. On PostgreSQL
// two servers then drain the queue together, still once each.
func TestNotificationsSurviveKill(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db := ""
			if backend == "postgres" {
				db = storetest.PostgresDSN(t)
			}
			srv := notifytest.Start(t, notifytest.Options{NoTLS: true})
			srv.Stop()
			// A 2 s SMTP timeout makes the lease 14 s (cli): a row the killed
			// server held is sent once that lease has run out.
			in, _ := smsInstance(t, db, notifySettings(srv, "TWOSTEP_NOTIFY_RETRY_BASE=1s", "TWOSTEP_NOTIFY_RETRY_MAX=2s",
				"TWOSTEP_NOTIFY_SMTP_TIMEOUT=2s")...)
			const users = 6
			for i := range users {
				name := "user" + strconv.Itoa(i)
				in.AddUser(t, name)
				in.MustCLI(t, "", "user", "set", name, "--email", name+"@example.org")
			}
			s, c := in.spawn(t, bin)
			for i := range users {
				s.call(t, "POST", "/api/v1/admin/users/user"+strconv.Itoa(i)+"/reset-mfa", nil, bearer(adminToken)).want(t, 204, "reset")
			}
			dbh := in.OpenDB(t)
			pending := func() (n int) {
				if err := dbh.QueryRow(`SELECT COUNT(*) FROM notifications WHERE sent_at = 0`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			// Let the worker fail at least once against the closed port.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var tried int
				dbh.QueryRow(`SELECT COUNT(*) FROM notifications WHERE attempts > 0`).Scan(&tried)
				if tried > 0 {
					break
				}
			}
			if n := pending(); n != users {
				t.Fatalf("%d pending notices before the kill, want %d; %d delivered; log:\n%s", n, users, len(srv.Messages()), tail(in.Log.String(), 4000))
			}
			c.kill()
			srv.Restart(t)
			s, _ = in.spawn(t, bin)
			if backend == "postgres" {
				in.spawn(t, bin) // a second instance on the same database
			}
			for deadline := time.Now().Add(45 * time.Second); len(srv.Messages()) < users && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			if len(srv.Messages()) < users {
				t.Fatalf("%d of %d mails delivered after the restart; log:\n%s", len(srv.Messages()), users, tail(in.Log.String(), 6000))
			}
			time.Sleep(3 * time.Second) // room for a duplicate to show
			got := srv.Messages()
			seen := map[string]int{}
			for _, m := range got {
				seen[decodeMail(t, m).messageID]++
			}
			if len(got) != users || len(seen) != users {
				t.Fatalf("%d mails, %d distinct, want %d each once: %v", len(got), len(seen), users, seen)
			}
			if n := pending(); n != 0 {
				t.Errorf("%d notices still pending", n)
			}
			s.stop()
		})
	}
}

package notify_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/notify"
	"github.com/twostep/twostep/internal/notify/mailer"
	"github.com/twostep/twostep/internal/notify/notifytest"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	brand = notify.Brand{Name: "Example SSO", Contact: "https://help.example.com/security", Chat: "https://chat.example.com/"}
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// parsed is one received message, parsed.
type parsed struct {
	header      mail.Header
	text, html  string
	raw         string
	tls, authed bool
}

func parse(t *testing.T, m notifytest.Message) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, m.Data)
	}
	p := parsed{header: msg.Header, raw: string(m.Data), tls: m.TLS, authed: m.Authed}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("message lacks a text or an HTML part:\n%s", m.Data)
	}
	return p
}

func newMailer(t *testing.T, srv *notifytest.Server, mode string, user, pass string) *mailer.Mailer {
	t.Helper()
	m, err := mailer.New(mailer.Config{Host: "127.0.0.1", Port: srv.Port(), TLS: mode, Username: user, Password: pass,
		From: "Example SSO <security@example.com>", TLSConfig: srv.ClientTLS(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMailerModes sends over STARTTLS and implicit TLS, with and without
// authentication, to a real SMTP server that trusts only its own test CA;
// and refuses to go on in clear when a server does not offer STARTTLS (a
// stripped STARTTLS is a downgrade, not a fallback).
func TestMailerModes(t *testing.T) {
	tests := []struct {
		name       string
		opts       notifytest.Options
		mode       string
		user, pass string
		wantErr    bool
	}{
		{"starttls", notifytest.Options{}, mailer.StartTLS, "", "", false},
		{"starttls auth", notifytest.Options{Username: "relay", Password: "relay-pass"}, mailer.StartTLS, "relay", "relay-pass", false},
		{"implicit tls auth", notifytest.Options{ImplicitTLS: true, Username: "relay", Password: "relay-pass"}, mailer.TLS, "relay", "relay-pass", false},
		{"plain to loopback", notifytest.Options{NoTLS: true}, mailer.None, "", "", false},
		{"no starttls offered", notifytest.Options{NoTLS: true}, mailer.StartTLS, "", "", true},
		{"wrong password", notifytest.Options{Username: "relay", Password: "relay-pass"}, mailer.StartTLS, "relay", "nope", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := notifytest.Start(t, tc.opts)
			m := newMailer(t, srv, tc.mode, tc.user, tc.pass)
			at := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
			err := m.Send(ctx, notify.Mail{To: "alice@example.org", Subject: "Example SSO: test", Text: "plain", HTML: "<p>html</p>",
				MessageID: "abc123@example.com", Date: at})
			if tc.wantErr {
				if err == nil {
					t.Fatal("sent; want a refusal")
				}
				if n := len(srv.Messages()); n != 0 {
					t.Fatalf("server got %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 1, 5*time.Second)
			p := parse(t, got[0])
			if p.tls != (tc.mode != mailer.None) || p.authed != (tc.user != "") {
				t.Errorf("tls %v authed %v", p.tls, p.authed)
			}
			if id := p.header.Get("Message-Id"); id != "<abc123@example.com>" {
				t.Errorf("Message-ID %q", id)
			}
			if d, err := p.header.Date(); err != nil || !d.Equal(at) {
				t.Errorf("Date %v %v, want %v", d, err, at)
			}
			if got[0].From != "security@example.com" || len(got[0].To) != 1 || got[0].To[0] != "alice@example.org" {
				t.Errorf("envelope %s → %v", got[0].From, got[0].To)
			}
		})
	}
}

// TestMailerPermanent: a 5xx is permanent (no retry), a 4xx is not.
func TestMailerPermanent(t *testing.T) {
	srv := notifytest.Start(t, notifytest.Options{})
	m := newMailer(t, srv, mailer.StartTLS, "", "")
	for _, tc := range []struct {
		code int
		perm bool
	}{{550, true}, {451, false}} {
		srv.Fail(tc.code)
		err := m.Send(ctx, notify.Mail{To: "alice@example.org", Subject: "s", Text: "t"})
		if err == nil || isPermanent(err) != tc.perm {
			t.Errorf("%d: err %v, permanent %v, want %v", tc.code, err, isPermanent(err), tc.perm)
		}
	}
}

func isPermanent(err error) bool {
	return err != nil && strings.Contains(err.Error(), notify.ErrPermanent.Error())
}

// fixture is a queue and a worker over one store, with a fake clock.
type fixture struct {
	s     *store.Store
	keys  *keyring.Keyring
	clock *clock
	q     *notify.Queue
	w     *notify.Worker
	srv   *notifytest.Server
	sms   *recorder
	count map[string]int
	mu    sync.Mutex
}

// recorder is an sms.Sender that keeps what it was given.
type recorder struct {
	mu   sync.Mutex
	msgs []sms.Message
	fail error
}

func (r *recorder) Send(_ context.Context, m sms.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recorder) Name() string { return "recorder" }

func newFixture(t *testing.T, s *store.Store, qc notify.QueueConfig) *fixture {
	t.Helper()
	f := &fixture{s: s, keys: keyring.Generate(), clock: &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		srv: notifytest.Start(t, notifytest.Options{}), sms: &recorder{}, count: map[string]int{}}
	f.q = notify.NewQueue(qc, s, f.keys, quiet, f.clock.now)
	f.q.OnDropped = func(ch, reason string) { f.inc(ch + " dropped " + reason) }
	f.w = f.worker(t, s)
	return f
}

func (f *fixture) worker(t *testing.T, s *store.Store) *notify.Worker {
	w := notify.NewWorker(notify.WorkerConfig{Brand: brand, MessageIDDomain: "example.com", MaxAttempts: 4,
		RetryBase: time.Minute, RetryMax: 3 * time.Minute, Lease: 20 * time.Second},
		s, f.keys, newMailer(t, f.srv, mailer.StartTLS, "", ""), f.sms, nil, quiet, f.clock.now)
	w.OnSent = func(ch string) { f.inc(ch + " sent") }
	w.OnRetry = func(ch string) { f.inc(ch + " retried") }
	w.OnFailed = func(ch string) { f.inc(ch + " failed") }
	return w
}

func (f *fixture) inc(k string) { f.mu.Lock(); f.count[k]++; f.mu.Unlock() }
func (f *fixture) get(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[k]
}

func notice(kind notify.Kind) notify.Notice {
	return notify.Notice{Kind: kind, UserID: "u1", Username: "alice", IP: "203.0.113.7",
		Browser: notify.Summarize("Firefox", "Linux"), Method: "totp"}
}

func (f *fixture) runOnce(t *testing.T) int {
	t.Helper()
	n, err := f.w.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func rows(t *testing.T, s *store.Store) []model.Notification {
	t.Helper()
	all, err := s.Notifications(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestSMTPDownThenBack: with the mail server down the notice stays queued
// and is retried with exponential back-off on the fake clock (1, 2, then
// the 3-minute cap); not before it is due; once the server is back it is
// delivered exactly once, with the Message-ID it had from the start.
func TestSMTPDownThenBack(t *testing.T) {
	f := newFixture(t, storetest.New(t), notify.QueueConfig{Email: true, Size: 100, SMSPerUserDay: 10})
	if err := f.q.Enqueue(ctx, notice(notify.MethodAdded), notify.Recipients{Email: "alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	f.srv.Stop()
	for i, wait := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		if n := f.runOnce(t); n != 1 {
			t.Fatalf("attempt %d: claimed %d rows, want 1", i+1, n)
		}
		r := rows(t, f.s)[0]
		if r.Attempts != i+1 || !r.NextAt.Equal(f.clock.now().Add(wait)) || r.LastError == "" || !r.SentAt.IsZero() {
			t.Fatalf("after attempt %d: attempts %d next %v (want now+%s) error %q", i+1, r.Attempts, r.NextAt, wait, r.LastError)
		}
		f.clock.add(wait - time.Second)
		if n := f.runOnce(t); n != 0 {
			t.Fatalf("claimed %d rows a second before the retry was due", n)
		}
		f.clock.add(time.Second)
	}
	f.srv.Restart(t)
	if n := f.runOnce(t); n != 1 {
		t.Fatalf("claimed %d after the server came back", n)
	}
	got := f.srv.Wait(t, 1, 5*time.Second)
	f.clock.add(time.Hour)
	if n := f.runOnce(t); n != 0 || len(f.srv.Messages()) != 1 {
		t.Fatalf("a sent notice was claimed again (%d) or sent twice (%d)", n, len(f.srv.Messages()))
	}
	r := rows(t, f.s)[0]
	if p := parse(t, got[0]); p.header.Get("Message-Id") != "<"+r.ID+"@example.com>" {
		t.Errorf("Message-ID %q, want the row's id", p.header.Get("Message-Id"))
	}
	if r.SentAt.IsZero() || len(r.Recipient) != 0 {
		t.Errorf("sent row: %+v (want sent, recipient erased)", r)
	}
	if f.get("email retried") != 3 || f.get("email sent") != 1 {
		t.Errorf("counts %v", f.count)
	}
}

// TestGiveUp: a permanent refusal fails the row at once; a temporary one
// fails it after MaxAttempts; neither is claimed again.
func TestGiveUp(t *testing.T) {
	f := newFixture(t, storetest.New(t), notify.QueueConfig{Email: true, Size: 100, SMSPerUserDay: 10})
	f.q.Enqueue(ctx, notice(notify.MethodAdded), notify.Recipients{Email: "perm@example.org"})
	f.srv.Fail(550)
	f.runOnce(t)
	if r := rows(t, f.s)[0]; r.FailedAt.IsZero() || r.Attempts != 1 || !strings.Contains(r.LastError, "550") {
		t.Fatalf("after a 550: %+v, want failed at attempt 1 with the answer kept", r)
	}
	// The server's answer names the recipient; the row keeps it without.
	if r := rows(t, f.s)[0]; strings.Contains(strings.ToLower(r.LastError), "perm@example.org") {
		t.Fatalf("last_error holds the address in clear: %q", r.LastError)
	}
	perm := rows(t, f.s)[0].ID
	f.q.Enqueue(ctx, notice(notify.MethodAdded), notify.Recipients{Email: "temp@example.org"})
	f.srv.Fail(451)
	for range 10 { // bounded: MaxAttempts is 4
		f.runOnce(t)
		f.clock.add(time.Hour)
	}
	r := rows(t, f.s)[0]
	if r.ID == perm {
		r = rows(t, f.s)[1]
	}
	if r.FailedAt.IsZero() || r.Attempts != 4 {
		t.Fatalf("after 451s: attempts %d failed %v, want 4 and failed", r.Attempts, r.FailedAt)
	}
	f.srv.Fail(0)
	f.runOnce(t)
	if len(f.srv.Messages()) != 0 || f.get("email failed") != 2 {
		t.Fatalf("messages %d, counts %v", len(f.srv.Messages()), f.count)
	}
}

// TestQueueBound: a full queue drops new notices (counted), never blocks
// or errs; sending frees room.
func TestQueueBound(t *testing.T) {
	f := newFixture(t, storetest.New(t), notify.QueueConfig{Email: true, SMS: true, Size: 2, SMSPerUserDay: 10})
	for range 3 {
		if err := f.q.Enqueue(ctx, notice(notify.MethodAdded), notify.Recipients{Email: "alice@example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rows(t, f.s)); n != 2 || f.get("email dropped full") != 1 {
		t.Fatalf("rows %d, counts %v; want 2 rows and 1 dropped", n, f.count)
	}
	f.runOnce(t)
	f.q.Enqueue(ctx, notice(notify.MethodAdded), notify.Recipients{Email: "alice@example.org"})
	if n := len(rows(t, f.s)); n != 3 {
		t.Fatalf("rows %d after sending freed room, want 3", n)
	}
}

// TestSMSNotices: texts go to each enrolled phone, sealed in the queue
// (no number in clear in any column), with the per-user daily cap.
func TestSMSNotices(t *testing.T) {
	f := newFixture(t, storetest.New(t), notify.QueueConfig{SMS: true, Size: 100, SMSPerUserDay: 3})
	phones := []string{"+12015550123", "+12015550124"}
	f.q.Enqueue(ctx, notice(notify.RecoveryCodeUsed), notify.Recipients{Email: "alice@example.org", Phones: phones})
	for _, r := range rows(t, f.s) {
		for _, p := range phones {
			if bytes.Contains(r.Recipient, []byte(p)) || strings.Contains(r.Payload, p) || strings.Contains(r.Payload, p[2:]) {
				t.Fatalf("row %s holds the number %s in clear", r.ID, p)
			}
		}
		if r.Channel != notify.SMS {
			t.Fatalf("row on channel %s; only sms is on", r.Channel)
		}
	}
	f.runOnce(t)
	if len(f.sms.msgs) != 2 || f.sms.msgs[0].To != phones[0] || f.sms.msgs[1].To != phones[1] {
		t.Fatalf("texts %+v", f.sms.msgs)
	}
	body := f.sms.msgs[0].Body
	for _, want := range []string{"Example SSO", "recovery code", "alice", "https://help.example.com/security"} {
		if !strings.Contains(body, want) {
			t.Errorf("text %q lacks %q", body, want)
		}
	}
	// The cap: 3 a day per user, 2 used.
	f.q.Enqueue(ctx, notice(notify.RecoveryCodeUsed), notify.Recipients{Phones: phones})
	if f.get("sms dropped sms_cap") != 1 {
		t.Fatalf("counts %v, want one text dropped by the cap", f.count)
	}
	f.clock.add(24 * time.Hour)
	f.q.Enqueue(ctx, notice(notify.RecoveryCodeUsed), notify.Recipients{Phones: phones[:1]})
	if f.get("sms dropped sms_cap") != 1 {
		t.Fatalf("the cap still held a day later: %v", f.count)
	}
}

// TestTwoWorkersOnePostgres: two workers over two connections pools to
// one PostgreSQL database drain a queue together; every notice is sent
// exactly once.
func TestTwoWorkersOnePostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func() *store.Store {
		s, err := store.Open(ctx, store.Postgres, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s1 := open()
	if _, err := s1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, s1, notify.QueueConfig{Email: true, Size: 1000, SMSPerUserDay: 10})
	const n = 40
	for i := range n {
		nt := notice(notify.MethodAdded)
		nt.Username = "user" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		f.q.Enqueue(ctx, nt, notify.Recipients{Email: nt.Username + "@example.org"})
	}
	w2 := f.worker(t, open())
	var wg sync.WaitGroup
	for _, w := range []*notify.Worker{f.w, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n { // bounded
				if k, err := w.RunOnce(ctx); err != nil || k == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	got := f.srv.Wait(t, n, 10*time.Second)
	seen := map[string]int{}
	for _, m := range got {
		seen[parse(t, m).header.Get("Message-Id")]++
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("%d messages, %d distinct, want %d", len(got), len(seen), n)
	}
}

// TestEveryKindRenders: each kind has a subject, a text and an HTML body
// and a text message, naming the brand, the user, the time, the address
// and the browser, and the support contact; none has a link but the
// support ones.
func TestEveryKindRenders(t *testing.T) {
	links := regexp.MustCompile(`(?i)(https?://|www\.)[^\s"<>]*`)
	allowed := map[string]bool{"https://help.example.com/security": true, "https://chat.example.com/": true}
	for _, k := range notify.Kinds {
		t.Run(string(k), func(t *testing.T) {
			n := notice(k)
			n.At = time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
			r, err := notify.RenderMail(brand, n)
			if err != nil {
				t.Fatal(err)
			}
			text, err := notify.RenderSMS(brand, n)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.Subject, "Example SSO: ") || strings.ContainsAny(r.Subject, "\r\n") {
				t.Errorf("subject %q", r.Subject)
			}
			for _, body := range []string{r.Text, r.HTML} {
				for _, want := range []string{"alice", "Mon 30 Nov 2026 09:15 UTC", "203.0.113.7", "Firefox on Linux", "help.example.com/security"} {
					if !strings.Contains(body, want) {
						t.Errorf("body lacks %q:\n%s", want, body)
					}
				}
			}
			for _, body := range []string{r.Subject, r.Text, r.HTML, text} {
				for _, l := range links.FindAllString(body, -1) {
					if !allowed[l] {
						t.Errorf("link %q in a message", l)
					}
				}
			}
		})
	}
	if _, err := notify.RenderMail(brand, notify.Notice{Kind: "no_such_kind"}); err == nil {
		t.Error("an unknown kind rendered")
	}
}

// TestHostileFields: what a client or a user chose cannot put a link or
// markup into a message: an unknown method type is not copied, HTML is
// escaped. (The User-Agent never reaches a notice: auth's
// TestNoticeBrowserNames.)
func TestHostileFields(t *testing.T) {
	n := notify.Notice{Kind: notify.NewDevice, Username: "alice", At: time.Now(), IP: "198.51.100.1",
		Browser: notify.Summarize("Firefox", "Linux"), Method: `<script>http://evil.example</script>`}
	r, err := notify.RenderMail(notify.Brand{Name: "A & <B>"}, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{r.Subject, r.Text, r.HTML} {
		if strings.Contains(body, "evil") || strings.Contains(body, "<script") {
			t.Errorf("hostile text in a message:\n%s", body)
		}
	}
	if !strings.Contains(r.HTML, "A &amp; &lt;B&gt;") {
		t.Errorf("brand not escaped in HTML:\n%s", r.HTML)
	}
}

package gateway

import (
	"context"
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/sms"
)

// KannelConfig configures the kannel provider.
type KannelConfig struct {
	// URL is smsbox's sendsms endpoint, for example
	// http://127.0.0.1:13013/cgi-bin/sendsms.
	URL string
	// Username and Password are a sendsms-user of smsbox. The password
	// travels in the query string (the sendsms interface has no other
	// way), so keep smsbox on a private network or behind TLS; it never
	// appears in an error.
	Username, Password string
	// From is the sender shown on the phone; empty means smsbox's
	// global-sender.
	From string
}

// Kannel sends through the HTTP sendsms interface of a Kannel smsbox
// (https://www.kannel.org/userguide.shtml, "Sending SMS"). smsbox answers
// 202 "0: Accepted for delivery" (or 200 "0: Sent", 202 "3: Queued for
// later delivery") on success and 403 when the user or password is wrong.
type Kannel struct {
	base   *url.URL
	host   string // scheme://host, for errors
	cfg    KannelConfig
	client *http.Client
}

var _ sms.Sender = (*Kannel)(nil)

// NewKannel returns the kannel provider. client may be nil: then calls time
// out after 10 s and redirects are not followed.
func NewKannel(cfg KannelConfig, client *http.Client) (*Kannel, error) {
	u, err := parseBaseURL("kannel", "URL", cfg.URL)
	if err != nil {
		return nil, err
	}
	return &Kannel{base: u, host: endpoint(u), cfg: cfg, client: httpClient(client)}, nil
}

// Name returns "kannel".
func (k *Kannel) Name() string { return "kannel" }

// Send asks smsbox to send m.
func (k *Kannel) Send(ctx context.Context, m sms.Message) error {
	if err := sms.Check(ctx, k.Name(), m); err != nil {
		return err
	}
	u := *k.base
	q := u.Query()
	q.Set("username", k.cfg.Username)
	q.Set("password", k.cfg.Password)
	q.Set("to", m.To)
	q.Set("text", m.Body)
	if k.cfg.From != "" {
		q.Set("from", k.cfg.From)
	}
	// coding=0 is the GSM 7-bit alphabet, one 160-character segment; sms.Text
	// writes ASCII so nothing is lost in it. charset names the encoding of
	// text in this request.
	q.Set("charset", "UTF-8")
	q.Set("coding", "0")
	u.RawQuery = q.Encode()
	target := u.String()

	a, err := roundTrip(ctx, k.client, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	})
	if err != nil {
		return sms.Fail(k.Name(), sms.MsgUnavailable, false, "%w", err)
	}
	if a.status >= 200 && a.status < 300 {
		return nil
	}
	// 403 means wrong credentials, which only the operator can fix; the
	// person reads the generic sentence, never a word about credentials.
	// The cause quotes smsbox's answer with password and text cut out.
	return statusFailure(k.Name(), a, k.host, m, k.cfg.Password)
}

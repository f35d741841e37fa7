package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/sms"
)

// Header names of a signed webhook request.
const (
	// TimestampHeader carries the Unix time, in seconds, the request was
	// signed at.
	TimestampHeader = "X-Twostep-Timestamp"
	// SignatureHeader carries "sha256=" and the lower-case hex
	// HMAC-SHA256, keyed with the shared secret, of the timestamp, ".",
	// and the raw request body.
	SignatureHeader = "X-Twostep-Signature"
)

// WebhookConfig configures the webhook provider.
type WebhookConfig struct {
	// URL receives a POST per message.
	URL string
	// Secret, when set, signs every request (see Webhook).
	Secret string
	// Now is the clock for sent_at and the timestamp; nil means time.Now.
	Now func() time.Time
}

// Webhook POSTs each message as JSON {"to","body","sent_at"} to a URL, for
// gateways twostep has no provider for. Any 2xx answer means sent.
//
// With a secret, the request carries X-Twostep-Timestamp and
// X-Twostep-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." +
// body)). The receiver recomputes the HMAC over the raw body it read,
// compares in constant time, and refuses timestamps more than a few
// minutes old: the signature proves the request comes from twostep and
// the timestamp, being signed, stops an attacker replaying a captured
// request to text someone again (the scheme Stripe and Slack use for
// their webhooks).
type Webhook struct {
	target *url.URL
	host   string // scheme://host, for errors: the path may hold a token
	secret []byte
	now    func() time.Time
	client *http.Client
}

var _ sms.Sender = (*Webhook)(nil)

// NewWebhook returns the webhook provider. client may be nil: then calls
// time out after 10 s and redirects are not followed.
func NewWebhook(cfg WebhookConfig, client *http.Client) (*Webhook, error) {
	u, err := parseBaseURL("webhook", "URL", cfg.URL)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	w := &Webhook{target: u, host: endpoint(u), now: now, client: httpClient(client)}
	if cfg.Secret != "" {
		w.secret = []byte(cfg.Secret)
	}
	return w, nil
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// webhookBody is the JSON posted; the field order is the documented one.
type webhookBody struct {
	To     string `json:"to"`
	Body   string `json:"body"`
	SentAt string `json:"sent_at"`
}

// Send posts m to the webhook.
func (w *Webhook) Send(ctx context.Context, m sms.Message) error {
	if err := sms.Check(ctx, w.Name(), m); err != nil {
		return err
	}
	now := w.now()
	payload, err := json.Marshal(webhookBody{To: m.To, Body: m.Body, SentAt: now.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return sms.Fail(w.Name(), sms.MsgUnavailable, true, "encode: %w", err)
	}
	var ts, sig string
	if w.secret != nil {
		ts = strconv.FormatInt(now.Unix(), 10)
		sig = Signature(w.secret, ts, payload)
	}
	target := w.target.String()
	a, err := roundTrip(ctx, w.client, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(TimestampHeader, ts)
			req.Header.Set(SignatureHeader, sig)
		}
		return req, nil
	})
	if err != nil {
		return sms.Fail(w.Name(), sms.MsgUnavailable, false, "%w", err)
	}
	if a.status >= 200 && a.status < 300 {
		return nil
	}
	return statusFailure(w.Name(), a, w.host, m, string(w.secret))
}

// Signature returns the SignatureHeader value for a request body signed at
// timestamp (decimal Unix seconds) with secret. Receivers written in Go
// can call it and compare with hmac.Equal.
func Signature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

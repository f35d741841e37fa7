// Package mailer sends the notification e-mails over SMTP with
// github.com/wneessen/go-mail: STARTTLS (required, never opportunistic),
// implicit TLS, or plain SMTP to a loopback relay; authentication when a
// username is set (the strongest mechanism the server offers, never PLAIN
// without TLS). It implements notify.Mailer; only cli imports it.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/notify"
)

// TLS modes (notify.smtp.tls).
const (
	StartTLS = "starttls" // port 587: STARTTLS is required; a server that does not offer it is refused
	TLS      = "tls"      // port 465: TLS from the first byte
	None     = "none"     // plain SMTP, allowed by config only to a loopback host
)

// Config is the SMTP server and the sender.
type Config struct {
	Host     string
	Port     int
	TLS      string
	Username string // "" for no authentication
	Password string
	From     string // "Name <address>" or an address
	// TLSConfig, when set, replaces the default (system roots, TLS 1.2 or
	// later, ServerName Host): tests pass their own CA.
	TLSConfig *tls.Config
	Timeout   time.Duration // whole connection; 0 is go-mail's 15 s

}

// Mailer sends one message per connection: notices are rare, and a fresh
// connection per message keeps no state between sends to go stale.
type Mailer struct {
	cfg  Config
	opts []gomail.Option
}

// New checks cfg and returns a Mailer. It does not connect.
func New(cfg Config) (*Mailer, error) {
	opts := []gomail.Option{gomail.WithPort(cfg.Port)}
	if cfg.Timeout > 0 {
		opts = append(opts, gomail.WithTimeout(cfg.Timeout))
	}
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = cfg.Host
		}
	}
	switch cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tc))
	case TLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(tc))
	case None:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("unknown TLS mode %q", cfg.TLS)
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	m := &Mailer{cfg: cfg, opts: opts}
	if _, err := m.message(notify.Mail{To: "check@example.com"}); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mailer) message(n notify.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.cfg.From); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(n.To); err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", notify.ErrPermanent, err)
	}
	msg.Subject(n.Subject)
	if n.MessageID != "" {
		msg.SetMessageIDWithValue(n.MessageID)
	}
	if !n.Date.IsZero() {
		msg.SetDateWithValue(n.Date)
	}
	// Automated mail: no out-of-office replies to the sender.
	msg.SetBulk()
	msg.SetBodyString(gomail.TypeTextPlain, n.Text)
	if n.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, n.HTML)
	}
	return msg, nil
}

// Send delivers one message; nil means the server accepted it. A 5xx
// answer is permanent (notify.ErrPermanent); anything else — no
// connection, a 4xx, a timeout — may pass on a retry.
func (m *Mailer) Send(ctx context.Context, n notify.Mail) error {
	msg, err := m.message(n)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(m.cfg.Host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: smtp: %v", notify.ErrPermanent, err)
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

package sms

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Message is one text message to send.
type Message struct {
	// To is the recipient in E.164 form ("+12015550123").
	To string
	// Body is the text, usually made by Text. It contains the code: never
	// log it.
	Body string
}

// Sender sends text messages through one provider. Implementations are
// safe for concurrent use.
type Sender interface {
	// Send hands m to the provider once (see the package comment: a send
	// that may have reached the provider is never repeated). It returns
	// nil when the provider accepted the message, and a *SendError
	// otherwise. A cancelled ctx stops it before sending.
	Send(ctx context.Context, m Message) error
	// Name is the provider's name as in the configuration ("twilio"), for
	// logs and audit entries.
	Name() string
}

// Messages shown to the person when sending fails, the values of
// SendError.Msg. They say what to do and nothing about the provider or its
// configuration. Every provider, here or in package gateway, picks from
// this one list.
const (
	// MsgUnavailable is the generic failure: the provider is down, refused
	// the request or answered something unexpected.
	MsgUnavailable = "We could not send the text, try again or use another method."
	// MsgInvalidTo: the recipient is not a valid number.
	MsgInvalidTo = "That phone number is not valid. Check it, or use another method."
	// MsgNotMobile: the number exists but cannot receive texts.
	MsgNotMobile = "That number cannot receive text messages. Use a mobile number, or another method."
	// MsgRegion: the provider account may not send to that country.
	MsgRegion = "We cannot send text messages to that country. Use another method."
	// MsgUnsubscribed: the recipient replied STOP.
	MsgUnsubscribed = "That phone has blocked our text messages (someone replied STOP). Reply START to one of our texts, or use another method."
	// MsgCannotRoute: no route from the provider to that number.
	MsgCannotRoute = "We cannot send text messages to that number. Use another method."
)

// SendError is the error of every failed Send. Msg goes to the person; the
// whole error, with its cause, goes to the log and the audit trail.
type SendError struct {
	// Msg is a safe sentence for the person, such as "We could not send
	// the text, try again or use another method."
	Msg string
	// Permanent reports that sending the same message again will fail
	// the same way (an invalid number, a rejected configuration).
	Permanent bool
	// Err is the cause for the log: provider, status and the provider's
	// own words, with the number masked and no body or credentials.
	Err error
}

// Error returns the cause for the log.
func (e *SendError) Error() string {
	if e.Err == nil {
		return "sms: " + e.Msg
	}
	return "sms: " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) works.
func (e *SendError) Unwrap() error { return e.Err }

// Fail builds a *SendError whose cause starts with the provider's name.
// format and args make the cause: never put the body, a credential or an
// unmasked number in them (see Quote).
func Fail(provider, msg string, permanent bool, format string, args ...any) *SendError {
	return &SendError{Msg: msg, Permanent: permanent, Err: fmt.Errorf(provider+": "+format, args...)}
}

// Check refuses what no provider should be asked to send: a cancelled
// context, a recipient that is not E.164 (it would let a caller reach
// short codes or inject gateway parameters), an empty body. Every
// provider's Send calls it first and returns its error as it is.
func Check(ctx context.Context, provider string, m Message) error {
	if err := ctx.Err(); err != nil {
		return Fail(provider, MsgUnavailable, false, "not sent: %w", err)
	}
	if !isE164(m.To) {
		return Fail(provider, MsgInvalidTo, true, "not sent: recipient %s is not an E.164 number", mask(m.To))
	}
	if m.Body == "" {
		return Fail(provider, MsgUnavailable, true, "not sent: empty body")
	}
	return nil
}

// isE164 reports whether s is "+" and 7 to 15 digits, the first not 0.
// The shortest numbers in use are 7 digits with their country code
// (Tokelau, Niue); anything shorter is a short code, not a phone.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mask shows at most the last four digits of a phone number and always
// hides at least four, like phone.Mask (kept here so sms stays a leaf).
func mask(number string) string {
	var digits []byte
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	show := min(4, max(0, len(digits)-4))
	if show == 0 {
		return "••••"
	}
	return "•••• " + string(digits[len(digits)-show:])
}

// maxQuoted is how much of a provider's answer an error quotes (Quote).
const maxQuoted = 200

// Quote makes a provider's answer fit for an error cause: the recipient
// number masked, the message body, any run of six or more digits (a code,
// or the number in another format) and the given secrets cut out, control
// characters flattened, and the rest cut to maxQuoted bytes. Redaction
// happens before the cut, so a secret cannot survive half-cut.
func Quote(b []byte, m Message, secrets ...string) string {
	s := strings.ToValidUTF8(string(b), "?")
	if m.Body != "" {
		s = strings.ReplaceAll(s, m.Body, "[body]")
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	if m.To != "" {
		s = strings.ReplaceAll(s, m.To, mask(m.To))
		if len(m.To) > 1 {
			s = strings.ReplaceAll(s, m.To[1:], mask(m.To))
		}
	}
	var out strings.Builder
	run := 0
	flush := func(digits string) {
		if len(digits) >= 6 {
			out.WriteString("[digits]")
		} else {
			out.WriteString(digits)
		}
	}
	start := 0
	for i, r := range s {
		if r >= '0' && r <= '9' {
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if run > 0 {
			flush(s[start:i])
			run = 0
		}
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		out.WriteRune(r)
	}
	if run > 0 {
		flush(s[start:])
	}
	q := strings.TrimSpace(out.String())
	if len(q) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(q[cut]) {
			cut--
		}
		q = q[:cut] + "..."
	}
	return q
}

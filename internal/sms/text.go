package sms

import (
	"net"
	"net/url"
	"strings"
)

// Text returns the body of a code message:
//
//	Your <app> code is <code>. It expires in 5 minutes. Don't share it.
//
//	@<host> #<code>
//
// The last line is an origin-bound one-time code
// (https://wicg.github.io/sms-one-time-codes/): browsers (Safari, Chrome
// through the WebOTP API) offer to fill the code in only on pages of that
// host, which also defeats a phishing page asking for it. host is the host
// of public_url. The format has no room for a scheme or a port (the spec
// turns the line into the origin https://<host>), so a port is dropped;
// the host must be ASCII (an IDN in its xn-- form). When host is not a
// domain name the format can carry (empty, an IPv6 address), the line is
// left out and the rest of the message still works.
//
// The text is ASCII only, whatever app holds: curly quotes and dashes are
// straightened, other non-ASCII characters become "?" and line breaks
// spaces, so every gateway passes it through unmangled in the GSM 7-bit
// alphabet. '@' and '#' are dropped from app so that it cannot forge a
// WebOTP line. Keep app short: a
// text over 160 characters is sent, and paid for, as two.
func Text(app, code, host string) string {
	code = ascii(code, true)
	body := "Your " + ascii(app, false) + " code is " + code + ". It expires in 5 minutes. Don't share it."
	if h := webOTPHost(host); h != "" && code != "" {
		body += "\n\n@" + h + " #" + code
	}
	return body
}

// ascii returns s with every character the GSM 7-bit default alphabet
// lacks, or that would break the message's lines, replaced by a safe ASCII
// one, and '@' and '#' dropped. With token set, it keeps only characters a
// WebOTP code may hold (printable, no space, '@' or '#').
func ascii(s string, token bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case token:
			if r > ' ' && r < 0x7f && r != '#' && r != '@' {
				b.WriteRune(r)
			}
		case r == '\u2018' || r == '\u2019' || r == '`' || r == '\u00b4':
			b.WriteByte('\'')
		case r == '\u201c' || r == '\u201d' || r == '\u00ab' || r == '\u00bb':
			b.WriteByte('"')
		case r >= '\u2010' && r <= '\u2015' || r == '\u2212':
			b.WriteByte('-')
		case r == '\u2026':
			b.WriteString("...")
		case r < ' ' || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case r == '@' || r == '#':
			// dropped, so no part of app can read as a WebOTP line
			// (browsers search the whole text for "@host #code")
		case r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return strings.TrimSpace(b.String())
}

// webOTPHost returns the host for the WebOTP line, or "" when host cannot
// be written in it. Browsers accept only [a-zA-Z0-9.-] there (Chromium's
// sms_parser), so a port is removed and anything else is refused.
func webOTPHost(host string) string {
	host = strings.TrimSpace(host)
	if strings.Contains(host, "://") {
		if u, err := url.Parse(host); err == nil {
			host = u.Host
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || len(host) > 253 || strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return ""
	}
	return host
}

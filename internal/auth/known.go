package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Known browsers: per-account password throttling that an attacker cannot
// turn into a lock-out of the real person (docs/throttling.md; OWASP
// "Slow Down Online Guessing Attacks with Device Cookies").
//
// Every password attempt is counted against the account before the hash is
// checked (so a burst of parallel guesses cannot all pass), whatever the
// number of addresses it comes from and for unknown names alike (so the
// answer reveals nothing about which names exist); the right password gives
// the attempt back. Attempts from browsers that are not known share one
// allowance per account; once it is spent they are refused until its window
// ends. A browser that signed in to that account before presents its
// known-browser token and spends its own allowance instead, so a guessing
// attack from elsewhere never locks the person out on their usual browser.
//
// The token is stateless: "v1.<key id>.<nonce and issue time>.<MAC>", the
// MAC (the keyring's HMAC-SHA256, purpose "known-browser", cut to 128 bits)
// binding the user name, the nonce and the issue time. It cannot be forged
// without the key file, names nobody (the name is only in the MAC), expires
// after KnownBrowserTTL, and is reissued at each successful sign-in. Its
// nonce keys the browser's own allowance.

// KnownBrowserTTL is how long a known-browser token stays valid after the
// sign-in that issued it.
const KnownBrowserTTL = 90 * 24 * time.Hour

const (
	knownPurpose = "known-browser"
	knownMACLen  = 16
)

var b64 = base64.RawURLEncoding

// issueKnownBrowser returns a new known-browser token for the user name
// (normalised), or "" if the key cannot MAC (the sign-in still succeeds).
func (s *Service) issueKnownBrowser(name string) string {
	var payload [20]byte // 12-byte nonce, 8-byte issue time (unix seconds)
	rand.Read(payload[:12])
	binary.BigEndian.PutUint64(payload[12:], uint64(s.d.Now().Unix()))
	kid := s.d.Keys.PrimaryID()
	mac, err := s.d.Keys.MAC(kid, knownPurpose, knownData(name, payload[:]))
	if err != nil {
		return ""
	}
	return "v1." + kid + "." + b64.EncodeToString(payload[:]) + "." + b64.EncodeToString(mac[:knownMACLen])
}

// knownBrowser returns the allowance key of tok when it is a valid,
// unexpired known-browser token of the user name, else "".
func (s *Service) knownBrowser(tok, name string) string {
	if tok == "" || len(tok) > 128 {
		return ""
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return ""
	}
	payload, err1 := b64.DecodeString(parts[2])
	mac, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(payload) != 20 || len(mac) != knownMACLen {
		return ""
	}
	want, err := s.d.Keys.MAC(parts[1], knownPurpose, knownData(name, payload))
	if err != nil || !hmac.Equal(mac, want[:knownMACLen]) {
		return ""
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[12:])), 0)
	if age := s.d.Now().Sub(issued); age < -time.Minute || age > KnownBrowserTTL {
		return ""
	}
	return parts[2][:16] // the nonce: the browser's own allowance
}

func knownData(name string, payload []byte) []byte {
	return append([]byte(name+"\x00"), payload...)
}

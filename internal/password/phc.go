package password

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
// Strict refuses non-canonical trailing bits, so each hash has one spelling.
var b64 = base64.RawStdEncoding.Strict()

// errMalformed is returned for any stored hash that does not parse. It
// never quotes the hash.
var errMalformed = errors.New("password: malformed argon2id hash")

// maxEncodedLen is far above the longest valid string (~300 bytes).
const maxEncodedLen = 512

// phc is a parsed "$argon2id$v=19$m=…,t=…,p=…$salt$key" string.
type phc struct {
	p    Params // SaltLen and KeyLen taken from salt and key
	salt []byte
	key  []byte
}

func encode(p Params, salt, key []byte) string {
	var sb strings.Builder
	sb.WriteString("$argon2id$v=")
	sb.WriteString(strconv.Itoa(argon2.Version))
	sb.WriteString("$m=")
	sb.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	sb.WriteString(",t=")
	sb.WriteString(strconv.FormatUint(uint64(p.Time), 10))
	sb.WriteString(",p=")
	sb.WriteString(strconv.FormatUint(uint64(p.Threads), 10))
	sb.WriteByte('$')
	sb.WriteString(b64.EncodeToString(salt))
	sb.WriteByte('$')
	sb.WriteString(b64.EncodeToString(key))
	return sb.String()
}

// decode parses a PHC argon2id string strictly: only version 19, the
// parameters m, t, p in that order, and values within the limits that
// Params.Validate enforces.
func decode(s string) (phc, error) {
	if len(s) > maxEncodedLen {
		return phc{}, errMalformed
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errMalformed
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return phc{}, errMalformed
	}
	m, okM := param(ps[0], "m=", 32)
	t, okT := param(ps[1], "t=", 32)
	th, okP := param(ps[2], "p=", 8)
	salt, errS := b64.DecodeString(f[4])
	key, errK := b64.DecodeString(f[5])
	if !okM || !okT || !okP || errS != nil || errK != nil {
		return phc{}, errMalformed
	}
	h := phc{
		p:    Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		salt: salt,
		key:  key,
	}
	if h.p.Validate() != nil {
		return phc{}, errMalformed
	}
	return h, nil
}

// param parses "name=<decimal>" into an unsigned integer of the given size.
// Signs, spaces and empty values are refused.
func param(s, name string, bits int) (uint64, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || v[0] < '0' || v[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, bits)
	return n, err == nil
}

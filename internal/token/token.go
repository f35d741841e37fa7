package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
)

// idEncoding is lowercase RFC 4648 base32 without padding: case-insensitive
// databases and URLs cannot mangle it, and it never needs escaping.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns a fresh 256-bit token encoded as unpadded base64url (43
// characters). It is used for session and invite tokens: ASVS V3.2.2 asks
// for at least 64 bits of entropy and SP 800-63B §7.1 for 64; 256 bits also
// leaves no room for online guessing across many instances.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24; it crashes the program instead.
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the SHA-256 digest (32 bytes) under which a token is stored
// and looked up. Only the hash reaches the database, so a read-only leak of
// it does not hand out live sessions (ASVS V3.2.3 / OWASP Session Management
// Cheat Sheet). A plain hash suffices because tokens are 256-bit random:
// there is nothing to brute-force.
func Hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// NewID returns a fresh 128-bit random identifier as 26 lowercase base32
// characters, for database primary keys. Random ids do not reveal how many
// users or factors exist, nor let one guess a neighbour's id.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

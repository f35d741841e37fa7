// Package token owns twostep's random identifiers and one-time secrets:
// session and invite tokens with their server-side lookup hashes, database
// primary keys, recovery codes and numeric codes.
//
// Everything here draws from crypto/rand only. Tokens carry 256 bits and
// recovery codes about 50 bits of entropy, above the 112-bit and 20-bit
// floors NIST SP 800-63B (§5.1.2, §5.1.1.2) and OWASP ASVS V3.2.2 / V2.6
// set for session secrets and look-up secrets.
package token

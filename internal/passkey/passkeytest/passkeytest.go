// Package passkeytest helps tests drive passkeys with a software
// authenticator (github.com/descope/virtualwebauthn, a test double that
// speaks for a browser and an authenticator: EC2 keys, packed self
// attestation).
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"

	"github.com/descope/virtualwebauthn"
)

// NewCredential returns a software credential with a P-256 key whose
// coordinates both take the full 32 bytes. virtualwebauthn writes a
// coordinate's big.Int bytes without leading zeros, so about one key in 64
// would come out as a COSE key a correct relying party refuses ("x or y
// coordinate has invalid length") and make tests fail at random.
func NewCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		pub, err := k.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
		if err != nil {
			panic(err)
		}
		if pub[1] == 0 || pub[33] == 0 {
			continue // a leading zero byte: virtualwebauthn would drop it
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Key sizes and derivation labels. Deriving separate subkeys for AEAD and
// MAC means one file key is never used directly for two algorithms
// (NIST SP 800-57 Part 1 §5.2, key usage; SP 800-108 / RFC 5869 for the
// derivation). Changing a label invalidates everything sealed with it.
const (
	keyLen    = 32 // AES-256 and HMAC-SHA256 key length, bytes
	nonceLen  = 12 // GCM standard nonce, SP 800-38D §8.2.2
	aeadInfo  = "twostep aead v1"
	macPrefix = "twostep mac v1 "
)

var (
	errUnknownKey = errors.New("keyring: unknown key id")
	errOpen       = errors.New("keyring: message authentication failed")
	errEmpty      = errors.New("keyring: no keys")
)

// Keyring holds the keys from one key file. It is immutable after Load or
// Generate and safe for concurrent use.
type Keyring struct {
	keys    map[string]*entry
	ids     []string // file order, primary last
	primary string
}

// entry is one file key with its ready-made AEAD, so Seal and Open never
// re-derive keys or rebuild the cipher per call.
type entry struct {
	secret [keyLen]byte // the file key: input to HKDF only
	aead   cipher.AEAD
}

func newEntry(secret []byte) (*entry, error) {
	e := &entry{}
	copy(e.secret[:], secret)
	// No salt: the file key is already uniformly random, which is the case
	// RFC 5869 §3.1 allows to go without one.
	k, err := hkdf.Key(sha256.New, e.secret[:], nil, aeadInfo, keyLen)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive aead key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	e.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return e, nil
}

// add appends a key; the last one added becomes primary.
func (k *Keyring) add(id string, secret []byte) error {
	if _, dup := k.keys[id]; dup {
		return fmt.Errorf("duplicate key id %q", id)
	}
	e, err := newEntry(secret)
	if err != nil {
		return err
	}
	if k.keys == nil {
		k.keys = make(map[string]*entry)
	}
	k.keys[id] = e
	k.ids = append(k.ids, id)
	k.primary = id
	return nil
}

// Generate returns an in-memory keyring with one fresh key. The server
// always loads its keys from the key file (LoadOrCreate); Generate serves test
// fixtures (auth/authtest) that need a working keyring and no file.
func Generate() *Keyring {
	id, secret := newKey(nil)
	k := &Keyring{}
	if err := k.add(id, secret[:]); err != nil {
		panic(err) // cannot happen: a 32-byte key always makes an AES cipher
	}
	return k
}

// newKey returns a fresh random key and an id not present in taken.
func newKey(taken map[string]*entry) (string, [keyLen]byte) {
	var secret [keyLen]byte
	rand.Read(secret[:]) // never fails since Go 1.24
	for {
		var b [4]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		if _, dup := taken[id]; !dup {
			return id, secret
		}
	}
}

// PrimaryID returns the id of the key used for new seals and MACs.
func (k *Keyring) PrimaryID() string { return k.primary }

// IDs returns every key id in file order; the primary is last.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Seal encrypts plaintext with the primary key using AES-256-GCM and returns
// the key id to store beside the record and nonce||ciphertext||tag. aad is
// authenticated but not stored; pass something naming the record (e.g.
// "factor:<id>") so a sealed value copied into another row fails to open.
//
// Nonces are 96-bit random. SP 800-38D §8.3 limits a key to 2^32 random-nonce
// seals; a twostep deployment seals once per enrolment, far below that, and
// rotation starts a fresh budget.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, sealed []byte, err error) {
	e, ok := k.keys[k.primary]
	if !ok {
		return "", nil, errEmpty
	}
	out := make([]byte, nonceLen, nonceLen+len(plaintext)+e.aead.Overhead())
	rand.Read(out)
	return k.primary, e.aead.Seal(out, out, plaintext, aad), nil
}

// Open decrypts what Seal returned under keyID with the same aad. An unknown
// key id, a wrong aad, short or altered input all give an error, never a
// panic and never partial plaintext.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	e, ok := k.keys[keyID]
	if !ok {
		return nil, errUnknownKey
	}
	if len(sealed) < nonceLen+e.aead.Overhead() {
		return nil, errOpen
	}
	pt, err := e.aead.Open(nil, sealed[:nonceLen], sealed[nonceLen:], aad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// MAC returns HMAC-SHA256(subkey, data), 32 bytes, where the subkey is
// derived from key keyID with HKDF-SHA256 and info "twostep mac v1 "+purpose.
// Recovery and SMS codes are stored this way instead of as plain or salted
// hashes: with ~50 or 20 bits of entropy a plain hash falls to brute force,
// whereas without the key file a stolen database gives nothing to test
// guesses against (SP 800-63B §5.1.2.2, §5.2.7 on keyed verifier storage).
// purpose separates uses (e.g. "recovery", "sms") so a value MAC'd for one
// cannot be replayed as another; it must not be empty. Store keyID with the
// MAC and pass it back to verify after rotation; compare with hmac.Equal.
func (k *Keyring) MAC(keyID, purpose string, data []byte) ([]byte, error) {
	e, ok := k.keys[keyID]
	if !ok {
		return nil, errUnknownKey
	}
	if purpose == "" {
		return nil, errors.New("keyring: MAC needs a purpose")
	}
	// Derived per call rather than cached: MAC runs once per code check and
	// HKDF costs a few microseconds, so a cache would only add shared state.
	sub, err := hkdf.Key(sha256.New, e.secret[:], nil, macPrefix+purpose, keyLen)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive mac key: %w", err)
	}
	m := hmac.New(sha256.New, sub)
	m.Write(data)
	return m.Sum(nil), nil
}

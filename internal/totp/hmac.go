package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
)

// alg identifies a hash function without going through hash.Hash, whose
// constructors allocate.
type alg uint8

const (
	algSHA1 alg = iota + 1
	algSHA256
	algSHA512
)

// maxBlock is the largest block size (SHA-512), maxSum the largest digest.
const (
	maxBlock = sha512.BlockSize
	maxSum   = sha512.Size
)

func (a alg) blockSize() int {
	switch a {
	case algSHA1:
		return sha1.BlockSize
	case algSHA256:
		return sha256.BlockSize
	default:
		return sha512.BlockSize
	}
}

// sum writes H(data) to out and returns its length. The one-shot Sum
// functions keep their state on the stack, unlike hash.Hash values.
func (a alg) sum(out *[maxSum]byte, data []byte) int {
	switch a {
	case algSHA1:
		s := sha1.Sum(data)
		return copy(out[:], s[:])
	case algSHA256:
		s := sha256.Sum256(data)
		return copy(out[:], s[:])
	default:
		s := sha512.Sum512(data)
		return copy(out[:], s[:])
	}
}

// hmacKey is an HMAC key expanded into its inner and outer pad blocks
// (RFC 2104 §2: K XOR ipad, K XOR opad), built once and used for every
// counter a Validate call tries.
type hmacKey struct {
	alg  alg
	ipad [maxBlock]byte
	opad [maxBlock]byte
}

// init sets the pads from key. Keys longer than the block size are hashed
// first, as RFC 2104 §2 requires; shorter ones are zero-padded.
func (k *hmacKey) init(a alg, key []byte) {
	k.alg = a
	bs := a.blockSize()
	var hashed [maxSum]byte
	if len(key) > bs {
		key = hashed[:a.sum(&hashed, key)]
	}
	for i := range bs {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		k.ipad[i] = b ^ 0x36
		k.opad[i] = b ^ 0x5c
	}
}

// sumCounter writes HMAC(K, counter as 8 big-endian bytes) to out, as
// RFC 4226 §5.3 step 1 defines HS, and returns its length.
func (k *hmacKey) sumCounter(out *[maxSum]byte, counter uint64) int {
	bs := k.alg.blockSize()
	var buf [maxBlock + maxSum]byte
	copy(buf[:bs], k.ipad[:bs])
	for i := range 8 {
		buf[bs+i] = byte(counter >> (56 - 8*i))
	}
	var inner [maxSum]byte
	n := k.alg.sum(&inner, buf[:bs+8])
	copy(buf[:bs], k.opad[:bs])
	copy(buf[bs:], inner[:n])
	return k.alg.sum(out, buf[:bs+n])
}

// truncate is RFC 4226 §5.3 dynamic truncation: 31 bits taken at the offset
// named by the low nibble of the last byte.
func truncate(hs []byte) uint32 {
	off := hs[len(hs)-1] & 0x0f
	return uint32(hs[off]&0x7f)<<24 | uint32(hs[off+1])<<16 | uint32(hs[off+2])<<8 | uint32(hs[off+3])
}

// hotp returns the HOTP value of counter reduced to digits decimal digits
// (RFC 4226 §5.3 step 3), as an integer.
func (k *hmacKey) hotp(counter uint64, digits int) uint32 {
	var hs [maxSum]byte
	n := k.sumCounter(&hs, counter)
	return truncate(hs[:n]) % pow10(digits)
}

func pow10(n int) uint32 {
	p := uint32(1)
	for range n {
		p *= 10
	}
	return p
}

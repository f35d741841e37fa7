package totp

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/url"
	"strconv"
	"strings"

	"github.com/pquerna/otp"
)

// b32 is RFC 4648 base32 without padding, the secret encoding of the Key
// URI Format; apps and oathtool accept it unpadded.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// errNoSecret is returned when decoding yields no key material.
var errNoSecret = errors.New("totp: empty secret")

// EncodeSecret returns secret as unpadded uppercase base32, the form that
// goes into the otpauth URI and is shown for typing.
func EncodeSecret(secret []byte) string {
	return b32.EncodeToString(secret)
}

// DecodeSecret parses a base32 secret as people and apps write it:
// lowercase, with spaces, with or without '=' padding. No server path
// decodes a secret (twostep makes secrets as bytes and seals them); it is
// kept exported for the tests of auth, web and api, which read the secret
// the API or a page shows back into key bytes, as an authenticator app does.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	s = strings.TrimRight(s, "=")
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp: secret is not valid base32: %w", err)
	}
	if len(b) == 0 {
		return nil, errNoSecret
	}
	return b, nil
}

// URI returns the otpauth://totp/ URI of the Key URI Format: label
// "issuer:account" (or "account" when issuer is empty), then secret,
// issuer, algorithm, digits and period. Spaces are written %20 rather than
// '+', which some apps show literally, and a ':' inside issuer or account
// is escaped so it cannot be read as the label separator.
func URI(issuer, account string, secret []byte, p Params) string {
	label := labelEscape(account)
	if issuer != "" {
		label = labelEscape(issuer) + ":" + label
	}
	var sb strings.Builder
	sb.WriteString("otpauth://totp/")
	sb.WriteString(label)
	sb.WriteString("?secret=")
	sb.WriteString(EncodeSecret(secret))
	if issuer != "" {
		sb.WriteString("&issuer=")
		sb.WriteString(queryEscape(issuer))
	}
	sb.WriteString("&algorithm=")
	sb.WriteString(queryEscape(p.Algorithm))
	sb.WriteString("&digits=")
	sb.WriteString(strconv.Itoa(p.Digits))
	sb.WriteString("&period=")
	sb.WriteString(strconv.Itoa(p.Period))
	return sb.String()
}

func labelEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

func queryEscape(s string) string {
	// QueryEscape turns a literal '+' into %2B, so every '+' left is a space.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// maxQRSize bounds the image so a mistaken size cannot allocate gigabytes.
const maxQRSize = 4096

// QRPNG returns a size×size PNG of a QR code holding uri, for scanning
// into an authenticator app. The image is two-colour (1 bit per pixel), so
// it stays small when sent base64-encoded in JSON.
func QRPNG(uri string, size int) ([]byte, error) {
	if size <= 0 || size > maxQRSize {
		return nil, fmt.Errorf("totp: QR size %d: want 1 to %d pixels", size, maxQRSize)
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, fmt.Errorf("totp: QR: %w", err)
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("totp: QR: %w", err)
	}
	pal := image.NewPaletted(img.Bounds(), color.Palette{color.White, color.Black})
	draw.Draw(pal, pal.Rect, img, img.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, pal); err != nil {
		return nil, fmt.Errorf("totp: QR: %w", err)
	}
	return buf.Bytes(), nil
}

package totp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"image/png"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectorsFile holds RFC 4226 Appendix D (HOTP) and RFC 6238 Appendix B
// (TOTP) test vectors; its header says where each row comes from.
const vectorsFile = "testdata/otp-vectors.tsv"

// TestVectors checks every RFC 4226 Appendix D (HOTP) and RFC 6238
// Appendix B (TOTP) vector. HOTP counters are run through Code with a
// 1-second period, so that time t is counter t. The file is part of the
// package, so a missing or malformed file fails the test: the vectors
// are the one outside reference this package is checked against.
func TestVectors(t *testing.T) {
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, text := range strings.Split(string(data), "\n") {
		line := i + 1
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fld := strings.Split(text, "\t")
		if len(fld) != 5 && len(fld) != 6 {
			t.Fatalf("line %d: %d fields, want 5 (HOTP) or 6 (TOTP)", line, len(fld))
		}
		alg, key, code := fld[0], []byte(fld[1]), fld[len(fld)-1]
		digits, err1 := strconv.Atoi(fld[len(fld)-2])
		at, err2 := strconv.ParseInt(fld[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		p := Params{Algorithm: alg, Digits: digits, Period: 30, Skew: 1}
		if len(fld) == 5 { // HOTP: algorithm key counter digits code
			p.Period = 1
		} else { // TOTP: algorithm key unix_time step_hex digits code
			wantStep, err := strconv.ParseInt(fld[3], 16, 64)
			if err != nil {
				t.Fatalf("line %d: step: %v", line, err)
			}
			if got := counterAt(time.Unix(at, 0), 30); got != wantStep {
				t.Errorf("line %d: step %x, want %x", line, got, wantStep)
			}
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		t.Run(alg+"/"+fld[2], func(t *testing.T) {
			now := time.Unix(at, 0)
			if got := Code(key, p, now); got != code {
				t.Errorf("Code = %s, want %s", got, code)
			}
			step, ok := Validate(key, p, code, now)
			if !ok || step != counterAt(now, p.Period) {
				t.Errorf("Validate = %d, %v; want %d, true", step, ok, counterAt(now, p.Period))
			}
		})
		n++
	}
	if n != 28 {
		t.Errorf("ran %d vectors, want 28 (10 HOTP + 18 TOTP)", n)
	}
}

// TestHMAC checks the stack-buffer HMAC against crypto/hmac for keys
// shorter than, equal to and longer than each block size.
func TestHMAC(t *testing.T) {
	tests := []struct {
		name string
		alg  alg
		h    func() hash.Hash
	}{
		{"SHA1", algSHA1, sha1.New},
		{"SHA256", algSHA256, sha256.New},
		{"SHA512", algSHA512, sha512.New},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, keyLen := range []int{0, 1, 20, 32, 63, 64, 65, 127, 128, 129, 300} {
				for range 20 {
					key := make([]byte, keyLen)
					rand.Read(key)
					var c [8]byte
					rand.Read(c[:])
					counter := uint64(0)
					for _, b := range c {
						counter = counter<<8 | uint64(b)
					}
					m := hmac.New(tt.h, key)
					m.Write(c[:])
					want := m.Sum(nil)

					var k hmacKey
					k.init(tt.alg, key)
					var out [maxSum]byte
					got := out[:k.sumCounter(&out, counter)]
					if !bytes.Equal(got, want) {
						t.Fatalf("key %d bytes, counter %x: got %x, want %x", keyLen, counter, got, want)
					}
				}
			}
		})
	}
}

func TestSkewWindow(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		skew   int
		offset int // steps from now at which the code is generated
		ok     bool
	}{
		{"now", 1, 0, true},
		{"one step back", 1, -1, true},
		{"one step ahead", 1, 1, true},
		{"two steps back", 1, -2, false},
		{"two steps ahead", 1, 2, false},
		{"skew 0 now", 0, 0, true},
		{"skew 0 one back", 0, -1, false},
		{"skew 0 one ahead", 0, 1, false},
		{"skew 2 two back", 2, -2, true},
		{"skew 2 three ahead", 2, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			p.Skew = tt.skew
			at := now.Add(time.Duration(tt.offset*p.Period) * time.Second)
			code := Code(secret, p, at)
			step, ok := Validate(secret, p, code, now)
			if ok != tt.ok {
				t.Fatalf("Validate(code at %+d steps) ok = %v, want %v", tt.offset, ok, tt.ok)
			}
			if ok && step != counterAt(at, p.Period) {
				t.Errorf("step = %d, want %d", step, counterAt(at, p.Period))
			}
		})
	}
}

// TestStepBoundaries checks that the step changes exactly on period
// boundaries, including before 1970 where division must floor.
func TestStepBoundaries(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2}, {-1, -1}, {-30, -1}, {-31, -2},
	}
	for _, tt := range tests {
		if got := counterAt(time.Unix(tt.unix, 0), 30); got != tt.want {
			t.Errorf("counterAt(%d) = %d, want %d", tt.unix, got, tt.want)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	good := Code(secret, DefaultParams(), now) // 050471
	tests := []struct {
		name   string
		code   string
		secret []byte
		p      Params
	}{
		{"empty", "", secret, DefaultParams()},
		{"letters", "abcdef", secret, DefaultParams()},
		{"letter inside", good[:5] + "x", secret, DefaultParams()},
		{"leading space", " " + good[:5], secret, DefaultParams()},
		{"trailing space", good + " ", secret, DefaultParams()},
		{"inner space", good[:3] + " " + good[3:], secret, DefaultParams()},
		{"five digits", good[:5], secret, DefaultParams()},
		{"seven digits", good + "0", secret, DefaultParams()},
		{"sign", "+" + good[1:], secret, DefaultParams()},
		{"unicode digits", "١٢٣٤٥٦", secret, DefaultParams()},
		{"wrong code", wrongCode(good), secret, DefaultParams()},
		{"empty secret", good, nil, DefaultParams()},
		{"other secret", good, []byte("another secret 12345"), DefaultParams()},
		{"invalid params", good, secret, Params{Algorithm: "MD5", Digits: 6, Period: 30, Skew: 1}},
		{"8-digit params, 6-digit code", good, secret, Params{Algorithm: "SHA1", Digits: 8, Period: 30, Skew: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := Validate(tt.secret, tt.p, tt.code, now); ok {
				t.Errorf("Validate(%q) accepted", tt.code)
			}
		})
	}
	if _, ok := Validate(secret, DefaultParams(), good, now); !ok {
		t.Fatalf("control: good code %s refused", good)
	}
}

// wrongCode returns a code of the same length that differs in its last digit.
func wrongCode(c string) string {
	last := c[len(c)-1]
	return c[:len(c)-1] + string('0'+(last-'0'+1)%10)
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams(), true},
		{"sha256 8 digits", Params{"SHA256", 8, 30, 1}, true},
		{"sha512 60s skew 10", Params{"SHA512", 6, 60, 10}, true},
		{"skew 0", Params{"SHA1", 6, 30, 0}, true},
		{"lowercase algorithm", Params{"sha1", 6, 30, 1}, false},
		{"md5", Params{"MD5", 6, 30, 1}, false},
		{"empty algorithm", Params{"", 6, 30, 1}, false},
		{"7 digits", Params{"SHA1", 7, 30, 1}, false},
		{"0 digits", Params{"SHA1", 0, 30, 1}, false},
		{"period 0", Params{"SHA1", 6, 0, 1}, false},
		{"negative period", Params{"SHA1", 6, -30, 1}, false},
		{"negative skew", Params{"SHA1", 6, 30, -1}, false},
		{"skew 11", Params{"SHA1", 6, 30, 11}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if tt.p.valid() != tt.ok {
				t.Errorf("valid() = %v, want %v", tt.p.valid(), tt.ok)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) != 20 || bytes.Equal(a, b) {
		t.Fatalf("NewSecret: %d bytes, distinct %v", len(a), !bytes.Equal(a, b))
	}
	enc := EncodeSecret(a)
	if len(enc) != 32 || strings.ContainsAny(enc, "=") || strings.ToUpper(enc) != enc {
		t.Errorf("EncodeSecret = %q; want 32 uppercase characters, no padding", enc)
	}
	for _, s := range []string{enc, strings.ToLower(enc), "  " + enc[:4] + " " + enc[4:] + "\n"} {
		got, err := DecodeSecret(s)
		if err != nil || !bytes.Equal(got, a) {
			t.Errorf("DecodeSecret(%q) = %x, %v", s, got, err)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	hello := []byte("Hello!\xde\xad\xbe\xef") // JBSWY3DPEHPK3PXP
	tests := []struct {
		in   string
		want []byte
	}{
		{"JBSWY3DPEHPK3PXP", hello},
		{"jbswy3dpehpk3pxp", hello},
		{"jbsw y3dp ehpk 3pxp", hello},
		{" JBSW\tY3DP\nEHPK 3PXP ", hello},
		{"MZXQ", []byte("fo")},
		{"MZXQ====", []byte("fo")},
		{"mzxq====", []byte("fo")},
		{"", nil},
		{"   ", nil},
		{"====", nil},
		{"JBSWY3DPEHPK3PX1", nil}, // 1 is not base32
		{"JBSWY3DPEHPK3PX!", nil},
		{"A", nil}, // impossible length
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Errorf("DecodeSecret(%q) = %x, want error", tt.in, got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("DecodeSecret(%q) = %x, %v; want %x", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestURI(t *testing.T) {
	secret, _ := DecodeSecret("JBSWY3DPEHPK3PXP")
	tests := []struct {
		name, issuer, account string
		p                     Params
		wantPath              string
		wantRaw               string // expected prefix of the raw URI
	}{
		{"simple", "Example", "alice@example.com", DefaultParams(),
			"/Example:alice@example.com", "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30"},
		{"spaces", "Example Corp", "alice smith", Params{"SHA256", 8, 60, 1},
			"/Example Corp:alice smith", "otpauth://totp/Example%20Corp:alice%20smith?secret=JBSWY3DPEHPK3PXP&issuer=Example%20Corp&algorithm=SHA256&digits=8&period=60"},
		{"colon and ampersand", "A:B & C", "x:y?z#w", DefaultParams(),
			"/A:B & C:x:y?z#w", "otpauth://totp/A%3AB%20&%20C:x%3Ay%3Fz%23w?"},
		{"no issuer", "", "bob", DefaultParams(), "/bob", "otpauth://totp/bob?secret="},
		{"unicode", "Café", "zoë", DefaultParams(), "/Café:zoë", "otpauth://totp/Caf%C3%A9:zo%C3%AB?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := URI(tt.issuer, tt.account, secret, tt.p)
			if !strings.HasPrefix(raw, tt.wantRaw) {
				t.Errorf("URI = %s\nwant prefix %s", raw, tt.wantRaw)
			}
			if strings.Contains(raw, "+") {
				t.Errorf("URI %s encodes a space as '+'", raw)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != tt.wantPath {
				t.Errorf("parsed %s://%s%s, want otpauth://totp%s", u.Scheme, u.Host, u.Path, tt.wantPath)
			}
			if q.Get("issuer") != tt.issuer || q.Get("algorithm") != tt.p.Algorithm ||
				q.Get("digits") != strconv.Itoa(tt.p.Digits) || q.Get("period") != strconv.Itoa(tt.p.Period) {
				t.Errorf("query %v does not carry issuer and params %+v", q, tt.p)
			}
			got, err := DecodeSecret(q.Get("secret"))
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("secret round trip: %x, %v", got, err)
			}
			// The label splits into issuer and account at its first colon.
			if tt.issuer != "" {
				esc := strings.TrimPrefix(u.EscapedPath(), "/")
				i := strings.Index(esc, ":")
				iss, _ := url.PathUnescape(esc[:i])
				acct, _ := url.PathUnescape(esc[i+1:])
				if iss != tt.issuer || acct != tt.account {
					t.Errorf("label split %q / %q, want %q / %q", iss, acct, tt.issuer, tt.account)
				}
			}
		})
	}
}

func TestQRPNG(t *testing.T) {
	secret, _ := NewSecret()
	uri := URI("Example Corp", "alice@example.com", secret, DefaultParams())
	b, err := QRPNG(uri, 256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Errorf("image %v, want 256x256", r)
	}
	for _, size := range []int{0, -1, 10, maxQRSize + 1} {
		if _, err := QRPNG(uri, size); err == nil {
			t.Errorf("QRPNG(size %d) succeeded", size)
		}
	}
}

func TestCodeFormat(t *testing.T) {
	secret := []byte("12345678901234567890")
	if got := Code(secret, Params{"MD5", 6, 30, 1}, time.Now()); got != "" {
		t.Errorf("Code with invalid params = %q, want empty", got)
	}
	if got := Code(nil, DefaultParams(), time.Now()); got != "" {
		t.Errorf("Code with empty secret = %q, want empty", got)
	}
	// RFC 6238 vector 07081804 keeps its leading zero.
	p := Params{"SHA1", 8, 30, 1}
	if got := Code(secret, p, time.Unix(1111111109, 0)); got != "07081804" {
		t.Errorf("Code = %q, want 07081804", got)
	}
}

func TestValidateAllocs(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1_700_000_000, 0)
	for _, alg := range []string{"SHA1", "SHA256", "SHA512"} {
		p := Params{alg, 6, 30, 1}
		code := Code(secret, p, now)
		allocs := testing.AllocsPerRun(100, func() { Validate(secret, p, code, now) })
		if allocs != 0 {
			t.Errorf("%s: Validate allocates %.0f times per call, want 0", alg, allocs)
		}
	}
}

func BenchmarkTOTPVerify(b *testing.B) {
	for _, alg := range []string{"SHA1", "SHA256", "SHA512"} {
		b.Run(alg, func(b *testing.B) {
			secret, _ := NewSecret()
			p := Params{Algorithm: alg, Digits: 6, Period: 30, Skew: 1}
			now := time.Unix(1_700_000_000, 0)
			code := Code(secret, p, now)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Validate(secret, p, code, now); !ok {
					b.Fatal("valid code refused")
				}
			}
		})
	}
}

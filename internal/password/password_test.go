package password

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// small keeps argon2 cheap in tests; DefaultParams costs ~20–50 ms a hash.
var small = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(small, 2, time.Second)
	tests := []string{"correct horse battery staple", "", "pässwörd ✓", strings.Repeat("x", 1024)}
	for _, pw := range tests {
		t.Run(pw[:min(len(pw), 20)], func(t *testing.T) {
			enc, err := h.Hash(ctx, pw)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Errorf("Hash = %s; want the PHC argon2id prefix", enc)
			}
			if strings.Contains(enc, "=$") || strings.HasSuffix(enc, "=") {
				t.Errorf("Hash = %s uses base64 padding", enc)
			}
			if ok, err := h.Verify(ctx, enc, pw); !ok || err != nil {
				t.Errorf("Verify(right password) = %v, %v", ok, err)
			}
			if ok, err := h.Verify(ctx, enc, pw+"x"); ok || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
			}
			again, _ := h.Hash(ctx, pw)
			if again == enc {
				t.Error("two hashes of one password are equal; salt not random")
			}
		})
	}
}

// TestKnownAnswers checks hashes made by the argon2 reference
// implementation (Debian package argon2, `argon2 SALT -id -t T -k M -p P -l L -e`),
// so the encoding and the parameters mean what other tools think they mean.
func TestKnownAnswers(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(small, 1, time.Second)
	tests := []struct{ password, encoded string }{
		{"correct horse battery staple", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQxMjM0NTY3$EgVxQKaEGSfbI/NKWmhE2B2vhBwtWrWtJp4c6RDB3CA"},
		{"correct horse battery staple", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$iqbHhgtqJMWWf23kIatRWniYNRyhFWif/l6I+m/2Exw"},
		{"pässwörd", "$argon2id$v=19$m=128,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$418EKAAfcQ2j23YUCO10yw"},
	}
	for _, tt := range tests {
		t.Run(tt.encoded[:30], func(t *testing.T) {
			if ok, err := h.Verify(ctx, tt.encoded, tt.password); !ok || err != nil {
				t.Errorf("Verify = %v, %v; want true", ok, err)
			}
			if ok, _ := h.Verify(ctx, tt.encoded, strings.ToUpper(tt.password)); ok {
				t.Error("Verify accepted a different password")
			}
		})
	}
	// Hash writes the same format, salt aside.
	ph, err := decode(mustHash(t, h))
	if err != nil || ph.p != small {
		t.Errorf("decode(Hash) params %+v, %v; want %+v", ph.p, err, small)
	}
}

// mustHash returns a fresh hash of "x" or fails the test.
func mustHash(t *testing.T, h *Hasher) string {
	t.Helper()
	enc, err := h.Hash(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQxMjM0NTY3"
		key  = "EgVxQKaEGSfbI/NKWmhE2B2vhBwtWrWtJp4c6RDB3CA"
	)
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"no leading $", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"extra field", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$x"},
		{"params out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,x=1$" + salt + "$" + key},
		{"negative memory", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"space", "$argon2id$v=19$m= 64,t=1,p=1$" + salt + "$" + key},
		{"hex", "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key},
		{"empty value", "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key},
		{"memory over 4 GiB", "$argon2id$v=19$m=4194305,t=1,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"time 0", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"time absurd", "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + key},
		{"threads 0", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads over 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQxMjM0NTY3OA==$" + key},
		{"url base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_")},
		{"non-canonical base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "D"},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"key too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAAAAAAAAA"},
		{"too long", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 600)},
	}
	h := NewHasher(small, 1, time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), tt.encoded, "correct horse battery staple")
			if ok || err == nil {
				t.Errorf("Verify = %v, %v; want false and an error", ok, err)
			}
			if err != nil && strings.Contains(err.Error(), salt) {
				t.Errorf("error %q quotes the hash", err)
			}
			if !h.NeedsRehash(tt.encoded) {
				t.Error("NeedsRehash = false for a malformed hash")
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(small, 1, time.Second)
	enc, _ := h.Hash(ctx, "pw")
	tests := []struct {
		name string
		p    Params
		want bool
	}{
		{"same", small, false},
		{"more memory", Params{128, 1, 1, 16, 32}, true},
		{"more time", Params{64, 2, 1, 16, 32}, true},
		{"more threads", Params{64, 1, 2, 16, 32}, true},
		{"longer salt", Params{64, 1, 1, 32, 32}, true},
		{"longer key", Params{64, 1, 1, 16, 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := NewHasher(tt.p, 1, time.Second)
			if got := other.NeedsRehash(enc); got != tt.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tt.want)
			}
			// A hasher with other params still verifies the old hash.
			if ok, err := other.Verify(ctx, enc, "pw"); !ok || err != nil {
				t.Errorf("Verify under new params = %v, %v", ok, err)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(small, 1, time.Second)
	ph, err := decode(h.dummy)
	if err != nil || ph.p != small {
		t.Fatalf("dummy hash params %+v, %v; want the hasher's %+v", ph.p, err, small)
	}
	if h.NeedsRehash(h.dummy) {
		t.Error("dummy hash does not carry the current params")
	}
	for _, pw := range []string{"", "password", "x"} {
		if err := h.VerifyDummy(context.Background(), pw); err != nil {
			t.Errorf("VerifyDummy(%q) = %v", pw, err)
		}
	}
	if NewHasher(small, 1, 0).dummy == h.dummy {
		t.Error("two hashers share a dummy hash")
	}
}

func TestConcurrencyBound(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(small, 1, 10*time.Millisecond)
	enc, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(ctx); err != nil { // hold the only slot
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Hash", func() error { _, err := h.Hash(ctx, "pw"); return err }},
		{"Verify", func() error { _, err := h.Verify(ctx, enc, "pw"); return err }},
		{"VerifyDummy", func() error { return h.VerifyDummy(ctx, "pw") }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s with the slot held = %v, want ErrBusy", c.name, err)
		}
	}

	// A context that ends before maxWait wins over ErrBusy.
	patient := NewHasher(small, 1, time.Hour)
	if err := patient.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := patient.Hash(short, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash with a short context = %v, want DeadlineExceeded", err)
	}

	// A waiter gets the slot when it is released within maxWait.
	done := make(chan error, 1)
	go func() { _, err := patient.Hash(ctx, "pw"); done <- err }()
	patient.release()
	if err := <-done; err != nil {
		t.Errorf("Hash after release = %v", err)
	}

	h.release()
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Errorf("Hash after release = %v", err)
	}
	if len(h.sem) != 0 || len(patient.sem) != 0 {
		t.Error("a slot leaked")
	}
}

func TestCanceledContext(t *testing.T) {
	h := NewHasher(small, 1, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a canceled context = %v, want Canceled", err)
	}
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy with a canceled context = %v, want Canceled", err)
	}
}

func TestNewHasher(t *testing.T) {
	if got := cap(NewHasher(small, 0, 0).sem); got != runtime.NumCPU() {
		t.Errorf("concurrency 0 gives %d slots, want NumCPU %d", got, runtime.NumCPU())
	}
	if got := cap(NewHasher(small, -3, 0).sem); got != runtime.NumCPU() {
		t.Errorf("concurrency -3 gives %d slots, want NumCPU", got)
	}
	if got := cap(NewHasher(small, 7, 0).sem); got != 7 {
		t.Errorf("concurrency 7 gives %d slots", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with invalid params did not panic")
		}
	}()
	NewHasher(Params{}, 1, 0)
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams(), true},
		{"small", small, true},
		{"4 GiB", Params{4 << 20, 1, 4, 16, 32}, true},
		{"over 4 GiB", Params{4<<20 + 1, 1, 1, 16, 32}, false},
		{"memory below 8 per lane", Params{31, 1, 4, 16, 32}, false},
		{"8 per lane", Params{32, 1, 4, 16, 32}, true},
		{"time 0", Params{64, 0, 1, 16, 32}, false},
		{"threads 0", Params{64, 1, 0, 16, 32}, false},
		{"salt 4", Params{64, 1, 1, 4, 32}, false},
		{"key 8", Params{64, 1, 1, 16, 8}, false},
		{"zero", Params{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
	d := DefaultParams()
	if d != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Errorf("DefaultParams = %+v, want the OWASP minimum m=19456 t=2 p=1", d)
	}
	if err := (Params{}).Validate(); err == nil || strings.Count(err.Error(), "\n") < 3 {
		t.Errorf("Validate of zero params should list every problem, got %v", err)
	}
}

func TestCheckPolicy(t *testing.T) {
	ctxWords := []string{"alice", "Example Corp"}
	tests := []struct {
		name, password string
		want           error
	}{
		{"empty", "", ErrTooShort},
		{"7 chars", "abcdefg", ErrTooShort},
		{"8 chars", "xkcd-936", nil},
		{"7 runes, 14 bytes", "пароль1", ErrTooShort},
		{"8 runes", "парольпп", nil},
		{"emoji", "🔑🔑🔑🔑🔑🔑🔑🔑", nil},
		{"spaces allowed", "my secret phrase", nil},
		{"no composition rules", "zebrahorsewind", nil},
		{"1024 bytes", strings.Repeat("a", 1023) + "b", nil},
		{"1025 bytes", strings.Repeat("a", 1025), ErrTooLong},
		{"common", "password", ErrCommon},
		{"common upper case", "PASSWORD", ErrCommon},
		{"common mixed case", "QwertyUI", ErrCommon},
		{"common digits", "12345678", ErrCommon},
		{"iloveyou", "iloveyou", ErrCommon},
		// Deep in the breach list, far beyond any hand-written top 100.
		{"breached", "guliyana", ErrCommon},
		{"breached 2", "YoMomma2", ErrCommon},
		{"common plus suffix", "password-for-twostep", nil},
		// Context words (SP 800-63B §5.1.1.2: the user name, the service).
		{"user name", "alice2024", ErrContext},
		{"user name twice", "AliceAlice!", ErrContext},
		{"user name, decorated", "#Alice_1990#", ErrContext},
		{"issuer", "ExampleCorp#1", ErrContext},
		{"issuer, spaced", "example corp 99", ErrContext},
		{"passphrase that mentions the name", "alice likes long walks", nil},
		{"unrelated", "violet-canyon-drift", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPolicy(tt.password, ctxWords...); !errors.Is(got, tt.want) {
				t.Errorf("CheckPolicy(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
	// A short context word (a two-letter user name) restricts nothing.
	if err := CheckPolicy("al-is-here-now", "al"); err != nil {
		t.Errorf("two-letter context word: %v", err)
	}
}

// TestBreachedList: the embedded list is the data set it claims to be
// (at least 100,000 entries, none shorter than the length rule allows,
// lower-cased and sorted for the binary search).
func TestBreachedList(t *testing.T) {
	list := breached()
	if n := BreachedCount(); n < 200_000 {
		t.Fatalf("breached list has %d entries, want the 202,673 of breached/README.md", n)
	}
	if !slices.IsSorted(list) {
		t.Fatal("breached list is not sorted")
	}
	for _, pw := range list[1:] { // list[0] is "" from the trailing newline
		if utf8.RuneCountInString(pw) < minChars && len(pw) < minChars {
			t.Fatalf("entry %q is shorter than the minimum; length already refuses it", pw)
		}
		if pw != strings.ToLower(pw) {
			t.Fatalf("entry %q is not lower-cased", pw)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams(), 1, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPolicy measures the check of a new password once the list
// is loaded (a binary search in 202,673 entries); BenchmarkBreachedLoad the
// one-time decompression, sort and index of the list.
func BenchmarkCheckPolicy(b *testing.B) {
	breached()
	for b.Loop() {
		_ = CheckPolicy("violet-canyon-drift", "alice", "Example Corp")
	}
}

func BenchmarkBreachedLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = loadBreached()
	}
}

package main

import (
	"encoding/base32"
	"io"
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows: the 20-byte ASCII secret
// "12345678901234567890" and 8-digit codes.
func TestTOTPRFC6238(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		unix   int64
		digits int
		want   string
	}{
		{59, 8, "94287082"},
		{59, 6, "287082"},
		{1111111109, 8, "07081804"},
		{1111111111, 8, "14050471"},
		{1234567890, 8, "89005924"},
		{2000000000, 8, "69279037"},
		{20000000000, 8, "65353130"},
	}
	for _, tt := range tests {
		if got := totpCode(secret, time.Unix(tt.unix, 0), tt.digits); got != tt.want {
			t.Errorf("totpCode(t=%d, %d digits) = %s, want %s", tt.unix, tt.digits, got, tt.want)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	raw := []byte("12345678901234567890")
	enc := base32.StdEncoding.EncodeToString(raw) // with padding
	for _, in := range []string{enc, strings.TrimRight(enc, "="), strings.ToLower(enc), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"} {
		got, err := decodeSecret(in)
		if err != nil || string(got) != string(raw) {
			t.Errorf("decodeSecret(%q) = %q, %v; want %q", in, got, err, raw)
		}
	}
	if _, err := decodeSecret("not base32!"); err == nil {
		t.Error("decodeSecret accepted invalid input")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"max", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p=%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	lat := []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	s := summarize(lat)
	if s.P50 != 20 || s.Max != 30 {
		t.Errorf("summarize = %+v, want p50 20 ms, max 30 ms", s)
	}
	if lat[0] != 30*time.Millisecond {
		t.Error("summarize reordered its input")
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a ')' must not shift the fields.
	stat := "4242 (twostep (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 350 125 0 0 20 0 9 0 1000 900000000 4000 18446744073709551615"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 4750 * time.Millisecond; got != want { // (350+125) ticks at 100 Hz
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (short) S 1")); err == nil {
		t.Error("parseStatCPU accepted a truncated line")
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"server", []string{"--server", "/tmp/twostep"}, true},
		{"target", []string{"--target", "http://127.0.0.1:8080", "--admin-token", "x"}, true},
		{"neither", nil, false},
		{"both", []string{"--server", "a", "--target", "b", "--admin-token", "x"}, false},
		{"target without token", []string{"--target", "http://127.0.0.1:8080"}, false},
		{"bad scenario", []string{"--server", "a", "--scenario", "nope"}, false},
		{"zero concurrency", []string{"--server", "a", "--concurrency", "0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) error = %v, want ok=%v", tt.args, err, tt.ok)
			}
		})
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 800 20 3 2 0 40 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
	busy, total, err := parseMachineCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	// total counts the first eight fields (guest is inside user): 980
	// ticks; busy leaves out idle and iowait: 160 ticks. 100 ticks = 1 s.
	if busy != 1600*time.Millisecond || total != 9800*time.Millisecond {
		t.Errorf("parseMachineCPU = %v busy, %v total; want 1.6s, 9.8s", busy, total)
	}
}

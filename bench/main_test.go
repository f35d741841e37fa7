package main

import (
	"bufio"
	"encoding/base32"
	"io"
	"net"
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
		{"server", []string{"--server", "./twostep"}, true},
		{"target", []string{"--target", "http://127.0.0.1:8080", "--admin-token", "x"}, true},
		{"neither", nil, false},
		{"both", []string{"--server", "a", "--target", "b", "--admin-token", "x"}, false},
		{"target without token", []string{"--target", "http://127.0.0.1:8080"}, false},
		{"bad scenario", []string{"--server", "a", "--scenario", "nope"}, false},
		{"zero concurrency", []string{"--server", "a", "--concurrency", "0"}, false},
		{"forward-auth", []string{"--server", "a", "--scenario", "forward-auth"}, true},
		{"forward-auth anonymous", []string{"--server", "a", "--scenario", "forward-auth", "--anonymous"}, true},
		{"anonymous without forward-auth", []string{"--server", "a", "--scenario", "login", "--anonymous"}, false},
		{"sms-setup", []string{"--server", "a", "--scenario", "sms-setup"}, true},
		{"login-flood", []string{"--server", "a", "--scenario", "login-flood", "--concurrency", "500"}, true},
		{"3 instances on postgres", []string{"--server", "a", "--instances", "3", "--database", "postgres://u@127.0.0.1/db", "--redis", "redis://127.0.0.1:6379/0"}, true},
		{"3 instances on sqlite", []string{"--server", "a", "--instances", "3"}, false},
		{"database not postgres", []string{"--server", "a", "--database", "sqlite:x.db"}, false},
		{"instances with targets", []string{"--targets", "http://a,http://b", "--admin-token", "x", "--instances", "2"}, false},
		{"targets with pids", []string{"--targets", "http://a,http://b", "--admin-token", "x", "--pids", "10,11"}, true},
		{"bad pids", []string{"--targets", "http://a", "--admin-token", "x", "--pids", "10,x"}, false},
		{"pids without targets", []string{"--server", "a", "--pids", "10"}, false},
		{"floor", []string{"--server", "a", "--scenario", "forward-auth", "--floor", "--rounds", "5"}, true},
		{"floor without forward-auth", []string{"--server", "a", "--scenario", "verify-totp", "--floor"}, false},
		{"rounds without forward-auth", []string{"--server", "a", "--rounds", "3"}, false},
		{"floor on a target without pid", []string{"--target", "http://a", "--admin-token", "x", "--scenario", "forward-auth", "--floor"}, false},
		{"floor on a target with pid", []string{"--target", "http://a", "--admin-token", "x", "--pid", "10", "--scenario", "forward-auth", "--floor"}, true},
		{"zero rounds", []string{"--server", "a", "--scenario", "forward-auth", "--rounds", "0"}, false},
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

func TestErrorCounts(t *testing.T) {
	statuses := map[string]int{"200": 5, "401": 3, "transport": 1}
	if got := errorCounts(statuses, "200"); len(got) != 2 || got["401"] != 3 || got["transport"] != 1 {
		t.Errorf("errorCounts(200) = %v", got)
	}
	if got := errorCounts(statuses, "401"); len(got) != 2 || got["200"] != 5 || got["transport"] != 1 {
		t.Errorf("errorCounts(401) = %v", got)
	}
}

// TestLeanConn feeds the lean client canned answers over an in-memory pipe
// (no socket): what twostep sends is understood, the rest ends the
// connection.
func TestLeanConn(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		status     int
		remoteUser bool
		keep       bool
		err        bool
	}{
		{"pass", "HTTP/1.1 200 OK\r\nRemote-User: alice\r\nContent-Length: 0\r\n\r\n", 200, true, true, false},
		{"refused with a body", "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\ncontent-length: 5\r\n\r\n{...}", 401, false, true, false},
		{"close", "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 403, false, false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, false, false, true},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", 200, false, false, true},
		{"garbage", "SSH-2.0-OpenSSH\r\n", 0, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			req := forwardAuthRequest("127.0.0.1:1", "tok")
			go func() {
				defer server.Close()
				buf := make([]byte, len(req))
				if _, err := io.ReadFull(server, buf); err != nil || string(buf) != string(req) {
					return
				}
				io.WriteString(server, tt.answer)
			}()
			c := &leanConn{conn: client, br: bufio.NewReader(client)}
			a, keep, err := c.exchange(req)
			if (err != nil) != tt.err || a.status != tt.status || a.remoteUser != tt.remoteUser || (err == nil && keep != tt.keep) {
				t.Errorf("exchange = %+v, keep %v, err %v; want status %d, remoteUser %v, keep %v, err %v",
					a, keep, err, tt.status, tt.remoteUser, tt.keep, tt.err)
			}
		})
	}
	if !strings.Contains(string(forwardAuthRequest("h:1", "")), "X-Original-URL: "+forwardAuthURL+"\r\n") ||
		strings.Contains(string(forwardAuthRequest("h:1", "")), "Authorization") {
		t.Error("anonymous request malformed")
	}
}

func TestScaleOutHelpers(t *testing.T) {
	if got, err := splitPIDs("10, 11"); err != nil || len(got) != 2 || got[1] != 11 {
		t.Errorf("splitPIDs = %v, %v", got, err)
	}
	if got := redisWithPrefix("redis://h:6379/0?key_prefix=x:"); got != "redis://h:6379/0?key_prefix=x:" {
		t.Errorf("redisWithPrefix kept prefix: %q", got)
	}
	if got := redisWithPrefix("redis://h:6379/0"); !strings.HasPrefix(got, "redis://h:6379/0?key_prefix=bench-") {
		t.Errorf("redisWithPrefix added: %q", got)
	}
	if got := redisWithPrefix("redis://h:6379/0?db=1"); !strings.Contains(got, "&key_prefix=bench-") {
		t.Errorf("redisWithPrefix with query: %q", got)
	}
	seen := map[string]bool{}
	for i := range 20000 {
		p := smsPhone(i)
		if seen[p] {
			t.Fatalf("smsPhone(%d) = %q repeats", i, p)
		}
		seen[p] = true
	}
	if smsPhone(0) != "(201) 555-0000" || smsPhone(10001) != "(202) 555-0001" {
		t.Errorf("smsPhone: %q %q", smsPhone(0), smsPhone(10001))
	}
	if got := redactURL("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("redactURL leaked: %q", got)
	}
}

func TestClientRoundRobin(t *testing.T) {
	c := newClient([]string{"http://a", "http://b", "http://c"}, 1)
	var got []string
	for range 4 {
		got = append(got, c.pick())
	}
	if strings.Join(got, " ") != "http://a http://b http://c http://a" {
		t.Errorf("pick order %v", got)
	}
}

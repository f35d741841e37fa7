package sms

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFileConcurrentSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	f, err := NewFile(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	// Long bodies make a torn write visible as a broken line.
	body := func(i int) string { return fmt.Sprintf("message %02d %s", i, strings.Repeat("x", 4000)) }
	to := func(i int) string { return fmt.Sprintf("+1201555%04d", i) }
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- f.Send(context.Background(), Message{To: to(i), Body: body(i)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %o, want 600: it holds codes", perm)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var l struct {
			To     string `json:"to"`
			Body   string `json:"body"`
			SentAt string `json:"sent_at"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d is not the documented JSON: %v", lines, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, l.SentAt)
		if err != nil || ts.Location() != time.UTC {
			t.Errorf("sent_at %q is not RFC 3339 UTC: %v", l.SentAt, err)
		}
		var i int
		if _, err := fmt.Sscanf(l.Body, "message %02d", &i); err != nil || l.Body != body(i) || l.To != to(i) {
			t.Errorf("line %d has a mangled message (to %q)", lines, l.To)
		}
		seen[l.To] = true
	}
	if lines != n || len(seen) != n {
		t.Errorf("%d lines for %d distinct numbers, want %d of each", lines, len(seen), n)
	}
	if !bytes.HasSuffix(raw, []byte("\n")) {
		t.Error("file does not end with a newline")
	}
}

func TestFileLineFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	f, err := NewFile(FileConfig{Path: path, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{To: testTo, Body: "a <b> & \"c\"\n\n@login.example.com #123456"}
	for range 2 {
		if err := f.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(path)
	line := `{"to":"+12015550123","body":"a <b> & \"c\"\n\n@login.example.com #123456","sent_at":"2026-03-14T14:09:26.535897932Z"}` + "\n"
	if string(raw) != line+line {
		t.Errorf("file =\n%s\nwant two lines of\n%s", raw, line)
	}
	if f.Name() != "file" {
		t.Errorf("Name() = %q", f.Name())
	}
}

func TestFileErrors(t *testing.T) {
	if _, err := NewFile(FileConfig{}); err == nil {
		t.Error("NewFile accepted an empty path")
	}
	dir := t.TempDir() // a directory cannot be opened for appending
	f, err := NewFile(FileConfig{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Send(context.Background(), testMessage())
	se := sendErr(t, err)
	if se.Msg != MsgUnavailable || se.Permanent {
		t.Errorf("Msg=%q Permanent=%v", se.Msg, se.Permanent)
	}
	assertNoLeak(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	f, _ = NewFile(FileConfig{Path: path})
	if err := f.Send(ctx, testMessage()); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a cancelled send wrote the file")
	}
}

func TestConsole(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(ConsoleConfig{Log: slog.New(slog.NewJSONHandler(&buf, nil))})
	m := testMessage()
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	// The dev provider prints the full message: that is its purpose.
	if rec["msg"] != "sms (console provider)" || rec["to"] != m.To || rec["body"] != m.Body || rec["level"] != "INFO" {
		t.Errorf("log record %v", rec)
	}
	if c.Name() != "console" {
		t.Errorf("Name() = %q", c.Name())
	}
	if NewConsole(ConsoleConfig{}).log == nil {
		t.Error("nil Log is not replaced by slog.Default()")
	}

	buf.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Send(ctx, m); err == nil || buf.Len() != 0 {
		t.Errorf("cancelled send: err=%v, logged %q", err, buf.String())
	}
}

// TestCancelledContextLocal: the local providers, like the gateways
// (package gateway's TestCancelledContext), answer a context cancelled
// before Send with an error that is context.Canceled.
func TestCancelledContextLocal(t *testing.T) {
	f, err := NewFile(FileConfig{Path: filepath.Join(t.TempDir(), "sms.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Sender{NewConsole(ConsoleConfig{}), f} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Send(ctx, testMessage()); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", s.Name(), err)
		}
	}
}

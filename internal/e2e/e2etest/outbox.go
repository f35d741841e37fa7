package e2etest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Outbox reads what the file SMS provider (TWOSTEP_SMS_PROVIDER=file)
// wrote to Path: one JSON line per text.
type Outbox struct{ Path string }

// Text is one text of the file provider.
type Text struct {
	To     string `json:"to"`
	Body   string `json:"body"`
	SentAt string `json:"sent_at"`
}

// All returns every text sent so far, oldest first, checking the
// documented line format: exactly the three fields, sent_at in RFC 3339.
func (o Outbox) All(t testing.TB) []Text {
	t.Helper()
	b, err := os.ReadFile(o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read the SMS file: %v", err)
	}
	var out []Text
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("SMS file line %d is not a JSON object: %v: %q", i+1, err, line)
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"body", "sent_at", "to"}) {
			t.Errorf("SMS file line %d has fields %v, want to, body, sent_at", i+1, keys)
		}
		var m Text
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("SMS file line %d: %v", i+1, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, m.SentAt); err != nil {
			t.Errorf("SMS file line %d: sent_at %q is not RFC 3339: %v", i+1, m.SentAt, err)
		}
		out = append(out, m)
	}
	return out
}

// To returns the texts sent to the number e164, oldest first.
func (o Outbox) To(t testing.TB, e164 string) []Text {
	t.Helper()
	var out []Text
	for _, m := range o.All(t) {
		if m.To == e164 {
			out = append(out, m)
		}
	}
	return out
}

package sms

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Test data shared by the provider tests. The code is distinctive so a
// leak into an error string cannot hide. Package gateway's tests keep the
// same values for its HTTP providers.
const (
	testTo   = "+12015550123"
	testCode = "493817"
	testHost = "login.example.com"
)

// testNow is the injected clock of the file provider's tests.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600))

func testMessage() Message {
	return Message{To: testTo, Body: Text("twostep", testCode, testHost)}
}

// sendErr asserts err is a *SendError and returns it.
func sendErr(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a *SendError", err, err)
	}
	if se.Msg == "" {
		t.Errorf("SendError has no Msg")
	}
	return se
}

// assertNoLeak fails when an error or a user message holds the code, the
// body, the full number or one of the secrets.
func assertNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error()}
	var se *SendError
	if errors.As(err, &se) {
		texts = append(texts, se.Msg)
	}
	bad := append([]string{testCode, testTo, testTo[1:], "code is"}, secrets...)
	for _, s := range texts {
		for _, b := range bad {
			if b != "" && strings.Contains(s, b) {
				t.Errorf("error text %q contains %q", s, b)
			}
		}
	}
}

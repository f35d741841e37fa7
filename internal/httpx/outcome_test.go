package httpx

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/outcome"
)

// codesDeclared returns every outcome.Code constant the outcome package
// declares, read from its source so a new constant cannot be forgotten.
func codesDeclared(t *testing.T) map[outcome.Code]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../outcome/outcome.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[outcome.Code]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				codes[outcome.Code(strings.Trim(lit.Value, `"`))] = name.Name
			}
		}
	}
	if len(codes) < 30 {
		t.Fatalf("read only %d outcome codes from outcome.go", len(codes))
	}
	return codes
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// TestEveryOutcomeHasARow: every declared outcome has a status, a
// snake_case public code and a fallback sentence whose placeholders all
// exist; no row is left for an outcome that is gone.
func TestEveryOutcomeHasARow(t *testing.T) {
	declared := codesDeclared(t)
	known := map[string]bool{"{wait}": true, "{digits}": true, "{period}": true, "{issuer}": true, "{detail}": true, "{ref}": true}
	for code, name := range declared {
		row, ok := outcomes[code]
		if !ok {
			t.Errorf("outcome.%s has no row in httpx's outcomes table", name)
			continue
		}
		if row.Status < 400 || row.Status > 599 || http.StatusText(row.Status) == "" {
			t.Errorf("outcome.%s: status %d", name, row.Status)
		}
		if pub := cmpOr(row.Public, string(code)); !snakeCase.MatchString(pub) {
			t.Errorf("outcome.%s: public code %q is not snake_case", name, pub)
		}
		if row.Say[""] == "" {
			t.Errorf("outcome.%s: no fallback sentence", name)
		}
		for method, s := range row.Say {
			if !strings.HasSuffix(s, ".") || strings.Contains(s, "  ") {
				t.Errorf("outcome.%s/%q: %q is not a clean sentence", name, method, s)
			}
			for _, p := range placeholder.FindAllString(s, -1) {
				if !known[p] {
					t.Errorf("outcome.%s/%q: unknown placeholder %s", name, method, p)
				}
			}
		}
	}
	for code := range outcomes {
		if _, ok := declared[code]; !ok {
			t.Errorf("row for %q, which outcome.go does not declare", code)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestDescribe(t *testing.T) {
	m := Messages{Digits: 8, Period: 60, Issuer: "Example"}
	down := fmt.Errorf("load session: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string // the sentence, exactly
		retry  time.Duration
	}{
		{"wrong TOTP code at sign-in", &outcome.Error{Code: outcome.InvalidCode, Method: "totp"}, 401, "invalid_code",
			"That code is not valid. Enter the code your app shows now: a new one appears every 60 seconds.", 0},
		{"a method without its own sentence falls back", &outcome.Error{Code: outcome.InvalidCode, Method: "email"}, 401, "invalid_code",
			"That code is not valid. Check it and try again.", 0},
		{"wrong code at set-up: a bad request under the public name invalid_code", &outcome.Error{Code: outcome.CodeMismatch, Method: "sms_setup"}, 400, "invalid_code",
			"That code is not valid. Check the text message and try again.", 0},
		{"format with the server's digits and issuer", &outcome.Error{Code: outcome.CodeFormat, Method: "totp_setup"}, 400, "invalid_code",
			"Enter the 8-digit code your authenticator app shows for Example.", 0},
		{"a wait in words and in Retry-After", &outcome.Error{Code: outcome.TooManyAttempts, RetryAfter: 90 * time.Second}, 429, "too_many_attempts",
			"Too many wrong codes. For your security, wait 2 minutes and try again.", 90 * time.Second},
		{"a wait never says zero", outcome.New(outcome.RateLimited), 429, "rate_limited",
			"Too many attempts from your network. Wait 1 second and try again.", time.Second},
		{"the check's own words", &outcome.Error{Code: outcome.InvalidRequest, Detail: "username must be 1 to 64 characters"}, 400, "invalid_request",
			"Username must be 1 to 64 characters.", 0},
		{"a detail placed in the sentence", &outcome.Error{Code: outcome.UnknownField, Detail: "colour"}, 400, "invalid_request",
			"Unknown field colour.", 0},
		{"wrapped outcome", fmt.Errorf("context: %w", outcome.New(outcome.LastFactor)), 409, "last_factor",
			"You cannot remove your only sign-in method. Add another one first.", 0},
		{"database unreachable", down, 503, "unavailable", "The service is briefly unavailable. Wait 5 seconds and try again.", 5 * time.Second},
		{"anything else", errors.New("boom"), 500, "internal_error",
			"Something went wrong on our side. Try again in a moment; if it keeps happening, contact support and quote the reference req-1.", 0},
		{"an outcome without a row is internal", outcome.New("no_such_outcome"), 500, "internal_error",
			"Something went wrong on our side. Try again in a moment; if it keeps happening, contact support and quote the reference req-1.", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := m.Describe(tc.err, "req-1")
			if p.Status != tc.status || p.Code != tc.code || p.Msg != tc.msg || p.RetryAfter != tc.retry || !errors.Is(p.Err, tc.err) {
				t.Fatalf("Describe = %+v\nwant %d %s %q retry %v", p, tc.status, tc.code, tc.msg, tc.retry)
			}
		})
	}
}

// TestOutcomeIsByCode: a sentinel matches every error of its code, whatever
// its method, wait or cause, and nothing else.
func TestOutcomeIsByCode(t *testing.T) {
	sentinel := outcome.New(outcome.InvalidCode)
	variant := sentinel.With(outcome.Error{Method: "sms", RetryAfter: time.Second, Err: errors.New("cause")})
	if !errors.Is(fmt.Errorf("wrapped: %w", variant), sentinel) || errors.Is(variant, outcome.New(outcome.CodeExpired)) {
		t.Fatal("errors.Is does not compare by code")
	}
	if sentinel.Method != "" || sentinel.RetryAfter != 0 || sentinel.Err != nil {
		t.Fatalf("With changed the sentinel: %+v", sentinel)
	}
}

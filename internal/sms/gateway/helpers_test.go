package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/twostep/twostep/internal/sms"
)

// Test data shared by the provider tests. The code is distinctive so a
// leak into an error string cannot hide.
const (
	testTo   = "+12015550123"
	testCode = "493817"
	testHost = "login.example.com"
)

func testMessage() sms.Message {
	return sms.Message{To: testTo, Body: sms.Text("twostep", testCode, testHost)}
}

// seen is one request as a test server received it.
type seen struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
	User, Pass   string
	HasAuth      bool
}

// recorder is an httptest server that records every request and answers
// with a fixed status and body.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newRecorder(t *testing.T, status int, body string) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		u, p, ok := req.BasicAuth()
		r.mu.Lock()
		r.reqs = append(r.reqs, seen{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), b, u, p, ok})
		r.mu.Unlock()
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

// only returns the single request the server received, failing otherwise.
func (r *recorder) only(t *testing.T) seen {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want exactly 1", len(reqs))
	}
	return reqs[0]
}

// closedAddr returns a loopback address nothing listens on, so dialing it
// fails at once with "connection refused".
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// sendErr asserts err is a *sms.SendError and returns it.
func sendErr(t *testing.T, err error) *sms.SendError {
	t.Helper()
	var se *sms.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a *sms.SendError", err, err)
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
	var se *sms.SendError
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

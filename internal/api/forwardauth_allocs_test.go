package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twostep/twostep/internal/httpx"
)

// Allocations of a forward-auth check on a cached session (issue #12: none
// beyond what net/http makes). The handler runs against a ResponseWriter
// that keeps only a header map, reused and cleared between checks, so
// every allocation counted is the handler's (the API mux included); the
// "floor" is a bare handler that reads the session cookie with
// Request.Cookie and writes the same four identity headers the way any Go
// server would, measured in the same run. The whole server, middleware and
// net/http included, is measured in internal/server
// (BenchmarkForwardAuthServer).
//
// Run: go test -run '^$' -bench ForwardAuthCached -benchmem ./internal/api/
func BenchmarkForwardAuthCached(b *testing.B) {
	for _, c := range cachedCases(b) {
		b.Run(c.name, func(b *testing.B) {
			w := &headerWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.handler.ServeHTTP(w, c.request)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// TestForwardAuthCachedAllocs: the check of a cached session allocates
// nothing at all, with the session as a cookie (both cookie names) or a
// Bearer token. A change that adds an allocation to the hot path fails
// here; the benchmark above shows the figures next to the floor's.
func TestForwardAuthCachedAllocs(t *testing.T) {
	for _, c := range cachedCases(t) {
		if c.name == "floor" {
			continue
		}
		w := &headerWriter{h: http.Header{}}
		n := testing.AllocsPerRun(200, func() {
			clear(w.h)
			c.handler.ServeHTTP(w, c.request)
		})
		if w.code != http.StatusOK || w.h.Get("Remote-User") != "alice" {
			t.Fatalf("%s: status %d, Remote-User %q", c.name, w.code, w.h.Get("Remote-User"))
		}
		if n != 0 {
			t.Errorf("%s: %v allocations per check, want 0", c.name, n)
		}
	}
}

type cachedCase struct {
	name    string
	handler http.Handler
	request *http.Request
}

// cachedCases are the floor and twostep's checks on a cached aal2 session
// (the first check fills the cache; the fixture's clock stands still, so
// the entry never lapses).
func cachedCases(tb testing.TB) []cachedCase {
	plain, tok := forwardAuthFixtureCookies(tb, httpx.Cookies{})
	secure, stok := forwardAuthFixtureCookies(tb, httpx.Cookies{Secure: true})
	req := func(header, value string) *http.Request {
		r := httptest.NewRequest("GET", "/api/v1/auth/auth-request", nil)
		r.Header.Set("X-Original-URL", "http://app.example.test/page")
		r.Header.Set(header, value)
		return r
	}
	cs := []cachedCase{
		{"floor", http.HandlerFunc(floorHandler), req("Cookie", httpx.SessionCookie+"="+tok)},
		{"cookie", plain, req("Cookie", httpx.SessionCookie+"="+tok)},
		{"host-cookie", secure, req("Cookie", "__Host-"+httpx.SessionCookie+"="+stok)},
		{"bearer", plain, req("Authorization", "Bearer "+tok)},
	}
	for _, c := range cs[1:] { // fill the cache
		w := &headerWriter{h: http.Header{}}
		c.handler.ServeHTTP(w, c.request)
		if w.code != http.StatusOK {
			tb.Fatalf("%s: status %d", c.name, w.code)
		}
	}
	return cs
}

var floorValue = []string{"alice"}

// floorHandler is the floor: read the session cookie, write the identity
// headers through canonical keys and shared values, answer 200.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(httpx.SessionCookie); err != nil || c.Value == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h["Remote-User"] = floorValue
	h["Remote-Name"] = floorValue
	h["Remote-Email"] = floorValue
	h["Remote-Groups"] = floorValue
	w.WriteHeader(http.StatusOK)
}

// headerWriter is a ResponseWriter that keeps the header map and the
// status, nothing else.
type headerWriter struct {
	h    http.Header
	code int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(code int)        { w.code = code }

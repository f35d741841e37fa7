package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/server"
)

// BenchmarkForwardAuthServer measures allocations of a forward-auth check
// on a cached session through the whole public handler (server.Handler:
// recovery, request ID, security headers, cross-origin protection, metrics,
// the mux and the API) and, under "server", through a real net/http server
// on 127.0.0.1 driven by a minimal keep-alive client on one connection.
// Each group has its floor, a bare handler that reads the session cookie
// and writes the same four identity headers, measured the same way in the
// same run: what twostep allocates beyond net/http is the difference
// between "twostep" and "floor" (the client's own allocations, if any,
// are in both).
//
// Run: go test -run '^$' -bench ForwardAuthServer -benchmem ./internal/server/
// ns/op of the "server" group includes the loopback round trip and the
// scheduler; on a shared machine it is only indicative.
func BenchmarkForwardAuthServer(b *testing.B) {
	twostep, cookie := fixture(b)
	handlers := []struct {
		name string
		h    http.Handler
	}{{"floor", http.HandlerFunc(floorHandler)}, {"twostep", twostep}}

	for _, h := range handlers {
		b.Run("handler/"+h.name, func(b *testing.B) {
			r, _ := http.NewRequest("GET", "http://twostep.example.test/api/v1/auth/auth-request", nil)
			r.Header.Set("X-Original-URL", "http://app.example.test/page")
			r.Header.Set("Cookie", cookie)
			w := &headerWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.h.ServeHTTP(w, r)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
	for _, h := range handlers {
		b.Run("server/"+h.name, func(b *testing.B) {
			c := serve(b, h.h)
			req := []byte("GET /api/v1/auth/auth-request HTTP/1.1\r\nHost: twostep.example.test\r\nUser-Agent: bench\r\n" +
				"X-Original-URL: http://app.example.test/page\r\nCookie: " + cookie + "\r\n\r\n")
			b.ReportAllocs()
			for b.Loop() {
				if st, err := c.do(req); err != nil || st != http.StatusOK {
					b.Fatalf("status %d, %v", st, err)
				}
			}
		})
	}
}

// fixture is the public handler of a service with one signed-in user (no
// access rules: the default two_factor applies) and that user's session
// cookie, already in the session cache.
func fixture(b *testing.B) (http.Handler, string) {
	cfg := authtest.Config()
	cfg.PublicURL = "http://twostep.example.test"
	e := authtest.New(b, cfg, nil)
	tok := e.SignedIn(b, "alice")
	h := server.Handler(e.Service, e.Store, e.Log, server.Options{Metrics: metrics.New()})
	return h, "twostep_session=" + tok
}

var floorValue = []string{"alice"}

// floorHandler is the floor: read the session cookie, write the identity
// headers through canonical keys and shared values, answer 200.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("twostep_session"); err != nil || c.Value == "" {
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

type headerWriter struct {
	h    http.Header
	code int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(code int)        { w.code = code }

// serve runs h with server.Serve (twostep's timeouts) on a loopback port
// until the benchmark ends, and returns a client connected to it.
func serve(b *testing.B, h http.Handler) *rawClient {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, logger(), []server.Listener{{Net: ln, Handler: h}}) }()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		cancel()
		<-done
	})
	return &rawClient{conn: conn, br: bufio.NewReaderSize(conn, 4096)}
}

// rawClient writes a prepared HTTP/1.1 request on its keep-alive
// connection and reads the answer's status, headers and Content-Length
// body without allocating.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
}

var errAnswer = errors.New("answer not understood")

func (c *rawClient) do(req []byte) (int, error) {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errAnswer
	}
	st := int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	length := 0
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, errAnswer
			}
		}
	}
	_, err = c.br.Discard(length)
	return st, err
}

func logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

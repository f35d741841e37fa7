// Package httpx is the HTTP plumbing shared by the JSON API and the pages:
// the outcome of a request as a Problem (status, public code and a
// sentence from the one message catalogue, for JSON and HTML alike; the
// cause for the log only), request IDs, the client IP (X-Forwarded-For only from trusted
// proxies), security headers, panic recovery and reading the session token
// from the cookie or an Authorization: Bearer header.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
)

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONError writes e in the API's error shape
// {"error":{"code":"...","message":"..."}} and logs server-side causes.
func WriteJSONError(w http.ResponseWriter, r *http.Request, log *slog.Logger, e *Problem) {
	SetRetryAfter(w, e.RetryAfter)
	if e.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "error", e.Err)
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	WriteJSON(w, e.Status, map[string]body{"error": {Code: e.Code, Message: e.Msg}})
}

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the request's ID ("" outside WithRequestID).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID gives every request an ID, returned in X-Request-Id and
// used in error logs, so a user's report can be matched to a log line. IDs
// need to be unique, not secret: a random per-process prefix and a counter,
// with no random read per request on the hot path. A client-supplied ID is
// ignored: it could forge or flood log entries.
//
// It runs on every forward-auth check, so it makes three allocations where
// the obvious code made five (issue #12): the ID string, one requestCtx
// holding the context link and the header's value, and net/http's copy of
// the request for the new context.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [40]byte
		b := append(buf[:0], requestPrefix...)
		b = strconv.AppendUint(b, requestSeq.Add(1), 36)
		c := &requestCtx{Context: r.Context()}
		c.hdr[0] = string(b)
		w.Header()["X-Request-Id"] = c.hdr[:]
		next.ServeHTTP(w, r.WithContext(c))
	})
}

// requestCtx is context.WithValue(parent, requestIDKey, id) and the
// X-Request-Id header's value slice in one allocation.
type requestCtx struct {
	context.Context
	hdr [1]string // the ID
}

func (c *requestCtx) Value(key any) any {
	if k, ok := key.(ctxKey); ok && k == requestIDKey {
		return c.hdr[0]
	}
	return c.Context.Value(key)
}

var (
	requestPrefix = func() string {
		var b [6]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	requestSeq atomic.Uint64
)

// Recover turns a panic into a 500 with no details for the client.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "request_id", RequestID(r.Context()), "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

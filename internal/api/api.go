// Package api is twostep's JSON API v1 (docs/api.md): thin handlers that decode
// a request, call the auth service and encode the answer. Errors use the
// shape {"error":{"code":"snake_case","message":"human sentence"}}.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/outcome"
)

// maxBody bounds every JSON request body: the largest legitimate one (a
// login with a 1024-byte password) is far smaller.
const maxBody = 8 << 10

// API serves /api/v1.
type API struct {
	svc     *auth.Service
	log     *slog.Logger
	ip      httpx.ClientIP
	cookies httpx.Cookies
	msgs    httpx.Messages
}

// New returns the API handlers.
func New(svc *auth.Service, log *slog.Logger, ip httpx.ClientIP, cookies httpx.Cookies) *API {
	return &API{svc: svc, log: log, ip: ip, cookies: cookies, msgs: httpx.NewMessages(svc.Config())}
}

// handler is an API handler that returns its failure.
type handler func(w http.ResponseWriter, r *http.Request) error

// authed is a handler for a request with a valid session.
type authed func(w http.ResponseWriter, r *http.Request, cur auth.Current) error

// serve adapts a handler: errors become the JSON error shape.
func (a *API) serve(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			httpx.WriteJSONError(w, r, a.log, a.msgs.Describe(err, httpx.RequestID(r.Context())))
		}
	})
}

// client describes the caller for limits and the audit log.
func (a *API) client(r *http.Request) auth.Client { return httpx.Client(r, a.ip, a.cookies) }

// decode reads a JSON object into v: bounded size, unknown fields and
// trailing data refused, content type must be JSON (a cross-site HTML form
// cannot send that without a CORS preflight).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeLimit(w, r, v, maxBody)
}

// decodeLimit is decode with a body of at most limit bytes.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return outcome.New(outcome.UnsupportedMediaType)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return outcome.New(outcome.InvalidJSON)
	}
	return nil
}

// decodeOptional is decode for calls whose body may be empty.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return decode(w, r, v)
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return outcome.New(outcome.BodyTooLarge)
	case errors.As(err, &ute) && ute.Field == "":
		return outcome.New(outcome.InvalidJSON)
	case errors.As(err, &ute):
		return &outcome.Error{Code: outcome.WrongType, Detail: ute.Field}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &outcome.Error{Code: outcome.UnknownField, Detail: strings.TrimPrefix(err.Error(), "json: unknown field ")}
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return outcome.New(outcome.InvalidJSON)
	default:
		return outcome.New(outcome.InvalidJSON)
	}
}

// factorJSON is a method as the API shows it.
type factorJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Label      string     `json:"label"`
	Preferred  bool       `json:"preferred"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func factorsJSON(fs []model.Factor) []factorJSON {
	out := make([]factorJSON, 0, len(fs))
	for _, f := range fs {
		j := factorJSON{ID: f.ID, Type: string(f.Type), Label: f.Label, Preferred: f.Preferred, CreatedAt: f.CreatedAt}
		if !f.LastUsedAt.IsZero() {
			t := f.LastUsedAt
			j.LastUsedAt = &t
		}
		out = append(out, j)
	}
	return out
}

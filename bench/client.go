package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// client speaks twostep's public JSON API over one keep-alive transport.
type client struct {
	base  string   // first instance; the lean client spreads by worker itself
	bases []string // every instance, used round robin (sessions live in the shared database)
	rr    atomic.Uint64
	http  *http.Client
	// setupRetries counts 503 answers retried in the unmeasured phases.
	setupRetries atomic.Int64
}

// newClient returns a client whose transport keeps at least conns idle
// connections to the server, so C workers never redial.
func newClient(bases []string, conns int) *client {
	t := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	return &client{base: bases[0], bases: bases, http: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// pick returns the base URL of the next instance, round robin.
func (c *client) pick() string {
	if len(c.bases) <= 1 {
		return c.base
	}
	return c.bases[(c.rr.Add(1)-1)%uint64(len(c.bases))]
}

// post sends body as JSON to path with an optional Bearer token. On a 2xx
// answer with out non-nil the body is decoded into out; otherwise it is
// drained so the connection is reused. err is set only for a transport
// failure or an undecodable 2xx body.
func (c *client) post(ctx context.Context, path, bearer string, body, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.pick()+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s answer: %w", path, err)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// get sends GET path with the given headers, drains the answer and returns
// its status and headers; err is set only for a transport failure.
func (c *client) get(ctx context.Context, path string, header http.Header) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.pick()+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header = header
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// outcome labels one request for the error table: the HTTP status, or
// "transport" when none came back, or "bad_body" for a 200 that did not
// carry what the API promises.
func outcome(status int, err error) string {
	switch {
	case status == 0:
		return "transport"
	case err != nil:
		return "bad_body"
	default:
		return strconv.Itoa(status)
	}
}

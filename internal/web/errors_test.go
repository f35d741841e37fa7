package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
)

func TestDescribeUnavailable(t *testing.T) {
	down := fmt.Errorf("load session: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	p, ok := describe(down)
	if !ok || p.status != http.StatusServiceUnavailable || p.retry <= 0 || p.msg == "" {
		t.Fatalf("outage: %+v, %v; want a 503 with a wait", p, ok)
	}
	if p, ok := describe(errors.New("boom")); ok || p.status != http.StatusInternalServerError {
		t.Fatalf("unexpected error: %+v, %v; want 500", p, ok)
	}
}

package httpx

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
)

// Unavailable reports whether err means a backing service (PostgreSQL,
// Redis) could not be reached or did not answer in time. Such failures
// are answered 503 with Retry-After — a clear "try again shortly" instead
// of a 500 — and the request is still refused: limits and sessions fail
// closed (docs/deploy.md).
func Unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) ||
		// A connection dropped mid-request (Redis and PostgreSQL drivers
		// report it as end of stream).
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, driver.ErrBadConn)
}

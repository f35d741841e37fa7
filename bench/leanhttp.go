package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// leanConn is a minimal HTTP/1.1 keep-alive client on one TCP connection,
// for the forward-auth scenario. net/http's client spends about as much CPU
// per request as the server does on a forward-auth check (goroutine
// hand-offs, header maps), and the load generator shares the machine's
// cores with the server, so a heavy client would measure itself. This one
// writes a request prepared once and reads the answer's status line and
// headers with no allocation in the common case, like wrk or h2load.
//
// It understands what twostep sends to GET /api/v1/auth/auth-request: a status line,
// headers and a body of Content-Length bytes (possibly 0). Anything else
// (chunked encoding, no Content-Length, "Connection: close") ends the
// connection; the next request dials again.
type leanConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func newLeanConn(base string) (*leanConn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("lean client: %q is not an http:// base URL", base)
	}
	return &leanConn{addr: u.Host}, nil
}

// leanAnswer is what the forward-auth scenario checks in an answer.
type leanAnswer struct {
	status     int
	remoteUser bool // a Remote-User header was present
}

var (
	errLeanFormat = errors.New("lean client: answer not understood")
	crlf          = []byte("\r\n")
)

// do sends req (a complete request with Host and without Connection:
// close) and reads the answer. The context bounds the dial only; the
// connection's deadline bounds the exchange (30 s, as the net/http client's
// timeout).
func (c *leanConn) do(ctx context.Context, req []byte) (leanAnswer, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return leanAnswer{}, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 8<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	a, keep, err := c.exchange(req)
	if err != nil || !keep {
		c.close()
	}
	return a, err
}

func (c *leanConn) exchange(req []byte) (leanAnswer, bool, error) {
	var a leanAnswer
	if _, err := c.conn.Write(req); err != nil {
		return a, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return a, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, false, errLeanFormat
	}
	st, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return a, false, errLeanFormat
	}
	a.status = st
	length, keep := -1, true
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return a, false, err
		}
		line = bytes.TrimSuffix(line, crlf)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return a, false, errLeanFormat
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return a, false, errLeanFormat
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return a, false, errLeanFormat
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		case bytes.EqualFold(name, []byte("Remote-User")) && len(value) > 0:
			a.remoteUser = true
		}
	}
	if length < 0 {
		return a, false, errLeanFormat
	}
	if _, err := c.br.Discard(length); err != nil {
		return a, false, err
	}
	return a, keep, nil
}

func (c *leanConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// forwardAuthRequest is the request a reverse proxy sends for one check:
// GET /api/v1/auth/auth-request with the original URL and, unless bearer is empty, the
// session as a Bearer token.
func forwardAuthRequest(host, bearer string) []byte {
	var b bytes.Buffer
	b.WriteString("GET /api/v1/auth/auth-request HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: twostep-bench\r\nX-Original-URL: " + forwardAuthURL + "\r\n")
	if bearer != "" {
		b.WriteString("Authorization: Bearer " + bearer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

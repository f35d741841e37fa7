// Package notifytest runs a real SMTP server on 127.0.0.1 for tests of
// security notifications (github.com/emersion/go-smtp as the receiver):
// STARTTLS or implicit TLS with a certificate from a CA made per server,
// optional PLAIN authentication, a switch to answer 4xx or 5xx, and a
// stop and restart on the same port to play a mail server that is down.
// Only tests import it.
package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options choose how the server talks.
type Options struct {
	ImplicitTLS bool // TLS from the first byte (port-465 style); else STARTTLS is offered
	NoTLS       bool // plain SMTP only (for tls: none to a loopback relay)
	// Username and Password, when set, are required (AUTH PLAIN, after TLS).
	Username, Password string
}

// Message is one accepted message.
type Message struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool // the session was encrypted when DATA was sent
	Authed bool
}

// Server is a running receiver.
type Server struct {
	Addr string // 127.0.0.1:port
	opts Options
	ca   *x509.CertPool
	cert tls.Certificate

	mu   sync.Mutex
	msgs []Message
	fail *smtp.SMTPError // answered to RCPT while set
	srv  *smtp.Server
	ln   net.Listener
	got  chan struct{}
}

// Start starts a server on a free port of 127.0.0.1; it stops when the test
// ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, got: make(chan struct{}, 1000)}
	s.ca, s.cert = newCA(t)
	s.listen(t, "127.0.0.1:0")
	t.Cleanup(s.Stop)
	return s
}

// ClientTLS is a client configuration that trusts the server's test CA.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.ca, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) listen(t testing.TB, addr string) {
	t.Helper()
	srv := smtp.NewServer(&backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = s.opts.NoTLS
	if !s.opts.NoTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	}
	var ln net.Listener
	var err error
	// A restarted server may find its port in TIME_WAIT for a moment.
	for i := 0; i < 50; i++ {
		if s.opts.ImplicitTLS {
			ln, err = tls.Listen("tcp", addr, srv.TLSConfig)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtp listen %s: %v", addr, err)
	}
	s.mu.Lock()
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the server: connections are refused until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// The listener is closed here too: Serve may not have registered
		// it with the server yet, and Close would then miss it.
		ln.Close()
		srv.Close()
	}
}

// Restart listens again on the same address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.listen(t, s.Addr)
}

// Fail makes RCPT answer code (e.g. 451 or 550) until Fail(0).
func (s *Server) Fail(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = nil
	if code != 0 {
		s.fail = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "test server says no"}
	}
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits up to timeout until at least n messages were accepted and
// returns them all.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("%d messages after %s, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, c: c}, nil
}

type session struct {
	s      *Server
	c      *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.opts.Username || pass != x.s.opts.Password {
			return errors.New("bad credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	fail := x.s.fail
	x.s.mu.Unlock()
	if fail != nil {
		return fail
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	_, tlsOn := x.c.TLSConnectionState()
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Data: b.Bytes(), TLS: tlsOn, Authed: x.authed})
	x.s.mu.Unlock()
	select {
	case x.s.got <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// newCA makes a CA and a server certificate for 127.0.0.1 signed by it.
func newCA(t testing.TB) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "notifytest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Package proxy tests twostep's forward-auth behind the reverse proxies
// docs/proxies.md documents, configured as that page tells an administrator
// to: a real nginx (Debian package nginx) asking
// GET /api/v1/auth/auth-request, a real Caddy (Debian package caddy) asking
// GET /api/v1/auth/forward-auth, and a test double of Traefik's ForwardAuth
// middleware (traefik_double_test.go; Traefik is not packaged for Debian).
// Each proxy, started by the test with a configuration it writes, serves
// twostep's pages at login.example.test and a small upstream application
// at app.example.test on one loopback port, and asks twostep about every
// request to the application. The server runs in-process through the
// command-line entry point (cli.RunEnv "serve") on a fresh SQLite database.
// DNS is not needed: the HTTP client dials the proxy's port for every host
// name, and Chromium maps *.example.test to 127.0.0.1. Tests that need
// nginx, Caddy or Chromium skip with a message when it is missing. The
// package has test files only.
package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/testskip"
)

const (
	nginxPath = "/usr/sbin/nginx"

	appHost     = "app.example.test"     // protected application, nginx builds the login redirect through twostep
	simpleHost  = "simple.example.test"  // protected application, nginx's plain "return 302" login redirect
	guardedHost = "guarded.example.test" // protected application behind nginx's path guard
	loginHost   = "login.example.test"   // twostep's pages and API
	publicHost  = "public.example.test"  // a host whose every path is bypass: the target of host tricks
)

// accessRules are the forward-auth rules of every test here (first match
// wins): the catch-all *.example.test rule also makes every application
// host a valid place to return to after sign-in.
var accessRules = []string{
	appHost + "/public bypass",
	appHost + "/blocked deny",
	appHost + "/light one_factor",
	appHost + "/admin two_factor admins",
	guardedHost + "/public bypass",
	guardedHost + "/blocked deny",
	guardedHost + "/admin two_factor admins",
	publicHost + " bypass",
	"*.example.test two_factor",
}

// twostep is a running "twostep serve" of an installation.
type twostep struct {
	*e2etest.Instance
	addr string // 127.0.0.1:PORT, for nginx and for direct requests
}

// startTwostep runs "twostep serve" in-process on a random loopback port
// with small argon2 parameters, raised per-IP limits (every request comes
// from 127.0.0.1) and the given extra KEY=VALUE settings, and stops it when
// the test ends.
func startTwostep(t *testing.T, extra ...string) *twostep {
	t.Helper()
	settings := []string{
		"TWOSTEP_LIMITS_LOGIN_PER_IP=10000",
		"TWOSTEP_LIMITS_VERIFY_PER_IP=10000",
		"TWOSTEP_LIMITS_VERIFY_PER_USER=100",
		"TWOSTEP_LOG_LEVEL=info",
		"TWOSTEP_ISSUER=Example Corp",
		"TWOSTEP_ACCESS_RULES=" + strings.Join(accessRules, ","),
		"TWOSTEP_ACCESS_DEFAULT_POLICY=deny",
		"TWOSTEP_SESSION_IDLE_TIMEOUT=30m",
		"TWOSTEP_SESSION_ABSOLUTE_TIMEOUT=12h",
	}
	s := &twostep{Instance: e2etest.NewInstance(t, "", append(settings, extra...)...)}
	s.addr, _ = s.Start(t)
	return s
}

// another starts a second server on the same database and key file, as a
// second instance behind a load balancer would run.
func (s *twostep) another(t *testing.T) *twostep {
	t.Helper()
	b := &twostep{Instance: s.Instance}
	b.addr, _ = b.Start(t)
	return b
}

// app is the upstream application behind the proxy. It answers every
// request with the identity headers the proxy passed on, one "Name: value"
// per line, and remembers how many requests reached it. It also lists, as
// "Underscored: ...", any header whose name is an identity header spelt
// with '_' for '-' (Remote_User): CGI, PHP and WSGI applications read both
// spellings as REMOTE_USER, so such a header is a spoofed identity too.
type app struct {
	srv  *httptest.Server
	hits atomic.Int64
}

// identityHeaders are the headers twostep answers a passing check with and
// nginx hands to the application.
var identityHeaders = []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups"}

func startApp(t *testing.T) *app {
	t.Helper()
	a := &app{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		b.WriteString("<!doctype html><title>app</title><pre id=seen>")
		fmt.Fprintf(&b, "Host: %s\nPath: %s\n", html.EscapeString(r.Host), html.EscapeString(r.URL.RequestURI()))
		for _, h := range identityHeaders {
			fmt.Fprintf(&b, "%s: %s\n", h, html.EscapeString(strings.Join(r.Header.Values(h), "|")))
		}
		var under []string
		for k, v := range r.Header {
			if strings.Contains(k, "_") && slices.Contains(identityHeaders, http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))) {
				under = append(under, k+"="+strings.Join(v, "|"))
			}
		}
		slices.Sort(under)
		fmt.Fprintf(&b, "Underscored: %s\n", html.EscapeString(strings.Join(under, " ")))
		b.WriteString("</pre>")
		io.WriteString(w, b.String())
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// seen parses the application's answer: the header values it received.
func seen(body string) map[string]string {
	m := map[string]string{}
	body = html.UnescapeString(body)
	for line := range strings.Lines(body) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
			m[k] = v
		} else if k, ok := strings.CutSuffix(strings.TrimSpace(line), ":"); ok {
			m[k] = ""
		}
	}
	return m
}

// nginxConf is the nginx configuration of the tests: docs/proxies.md shows
// it, generalised. {dir} is the working directory, {listen} nginx's
// address (with " ssl" for HTTPS), {tls} the certificate lines or nothing,
// {port} nginx's port, {scheme} http or https, {twostep} twostep's address
// and {app} the application's.
const nginxConf = `# written by internal/e2e/proxy; see docs/proxies.md
master_process off;           # one process: the test stops it by PID
error_log {dir}/error.log info;

events { worker_connections 512; }

http {
    access_log {dir}/access.log;
{tls}
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream twostep {
        server {twostep};
        keepalive 16;
    }
    upstream app {
        server {app};
    }

    # Requests for unknown host names get nothing.
    server {
        listen {listen} default_server;
        server_name _;
        return 421;
    }

    # twostep itself: the sign-in pages and the JSON API.
    server {
        listen {listen};
        server_name login.example.test;

        location / {
            proxy_pass http://twostep;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }

    # A protected application.
{app_server}
    # The same application behind the guard against path tricks that
    # docs/proxies.md recommends while twostep matches raw paths.
{guarded_server}
    # The same application with the shortest login redirect: nginx writes
    # it itself. rd is not percent-encoded (nginx has no function for it).
    server {
        listen {listen};
        server_name simple.example.test;

        location / {
            auth_request /_twostep;
            auth_request_set $remote_user_ $upstream_http_remote_user;
            error_page 401 = @twostep_login;
            proxy_pass http://app;
            proxy_set_header Remote-User $remote_user_;
            proxy_set_header Host $http_host;
        }

        location = /_twostep {
            internal;
            proxy_pass http://twostep/api/v1/auth/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://simple.example.test:{port}$request_uri;
            proxy_set_header X-Original-Method $request_method;
        }

        location @twostep_login {
            return 302 {scheme}://login.example.test:{port}/login?rd=$scheme://simple.example.test:{port}$request_uri;
        }
    }
}
`

// appServer is the server block of a protected application: twostep
// answers the check with 200 (pass, with the user's identity in Remote-*
// headers), 401 (sign in first) or 403 (refused). {name} is its host name,
// {guard} nothing or pathGuard.
const appServer = `    server {
        listen {listen};
        server_name {name};
{guard}
        location / {
            auth_request /_twostep;
            auth_request_set $remote_user_ $upstream_http_remote_user;
            auth_request_set $remote_name_ $upstream_http_remote_name;
            auth_request_set $remote_email_ $upstream_http_remote_email;
            auth_request_set $remote_groups_ $upstream_http_remote_groups;
            error_page 401 = @twostep_login;

            proxy_pass http://app;
            # Set (or, when empty, remove) every identity header, so a
            # client can never send its own.
            proxy_set_header Remote-User $remote_user_;
            proxy_set_header Remote-Name $remote_name_;
            proxy_set_header Remote-Email $remote_email_;
            proxy_set_header Remote-Groups $remote_groups_;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }

        # The check: the original URL goes to twostep, the body does not.
        # The host is written out, never taken from the client's Host
        # header: nginx picks this server block for "Host:
        # {name}:1@other.example" too, and the check must be about this
        # application, not about other.example's rules.
        location = /_twostep {
            internal;
            proxy_pass http://twostep/api/v1/auth/auth-request;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://{name}:{port}$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Defence in depth: twostep reads none of these on this endpoint.
            proxy_set_header X-Forwarded-Host "";
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Proto "";
            proxy_set_header X-Forwarded-Method "";
        }

        # Sign in first: twostep builds the redirect to its login page, with
        # the original URL correctly encoded as rd.
        location @twostep_login {
            rewrite ^ /api/v1/auth/auth-request?mode=redirect? break;
            proxy_method GET;
            proxy_pass http://twostep;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://{name}:{port}$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Host "";
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Proto "";
            proxy_set_header X-Forwarded-Method "";
        }
    }`

// pathGuard refuses request paths that name one resource in several
// spellings or that back-ends read differently: dot segments, doubled
// slashes, ';' path parameters (raw or %3B), percent-encoded unreserved
// characters, '%' (%25, double encoding), slashes, backslashes and control
// characters (docs/proxies.md, "Access rules"). twostep refuses or
// normalises all of these itself; the guard is defence in depth.
const pathGuard = `        if ($request_uri ~* "^[^?]*(/\.\.?(/|\?|$)|//|;|%([01]|2[5def]|3[0-9b]|[46][1-9a-f]|[57][0-9a]|5[cf]|7[ef]))") { return 400; }
`

// frontend is the running reverse proxy of a test: nginx, Caddy or the
// Traefik double, serving every host name on one loopback port.
type frontend struct {
	port   int
	scheme string // http, or https with a certificate for *.example.test
}

// url returns the URL of path on host as a client reaches it through the
// proxy.
func (f frontend) url(host, path string) string {
	return f.scheme + "://" + host + ":" + strconv.Itoa(f.port) + path
}

// addr is the proxy's address, 127.0.0.1:PORT.
func (f frontend) addr() string { return "127.0.0.1:" + strconv.Itoa(f.port) }

// startNginx writes the configuration into a fresh directory and starts
// nginx on port in front of twostep (tsAddr) and the application
// (appAddr), and stops it by its PID when the test ends. With cert
// (PEM certificate and key) it serves HTTPS.
func startNginx(t *testing.T, port int, tsAddr, appAddr string, cert *testCert) frontend {
	t.Helper()
	dir := t.TempDir()
	f := frontend{port: port, scheme: "http"}
	listen, tlsLines := "127.0.0.1:"+strconv.Itoa(port), ""
	if cert != nil {
		f.scheme, listen = "https", listen+" ssl"
		crt, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := errors.Join(os.WriteFile(crt, cert.certPEM, 0o644), os.WriteFile(key, cert.keyPEM, 0o600)); err != nil {
			t.Fatal(err)
		}
		tlsLines = "    ssl_certificate " + crt + ";\n    ssl_certificate_key " + key + ";\n"
	}
	conf := filepath.Join(dir, "nginx.conf")
	server := func(name, guard string) string {
		return strings.NewReplacer("{name}", name, "{guard}", guard).Replace(appServer)
	}
	text := strings.NewReplacer("{app_server}", server(appHost, ""), "{guarded_server}", server(guardedHost, pathGuard)).Replace(nginxConf)
	text = strings.NewReplacer("{dir}", dir, "{listen}", listen, "{tls}", tlsLines, "{port}", strconv.Itoa(port),
		"{scheme}", f.scheme, "{twostep}", tsAddr, "{app}", appAddr).Replace(text)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr e2etest.Log
	cmd := exec.Command(nginxPath, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"),
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+";")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		s := "error log:\n" + stderr.String() + string(b)
		if os.Getenv("TWOSTEP_TEST_NGINX_LOG") != "" { // show what nginx saw, for debugging
			a, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			s += "\naccess log:\n" + string(a)
		}
		return s
	}
	runPeer(t, "nginx", cmd, syscall.SIGQUIT, port, logs, os.Getenv("TWOSTEP_TEST_NGINX_LOG") != "")
	return f
}

// runPeer starts a peer program (nginx, Caddy) that is to listen on
// 127.0.0.1:port, waits up to 10 s until it does, and stops it when the
// test ends: stop (a graceful signal) first, SIGKILL 5 s later, both by its
// PID. logs returns what the program wrote, shown when the test fails (or
// always, with showLogs).
func runPeer(t *testing.T, name string, cmd *exec.Cmd, stop os.Signal, port int, logs func() string, showLogs bool) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Errorf("%s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
			}
		}
		if t.Failed() || showLogs {
			t.Logf("%s (pid %d) %s", name, cmd.Process.Pid, logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			// Another process can take the port between freePort and
			// the peer binding it; the log then says "address already in use".
			t.Fatalf("%s exited during start-up (%v): %s", name, cmd.ProcessState, logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on port %d within 10 s: %s", name, port, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// setup is what every test here needs: twostep behind the proxy at
// login.example.test with a session cookie for all of example.test, the
// application, and the proxy in front of both.
type setup struct {
	ts    *twostep
	app   *app
	front frontend
	cert  *testCert // nil for plain HTTP
}

// startProxy starts a proxy on port in front of twostep (tsAddr) and the
// application (appAddr).
type startProxy func(t *testing.T, port int, tsAddr, appAddr string) frontend

// newSetup is nginx over plain HTTP: cookies without Secure
// (insecure_dev_cookies), as in a development network.
func newSetup(t *testing.T) *setup { return newSetupScheme(t, false) }

// newTLSSetup is the production shape: nginx terminates HTTPS with a
// certificate for *.example.test made by the test, twostep's public URL is
// https and its cookies are Secure.
func newTLSSetup(t *testing.T) *setup { return newSetupScheme(t, true) }

func newSetupScheme(t *testing.T, https bool) *setup {
	t.Helper()
	if _, err := os.Stat(nginxPath); err != nil {
		testskip.Skip(t, "nginx is not installed ("+nginxPath+" missing)", "apt-get install -y nginx")
	}
	var cert *testCert
	if https {
		cert = newTestCert(t)
	}
	return newSetupWith(t, cert, func(t *testing.T, port int, tsAddr, appAddr string) frontend {
		return startNginx(t, port, tsAddr, appAddr, cert)
	})
}

// newSetupWith starts twostep, the application and, with start, the proxy.
// The proxy's port must be known before twostep starts (public_url), and
// twostep's before the proxy's configuration is written. With cert the
// proxy serves HTTPS (start must use cert).
func newSetupWith(t *testing.T, cert *testCert, start startProxy) *setup {
	t.Helper()
	port := freePort(t)
	settings := []string{"TWOSTEP_COOKIE_DOMAIN=example.test", "TWOSTEP_TRUSTED_PROXIES=127.0.0.1"}
	if cert != nil {
		settings = append(settings, "TWOSTEP_PUBLIC_URL=https://"+loginHost+":"+strconv.Itoa(port))
	} else {
		settings = append(settings, "TWOSTEP_PUBLIC_URL=http://"+loginHost+":"+strconv.Itoa(port),
			"TWOSTEP_INSECURE_DEV_COOKIES=true") // plain HTTP off localhost: test only
	}
	ts := startTwostep(t, settings...)
	a := startApp(t)
	f := start(t, port, ts.addr, strings.TrimPrefix(a.srv.URL, "http://"))
	return &setup{ts: ts, app: a, front: f, cert: cert}
}

// testCert is a self-signed certificate for example.test and
// *.example.test.
type testCert struct {
	certPEM, keyPEM []byte
	pool            *x509.CertPool
}

func newTestCert(t *testing.T) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "example.test"},
		DNSNames:              []string{"example.test", "*.example.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		pool:    pool,
	}
}

// client is a browser-like HTTP client that reaches every host through
// the proxy: it dials the proxy's port whatever the URL's host says, does not follow
// redirects (the tests check each), and keeps cookies when it has a jar.
type client struct {
	t    *testing.T
	http *http.Client
	jar  http.CookieJar
}

func (s *setup) client(t *testing.T, withJar bool) *client {
	t.Helper()
	addr := s.front.addr()
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 8,
	}
	if s.cert != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.cert.pool}
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &client{t: t}
	if withJar {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.jar = jar
	}
	c.http = e2etest.NewClient(tr, c.jar)
	return c
}

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   string
}

// location returns the Location header, failing when there is none.
func (r response) location(t *testing.T) string {
	t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatalf("status %d without Location; body: %s", r.status, r.body)
	}
	return loc
}

// want fails the test unless the status is status.
func (r response) want(t *testing.T, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; Location %q; body: %.600s", what, r.status, status, r.header.Get("Location"), r.body)
	}
	return r
}

// str returns the string field k of a JSON object body.
func (r response) str(t *testing.T, k string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	v, ok := m[k].(string)
	if !ok || v == "" {
		t.Fatalf("body has no string %q: %s", k, r.body)
	}
	return v
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

// withCookie presents tok as the session cookie.
func withCookie(tok string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "twostep_session", Value: tok}) }
}

// withHeader sets a request header.
func withHeader(k, v string) reqOpt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// do sends a request. body is nil, url.Values (sent as a form) or a value
// sent as JSON.
func (c *client) do(method, rawURL string, body any, opts ...reqOpt) response {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(rawURL string, opts ...reqOpt) response {
	return c.do("GET", rawURL, nil, opts...)
}

// raw sends one request to the proxy exactly as written, over a new
// connection: "METHOD target HTTP/1.1", then "Host: host" (no Host line when
// host is ""), the header lines and "Connection: close". It is how the tests
// send what http.Client refuses or rewrites: a raw '#', a Host with
// user-info, a header twice, a target starting with "//". status is 0 when
// the proxy closed the connection without an answer.
func (s *setup) raw(t *testing.T, method, target, host string, header ...string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.front.addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.front.addr(), err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("write %q: %v", target, err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return response{body: "no answer: " + err.Error()}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

// sessionCookie returns the session cookie the jar would send to rawURL.
func (c *client) sessionCookie(rawURL string) string {
	c.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, k := range c.jar.Cookies(u) {
		if k.Name == "twostep_session" {
			return k.Value
		}
	}
	return ""
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a page's forms.
func hiddenFields(page string) map[string]string {
	m := map[string]string{}
	for _, f := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if _, dup := m[f[1]]; !dup {
			m[f[1]] = html.UnescapeString(f[2])
		}
	}
	return m
}

// enrol signs name in through the JSON API (through the proxy, with the cookie
// in c's jar), sets up an authenticator app and confirms it; the jar ends
// with the aal2 session. It returns the code generator.
func (s *setup) enrol(t *testing.T, c *client, name string) *e2etest.TOTPGen {
	t.Helper()
	api := func(p string) string { return s.front.url(loginHost, "/api/v1"+p) }
	c.do("POST", api("/login"), map[string]string{"username": name, "password": e2etest.Password}).want(t, 200, "login "+name)
	return s.addApp(t, c)
}

// addApp sets up an authenticator app for the aal1 session in c's jar
// through the JSON API (through the proxy) and confirms it with a code;
// the jar ends with the new aal2 session. It returns the code generator.
func (s *setup) addApp(t *testing.T, c *client) *e2etest.TOTPGen {
	t.Helper()
	api := func(p string) string { return s.front.url(loginHost, "/api/v1"+p) }
	c.do("POST", api("/setup/plan"), map[string]any{"methods": []string{"totp"}}).want(t, http.StatusOK, "plan")
	st := c.do("POST", api("/setup/totp"), map[string]any{}).want(t, http.StatusOK, "setup totp")
	gen := e2etest.NewTOTPGen(t, st.str(t, "secret"))
	c.do("POST", api("/setup/totp/confirm"), map[string]string{"code": gen.Next(t)}).want(t, http.StatusOK, "confirm totp")
	return gen
}

// signInAlice adds alice (e-mail, group staff), signs her in with a
// password and an authenticator app through the proxy, and returns her
// aal2 session token.
func (s *setup) signInAlice(t *testing.T) string {
	t.Helper()
	s.ts.AddUser(t, "alice")
	s.ts.MustCLI(t, "", "user", "set", "alice", "--email", "alice@example.test", "--groups", "staff")
	c := s.client(t, true)
	s.enrol(t, c, "alice")
	return c.sessionCookie(s.front.url(appHost, "/"))
}

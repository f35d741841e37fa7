package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// traefikDouble is a TEST DOUBLE, not Traefik: a small Go reverse proxy
// that handles headers the way Traefik's ForwardAuth middleware does, so
// that twostep's /api/v1/auth/forward-auth can be tested against that
// behaviour here. Traefik itself cannot run in these tests: it is not
// packaged for Debian, and it cannot be built from source without the
// network (its go.mod has replace directives the module proxy does not
// serve).
//
// It was written from Traefik's source at commit fd5a576df2e8 (master,
// after v3.7.9, July 2026), reading:
//
//   - pkg/middlewares/forwardedheaders/forwarded_header.go, the entry
//     point: unless forwardedHeaders.insecure is set or the client's
//     address is in forwardedHeaders.trustedIPs, it deletes the client's
//     X-Forwarded-* (and X-Real-Ip, X-Scheme, including the underscore
//     spellings such as X_Forwarded_Uri); then it sets X-Forwarded-Proto,
//     -Port and -Host and X-Real-Ip where absent, joins X-Forwarded-For,
//     sets X-Forwarded-Server, and drops the headers the Connection header
//     names (never a managed X- header);
//   - pkg/middlewares/auth/forward.go, the middleware: a GET to the
//     address with a copy of all the client's headers (or only
//     authRequestHeaders when that list is not empty), minus the
//     Connection-named and hop-by-hop ones (Connection, Keep-Alive, Te,
//     Trailers, Transfer-Encoding, Upgrade). With trustForwardHeader: false
//     (writeHeader) it deletes every X-Forwarded-* first; with true it keeps
//     what the request carries, and then adds the X-Forwarded-* names to
//     authRequestHeaders. It sets X-Forwarded-Method, -Proto, -Port, -Host
//     and -Uri (req.URL.RequestURI()) only where absent, and appends the
//     client to X-Forwarded-For. Left unset (nil), trustForwardHeader runs
//     oldWriteHeader: X-Forwarded-For, -Proto, -Method, -Host and -Uri are
//     always overwritten, other X-Forwarded-* headers pass through. A non-2xx
//     answer goes to the client with its headers (hop-by-hop removed) and
//     body; on 2xx each authResponseHeaders name is deleted from the request
//     and set from the answer when the answer has it;
//   - pkg/middlewares/headers/header.go: customRequestHeaders with an empty
//     value delete that request header (deleteRequestHeaders here).
//
// Left out, each on purpose: the entry point's path handling
// (sanitizePath, the unreserved-character normalisation and denyFragment
// in pkg/server/server_entrypoint_tcp.go), which real Traefik applies
// before any middleware. Without it, the double hands twostep more odd
// paths than Traefik would, so the corpus is harder on twostep, not
// easier. Also left out: TLS, forwardBody, authResponseHeadersRegex,
// addAuthCookiesToResponse, authSigninURL, tracing, and
// underscoreHeadersStrategy (its default, keep, is what the double does).
type traefikDouble struct {
	cfg      traefikConfig
	auth     *http.Client
	login    http.Handler // service: twostep
	app      http.Handler // service: the application
	hostname string       // X-Forwarded-Server
}

// traefikConfig is the part of a Traefik configuration the double follows.
type traefikConfig struct {
	// Entry point: forwardedHeaders.insecure and forwardedHeaders.trustedIPs.
	insecure   bool
	trustedIPs []netip.Prefix

	// The forwardAuth middleware of the application's router.
	address             string // the check's URL; {twostep} is twostep's address
	trustForwardHeader  *bool  // nil: not set
	authRequestHeaders  []string
	authResponseHeaders []string

	// A headers middleware before forwardAuth: customRequestHeaders set
	// to "" for these names.
	deleteRequestHeaders []string
}

// xHeaders are the X- headers Traefik manages (XHeadersSet).
var xHeaders = []string{"X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-For", "X-Forwarded-Host",
	"X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Prefix",
	"X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info", "X-Scheme", "X-Real-Ip"}

// authHopHeaders are forward.go's hopHeaders.
var authHopHeaders = []string{"Connection", "Keep-Alive", "Te", "Trailers", "Transfer-Encoding", "Upgrade"}

// isManagedXHeader is forwarded_header.go's: the name, or its underscore
// spelling, is one of xHeaders.
func isManagedXHeader(key string) bool {
	return slices.Contains(xHeaders, http.CanonicalHeaderKey(strings.ReplaceAll(key, "_", "-")))
}

// deleteXForwarded is DeleteXForwardedHeaders.
func deleteXForwarded(h http.Header) {
	for k := range h {
		if isManagedXHeader(k) {
			delete(h, k)
		}
	}
}

// startTraefikDouble returns a startProxy that runs the double with cfg.
func startTraefikDouble(cfg traefikConfig) startProxy {
	return func(t *testing.T, port int, tsAddr, appAddr string) frontend {
		t.Helper()
		cfg.address = strings.ReplaceAll(cfg.address, "{twostep}", tsAddr)
		tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}
		t.Cleanup(tr.CloseIdleConnections)
		hostname, err := os.Hostname()
		if err != nil {
			hostname = "localhost"
		}
		d := &traefikDouble{
			cfg: cfg,
			auth: &http.Client{Transport: tr, Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
			login:    service(t, tsAddr),
			app:      service(t, appAddr),
			hostname: hostname,
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("Traefik double: %v", err)
		}
		srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
		return frontend{port: port, scheme: "http"}
	}
}

// service is a Traefik load-balancer service with one server and
// passHostHeader (the default): the request goes on with its Host, path
// and the X-Forwarded-* headers the entry point set.
func service(t *testing.T, addr string) http.Handler {
	target := &url.URL{Scheme: "http", Host: addr}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			for k, v := range pr.In.Header {
				if isManagedXHeader(k) {
					pr.Out.Header[k] = v
				}
			}
			if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				if prior := pr.Out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
					ip = strings.Join(prior, ", ") + ", " + ip
				}
				pr.Out.Header.Set("X-Forwarded-For", ip)
			}
		},
	}
}

// ServeHTTP is the entry point, then the router: twostep's host goes to
// twostep, the application's through its middlewares, any other host gets
// 404 as in Traefik.
func (d *traefikDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.forwardedHeaders(r)
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch host {
	case loginHost:
		d.login.ServeHTTP(w, r)
	case appHost:
		for _, k := range d.cfg.deleteRequestHeaders {
			r.Header.Del(k)
		}
		d.forwardAuth(w, r)
	default:
		http.NotFound(w, r)
	}
}

// forwardedHeaders is the entry point's XForwarded.ServeHTTP.
func (d *traefikDouble) forwardedHeaders(r *http.Request) {
	trusted := false
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if a, err := netip.ParseAddr(ip); err == nil {
			trusted = slices.ContainsFunc(d.cfg.trustedIPs, func(p netip.Prefix) bool { return p.Contains(a) })
		}
	}
	if !d.cfg.insecure && !trusted {
		deleteXForwarded(r.Header)
	}
	h := r.Header
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && h.Get("X-Real-Ip") == "" {
		h.Set("X-Real-Ip", ip)
	}
	if h.Get("X-Forwarded-Proto") == "" {
		h.Set("X-Forwarded-Proto", "http")
	}
	if h.Get("X-Forwarded-Port") == "" {
		h.Set("X-Forwarded-Port", forwardedPort(r.Host, h.Get("X-Forwarded-Proto")))
	}
	if h.Get("X-Forwarded-Host") == "" && r.Host != "" {
		h.Set("X-Forwarded-Host", r.Host)
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		h.Set("X-Forwarded-For", strings.Join(xff, ", "))
	}
	h.Set("X-Forwarded-Server", d.hostname)
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" && !isManagedXHeader(http.CanonicalHeaderKey(name)) {
				h.Del(name)
			}
		}
	}
	h.Del("Connection")
}

func forwardedPort(host, proto string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return port
	}
	if proto == "https" || proto == "wss" {
		return "443"
	}
	return "80"
}

// forwardAuth is forwardAuth.ServeHTTP without body, tracing or cookies.
func (d *traefikDouble) forwardAuth(w http.ResponseWriter, r *http.Request) {
	areq, err := http.NewRequestWithContext(r.Context(), http.MethodGet, d.cfg.address, nil)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	d.writeAuthHeaders(r, areq)
	ares, err := d.auth.Do(areq)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	defer ares.Body.Close()
	body, err := io.ReadAll(ares.Body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if ares.StatusCode < http.StatusOK || ares.StatusCode >= http.StatusMultipleChoices {
		for k, v := range ares.Header {
			for _, x := range v {
				w.Header().Add(k, x)
			}
		}
		for _, k := range authHopHeaders {
			w.Header().Del(k)
		}
		if loc, err := ares.Location(); err == nil {
			w.Header().Set("Location", loc.String())
		}
		w.WriteHeader(ares.StatusCode)
		io.Copy(w, bytes.NewReader(body))
		return
	}
	for _, name := range d.cfg.authResponseHeaders {
		k := http.CanonicalHeaderKey(name)
		r.Header.Del(k)
		if v := ares.Header[k]; len(v) > 0 {
			r.Header[k] = slices.Clone(v)
		}
	}
	r.RequestURI = r.URL.RequestURI()
	d.app.ServeHTTP(w, r)
}

// writeAuthHeaders is writeHeader (trustForwardHeader set) or
// oldWriteHeader (not set).
func (d *traefikDouble) writeAuthHeaders(r, areq *http.Request) {
	areq.Header = r.Header.Clone()
	removeConnectionHeaders(areq.Header)
	for _, k := range authHopHeaders {
		areq.Header.Del(k)
	}
	allowed := d.cfg.authRequestHeaders
	h := areq.Header
	if d.cfg.trustForwardHeader == nil { // oldWriteHeader
		areq.Header = filterHeaders(h, allowed)
		h = areq.Header
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			h.Set("X-Forwarded-For", ip)
		}
		h.Set("X-Forwarded-Proto", "http")
		h.Set("X-Forwarded-Method", r.Method)
		h.Set("X-Forwarded-Host", r.Host)
		h.Set("X-Forwarded-Uri", r.URL.RequestURI())
		return
	}
	trust := *d.cfg.trustForwardHeader
	if trust && len(allowed) > 0 { // NewForward adds the X- names to the list
		allowed = append(slices.Clone(allowed), xHeaders...)
	}
	if !trust {
		deleteXForwarded(h)
	}
	if _, ok := r.Header["User-Agent"]; !ok {
		h.Set("User-Agent", "")
	}
	areq.Header = filterHeaders(h, allowed)
	h = areq.Header
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior, ok := h["X-Forwarded-For"]; ok {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	}
	setIfAbsent := func(k, v string) {
		if _, ok := h[k]; !ok {
			h.Set(k, v)
		}
	}
	setIfAbsent("X-Forwarded-Method", r.Method)
	setIfAbsent("X-Forwarded-Proto", "http")
	setIfAbsent("X-Forwarded-Port", forwardedPort(r.Host, h.Get("X-Forwarded-Proto")))
	setIfAbsent("X-Forwarded-Host", r.Host)
	setIfAbsent("X-Forwarded-Uri", r.URL.RequestURI())
}

// removeConnectionHeaders is connectionheader.go's RemoveConnectionHeaders
// (the Upgrade case left out: no WebSockets here).
func removeConnectionHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	h.Del("Connection")
}

// filterHeaders is filterForwardRequestHeaders: all of h when allowed is
// empty, else only the allowed names.
func filterHeaders(h http.Header, allowed []string) http.Header {
	if len(allowed) == 0 {
		return h
	}
	out := http.Header{}
	for _, name := range allowed {
		if v := h.Values(name); len(v) > 0 {
			out[http.CanonicalHeaderKey(name)] = v
		}
	}
	return out
}

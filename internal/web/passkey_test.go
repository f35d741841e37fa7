package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPasskeyScriptAsset: passkey.js is one static file, served like the
// others (versioned URL, cached a year) and referring to no other origin;
// it is the only code that calls navigator.credentials.
func TestPasskeyScriptAsset(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/static/passkey.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("passkey.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	js := string(body)
	for _, s := range []string{"navigator.credentials.create", "navigator.credentials.get", "PublicKeyCredential"} {
		if !strings.Contains(js, s) {
			t.Errorf("passkey.js lacks %q", s)
		}
	}
	for _, s := range []string{"http://", "https://", "fetch(", "XMLHttpRequest", "eval(", "innerHTML"} {
		if strings.Contains(js, s) {
			t.Errorf("passkey.js contains %q: it only fills a form field and submits the form", s)
		}
	}
	resp, err = http.Get(e.srv.URL + "/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(app), "navigator.credentials") {
		t.Error("app.js calls navigator.credentials; passkey.js alone should")
	}
}

// TestPasswordlessOff: without passwordless sign-in the sign-in page
// neither offers a passkey nor loads the script, and a forged "Sign in
// with a passkey" finds no page (and begins nothing).
func TestPasswordlessOff(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.get("/login")
	if p.has(`action="/login/passkey"`) || p.has("passkey.js") {
		t.Fatalf("sign-in page offers a passkey although passwordless sign-in is off:\n%s", p.body)
	}
	form := p.form(t, "/login")
	for _, path := range []string{"/login/passkey", "/login/passkey/finish"} {
		p = b.post(path, url.Values{"csrf": form["csrf"]})
		if p.status != http.StatusNotFound || p.has("data-passkey-options") {
			t.Errorf("%s with passwordless sign-in off: %d\n%s", path, p.status, p.body)
		}
	}
}

package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/totp"
)

func rememberDays(days int) func(*auth.Config) {
	return func(c *auth.Config) { c.RememberDeviceDays = days }
}

// TestRememberThisDevice: ticking "Remember this device" when setting up
// the first method lets the next sign-in on this browser skip the code;
// the browser is listed and can be forgotten; recent-auth actions still ask
// for a code.
func TestRememberThisDevice(t *testing.T) {
	e := newEnv(t, rememberDays(30))
	e.addUser("alice")
	b := e.browser()
	b.login("alice", pw)
	p := b.submit("/setup", url.Values{"method": {"totp"}})
	if !p.has(`<label for="remember">Remember this device for 30 days</label>`) || p.has(`id="remember" name="remember" value="1" checked`) {
		t.Fatalf("set-up page lacks the unticked checkbox:\n%s", p.body)
	}
	secret := p.secret(t)
	p = b.submit("/setup/totp", url.Values{"code": {e.code(secret)}, "remember": {"1"}})
	p.want(t, http.StatusOK, "/setup/totp", "Save your recovery codes")

	b.submit("/logout", nil)
	p = b.login("alice", pw)
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	p = b.get("/settings/sessions")
	if !p.has("Remembered browsers") || !p.has(`<span class="badge">This browser</span>`) || !p.has("Not used to sign in yet") && !p.has("Last sign-in") {
		t.Fatalf("the sessions page lacks the remembered browser:\n%s", p.body)
	}
	// Adding a method still needs a fresh code, and the verification asked
	// then offers no checkbox (the session is aal2 already).
	p = b.get("/setup/totp")
	if p.url.Path != "/verify" || p.url.Query().Get("why") != "recent" || p.has(`id="remember"`) {
		t.Fatalf("recent-auth action after a remembered sign-in: at %s\n%s", p.url, p.body)
	}

	// Forget this browser: the cookie goes, the next sign-in asks again.
	p = b.get("/settings/sessions")
	m := regexp.MustCompile(`action="(/settings/devices/[^/"]+/forget)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no Forget button")
	}
	resp := b.noFollow("POST", m[1], p.form(t, m[1]))
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "twostep_device=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("forgetting this browser: Set-Cookie %q", sc)
	}
	if loc := resp.Header.Get("Location"); loc != "/settings/sessions?done=forgotten#devices" {
		t.Fatalf("after forgetting: to %q", loc)
	}
	p = b.get("/settings/sessions?done=forgotten")
	if !p.has("That browser was forgotten.") || p.has("This browser") {
		t.Fatalf("after forgetting:\n%s", p.body)
	}
	b.submit("/logout", nil)
	b.login("alice", pw).want(t, http.StatusOK, "/verify", "Enter your code")
}

// TestRememberOnVerify: the checkbox on the sign-in verification sets a
// host-only, HttpOnly, SameSite=Lax cookie for the configured days; another
// user signing in on the same browser still gets asked for a code.
func TestRememberOnVerify(t *testing.T) {
	e := newEnv(t, rememberDays(7))
	e.addUser("bob")
	e.addUser("carl")
	b := e.browser()
	secret, _ := b.enrol("bob")
	b.submit("/logout", nil)
	p := b.login("bob", pw)
	if !p.has("Remember this device for 7 days") {
		t.Fatalf("verify page lacks the checkbox:\n%s", p.body)
	}
	e.clock.Add(30 * time.Second)
	form := p.form(t, "/verify")
	form.Set("code", e.code(secret))
	form.Set("remember", "1")
	resp := b.noFollow("POST", "/verify", form)
	var device string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "twostep_device=") {
			device = sc
		}
	}
	for _, a := range []string{"Path=/", "Max-Age=604800", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(device, a) {
			t.Errorf("device cookie %q lacks %s", device, a)
		}
	}
	if strings.Contains(device, "Domain=") {
		t.Errorf("device cookie %q names a domain; it should be host-only", device)
	}
	b.get("/settings")
	b.submit("/logout", nil)
	b.login("bob", pw).want(t, http.StatusOK, "/settings", "Your sign-in methods")
	b.submit("/logout", nil)

	// Carl on Bob's remembered browser: Bob's token does not count for him.
	b.enrol("carl")
	b.submit("/logout", nil)
	b.login("carl", pw).want(t, http.StatusOK, "/verify", "Enter your code")

	// Seven days later Bob is asked again (the test's cookie jar does not
	// expire the cookie on the test clock, so this is the server's check).
	e.clock.Add(7 * 24 * time.Hour) // Carl's session has timed out meanwhile
	b.login("bob", pw).want(t, http.StatusOK, "/verify", "Enter your code")
}

// TestRememberOffByDefault: without remember_device.days no checkbox, no
// cookie, no list.
func TestRememberOffByDefault(t *testing.T) {
	e := newEnv(t)
	e.addUser("dora")
	b := e.browser()
	secret, codes := b.enrol("dora")
	if codes.has(`id="remember"`) {
		t.Error("checkbox on the recovery codes page")
	}
	b.submit("/logout", nil)
	p := b.login("dora", pw)
	if p.has(`id="remember"`) || p.has("Remember this device") {
		t.Fatalf("checkbox while the feature is off:\n%s", p.body)
	}
	e.clock.Add(30 * time.Second)
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}, "remember": {"1"}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if p = b.get("/settings/sessions"); p.has("Remembered browsers") {
		t.Error("remembered browsers listed while the feature is off")
	}
	b.submit("/logout", nil)
	b.login("dora", pw).want(t, http.StatusOK, "/verify", "Enter your code")
}

// TestRememberThroughTheAPI: "remember_device": true on POST /api/v1/verify
// sets the cookie; POST /api/v1/login with it answers aal2 and "done";
// GET /api/v1/devices lists it, DELETE /api/v1/devices/{id} forgets it.
func TestRememberThroughTheAPI(t *testing.T) {
	e := newEnv(t, rememberDays(30))
	e.addUser("eve")
	b := e.browser()
	secret, _ := b.enrol("eve")
	b.submit("/logout", nil)

	api := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		return b.api(t, method, path, body)
	}
	login := map[string]string{"username": "eve", "password": pw}
	if st, out := api("POST", "/api/v1/login", login); st != 200 || out["next"] != "verify" {
		t.Fatalf("login: %d %v", st, out)
	}
	e.clock.Add(30 * time.Second)
	st, out := api("POST", "/api/v1/verify", map[string]any{"method": "totp", "code": e.code(secret), "remember_device": true})
	dev, _ := out["device"].(map[string]any)
	if st != 200 || out["aal"] != "aal2" || dev == nil || dev["id"] == "" || dev["expires_at"] == "" {
		t.Fatalf("verify with remember_device: %d %v", st, out)
	}
	api("DELETE", "/api/v1/session", nil)
	if st, out := api("POST", "/api/v1/login", login); st != 200 || out["aal"] != "aal2" || out["next"] != "done" {
		t.Fatalf("login on the remembered client: %d %v", st, out)
	}
	st, out = api("GET", "/api/v1/devices", nil)
	list, _ := out["devices"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("devices: %d %v", st, out)
	}
	d := list[0].(map[string]any)
	if d["id"] != dev["id"] || d["current"] != true || d["label"] != "Go program" || d["last_used_at"] == nil {
		t.Fatalf("device = %v", d)
	}
	if st, _ := api("DELETE", "/api/v1/devices/"+d["id"].(string), nil); st != http.StatusNoContent {
		t.Fatalf("DELETE device: %d", st)
	}
	if st, out := api("DELETE", "/api/v1/devices/"+d["id"].(string), nil); st != http.StatusNotFound {
		t.Fatalf("second DELETE: %d %v", st, out)
	}
	api("DELETE", "/api/v1/session", nil)
	if st, out := api("POST", "/api/v1/login", login); st != 200 || out["aal"] != "aal1" || out["next"] != "verify" {
		t.Fatalf("login after forgetting: %d %v", st, out)
	}
}

// api calls the JSON API with the browser's cookie jar.
func (b *browser) api(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, b.e.srv.URL+path, &buf)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestRememberOnAPISetup: the set-up confirm calls take "remember_device"
// as /verify does; the next sign-in of that client skips the code.
func TestRememberOnAPISetup(t *testing.T) {
	e := newEnv(t, rememberDays(30))
	e.addUser("fay")
	b := e.browser()
	login := map[string]string{"username": "fay", "password": pw}
	if st, out := b.api(t, "POST", "/api/v1/login", login); st != 200 || out["next"] != "setup" {
		t.Fatalf("login: %d %v", st, out)
	}
	st, out := b.api(t, "POST", "/api/v1/setup/totp", map[string]any{})
	if st != 200 {
		t.Fatalf("setup/totp: %d %v", st, out)
	}
	secret, err := totp.DecodeSecret(out["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	st, out = b.api(t, "POST", "/api/v1/setup/totp/confirm", map[string]any{"code": e.code(secret), "remember_device": true})
	dev, _ := out["device"].(map[string]any)
	if st != 200 || out["next"] != "done" || dev == nil || dev["id"] == "" || out["recovery_codes"] == nil {
		t.Fatalf("confirm with remember_device: %d %v", st, out)
	}
	b.api(t, "DELETE", "/api/v1/session", nil)
	if st, out := b.api(t, "POST", "/api/v1/login", login); st != 200 || out["aal"] != "aal2" || out["next"] != "done" {
		t.Fatalf("login on the remembered client: %d %v", st, out)
	}
}

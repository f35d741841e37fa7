package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strconv"
)

//go:embed static/app.css static/app.js static/passkey.js
var staticFS embed.FS

// asset is one file under /static/.
type asset struct {
	body  []byte
	ctype string
	hash  string // first 16 hex digits of the SHA-256: version and ETag
}

// assets are the pages' stylesheet, script, passkey script (loaded only by
// the pages that offer a passkey), generated brand stylesheet and optional
// logo. Pages link them as /static/NAME?v=HASH, so they can be
// cached for a year: a new build or brand changes the URL.
type assets struct {
	files map[string]asset
	urls  assetURLs
}

// assetURLs are the versioned links the layout uses.
type assetURLs struct {
	CSS, BrandCSS, JS, Passkey string
}

func newAssets(b Brand) *assets {
	a := &assets{files: map[string]asset{}}
	add := func(name, ctype string, body []byte) {
		sum := sha256.Sum256(body)
		a.files[name] = asset{body: body, ctype: ctype, hash: hex.EncodeToString(sum[:8])}
	}
	css, _ := staticFS.ReadFile("static/app.css")
	js, _ := staticFS.ReadFile("static/app.js")
	pk, _ := staticFS.ReadFile("static/passkey.js")
	add("app.css", "text/css; charset=utf-8", css)
	add("app.js", "text/javascript; charset=utf-8", js)
	add("passkey.js", "text/javascript; charset=utf-8", pk)
	add("brand.css", "text/css; charset=utf-8", brandCSS(b.AccentColor))
	if len(b.Logo) > 0 && isImageType(b.LogoType) {
		add("logo", b.LogoType, b.Logo)
	}
	a.urls = assetURLs{CSS: a.url("app.css"), BrandCSS: a.url("brand.css"), JS: a.url("app.js"), Passkey: a.url("passkey.js")}
	return a
}

// isImageType reports whether the logo's media type is one browsers show in
// <img> (and not, say, text/html).
func isImageType(t string) bool {
	switch t {
	case "image/png", "image/svg+xml", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// url returns the versioned URL of asset name, or "" when there is none.
func (a *assets) url(name string) string {
	f, ok := a.files[name]
	if !ok {
		return ""
	}
	return "/static/" + name + "?v=" + f.hash
}

// serve answers GET /static/{name}. A request for the current version is
// cacheable for a year; any other is revalidated by ETag.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	etag := `"` + f.hash + `"`
	h.Set("ETag", etag)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.ctype)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if f.ctype == "image/svg+xml" {
		// An operator's SVG opened on its own runs no script and no style
		// from elsewhere.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	}
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
}

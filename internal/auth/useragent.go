package auth

import "strings"

// ClassifyUserAgent names the browser and the operating system a User-Agent
// header claims ("Firefox", "Linux"), each "" when no entry matches. The
// sessions page, the remembered browsers and the security notifications
// (notify.Summarize) show these names instead of the raw header.
//
// A small table of our own rather than a parsing library: the names only
// help a person recognise their own devices, never decide anything (the
// header is whatever the client chose to send), browsers now freeze most of
// the header (User-Agent reduction), and a full parser brings a large
// regular-expression database that must be kept current to stay right.
// Order matters: browsers built on Chromium also say "Chrome/" and
// "Safari/", so the more specific needles come first; Android says "Linux"
// and iPhones say "Mac OS X", so phones come before desktops.
func ClassifyUserAgent(ua string) (browser, system string) {
	return firstMatch(ua, uaBrowsers), firstMatch(ua, uaSystems)
}

type uaEntry struct{ needle, name string }

var uaBrowsers = []uaEntry{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"},
	{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	{"Go-http-client/", "Go program"}, {"python-requests/", "Python program"},
}

var uaSystems = []uaEntry{
	{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"}, {"Windows", "Windows"},
	{"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
}

func firstMatch(s string, table []uaEntry) string {
	for _, e := range table {
		if strings.Contains(s, e.needle) {
			return e.name
		}
	}
	return ""
}

package notify

import "strings"

// Summarize reduces a User-Agent to "Browser on OS" from a fixed
// vocabulary. The User-Agent is the client's own text: copied into a
// message it would let whoever signs in put words or a link ("your account
// is locked, go to http://…") into a mail that comes from the operator, a
// phishing channel. Only names from the tables below ever reach a message.
func Summarize(ua string) string {
	if ua == "" {
		return ""
	}
	if ua == "twostep-cli" {
		return "the twostep command line"
	}
	browser := ""
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	os := ""
	for _, o := range systems {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	switch {
	case browser == "" && os == "":
		return "an unrecognised browser or program"
	case browser == "":
		return "a browser on " + os
	case os == "":
		return browser
	}
	return browser + " on " + os
}

// browsers are checked in order: most browsers name others in their
// User-Agent ("Chrome/… Safari/…"), so the more specific token comes first.
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"Chromium/", "Chromium"},
	{"HeadlessChrome/", "Chrome (headless)"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	{"curl/", "curl"}, {"Go-http-client/", "a Go program"}, {"python-requests/", "a Python program"},
}

var systems = []struct{ token, name string }{
	{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
	{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
}

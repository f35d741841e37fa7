package notify

// Summarize phrases "Browser on OS" for a message from the names
// auth.ClassifyUserAgent found in a User-Agent, each "" when none matched.
// Only those fixed names ever reach a message, never the header itself:
// copied into a mail, the client's own text would let whoever signs in put
// words or a link ("your account is locked, go to http://…") into a
// message that comes from the operator, a phishing channel.
func Summarize(browser, system string) string {
	switch {
	case browser == "" && system == "":
		return "an unrecognised browser or program"
	case browser == "":
		return "a browser on " + system
	case system == "":
		return browser
	}
	return browser + " on " + system
}

package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textT = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/mail.txt.tmpl", "templates/sms.txt.tmpl"))
	htmlT = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/mail.html.tmpl"))
)

// Brand is what every message says about who sends it and whom to call.
type Brand struct {
	Name    string         // brand.name, else the issuer
	Contact string         // support.contact_url (https or mailto:), "" for none
	Chat    string         // support.chat_url
	Zone    *time.Location // pages.time_zone; nil is UTC
}

// view is what the templates see.
type view struct {
	Brand, Username, When, IP, Browser, Method string
	Contact                                    string // as shown: a URL, or the address of a mailto: link
	ContactURL                                 string // the href
	Chat                                       string
	Subject                                    string
	Body                                       any // string in text, htmltemplate.HTML in the HTML layout
}

// methodNames turns a factor type into words; an unknown type is not
// copied into the message.
var methodNames = map[string]string{
	"totp": "authenticator app", "sms": "text message", "webauthn": "passkey or security key",
}

func (b Brand) view(n Notice) view {
	zone := b.Zone
	if zone == nil {
		zone = time.UTC
	}
	v := view{Brand: b.Name, Username: n.Username, When: n.At.In(zone).Format("Mon 2 Jan 2006 15:04 MST"),
		IP: n.IP, Browser: n.Browser, Method: methodNames[n.Method], Chat: b.Chat, ContactURL: b.Contact, Contact: b.Contact}
	if v.Method == "" {
		v.Method = "another kind"
	}
	if addr, ok := strings.CutPrefix(b.Contact, "mailto:"); ok {
		v.Contact = addr
	}
	if n.IP == "cli" {
		v.IP, v.Browser = "", "the server's command line"
	}
	return v
}

// Rendered is one notice as an e-mail.
type Rendered struct{ Subject, Text, HTML string }

// RenderMail renders n's e-mail (subject, plain text, HTML).
func RenderMail(b Brand, n Notice) (Rendered, error) {
	if !known(n.Kind) {
		return Rendered{}, fmt.Errorf("notify: no template for %q", n.Kind)
	}
	v := b.view(n)
	subject, err := execText(string(n.Kind)+".subject", v)
	if err != nil {
		return Rendered{}, err
	}
	v.Subject = subject
	body, err := execText(string(n.Kind)+".body", v)
	if err != nil {
		return Rendered{}, err
	}
	v.Body = body
	text, err := execText("text", v)
	if err != nil {
		return Rendered{}, err
	}
	var hb bytes.Buffer
	if err := htmlT.ExecuteTemplate(&hb, string(n.Kind)+".body", v); err != nil {
		return Rendered{}, err
	}
	v.Body = htmltemplate.HTML(hb.String()) // html/template's own escaped output
	hb.Reset()
	if err := htmlT.ExecuteTemplate(&hb, "html", v); err != nil {
		return Rendered{}, err
	}
	return Rendered{Subject: subject, Text: text, HTML: hb.String()}, nil
}

// RenderSMS renders n's text message.
func RenderSMS(b Brand, n Notice) (string, error) {
	if !known(n.Kind) {
		return "", fmt.Errorf("notify: no template for %q", n.Kind)
	}
	v := b.view(n)
	body, err := execText(string(n.Kind), v)
	if err != nil {
		return "", err
	}
	v.Body = body
	return execText("sms", v)
}

func execText(name string, v view) (string, error) {
	var b bytes.Buffer
	if err := textT.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func known(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

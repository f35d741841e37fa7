package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
)

// cliClient marks audit entries written by the command line.
var cliClient = auth.Client{IP: "cli", UserAgent: "twostep-cli"}

// userCommands is the table of `twostep user` commands.
var userCommands = []*command{
	{name: "add", user: true,
		summary: "Add a user. The password is asked for twice without echo, or read as one line from standard input.",
		setup: func(f *flags) runFunc {
			stdin := passwordStdin(f)
			return func(e *cmdEnv, a *app, name string) error { return e.userAdd(a, name, *stdin) }
		}},
	{name: "list", summary: "List the users: status, methods, last sign-in, e-mail address and groups.",
		setup: func(f *flags) runFunc {
			asJSON := f.Bool("json", false, "one JSON object per user (JSON Lines), for scripts")
			return func(e *cmdEnv, a *app, _ string) error { return e.userList(a, *asJSON) }
		}},
	{name: "disable", user: true, summary: "Disable a user and end their sessions at once.",
		run: func(e *cmdEnv, a *app, name string) error { return e.userSetDisabled(a, name, true) }},
	{name: "enable", user: true, summary: "Enable a disabled user again.",
		run: func(e *cmdEnv, a *app, name string) error { return e.userSetDisabled(a, name, false) }},
	{name: "reset-mfa", user: true,
		summary: "Remove a user's methods, recovery codes and sessions; they set up a second factor at the next sign-in.",
		run:     (*cmdEnv).userResetMFA},
	{name: "unlock", user: true, summary: "Clear a user's second-factor lock and password throttle.",
		run: (*cmdEnv).userUnlock},
	{name: "set-password", user: true, summary: "Change a user's password and end their sessions.",
		setup: func(f *flags) runFunc {
			stdin := passwordStdin(f)
			return func(e *cmdEnv, a *app, name string) error { return e.userSetPassword(a, name, *stdin) }
		}},
	{name: "set", user: true, needs: []string{"email", "groups"},
		summary: "Set the e-mail address and groups forward-auth passes to applications; what is not given keeps its value.",
		setup: func(f *flags) runFunc {
			email := f.String("email", "", "the e-mail `ADDRESS` passed to applications; empty removes it")
			groups := f.String("groups", "", "comma-separated groups (`G1,G2`); empty removes them all")
			return func(e *cmdEnv, a *app, name string) error { return e.userSet(a, f, name, *email, *groups) }
		}},
	{name: "invite", user: true, summary: "Print a one-time, expiring set-up link for the user (enrollment: invite).",
		run: (*cmdEnv).userInvite},
	{name: "grace", user: true, needs: []string{"extend"},
		summary: "Move a user's grace deadline for setting up a second factor (docs/rollout.md): from the deadline, or from now once it has passed.",
		setup: func(f *flags) runFunc {
			extend := f.String("extend", "", "how much longer: days (`7d`) or hours (72h)")
			return func(e *cmdEnv, a *app, name string) error { return e.userGrace(a, name, *extend) }
		}},
}

// passwordStdin defines --password-stdin.
func passwordStdin(f *flags) *bool {
	return f.Bool("password-stdin", false, "read the password from standard input (one line) instead of a terminal")
}

func (e *cmdEnv) userAdd(a *app, name string, pwStdin bool) error {
	pw, err := e.readPassword(pwStdin)
	if err != nil {
		return err
	}
	u, err := a.svc.CreateUser(e.ctx, cliClient, name, pw)
	if err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s added\n", u.Username)
	return nil
}

func (e *cmdEnv) userList(a *app, asJSON bool) error {
	us, err := a.svc.ListUsers(e.ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return listJSON(e.stdout, us)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSTATUS\tMETHODS\tLAST SIGN-IN\tE-MAIL\tGROUPS\tCREATED")
	for _, u := range us {
		last := "never"
		if !u.LastLoginAt.IsZero() {
			last = u.LastLoginAt.UTC().Format("2006-01-02 15:04Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", u.Username, userStatus(u), u.Methods, last,
			orDash(u.Email), orDash(strings.Join(u.Groups, ",")), u.CreatedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

func (e *cmdEnv) userSetDisabled(a *app, name string, disabled bool) error {
	if err := a.svc.SetDisabled(e.ctx, cliClient, name, disabled); err != nil {
		return userErr(err, name)
	}
	done := "enabled"
	if disabled {
		done = "disabled"
	}
	fmt.Fprintf(e.stdout, "user %s %s\n", strings.ToLower(name), done)
	return nil
}

func (e *cmdEnv) userResetMFA(a *app, name string) error {
	if err := a.svc.ResetMFA(e.ctx, cliClient, name); err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s: all methods, recovery codes and sessions removed; a second factor is set up at the next sign-in\n", strings.ToLower(name))
	return nil
}

func (e *cmdEnv) userUnlock(a *app, name string) error {
	if err := a.svc.Unlock(e.ctx, cliClient, name); err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s: second-factor lock and password throttle cleared\n", strings.ToLower(name))
	return nil
}

func (e *cmdEnv) userSetPassword(a *app, name string, pwStdin bool) error {
	pw, err := e.readPassword(pwStdin)
	if err != nil {
		return err
	}
	if err := a.svc.SetPassword(e.ctx, cliClient, name, pw); err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s: password changed, sessions ended\n", strings.ToLower(name))
	return nil
}

// userSet changes only what f says was given; the rest keeps its value.
func (e *cmdEnv) userSet(a *app, f *flags, name, email, groups string) error {
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	u, err := findUser(e.ctx, a.svc, name)
	if err != nil {
		return err
	}
	em, gs := u.Email, u.Groups
	if given["email"] {
		em = email
	}
	if given["groups"] {
		gs = nil
		if groups != "" {
			gs = strings.Split(groups, ",")
		}
	}
	if err := a.svc.SetAttributes(e.ctx, cliClient, name, em, gs); err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s: email %q, groups %q\n", u.Username, em, strings.Join(gs, ","))
	return nil
}

func (e *cmdEnv) userInvite(a *app, name string) error {
	link, _, exp, err := a.svc.Invite(e.ctx, cliClient, name)
	if err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "%s\nvalid until %s, for one use\n", link, exp.UTC().Format(time.RFC3339))
	if a.cfg.PublicURLSetting == "" {
		fmt.Fprintf(e.stderr, "note: public_url is not set, so the link uses the listen address %s; set public_url to the address users reach twostep at\n", a.cfg.PublicURL())
	}
	if a.cfg.Enrollment != "invite" {
		fmt.Fprintln(e.stderr, "note: enrollment is \"password\", so this user can also set up a factor without the link")
	}
	return nil
}

// userStatus is active, disabled or locked (second factor, Unlock).
func userStatus(u auth.UserStatus) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.Locked:
		return "locked"
	}
	return "active"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// listJSON writes one JSON object per line (JSON Lines), so scripts can
// read users without parsing the table.
func listJSON(w io.Writer, us []auth.UserStatus) error {
	type userJSON struct {
		Username    string     `json:"username"`
		Status      string     `json:"status"`
		Methods     int        `json:"methods"`
		Email       string     `json:"email"`
		Groups      []string   `json:"groups"`
		LastLoginAt *time.Time `json:"last_login_at"`
		CreatedAt   time.Time  `json:"created_at"`
		// The user's MFA policy and, while they have no method it
		// allows, their grace deadline (docs/rollout.md).
		MFAPolicy  string     `json:"mfa_policy"`
		GraceUntil *time.Time `json:"grace_until,omitempty"`
	}
	enc := json.NewEncoder(w)
	for _, u := range us {
		j := userJSON{Username: u.Username, Status: userStatus(u), Methods: u.Methods, Email: u.Email,
			Groups: append([]string{}, u.Groups...), CreatedAt: u.CreatedAt.UTC()}
		if !u.LastLoginAt.IsZero() {
			t := u.LastLoginAt.UTC()
			j.LastLoginAt = &t
		}
		j.MFAPolicy = u.Policy
		if !u.Grace.Until.IsZero() {
			t := u.Grace.Until.UTC()
			j.GraceUntil = &t
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// userErr makes service errors read well on a terminal.
func userErr(err error, name string) error {
	var oe *outcome.Error
	switch {
	case errors.As(err, &oe) && oe.Detail != "" && errors.Is(err, auth.ErrInvalidInput):
		return errors.New(oe.Detail)
	case errors.Is(err, auth.ErrNotFound):
		return fmt.Errorf("no user named %q", name)
	case errors.Is(err, auth.ErrUserExists):
		return fmt.Errorf("user %q already exists", name)
	}
	return err
}

// readPassword reads a new password: from standard input with
// --password-stdin (one line; a trailing newline is dropped), or from a
// terminal prompt without echo, asked twice.
func (e *cmdEnv) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return "", err
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if strings.ContainsAny(pw, "\r\n") {
			return "", errors.New("--password-stdin: the password must be a single line")
		}
		return pw, nil
	}
	in, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", usageErr("standard input is not a terminal: pass the password with --password-stdin")
	}
	fmt.Fprint(e.stderr, "Password: ")
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(e.stderr, "Repeat password: ")
	again, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if string(pw) != string(again) {
		return "", errors.New("the passwords do not match")
	}
	return string(pw), nil
}

// findUser returns one user's current record for the CLI.
func findUser(ctx context.Context, svc *auth.Service, name string) (auth.UserStatus, error) {
	us, err := svc.ListUsers(ctx)
	if err != nil {
		return auth.UserStatus{}, err
	}
	for _, u := range us {
		if u.Username == strings.ToLower(strings.TrimSpace(name)) {
			return u, nil
		}
	}
	return auth.UserStatus{}, fmt.Errorf("no user named %q", name)
}

func (e *cmdEnv) userGrace(a *app, name, extend string) error {
	until, err := a.svc.ExtendGrace(e.ctx, cliClient, name, extend)
	if err != nil {
		return userErr(err, name)
	}
	fmt.Fprintf(e.stdout, "user %s: may set up a second factor later until %s\n", strings.ToLower(name), until.UTC().Format(time.RFC3339))
	return nil
}

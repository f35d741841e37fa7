package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/twostep/twostep/internal/auth"
)

// cliClient marks audit entries written by the command line.
var cliClient = auth.Client{IP: "cli", UserAgent: "twostep-cli"}

// user runs `twostep user SUBCOMMAND`.
func (e *cmdEnv) user(args []string) error {
	if len(args) == 0 {
		return usageErr("user needs a subcommand: add, list, disable, enable, reset-mfa, unlock, set-password, set, invite")
	}
	sub := args[0]
	switch sub {
	case "add", "list", "disable", "enable", "reset-mfa", "unlock", "set-password", "invite", "set":
	default:
		return usageErr("unknown user subcommand %q", sub)
	}
	f := newFlags("user "+sub, e.stderr)
	pwStdin := f.Bool("password-stdin", false, "read the password from standard input")
	email := f.String("email", "", "user set: e-mail address passed to applications")
	groups := f.String("groups", "", "user set: comma-separated groups")
	asJSON := f.Bool("json", false, "user list: one JSON object per user, for scripts")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if err := exactly(pos, want, map[int]string{0: "no arguments", 1: "one user name"}[want]); err != nil {
		return err
	}
	if *pwStdin && sub != "add" && sub != "set-password" {
		return usageErr("--password-stdin only goes with add and set-password")
	}
	if *asJSON && sub != "list" {
		return usageErr("--json only goes with list")
	}
	a, err := e.open(f, e.stderr, slog.LevelWarn, existing)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, svc := e.ctx, a.svc
	switch sub {
	case "add":
		pw, err := e.readPassword(*pwStdin)
		if err != nil {
			return err
		}
		u, err := svc.CreateUser(ctx, cliClient, pos[0], pw)
		if err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s added\n", u.Username)
	case "list":
		us, err := svc.ListUsers(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
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
	case "disable", "enable":
		if err := svc.SetDisabled(ctx, cliClient, pos[0], sub == "disable"); err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s %sd\n", strings.ToLower(pos[0]), sub)
	case "reset-mfa":
		if err := svc.ResetMFA(ctx, cliClient, pos[0]); err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s: all methods, recovery codes and sessions removed; a second factor is set up at the next sign-in\n", strings.ToLower(pos[0]))
	case "unlock":
		if err := svc.Unlock(ctx, cliClient, pos[0]); err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s: second-factor lock and password throttle cleared\n", strings.ToLower(pos[0]))
	case "set-password":
		pw, err := e.readPassword(*pwStdin)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, cliClient, pos[0], pw); err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s: password changed, sessions ended\n", strings.ToLower(pos[0]))
	case "set":
		// Only the flags given change anything; the rest keeps its value.
		given := map[string]bool{}
		f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		if !given["email"] && !given["groups"] {
			return usageErr("user set needs --email and/or --groups")
		}
		u, err := findUser(ctx, svc, pos[0])
		if err != nil {
			return err
		}
		em, gs := u.Email, u.Groups
		if given["email"] {
			em = *email
		}
		if given["groups"] {
			gs = nil
			if *groups != "" {
				gs = strings.Split(*groups, ",")
			}
		}
		if err := svc.SetAttributes(ctx, cliClient, pos[0], em, gs); err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "user %s: email %q, groups %q\n", u.Username, em, strings.Join(gs, ","))
	case "invite":
		link, _, exp, err := svc.Invite(ctx, cliClient, pos[0])
		if err != nil {
			return userErr(err, pos[0])
		}
		fmt.Fprintf(e.stdout, "%s\nvalid until %s, for one use\n", link, exp.UTC().Format(time.RFC3339))
		if a.cfg.PublicURLSetting == "" {
			fmt.Fprintf(e.stderr, "note: public_url is not set, so the link uses the listen address %s; set public_url to the address users reach twostep at\n", a.cfg.PublicURL())
		}
		if a.cfg.Enrollment != "invite" {
			fmt.Fprintln(e.stderr, "note: enrollment is \"password\", so this user can also set up a factor without the link")
		}
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
	}
	enc := json.NewEncoder(w)
	for _, u := range us {
		j := userJSON{Username: u.Username, Status: userStatus(u), Methods: u.Methods, Email: u.Email,
			Groups: append([]string{}, u.Groups...), CreatedAt: u.CreatedAt.UTC()}
		if !u.LastLoginAt.IsZero() {
			t := u.LastLoginAt.UTC()
			j.LastLoginAt = &t
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// userErr makes service errors read well on a terminal.
func userErr(err error, name string) error {
	var ie *auth.InputError
	switch {
	case errors.As(err, &ie):
		return errors.New(ie.Msg)
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

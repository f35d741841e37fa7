// Package cli is twostep's command line and composition root: it parses
// commands and flags, loads the configuration, and wires the store, keyring,
// hasher, limiter, audit recorder and service together for each command.
//
// Every command is a row of a table (commands here, and one table per
// group: userCommands, keysCommands, auditCommands). The usage text, each
// command's help, the subcommand lists of error messages and the dispatch
// are all generated from those rows, so a command is added in one place.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// commands is the top level of the command table.
var commands = []*command{
	{name: "serve", open: initialise, verbose: true, config: []string{"listen", "database"},
		summary: "Serve the pages and the API until interrupted; creates or upgrades the database and key file first.",
		run:     (*cmdEnv).serve},
	{name: "migrate", open: initialise, config: []string{"database"},
		summary: "Create or upgrade the database and key file (serve does too) and list the migrations applied.",
		run:     (*cmdEnv).migrate},
	{name: "user", summary: "Manage users.", sub: userCommands},
	{name: "keys", summary: "Manage the encryption keys of stored secrets (docs/deploy.md, \"Rotation\").", sub: keysCommands},
	{name: "audit", summary: "Check and prune the audit log.", sub: auditCommands},
	{name: "version", aliases: []string{"--version"}, open: noInstall, bare: true,
		summary: "Print the version, commit and Go version.",
		run:     (*cmdEnv).version},
}

// command is one row of a command table: a command, or a group of
// subcommands (sub).
type command struct {
	name    string
	aliases []string
	summary string // what it does, one sentence, for help
	sub     []*command

	user   bool     // takes one argument, a user name; else none
	config []string // settings that may also be given as flags (configFlags)
	// needs are flags of which at least one must be given; a single one
	// is shown as required in the usage line.
	needs []string
	bare  bool // no flags at all, not even --config
	// open says what the command needs opened: an existing installation
	// (the zero value), one it may create (initialise), or none.
	open openMode
	// verbose logs at the configured level; other commands keep stderr
	// for warnings.
	verbose bool
	// run runs a command without flags of its own; setup instead defines
	// the command's flags on f and returns the run that reads them.
	run   runFunc
	setup func(f *flags) runFunc
}

// runFunc runs a command on its installation (nil with open: noInstall);
// name is its user name argument, if it takes one.
type runFunc func(e *cmdEnv, a *app, name string) error

// configFlags are the settings commands may take as flags (command.config),
// with their help. A flag is named after its key path.
var configFlags = map[string]string{
	"listen":   "listen on `ADDR` (host:port), overriding the listen setting",
	"database": "use the database `DSN` (sqlite:PATH or a postgres:// URL), overriding the database setting",
}

const intro = "twostep: self-hosted multi-factor authentication\n\n"

const outro = `
Every command accepts --config FILE (YAML); TWOSTEP_* environment variables
override the file (see docs/configuration.md). ` + "`twostep help COMMAND`" + ` or
` + "`twostep COMMAND --help`" + ` describes a command.
`

// Run runs the command in args with the process environment and returns the
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, args, os.Environ(), stdin, stdout, stderr)
}

// RunEnv is Run with an explicit environment (for tests). The exit code is
// 0 when the command did what it was asked, 1 when it was refused or
// failed, 2 for a usage error, which is followed by the usage text.
func RunEnv(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &cmdEnv{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	err := e.dispatch(args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "twostep: %v\n\n%s", err, usage())
		return 2
	default:
		fmt.Fprintf(stderr, "twostep: %v\n", err)
		return 1
	}
}

var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// cmdEnv carries a command's inputs and outputs.
type cmdEnv struct {
	ctx            context.Context
	env            []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// dispatch finds the command args name in the table and runs it, or
// prints the help asked for.
func (e *cmdEnv) dispatch(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		return e.help(args[1:])
	}
	chain, rest, err := resolve(args)
	if err != nil {
		return err
	}
	if c := chain[len(chain)-1]; c.sub != nil {
		if len(rest) == 0 {
			return usageErr("%s needs a subcommand: %s", c.name, names(c.sub))
		}
		// resolve stops at a group only for a help word.
		return e.help(pathOf(chain))
	}
	return e.run(chain, rest)
}

// isHelp says whether arg asks for help where a command name is expected.
func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

// resolve walks the table along args and returns the chain of commands
// named (a group, then its subcommand) and the arguments left. It stops
// early at a group when args end there or go on with a help word.
func resolve(args []string) (chain []*command, rest []string, err error) {
	if len(args) == 0 {
		return nil, nil, usageErr("no command given")
	}
	table := commands
	for {
		c := lookup(table, args[0])
		if c == nil {
			if len(chain) == 0 {
				return nil, nil, usageErr("unknown command %q", args[0])
			}
			g := chain[len(chain)-1]
			return nil, nil, usageErr("unknown %s subcommand %q; %s needs a subcommand: %s", g.name, args[0], g.name, names(g.sub))
		}
		chain, args = append(chain, c), args[1:]
		if c.sub == nil || len(args) == 0 || isHelp(args[0]) {
			return chain, args, nil
		}
		table = c.sub
	}
}

func lookup(table []*command, name string) *command {
	for _, c := range table {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

// names lists the commands of a table: "add, list, disable".
func names(table []*command) string {
	ns := make([]string, len(table))
	for i, c := range table {
		ns[i] = c.name
	}
	return strings.Join(ns, ", ")
}

// pathOf is the names along a chain: ["user", "add"].
func pathOf(chain []*command) []string {
	p := make([]string, len(chain))
	for i, c := range chain {
		p[i] = c.name
	}
	return p
}

// run parses a command's flags and arguments, opens what it needs and
// runs it.
func (e *cmdEnv) run(chain []*command, args []string) error {
	c, name := chain[len(chain)-1], strings.Join(pathOf(chain), " ")
	if c.bare && len(args) > 0 && !isHelp(args[0]) {
		return usageErr("%s takes no arguments, got %q", name, strings.Join(args, " "))
	}
	f, run := c.flags(name)
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return e.help(pathOf(chain))
	}
	if err != nil {
		return flagErr(chain, err)
	}
	want, what := 0, "no arguments"
	if c.user {
		want, what = 1, "one user name"
	}
	if len(pos) != want {
		return usageErr("expected %s, got %q", what, strings.Join(pos, " "))
	}
	if err := f.needed(name, c.needs); err != nil {
		return err
	}
	var arg string
	if c.user {
		arg = pos[0]
	}
	if c.open == noInstall {
		return run(e, nil, arg)
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	a, err := e.open(f, e.stderr, level, c.open)
	if err != nil {
		return err
	}
	defer a.close()
	return run(e, a, arg)
}

// flags returns the command's flag set, named name, and its run.
func (c *command) flags(name string) (*flags, runFunc) {
	f := newFlags(name, c.config...)
	if c.setup != nil {
		return f, c.setup(f)
	}
	return f, c.run
}

// flagErr makes a flag error a usage error. A flag that another command of
// the same group takes is named as such ("--json only goes with list"),
// since that is the likelier mistake than a typo.
func flagErr(chain []*command, err error) error {
	c := chain[len(chain)-1]
	// The flag package's message for a flag the set lacks.
	unknown, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if ok && len(chain) > 1 {
		var with []string
		for _, s := range chain[len(chain)-2].sub {
			if f, _ := s.flags(s.name); s != c && f.Lookup(unknown) != nil {
				with = append(with, s.name)
			}
		}
		if len(with) > 0 {
			return usageErr("--%s only goes with %s", unknown, andList(with))
		}
	}
	return usageErr("%s: %v", strings.Join(pathOf(chain), " "), err)
}

// andList is "a", "a and b" or "a, b and c".
func andList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// help prints the help of the command or group path names: the usage of
// every command for none.
func (e *cmdEnv) help(path []string) error {
	if len(path) == 0 {
		fmt.Fprint(e.stdout, usage())
		return nil
	}
	chain, rest, err := resolve(path)
	if err != nil {
		return err
	}
	if len(rest) > 0 && !isHelp(rest[0]) {
		return usageErr("help takes a command, not %q", strings.Join(rest, " "))
	}
	var b strings.Builder
	c, name := chain[len(chain)-1], strings.Join(pathOf(chain), " ")
	if c.sub != nil {
		fmt.Fprintf(&b, "%s\n\nUsage:\n", c.summary)
		for _, s := range c.sub {
			fmt.Fprintf(&b, "  %s\n      %s\n", s.line(name+" "+s.name), s.summary)
		}
		fmt.Fprintf(&b, "\n`twostep %s COMMAND --help` describes a command and its flags.\n", name)
		fmt.Fprint(e.stdout, b.String())
		return nil
	}
	fmt.Fprintf(&b, "Usage:\n  %s\n\n%s\n", c.line(name), c.summary)
	if !c.bare {
		f, _ := c.flags(name)
		b.WriteString("\nFlags:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		f.VisitAll(func(fl *flag.Flag) {
			arg, text := flag.UnquoteUsage(fl)
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace("--"+fl.Name+" "+arg), text)
		})
		tw.Flush()
	}
	if len(chain) > 1 {
		g := chain[len(chain)-2]
		fmt.Fprintf(&b, "\nThe %s commands:\n", g.name)
		for _, s := range g.sub {
			fmt.Fprintf(&b, "  %s\n", s.line(g.name+" "+s.name))
		}
	}
	fmt.Fprint(e.stdout, b.String())
	return nil
}

// usage is the usage text: one line per command.
func usage() string {
	var b strings.Builder
	b.WriteString(intro + "Usage:\n")
	for _, c := range commands {
		if c.sub == nil {
			fmt.Fprintf(&b, "  %s\n", c.line(c.name))
			continue
		}
		for _, s := range c.sub {
			fmt.Fprintf(&b, "  %s\n", s.line(c.name+" "+s.name))
		}
	}
	b.WriteString(outro)
	return b.String()
}

// line is a command's usage line, "twostep user add NAME
// [--password-stdin]": its argument, a flag it needs, its setting flags in
// table order, then its own flags in name order. --config, which every
// command takes, is left out.
func (c *command) line(name string) string {
	parts := []string{"twostep", name}
	if c.user {
		parts = append(parts, "NAME")
	}
	if c.bare {
		return strings.Join(parts, " ")
	}
	f, _ := c.flags(name)
	flagText := func(n string) string {
		arg, _ := flag.UnquoteUsage(f.Lookup(n))
		return strings.TrimSpace("--" + n + " " + arg)
	}
	required := ""
	if len(c.needs) == 1 {
		required = c.needs[0]
		parts = append(parts, flagText(required))
	}
	own := []string{}
	f.VisitAll(func(fl *flag.Flag) {
		if fl.Name != "config" && fl.Name != required && !slices.Contains(c.config, fl.Name) {
			own = append(own, fl.Name)
		}
	})
	for _, n := range append(slices.Clone(c.config), own...) {
		parts = append(parts, "["+flagText(n)+"]")
	}
	return strings.Join(parts, " ")
}

// flags is a command's flag set with the options every command shares.
type flags struct {
	*flag.FlagSet
	config   string
	settings map[string]*string // key path -> value, for config flags
}

func newFlags(name string, configKeys ...string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), settings: map[string]*string{}}
	f.SetOutput(io.Discard)
	f.StringVar(&f.config, "config", "", "read the settings from the YAML configuration `FILE`")
	for _, k := range configKeys {
		f.settings[k] = f.String(k, "", configFlags[k])
	}
	return f
}

// parse parses args and returns the positional arguments; flags may come
// before or after them (`user add alice --password-stdin`).
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// needed checks that at least one of the flags in needs was given.
func (f *flags) needed(name string, needs []string) error {
	if len(needs) == 0 {
		return nil
	}
	given := false
	f.Visit(func(fl *flag.Flag) { given = given || slices.Contains(needs, fl.Name) })
	if given {
		return nil
	}
	ns := make([]string, len(needs))
	for i, n := range needs {
		arg, _ := flag.UnquoteUsage(f.Lookup(n))
		ns[i] = strings.TrimSpace("--" + n + " " + arg)
	}
	return usageErr("%s needs %s", name, strings.Join(ns, " or "))
}

// flagValues returns the config flags the user set, keyed by key path.
func (f *flags) flagValues() map[string]string {
	out := map[string]string{}
	f.Visit(func(fl *flag.Flag) {
		if v, ok := f.settings[fl.Name]; ok {
			out[fl.Name] = *v
		}
	})
	return out
}

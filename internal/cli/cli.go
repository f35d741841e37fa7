// Package cli is twostep's command line and composition root: it parses
// commands and flags, loads the configuration, and wires the store, keyring,
// hasher, limiter, audit recorder and service together for each command.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `twostep: self-hosted multi-factor authentication

Usage:
  twostep serve [--config FILE] [--listen ADDR] [--database DSN]
  twostep migrate
  twostep user add NAME [--password-stdin]
  twostep user list [--json]
  twostep user disable NAME | enable NAME | reset-mfa NAME | unlock NAME
  twostep user set-password NAME [--password-stdin]
  twostep user set NAME [--email ADDRESS] [--groups G1,G2]
  twostep user invite NAME
  twostep keys rotate [--resume] | add | status
  twostep audit verify
  twostep audit prune --before DATE [--archive FILE]
  twostep version

Every command accepts --config FILE (YAML); TWOSTEP_* environment variables
override the file (see docs/configuration.md).
`

// Run runs the command in args with the process environment and returns the
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, args, os.Environ(), stdin, stdout, stderr)
}

// RunEnv is Run with an explicit environment (for tests).
func RunEnv(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &cmdEnv{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	err := e.dispatch(args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "twostep: %v\n\n%s", err, usage)
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

func (e *cmdEnv) dispatch(args []string) error {
	if len(args) == 0 {
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return e.serve(rest)
	case "migrate":
		return e.migrate(rest)
	case "user":
		return e.user(rest)
	case "keys":
		return e.keys(rest)
	case "audit":
		switch {
		case len(rest) > 0 && rest[0] == "verify":
			return e.auditVerify(rest[1:])
		case len(rest) > 0 && rest[0] == "prune":
			return e.auditPrune(rest[1:])
		}
		return usageErr("audit needs a subcommand: verify, prune")
	case "version", "--version":
		if len(rest) > 0 {
			return usageErr("version takes no arguments, got %q", strings.Join(rest, " "))
		}
		return e.version()
	case "help", "-h", "--help":
		return flag.ErrHelp
	default:
		return usageErr("unknown command %q", cmd)
	}
}

// flags is a command's flag set with the options every command shares.
type flags struct {
	*flag.FlagSet
	config   string
	settings map[string]*string // key path -> value, for config flags
}

func newFlags(name string, stderr io.Writer, configKeys ...string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), settings: map[string]*string{}}
	f.SetOutput(io.Discard)
	f.StringVar(&f.config, "config", "", "YAML configuration file")
	for _, k := range configKeys {
		f.settings[k] = f.String(k, "", "overrides the "+k+" setting")
	}
	return f
}

// parse parses args and returns the positional arguments; flags may come
// before or after them (`user add alice --password-stdin`).
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%s: %v", f.Name(), err)
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
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

func exactly(pos []string, n int, what string) error {
	if len(pos) != n {
		return usageErr("expected %s, got %q", what, strings.Join(pos, " "))
	}
	return nil
}

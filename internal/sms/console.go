package sms

import (
	"context"
	"log/slog"
)

// ConsoleConfig configures the console provider.
type ConsoleConfig struct {
	// Log receives the messages; nil means slog.Default().
	Log *slog.Logger
}

// Console is the development provider: it sends nothing and logs each
// message instead, IN FULL — recipient number and body with the code — at
// level Info under "sms (console provider)". That is its whole purpose (the
// zero-configuration dev instance prints codes to the terminal, README.md),
// and the reason it must never run in production: the log would hold every
// code and number. It is the only place twostep logs either.
type Console struct {
	log *slog.Logger
}

var _ Sender = (*Console)(nil)

// NewConsole returns the console provider.
func NewConsole(cfg ConsoleConfig) *Console {
	l := cfg.Log
	if l == nil {
		l = slog.Default()
	}
	return &Console{log: l}
}

// Name returns "console".
func (c *Console) Name() string { return "console" }

// Send logs m.
func (c *Console) Send(ctx context.Context, m Message) error {
	if err := Check(ctx, c.Name(), m); err != nil {
		return err
	}
	c.log.InfoContext(ctx, "sms (console provider)", "to", m.To, "body", m.Body)
	return nil
}

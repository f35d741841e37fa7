package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"
)

// FileConfig configures the file provider.
type FileConfig struct {
	// Path is the file messages are appended to (sms.file).
	Path string
	// Now is the clock for sent_at; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// File is the provider for tests and demos: it appends each message to a
// file as one JSON line {"to","body","sent_at"}, sent_at in RFC 3339 UTC
// with nanoseconds. A test reads the code from the last line for its number.
//
// The file holds codes and numbers, so it is created with mode 0600. Lines
// from concurrent sends never interleave: each is written whole, under a
// mutex, with a single append.
type File struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

var _ Sender = (*File)(nil)

// NewFile returns the file provider. The file is created on first send.
func NewFile(cfg FileConfig) (*File, error) {
	if cfg.Path == "" {
		return nil, errors.New("sms file: path is required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &File{path: cfg.Path, now: now}, nil
}

// Name returns "file".
func (f *File) Name() string { return "file" }

// fileLine is one line of the file; the field order is the documented one.
type fileLine struct {
	To     string `json:"to"`
	Body   string `json:"body"`
	SentAt string `json:"sent_at"`
}

// Send appends m to the file.
func (f *File) Send(ctx context.Context, m Message) error {
	if err := Check(ctx, f.Name(), m); err != nil {
		return err
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line) // Encode ends the line with '\n'
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fileLine{To: m.To, Body: m.Body, SentAt: f.now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return Fail(f.Name(), MsgUnavailable, true, "encode: %w", err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	// Opened per message, so the file can be removed or rotated between
	// sends, as tests do.
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return Fail(f.Name(), MsgUnavailable, false, "%w", err)
	}
	_, werr := fh.Write(line.Bytes())
	cerr := fh.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return Fail(f.Name(), MsgUnavailable, false, "append to %s: %w", f.path, err)
	}
	return nil
}

package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
)

func TestRecordAndVerify(t *testing.T) {
	tests := []struct {
		name    string
		tamper  string // SQL run on the raw database after 5 records
		wantErr string
	}{
		{"intact", "", ""},
		{"altered field", `UPDATE audit_log SET username = 'mallory' WHERE seq = 3`, "entry 3 was altered"},
		{"deleted entry", `DELETE FROM audit_log WHERE seq = 2`, "entry 2 is missing"},
		{"relinked", `UPDATE audit_log SET prev_hash = x'00' WHERE seq = 4`, "entry 4 does not link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.db")
			s := openStore(t, path)
			var logBuf bytes.Buffer
			r := audit.New(s, slog.New(slog.NewJSONHandler(&logBuf, nil)), func() time.Time { return time.Unix(1_800_000_000, 0) })
			for i := range 5 {
				if err := r.Record(context.Background(), audit.Event{Name: audit.LoginFailed, Username: "alice", IP: "10.0.0.1",
					Attrs: map[string]string{"reason": "wrong_password", "n": string(rune('0' + i))}}); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(logBuf.String(), `"event":"login_failed"`) || !strings.Contains(logBuf.String(), `"client_ip":"10.0.0.1"`) {
				t.Fatalf("log lacks stable keys: %s", logBuf.String())
			}
			tamper(t, path, tc.tamper)
			n, err := audit.Verify(context.Background(), s, keyring.Generate())
			if tc.wantErr == "" {
				if err != nil || n != 5 {
					t.Fatalf("Verify = %d, %v; want 5, nil", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Verify error = %v; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestPrune: pruning keeps the rest of the chain verifiable from a keyed
// checkpoint, writes what it removes to the archive first, and every way
// of deleting the head unnoticed (no checkpoint, a forged one, one of
// another key, deleting past it) is caught by Verify.
func TestPrune(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		tamper  string // SQL run after the prune
		keys    bool   // verify with another key file
		wantErr string
	}{
		{"intact", "", false, ""},
		{"checkpoint deleted", `DELETE FROM audit_checkpoints`, false, "entries 1 to 5 are missing and no checkpoint"},
		{"checkpoint forged", `UPDATE audit_checkpoints SET hash = x'00'`, false, "does not verify"},
		{"head deleted after the checkpoint", `DELETE FROM audit_log WHERE seq = 6`, false, "entries 1 to 6 are missing"},
		{"entry relinked to the checkpoint", `UPDATE audit_log SET prev_hash = x'00' WHERE seq = 6`, false, "entry 6 does not link"},
		{"another key file", "", true, "does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.db")
			s := openStore(t, path)
			now := t0
			r := audit.New(s, slog.New(slog.DiscardHandler), func() time.Time { return now })
			for i := range 10 {
				now = t0.Add(time.Duration(i) * time.Hour)
				if err := r.Record(context.Background(), audit.Event{Name: audit.LoginOK, Username: "alice"}); err != nil {
					t.Fatal(err)
				}
			}
			keys := keyring.Generate()
			var archive bytes.Buffer
			n, err := audit.Prune(context.Background(), s, keys, t0.Add(4*time.Hour+time.Minute), t0.Add(24*time.Hour), &archive)
			if err != nil || n != 5 {
				t.Fatalf("Prune = %d, %v; want 5 entries (hours 0 to 4)", n, err)
			}
			if lines := strings.Split(strings.TrimSpace(archive.String()), "\n"); len(lines) != 5 ||
				!strings.HasPrefix(lines[0], `{"seq":1,`) || !strings.HasPrefix(lines[4], `{"seq":5,`) || !strings.Contains(lines[4], `"hash":"`) {
				t.Fatalf("archive:\n%s", archive.String())
			}
			tamper(t, path, tc.tamper)
			if tc.keys {
				keys = keyring.Generate()
			}
			n, err = audit.Verify(context.Background(), s, keys)
			if tc.wantErr == "" {
				if err != nil || n != 5 {
					t.Fatalf("Verify after prune = %d, %v; want 5, nil", n, err)
				}
				// Pruning again up to the same date removes nothing; later
				// prunes chain on from the first checkpoint.
				if n, err := audit.Prune(context.Background(), s, keys, t0.Add(4*time.Hour+time.Minute), t0, nil); err != nil || n != 0 {
					t.Fatalf("second prune = %d, %v", n, err)
				}
				// The newest entry always stays, and the chain goes on from it.
				if n, err := audit.Prune(context.Background(), s, keys, t0.Add(24*time.Hour), t0, nil); err != nil || n != 4 {
					t.Fatalf("prune of the rest = %d, %v; want 4 (all but the newest)", n, err)
				}
				now = t0.Add(25 * time.Hour)
				if err := r.Record(context.Background(), audit.Event{Name: audit.LoginOK, Username: "bob"}); err != nil {
					t.Fatal(err)
				}
				if n, err := audit.Verify(context.Background(), s, keys); err != nil || n != 2 {
					t.Fatalf("Verify after pruning all but the newest and appending = %d, %v; want 2", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Verify error = %v; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// openStore opens and migrates a SQLite store at path, closed at cleanup.
func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRecordStoresClientText: an entry is written whatever bytes a client
// put in the text it carries. PostgreSQL refuses invalid UTF-8 and NUL in
// text, so a User-Agent of a few such bytes kept failed sign-ins out of the
// audit log (ASVS V7.2.1), with every entry of the same batch (found by
// FuzzAPIJSON). SQLite stores anything; the test needs PostgreSQL.
func TestRecordStoresClientText(t *testing.T) {
	s := storetest.NewPostgres(t)
	r := audit.New(s, slog.New(slog.DiscardHandler), nil)
	for _, ua := range []string{"\xf5\n\"\xbe\xa7", "a\x00b", strings.Repeat("a", 255) + "\xc3"} {
		if err := r.Record(context.Background(), audit.Event{Name: audit.LoginFailed, Username: "\xff", IP: "192.0.2.1", UserAgent: ua}); err != nil {
			t.Fatalf("Record(User-Agent %q): %v", ua, err)
		}
	}
	events, err := s.AuditEvents(context.Background(), 0, 10)
	if err != nil || len(events) != 3 || events[1].UserAgent != "a\uFFFDb" || len(events[2].UserAgent) > 256 {
		t.Fatalf("AuditEvents = %d entries, %v; want 3, the second with User-Agent %q", len(events), err, "a\uFFFDb")
	}
	if n, err := audit.Verify(context.Background(), s, keyring.Generate()); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v; want 3, nil", n, err)
	}
}

// tamper runs query ("" for none) on the SQLite file behind twostep's back.
func tamper(t *testing.T, path, query string) {
	t.Helper()
	if query == "" {
		return
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// TestClientTextBounded: a client-chosen field is stored at most 256
// bytes long, whoever built the event (the /metrics gate audits wrong
// tokens with the raw User-Agent).
func TestClientTextBounded(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	r := audit.New(s, slog.New(slog.DiscardHandler), nil)
	for _, ua := range []string{strings.Repeat("x", 32<<10), "x" + strings.Repeat("é", 200)} {
		if err := r.Record(context.Background(), audit.Event{Name: audit.TokenFailed, UserAgent: ua}); err != nil {
			t.Fatal(err)
		}
	}
	events, err := s.AuditEvents(context.Background(), 0, 2)
	if err != nil || len(events) != 2 || len(events[0].UserAgent) != 256 || len(events[1].UserAgent) != 255 || !utf8.ValidString(events[1].UserAgent) {
		t.Fatalf("stored User-Agents %v, %v; want 256 bytes, and 255 of whole runes", events, err)
	}
}

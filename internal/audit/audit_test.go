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

	_ "modernc.org/sqlite"

	"github.com/twostep/twostep/internal/audit"
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
			s, err := store.Open(context.Background(), store.SQLite, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
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
			if tc.tamper != "" {
				raw, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := raw.Exec(tc.tamper); err != nil {
					t.Fatal(err)
				}
				raw.Close()
			}
			n, err := audit.Verify(context.Background(), s)
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
	if err != nil || len(events) != 3 || events[1].UserAgent != "a\uFFFDb" {
		t.Fatalf("AuditEvents = %d entries, %v; want 3, the second with User-Agent %q", len(events), err, "a\uFFFDb")
	}
	if n, err := audit.Verify(context.Background(), s); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v; want 3, nil", n, err)
	}
}

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

package cli

import (
	"strings"
	"testing"
)

// TestDescribeDatabase: the database an administrative command names on
// stderr never shows a password, in the user-info or in the query.
func TestDescribeDatabase(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:Hunter2@db.example.com/twostep":            "postgres://u:xxxxx@db.example.com/twostep",
		"postgres://db.example.com/twostep?password=Hunter2&x=1": "postgres://db.example.com/twostep?password=xxxxx&x=1",
		"postgres://db.example.com/twostep?sslpassword=Hunter2":  "postgres://db.example.com/twostep?sslpassword=xxxxx",
		"postgres://db.example.com/twostep?sslmode=verify-full":  "postgres://db.example.com/twostep?sslmode=verify-full",
	} {
		got := describeDatabase("postgres", dsn)
		if got != want || strings.Contains(got, "Hunter2") {
			t.Errorf("describeDatabase(%q) = %q, want %q", dsn, got, want)
		}
	}
}

package store

import (
	"path/filepath"
	"testing"
)

// TestPragmas checks the connection settings the durability and concurrency claims
// rest on.
func TestPragmas(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	cases := []struct {
		name   string
		reader bool
		pragma string
		want   string
	}{
		{"writer journal mode", false, "journal_mode", "wal"},
		{"writer foreign keys", false, "foreign_keys", "1"},
		{"writer synchronous is FULL", false, "synchronous", "2"},
		{"writer busy timeout", false, "busy_timeout", "5000"},
		{"reader foreign keys", true, "foreign_keys", "1"},
		{"reader is read-only", true, "query_only", "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := s.w
			if c.reader {
				db = s.r
			}
			var got string
			if err := db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", c.pragma, err)
			}
			if got != c.want {
				t.Errorf("PRAGMA %s: expected %s, got %s", c.pragma, c.want, got)
			}
		})
	}
}

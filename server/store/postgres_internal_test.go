package store

import "testing"

func TestRebind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"SELECT '?' || ? FROM \"q?\" -- what?\nWHERE x = ?", "SELECT '?' || $1 FROM \"q?\" -- what?\nWHERE x = $2"},
		{"SELECT 'unclosed ?", "SELECT 'unclosed ?"},
		{"SELECT 1 -- ?", "SELECT 1 -- ?"},
	}
	for _, c := range cases {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q): expected %q, got %q", c.in, c.want, got)
		}
	}
}

func TestRedact(t *testing.T) {
	got := redact("postgres://mitid:s3cret@db.example:5432/mitid?sslmode=verify-full&password=s3cret")
	if want := "postgres://mitid:xxxxx@db.example:5432/mitid"; got != want {
		t.Errorf("expected %q, got %q", want, got)
	}
}

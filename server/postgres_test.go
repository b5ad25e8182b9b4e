package server_test

import (
	"testing"

	"mitidchip/server/store"
	"mitidchip/server/store/pgtest"
)

// TestDatabaseURLSelectsPostgres: with DATABASE_URL the server's store is PostgreSQL,
// which two servers share at once (no serve lock), each ready.
func TestDatabaseURLSelectsPostgres(t *testing.T) {
	c := testConfig(t, true) // one data folder: the keys and dev chips are the instances' own copies
	c.DatabaseURL = pgtest.URL(t)
	for i := range 2 {
		s, ts := start(t, c)
		if _, ok := s.Store.(*store.Postgres); !ok {
			t.Fatalf("server %d: expected the PostgreSQL store, got %T", i+1, s.Store)
		}
		if code, body := get(t, ts.URL+"/readyz"); code != 200 || body != "ready\n" {
			t.Errorf("server %d: /readyz: expected 200 ready, got %d %q", i+1, code, body)
		}
	}
}

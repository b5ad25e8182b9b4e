package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

func openSQLite(t *testing.T, fail store.Failpoint) storetest.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "activation.db"), store.WithFailpoint(fail))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 1, time.UTC)
	path := filepath.Join(t.TempDir(), "activation.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := st.ImportChips(ctx, []store.ChipImport{{Serial: "C1", SealedSeed: []byte{1}, CertDER: []byte{2}}}, at); err != nil {
		t.Fatalf("import: %v", err)
	}
	before := storetest.Snapshot(t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	for i := range 2 { // reopening twice: migrations must not run again
		st, err := store.Open(path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i+1, err)
		}
		storetest.AssertUnchanged(t, st, before)
		if c, err := st.Chip(ctx, "C1"); err != nil || !c.ImportedAt.Equal(at) {
			t.Errorf("reopen %d: expected chip C1 imported at %v, got %+v (%v)", i+1, at, c, err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}

	files, err := filepath.Glob(filepath.Join("migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: expected some, got %v (%v)", files, err)
	}
	db := rawDB(t, path)
	// Every file once, by its own number (numbers may have gaps: see migrate).
	rows, err := db.Query(`SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%04d_", v); !strings.HasPrefix(name, want) {
			t.Errorf("schema_migrations: version %d names %s", v, name)
		}
		got = append(got, filepath.Join("migrations", "sqlite", name))
	}
	if !slices.Equal(got, files) {
		t.Errorf("schema_migrations: expected %v, got %v", files, got)
	}
}

func TestOpenRefuses(t *testing.T) {
	newer := filepath.Join(t.TempDir(), "newer.db")
	st, err := store.Open(newer)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	st.Close()
	if _, err := rawDB(t, newer).Exec(`INSERT INTO schema_migrations (version, name) VALUES (99, 'future.sql')`); err != nil {
		t.Fatalf("fake a newer schema: %v", err)
	}

	cases := []struct{ name, path string }{
		{"empty path", ""},
		{"path with a query", filepath.Join(t.TempDir(), "a.db?mode=memory")},
		{"missing folder", filepath.Join(t.TempDir(), "no", "such", "a.db")},
		{"schema newer than the program", newer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.Open(c.path)
			if err == nil {
				st.Close()
				t.Fatalf("expected an error opening %q, got none", c.path)
			}
		})
	}
}

func TestConcurrentWritersSerialize(t *testing.T) {
	st := openSQLite(t, nil)
	ctx := context.Background()
	const writers = 8
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			serial := string(rune('A' + i))
			_, err := st.ImportChips(ctx, []store.ChipImport{{Serial: serial, SealedSeed: []byte{1}, CertDER: []byte{2}}}, time.Unix(1, 0))
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Errorf("concurrent import: expected no error, got %v", err)
		}
	}
	if rows := storetest.Snapshot(t, st)["chips"]; len(rows) != writers {
		t.Errorf("expected %d chips, got %d", writers, len(rows))
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("ping %s: %v", path, errors.Unwrap(err))
	}
	return db
}

// TestUpgradeDropsChipWideLocks: a chip locked chip-wide by an earlier version (for
// ever, by the first; until a time, by the fourth) is locked for no one after the
// upgrade to per-person counts, and the chip-wide counts are gone from the schema.
func TestUpgradeDropsChipWideLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activation.db")
	db := rawDB(t, path)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_init.sql", "0002_readiness.sql", "0003_limits.sql", "0004_chip_lock.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", "sqlite", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, i+1, name); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Exec(`INSERT INTO chips (serial, seed_sealed, cert_der, imported_at, failed_codes, lock_count, locked_until)
		VALUES ('LOCKED', x'01', x'02', 1, 10, 3, ?)`, at.Add(24*time.Hour).UnixNano()); err != nil {
		t.Fatalf("a fourth-version database with a locked chip: %v", err)
	}
	db.Close()

	st, err := store.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	if fs, err := st.ChipFailures(ctx, "LOCKED"); err != nil || len(fs) != 0 {
		t.Errorf("expected no failures on the chip, got %+v (%v)", fs, err)
	}
	if rows := storetest.Snapshot(t, st)["chips"]; len(rows) != 1 || strings.Contains(rows[0], "failed_codes=") ||
		strings.Contains(rows[0], "lock_count=") || strings.Contains(rows[0], "locked_until=") {
		t.Errorf("expected the chip-wide counts gone from the chips table, got %q", rows)
	}

	// Anyone's code is taken while the old lock would still hold.
	cookie := []byte("cookie-hash-0123456789abcdef0123")
	s, err := st.RedeemHandoff(ctx, store.Handoff{TokenID: "tok", PersonID: "p1", UsedAt: at, ExpiresAt: at.Add(time.Minute)},
		store.Session{ID: "act", CookieHash: cookie, CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	s.State, s.PasswordVerifier = store.StatePasswordSet, []byte("verifier")
	if s, err = st.UpdateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.State, s.ChipSerial, s.ChipPublicKey, s.Nonce = store.StateChipPresented, "LOCKED", []byte("pub"), []byte("nonce")
	if s, err = st.UpdateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	lim := store.CodeLimits{BlockAfter: 3, LockAfter: 10, FirstLock: 15 * time.Minute, MaxLock: 24 * time.Hour, Attempts: 10, AttemptWindow: 10 * time.Minute}
	if _, err := st.AcceptCode(ctx, s, 100, 100, lim, at); err != nil {
		t.Errorf("a right code with the chip once locked chip-wide: expected it accepted, got %v", err)
	}
}

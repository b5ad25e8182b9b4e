package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
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

	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: expected some, got %v (%v)", files, err)
	}
	db := rawDB(t, path)
	var n, version int
	if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n != len(files) || version != len(files) {
		t.Errorf("schema_migrations: expected %d rows up to version %d, got %d rows up to version %d", len(files), len(files), n, version)
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

// TestUpgradeLiftsOldLocks: a chip that the old rule locked for ever (ten wrong codes
// in a row, no expiry) is unlocked by the upgrade, with its next lock the second.
func TestUpgradeLiftsOldLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activation.db")
	first, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		string(first),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql')`,
		`INSERT INTO chips (serial, seed_sealed, cert_der, imported_at, failed_codes) VALUES ('OLD-LOCKED', x'01', x'02', 1, 40), ('OLD-FINE', x'01', x'02', 1, 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("make a first-version database: %v", err)
		}
	}
	db.Close()

	st, err := store.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, c := range []struct {
		serial        string
		failed, locks int
	}{{"OLD-LOCKED", 0, 1}, {"OLD-FINE", 3, 0}} {
		got, err := st.Chip(ctx, c.serial)
		if err != nil || got.FailedCodes != c.failed || got.Locks != c.locks || !got.LockedUntil.IsZero() {
			t.Errorf("chip %s: expected %d wrong codes, %d locks, no lock; got %+v (%v)", c.serial, c.failed, c.locks, got, err)
		}
	}
}

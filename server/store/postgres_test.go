package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"mitidchip/server/store"
	"mitidchip/server/store/pgtest"
	"mitidchip/server/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPostgres(t *testing.T, fail store.Failpoint) storetest.Store {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), pgtest.URL(t), store.WithFailpoint(fail))
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

func TestPostgres(t *testing.T) {
	storetest.Run(t, openPostgres)
}

// TestPostgresMigratesOnceAtOnce: instances that start together on one empty
// database all open it, and the schema is migrated once.
func TestPostgresMigratesOnceAtOnce(t *testing.T) {
	url := pgtest.EmptyURL(t)
	const instances = 4
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for range instances {
		wg.Go(func() {
			st, err := store.OpenPostgres(context.Background(), url)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("open at once: expected no error, got %v", err)
		}
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, _ := filepath.Glob(filepath.Join("migrations", "postgres", "*.sql"))
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n == 0 {
		t.Errorf("expected %d migrations recorded once each, got %d (%v)", len(files), n, err)
	}
}

// TestMigrationsInStep: both dialects have the same migrations, by number and name.
func TestMigrationsInStep(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	lite, pg := names("migrations/sqlite"), names("migrations/postgres")
	if len(lite) == 0 || !slices.Equal(lite, pg) {
		t.Errorf("expected the same migration files for both stores, got\nsqlite:   %s\npostgres: %s",
			strings.Join(lite, " "), strings.Join(pg, " "))
	}
}

// TestOpenPostgresRefuses: a bad URL or an unreachable server is an error that does
// not show the password.
func TestOpenPostgresRefuses(t *testing.T) {
	for _, dsn := range []string{
		"mysql://u:s3cretpw@localhost/db",
		"postgres://u:s3cretpw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5",
		"postgres://u:s3cretpw@127.0.0.1:1/db?pool_max_conns=zero",
	} {
		st, err := store.OpenPostgres(context.Background(), dsn)
		if err == nil {
			st.Close()
			t.Errorf("open %s: expected an error", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("open: the error shows the password: %v", err)
		}
	}
}

package api_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mitidchip/server/store"
	"mitidchip/server/store/pgtest"
	"mitidchip/server/store/storetest"
)

// The package's tests run once on each store: SQLite, then PostgreSQL. -store runs
// them on one (go test ./server/api -args -store=postgres).
var storeFlag = flag.String("store", "both", "the store the API tests run on: sqlite, postgres or both")

// storeKind is the store of the run under way.
var storeKind string

func TestMain(m *testing.M) { os.Exit(pgtest.Main(eachStore{m})) }

// eachStore runs m's tests once per store.
type eachStore struct{ m *testing.M }

func (e eachStore) Run() int {
	flag.Parse()
	kinds := []string{"sqlite", "postgres"}
	switch *storeFlag {
	case "both":
	case "sqlite", "postgres":
		kinds = []string{*storeFlag}
	default:
		fmt.Fprintf(os.Stderr, "-store=%q: want sqlite, postgres or both\n", *storeFlag)
		return 2
	}
	code := 0
	for _, k := range kinds {
		storeKind = k
		fmt.Printf("=== the API tests on %s\n", k)
		if c := e.m.Run(); c != 0 {
			fmt.Printf("--- FAIL: the API tests on %s\n", k)
			code = c
		}
	}
	return code
}

// openStore opens a new, empty store of storeKind for t, closed in t.Cleanup.
func openStore(t testing.TB, fail store.Failpoint) storetest.Store {
	t.Helper()
	var st storetest.Store
	var err error
	switch storeKind {
	case "postgres":
		st, err = store.OpenPostgres(context.Background(), pgtest.URL(t), store.WithFailpoint(fail))
	default:
		st, err = store.Open(filepath.Join(t.TempDir(), "activation.db"), store.WithFailpoint(fail))
	}
	if err != nil {
		t.Fatalf("open %s store: %v", storeKind, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

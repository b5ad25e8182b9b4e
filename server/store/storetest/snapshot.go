// Package storetest is the behaviour every store.Store must show, as one suite each
// implementation runs, plus helpers that prove a failed call changed nothing.
package storetest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"mitidchip/server/store"
)

// Dumper lists every row of every table, rendered as text; store.SQLite is one.
type Dumper interface {
	Dump(ctx context.Context) (map[string][]string, error)
}

// Store is what the suite tests: a store that can also be dumped.
type Store interface {
	store.Store
	Dumper
}

// Opener makes a new, empty store for one test and closes it in t.Cleanup. The store
// must call fail (when not nil) between the statements of its transactions.
type Opener func(t *testing.T, fail store.Failpoint) Store

// Snapshot returns every row in d, to compare with AssertUnchanged later.
func Snapshot(t testing.TB, d Dumper) map[string][]string {
	t.Helper()
	rows, err := d.Dump(context.Background())
	if err != nil {
		t.Fatalf("dump store: %v", err)
	}
	return rows
}

// AssertUnchanged fails t unless d holds exactly the rows it held at before.
func AssertUnchanged(t testing.TB, d Dumper, before map[string][]string) {
	t.Helper()
	after := Snapshot(t, d)
	tables := slices.Sorted(maps.Keys(before))
	for name := range after {
		if _, ok := before[name]; !ok {
			tables = append(tables, name)
		}
	}
	for _, name := range tables {
		if !slices.Equal(before[name], after[name]) {
			t.Errorf("table %s changed\nexpected:\n  %s\ngot:\n  %s", name,
				strings.Join(before[name], "\n  "), strings.Join(after[name], "\n  "))
		}
	}
}

package store

import (
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestClassify feeds classify errors SQLite and the OS really return, made without
// privileges: a page limit (SQLITE_FULL), a read-only connection (SQLITE_READONLY), a
// write lock held by another connection (SQLITE_BUSY), and errno values as os
// functions wrap them. The faults on a real disk are in fault_test.go.
func TestClassify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.db")
	rw := rawConn(t, path+"?_busy_timeout=0")
	mustExec(t, rw, "PRAGMA journal_mode=WAL")
	mustExec(t, rw, "CREATE TABLE t (b BLOB)")

	full := func() error {
		var pages int
		if err := rw.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		mustExec(t, rw, "PRAGMA max_page_count="+strconv.Itoa(pages))
		defer mustExec(t, rw, "PRAGMA max_page_count=1073741823")
		_, err := rw.Exec("INSERT INTO t VALUES (zeroblob(100000))")
		return err
	}
	readOnly := func() error {
		_, err := rawConn(t, "file:"+path+"?mode=ro").Exec("INSERT INTO t VALUES (1)")
		return err
	}
	busy := func() error {
		holder := rawConn(t, path)
		tx, err := holder.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec("INSERT INTO t VALUES (2)"); err != nil { // takes the write lock
			t.Fatal(err)
		}
		_, err = rw.Exec("INSERT INTO t VALUES (3)")
		return err
	}
	osErr := func(errno syscall.Errno) func() error {
		return func() error { return &fs.PathError{Op: "open", Path: path, Err: errno} }
	}
	other := errors.New("no such table: x")
	cases := []struct {
		name     string
		err      func() error
		want     error  // nil: returned unchanged
		wantText string // in the message
	}{
		{"SQLITE_FULL", full, ErrDiskFull, "free space on the file system holding " + dir},
		{"SQLITE_READONLY", readOnly, ErrReadOnly, "make both writable"},
		{"SQLITE_BUSY", busy, ErrLocked, "write lock on " + path},
		{"EROFS", osErr(syscall.EROFS), ErrReadOnly, "read-only file system"},
		{"EACCES", osErr(syscall.EACCES), ErrReadOnly, "permission denied"},
		{"ENOSPC", osErr(syscall.ENOSPC), ErrDiskFull, "no space left on device"},
		{"anything else", func() error { return other }, nil, "no such table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cause := c.err()
			if cause == nil {
				t.Fatal("expected the fault to give an error, got none")
			}
			got := classify(cause, path)
			t.Logf("%v", got)
			if c.want == nil {
				if got != cause {
					t.Errorf("expected %v unchanged, got %v", cause, got)
				}
				return
			}
			if !errors.Is(got, c.want) || !errors.Is(got, cause) {
				t.Errorf("expected an error wrapping %q and the cause, got %v", c.want, got)
			}
			if !strings.Contains(got.Error(), c.wantText) {
				t.Errorf("expected the message to carry %q, got %q", c.wantText, got)
			}
		})
	}
}

func rawConn(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

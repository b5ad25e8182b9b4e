package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// classify names why a write to the database at path failed, when the cause is one an
// operator must fix outside this program: the result wraps ErrReadOnly, ErrDiskFull
// or ErrLocked, says what to do, and still wraps err. Other errors come back as they
// are.
func classify(err error, path string) error {
	if err == nil || errors.Is(err, ErrReadOnly) || errors.Is(err, ErrDiskFull) || errors.Is(err, ErrLocked) {
		return err
	}
	dir := filepath.Dir(path)
	switch causeOf(err, dir) {
	case ErrReadOnly:
		return fmt.Errorf("%w: cannot write %s or its folder %s: make both writable for this process "+
			"(after a crash, check whether the file system was remounted read-only), "+
			"or move the data to a writable folder: %w", ErrReadOnly, path, dir, err)
	case ErrDiskFull:
		return fmt.Errorf("%w: no space left for %s: free space on the file system holding %s: %w",
			ErrDiskFull, path, dir, err)
	case ErrLocked:
		return fmt.Errorf("%w: another process kept the write lock on %s past the busy timeout "+
			"(a long chips import, or a second server): stop it or wait for it: %w", ErrLocked, path, err)
	}
	return err
}

// causeOf maps an error from SQLite or the OS to a sentinel, or nil. SQLite says
// "unable to open" or "I/O error" without the reason when it cannot create or grow the
// WAL and shared-memory files; then the folder dir is asked, by writing a file there.
func causeOf(err error, dir string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code, without the extended bits
		case sqlite3.SQLITE_READONLY:
			return ErrReadOnly
		case sqlite3.SQLITE_FULL:
			return ErrDiskFull
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrLocked
		}
	}
	if c := errnoCause(err); c != nil {
		return c
	}
	if se != nil {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PERM:
			return errnoCause(tryWrite(dir))
		}
	}
	return nil
}

func errnoCause(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return ErrReadOnly
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return ErrDiskFull
	}
	return nil
}

// tryWrite creates, writes one page into and removes a file in dir, the smallest
// thing SQLite needs to do there to commit.
func tryWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, 4096))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

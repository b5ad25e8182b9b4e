//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// serveLock is the claim of one server on a database: flock(2) on a file beside it,
// holding the server's pid for the message a second one gets. A separate file, not
// the database, because SQLite's own locks on the database are POSIX record locks,
// which any close(2) of the file in this process would drop. The file stays when the
// lock is released: removing it would let a waiting server lock a file no one else
// sees any more.
type serveLock struct {
	f    *os.File
	once sync.Once
}

// lockServe takes the serve lock of the database at dbPath without waiting, or fails
// with ErrLocked naming the holder's pid.
func lockServe(dbPath string) (*serveLock, error) {
	path := dbPath + ".serve-lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another instance"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("another instance (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is serving %s; stop it first (it holds %s)", ErrLocked, holder, dbPath, path)
		}
		return nil, fmt.Errorf("serve lock %s: %w", path, err)
	}
	if err := writePid(f); err != nil {
		f.Close() // closing releases the flock
		return nil, fmt.Errorf("serve lock %s: %w", path, err)
	}
	return &serveLock{f: f}, nil
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// flock retries on EINTR, which Go's signal handling can cause.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// release gives the lock up; nil-safe, as a store opened without one has none, and
// safe to call twice, as Close is.
func (l *serveLock) release() (err error) {
	if l == nil {
		return nil
	}
	l.once.Do(func() { err = l.f.Close() })
	return err
}

//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package store

import (
	"errors"
	"runtime"
)

// serveLock needs flock(2); without it a server refuses to start rather than risk two
// servers on one database.
type serveLock struct{}

func lockServe(string) (*serveLock, error) {
	return nil, errors.New("serve lock: no flock(2) on " + runtime.GOOS)
}

func (l *serveLock) release() error { return nil }

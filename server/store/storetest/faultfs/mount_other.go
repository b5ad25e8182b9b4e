//go:build !linux

package faultfs

import (
	"runtime"
	"testing"
)

// InPrivateMounts skips: mount namespaces are Linux's.
func InPrivateMounts(t *testing.T) bool {
	t.Skip("faultfs: needs Linux mount namespaces, not " + runtime.GOOS)
	return false
}

// Tmpfs is never reached outside Linux.
func Tmpfs(t *testing.T, dir string, size int) { t.Fatal("faultfs: no tmpfs on " + runtime.GOOS) }

// ReadOnly is never reached outside Linux.
func ReadOnly(t *testing.T, src, target string) {
	t.Fatal("faultfs: no bind mounts on " + runtime.GOOS)
}

// Package faultfs gives tests file systems that fail the way a server's disk does: full,
// or read-only. The faults are real (the kernel refuses the write, root included), made
// with mounts in a mount namespace of the test's own, so nothing outside sees them and
// they vanish with the test process even if it crashes. Linux only; elsewhere, and
// where a mount namespace is not allowed (not root), the tests skip.
package faultfs

import (
	"os"
	"path/filepath"
	"testing"
)

// childEnv names the test a child process was started to run in its own namespace.
const childEnv = "FAULTFS_CHILD_TEST"

// FillDisk writes a file into dir until the file system holding it has no space left,
// and returns the function that removes it again.
func FillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "faultfs-filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("faultfs: fill %s: %v", dir, err)
	}
	page := make([]byte, 4096) // whole pages, so not one is left over
	for {
		if _, err := f.Write(page); err != nil {
			break
		}
	}
	f.Close()
	if err := tryWrite(dir); err == nil {
		t.Fatalf("faultfs: %s still takes writes after filling it", dir)
	}
	return func() {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatalf("faultfs: free %s: %v", dir, err)
		}
	}
}

func tryWrite(dir string) error {
	f, err := os.CreateTemp(dir, "faultfs-check-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	_, err = f.Write(make([]byte, 4096))
	return err
}

package faultfs

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InPrivateMounts runs the calling test again in a child process that has a mount
// namespace of its own, and returns true in that child, where the test goes on and
// may call Tmpfs and ReadOnly. In the parent it waits for the child, passes, fails or
// skips as the child did, and returns false: the test then returns.
func InPrivateMounts(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	args := []string{"-test.run=" + strings.Join(parts, "/"), "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).String())
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	// Go makes the child's mounts private (MS_REC|MS_PRIVATE on /) before exec.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	switch {
	case errors.Is(err, syscall.EPERM):
		t.Skipf("faultfs: needs a mount namespace of its own (root with CAP_SYS_ADMIN): %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skipf("faultfs: the child skipped:\n%s", out)
	case err != nil:
		t.Fatalf("faultfs: the test in its own mount namespace failed: %v\n%s", err, out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("faultfs: the child did not run %s:\n%s", t.Name(), out)
	}
	t.Logf("faultfs: passed in its own mount namespace:\n%s", out)
	return false
}

// Tmpfs mounts an empty tmpfs of size bytes on dir (made if missing) until the test
// ends. Only in InPrivateMounts.
func Tmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	mustBeChild(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("faultfs: %v", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+strconv.Itoa(size)+",mode=0700"); err != nil {
		t.Fatalf("faultfs: mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unmount(t, dir) })
}

// ReadOnly shows the folder src at target (which may be src itself) read-only until
// the test ends: writes there fail with EROFS, as on a file system the kernel
// remounted read-only after an error. Only in InPrivateMounts.
func ReadOnly(t *testing.T, src, target string) {
	t.Helper()
	mustBeChild(t)
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("faultfs: bind %s on %s: %v", src, target, err)
	}
	t.Cleanup(func() { unmount(t, target) })
	if err := syscall.Mount("", target, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("faultfs: make %s read-only: %v", target, err)
	}
}

func mustBeChild(t *testing.T) {
	t.Helper()
	if top := os.Getenv(childEnv); top == "" || t.Name() != top && !strings.HasPrefix(t.Name(), top+"/") {
		t.Fatalf("faultfs: mount only inside InPrivateMounts, or the mount outlives the test")
	}
}

func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
		t.Errorf("faultfs: unmount %s: %v", dir, err)
	}
}

package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/server/store"
	"mitidchip/server/store/storetest/faultfs"
)

// The faults here are real: a tmpfs filled to the last page, a folder the kernel
// shows read-only. They need a mount namespace (root on Linux) and skip without one.

// TestOpenRefusesAReadOnlyCrashImage: after a crash the WAL is still there, so SQLite
// opens a read-only copy, the schema is current and the migration commits nothing;
// only a write shows that nothing can be committed.
func TestOpenRefusesAReadOnlyCrashImage(t *testing.T) {
	if !faultfs.InPrivateMounts(t) {
		return
	}
	live, image := t.TempDir(), t.TempDir()
	st, err := store.Open(filepath.Join(live, "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportChips(context.Background(), []store.ChipImport{{Serial: "C1", SealedSeed: []byte{1}, CertDER: []byte{2}}}, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	// The files as a crash leaves them: the store is open, the WAL not checkpointed.
	for _, name := range []string{"activation.db", "activation.db-wal", "activation.db-shm"} {
		b, err := os.ReadFile(filepath.Join(live, name))
		if err != nil {
			t.Fatalf("crash image: %v", err)
		}
		if err := os.WriteFile(filepath.Join(image, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	faultfs.ReadOnly(t, image, image)

	path := filepath.Join(image, "activation.db")
	_, err = store.Open(path)
	t.Logf("open: %v", err)
	if !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("expected ErrReadOnly opening a read-only crash image, got %v", err)
	}
	if !strings.Contains(err.Error(), "read-only: cannot write "+path+" or its folder "+image) {
		t.Errorf("expected the message to name the file and folder, got %q", err)
	}
}

// TestProbeFollowsAFullDisk: the probe fails while the disk is full and passes again
// once space is freed, with no restart; a store opened on the full disk is refused.
func TestProbeFollowsAFullDisk(t *testing.T) {
	if !faultfs.InPrivateMounts(t) {
		return
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	faultfs.Tmpfs(t, dir, 1<<20)
	path := filepath.Join(dir, "activation.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatalf("open on an empty disk: %v", err)
	}
	defer st.Close()
	if err := st.Probe(ctx); err != nil {
		t.Fatalf("probe on an empty disk: expected nil, got %v", err)
	}

	free := faultfs.FillDisk(t, dir)
	err = st.Probe(ctx)
	t.Logf("probe: %v", err)
	if !errors.Is(err, store.ErrDiskFull) || !strings.Contains(err.Error(), "disk full: no space left for "+path) {
		t.Errorf("probe on a full disk: expected ErrDiskFull naming %s, got %v", path, err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("ping on a full disk: expected nil (it writes nothing), got %v", err)
	}
	st2, err := store.Open(path)
	t.Logf("open: %v", err)
	if err == nil {
		st2.Close()
	}
	if !errors.Is(err, store.ErrDiskFull) {
		t.Errorf("open on a full disk: expected ErrDiskFull, got %v", err)
	}

	free()
	if err := st.Probe(ctx); err != nil {
		t.Errorf("probe after freeing space: expected nil, got %v", err)
	}
}

// TestServeLock: one store opened WithServeLock per database at a time; the second is
// refused naming the first's pid, a store without the lock (chips import) still opens
// and writes, and Close hands the lock on.
func TestServeLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activation.db")
	first, err := store.Open(path, store.WithServeLock())
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	_, err = store.Open(path, store.WithServeLock())
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second with the lock: expected ErrLocked, got %v", err)
	}
	want := "another instance (pid " + strconv.Itoa(os.Getpid()) + ") is serving " + path + "; stop it first"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("expected the refusal to say %q, got %q", want, err)
	}

	importer, err := store.Open(path)
	if err != nil {
		t.Fatalf("a store without the lock beside the server: %v", err)
	}
	if _, err := importer.ImportChips(context.Background(), []store.ChipImport{{Serial: "C1", SealedSeed: []byte{1}, CertDER: []byte{2}}}, time.Unix(1, 0)); err != nil {
		t.Errorf("import beside the server: %v", err)
	}
	importer.Close()

	if err := first.Close(); err != nil {
		t.Fatalf("close first: %v", err)
	}
	next, err := store.Open(path, store.WithServeLock())
	if err != nil {
		t.Fatalf("after the first closed: expected the lock, got %v", err)
	}
	next.Close()
}

package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server"
	"mitidchip/server/servertest"
	"mitidchip/server/store/storetest/faultfs"
)

// The faults in these tests are real, made with mounts in the test's own mount
// namespace (see faultfs); without one (not root on Linux) they skip. Only the second
// instance needs nothing.

func tryServer(t *testing.T, c server.Config, now func() time.Time) (*server.Server, error) {
	t.Helper()
	return server.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
}

// ranBefore sets up a production data folder and starts and stops a server on it, as
// a server that ran before leaves it.
func ranBefore(t *testing.T, c server.Config) {
	t.Helper()
	servertest.ProductionData(t, c, 1)
	s, err := tryServer(t, c, time.Now)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestReadyzFollowsTheDisk: /readyz says 503 while the disk is full and 200 again
// once space is freed, without a restart.
func TestReadyzFollowsTheDisk(t *testing.T) {
	if !faultfs.InPrivateMounts(t) {
		return
	}
	c := testConfig(t, true)
	faultfs.Tmpfs(t, c.DataDir, 4<<20)
	var skew atomic.Int64 // readiness answers are reused for a second by this clock
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	later := func() { skew.Add(int64(2 * time.Second)) }
	s, err := tryServer(t, c, now)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler)
	defer ts.Close()

	if code, body := get(t, ts.URL+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("with space: expected 200 %q, got %d %q", "ready\n", code, body)
	}
	free := faultfs.FillDisk(t, c.DataDir)
	later()
	if code, body := get(t, ts.URL+"/readyz"); code != 503 || body != "not ready\n" {
		t.Errorf("disk full: expected 503 %q, got %d %q", "not ready\n", code, body)
	}
	if code, _ := get(t, ts.URL+"/healthz"); code != 200 {
		t.Errorf("disk full: expected /healthz 200 (the process lives), got %d", code)
	}
	free()
	later()
	if code, body := get(t, ts.URL+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("space freed: expected 200 %q, got %d %q", "ready\n", code, body)
	}
}

// TestNewRefusesAFaultyDataFolder: start-up fails, naming the cause and the folder,
// instead of listening and failing every write.
func TestNewRefusesAFaultyDataFolder(t *testing.T) {
	if !faultfs.InPrivateMounts(t) {
		return
	}
	tests := []struct {
		name  string
		fault func(t *testing.T, c server.Config) // leaves c.DataDir as a server that ran left it, faulty
		want  string
	}{
		{"disk full", func(t *testing.T, c server.Config) {
			ranBefore(t, c)
			faultfs.FillDisk(t, c.DataDir)
		}, "disk full: no space left for "},
		{"read-only", func(t *testing.T, c server.Config) {
			ranBefore(t, c)
			faultfs.ReadOnly(t, c.DataDir, c.DataDir)
		}, "read-only: cannot write "},
		{"read-only after a crash", func(t *testing.T, c server.Config) {
			servertest.ProductionData(t, c, 1)
			s, err := tryServer(t, c, time.Now)
			if err != nil {
				t.Fatalf("first start: %v", err)
			}
			// The files as a crash leaves them: the server runs, its WAL not checkpointed.
			image := t.TempDir()
			if err := os.CopyFS(image, os.DirFS(c.DataDir)); err != nil {
				t.Fatalf("crash image: %v", err)
			}
			s.Close()
			faultfs.ReadOnly(t, image, c.DataDir)
		}, "read-only: cannot write "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, false)
			faultfs.Tmpfs(t, c.DataDir, 4<<20)
			tc.fault(t, c)
			s, err := tryServer(t, c, time.Now)
			if err == nil {
				s.Close()
				t.Fatalf("expected start-up to fail with %q, it started", tc.want)
			}
			t.Logf("start-up: %v", err)
			if !strings.Contains(err.Error(), tc.want+c.DataDir) {
				t.Errorf("expected %q naming %s, got %q", tc.want, c.DataDir, err)
			}
		})
	}
}

// TestSecondInstanceRefused: a second server on the same data folder is refused while
// the first runs, with the first's pid, and starts once the first has stopped.
func TestSecondInstanceRefused(t *testing.T) {
	c := testConfig(t, true)
	first, err := tryServer(t, c, time.Now)
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	second, err := tryServer(t, c, time.Now)
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("second: expected to be refused while the first runs, it started")
	}
	want := "another instance (pid " + strconv.Itoa(os.Getpid()) + ") is serving " + c.DataDir
	if !strings.Contains(err.Error(), want) {
		t.Errorf("second: expected %q, got %q", want, err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("close first: %v", err)
	}
	third, err := tryServer(t, c, time.Now)
	if err != nil {
		t.Fatalf("after the first stopped: expected a start, got %v", err)
	}
	third.Close()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return request(t, http.MethodGet, url, nil)
}

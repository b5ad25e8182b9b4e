package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/server"
	"mitidchip/server/dev"
	"mitidchip/server/store"
	"mitidchip/server/web"
)

func testAssets(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "assets")
	if _, err := web.Build(dir, os.DirFS("web/testdata/page"), os.DirFS("web/testdata/module")); err != nil {
		t.Fatalf("build test assets: %v", err)
	}
	return dir
}

func testConfig(t *testing.T, devMode bool) server.Config {
	c := server.Load(func(k string) string {
		switch k {
		case "DATA_DIR":
			return filepath.Join(t.TempDir(), "var")
		case "ADDR":
			return "127.0.0.1:0"
		case "PUBLIC_ORIGIN":
			return "http://127.0.0.1:8080"
		}
		return ""
	})
	c.AssetsDir = testAssets(t)
	if devMode {
		c.Dev = dev.New()
	}
	return c
}

func start(t *testing.T, c server.Config) (*server.Server, *httptest.Server) {
	t.Helper()
	s, err := server.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDevModeThenProduction starts the server in dev mode on a fresh data folder (it
// makes keys, a CA and chips), checks the dev endpoints answer, then starts it on the
// same folder without -dev and checks every dev endpoint is gone.
func TestDevModeThenProduction(t *testing.T) {
	c := testConfig(t, true)
	s, ts := start(t, c)
	if !strings.HasPrefix(s.Link, "http://127.0.0.1:8080/#t=") {
		t.Fatalf("dev link = %q, want the origin with a #t= token", s.Link)
	}
	devPaths := []string{"/dev/chips", "/dev/chips/MC-000001", "/dev/link", "/dev/chip.html"}
	for _, p := range devPaths[:2] {
		if code, body := get(t, ts.URL+p); code != http.StatusOK {
			t.Errorf("dev GET %s = %d %q, want 200", p, code, body)
		}
	}
	if code, _ := get(t, ts.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	caBefore, err := os.ReadFile(filepath.Join(c.DataDir, "dev", "manufacturer-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ts.Close()

	// A second dev start reuses the data: same CA, chips already imported.
	s2, ts2 := start(t, c)
	caAfter, _ := os.ReadFile(filepath.Join(c.DataDir, "dev", "manufacturer-ca.pem"))
	if string(caBefore) != string(caAfter) {
		t.Error("second dev start minted a new CA; want the first one reused")
	}
	if c.Dev.(*dev.Mode).Chips == nil {
		t.Error("second dev start has no virtual chips")
	}
	s2.Close()
	ts2.Close()

	c.Dev = nil
	p, ts3 := start(t, c)
	if p.Link != "" {
		t.Error("production server has dev chips or a demo link")
	}
	for _, path := range devPaths {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, ts3.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("production %s %s = %d, want 404", method, path, resp.StatusCode)
			}
		}
	}
	for _, press := range []string{"/dev/chips/MC-000001/press", "/dev/chips/MC-000001/frame"} {
		resp, err := http.Post(ts3.URL+press, "application/octet-stream", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("production POST %s = %d, want 404", press, resp.StatusCode)
		}
	}
	if code, _ := get(t, ts3.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", code)
	}
	if code, body := get(t, ts3.URL+"/metrics"); code != http.StatusOK || !strings.Contains(body, "activations_started_total") {
		t.Errorf("/metrics = %d, want 200 with activations_started_total", code)
	}
}

// TestGracefulShutdown: a request in flight when the server is told to stop (here a
// sign request waiting for the virtual chip's button) still gets its answer.
func TestGracefulShutdown(t *testing.T) {
	c := testConfig(t, true)
	s, err := server.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, "127.0.0.1:0", 10*time.Second, func(a net.Addr) { addr <- a }) }()
	base := "http://" + (<-addr).String()

	vc := c.Dev.(*dev.Mode).Chips.Chip("MC-000001")
	payload, _ := chip.SignRequest{Wait: 5 * time.Second}.Marshal()
	req, _ := chip.Frame{Type: chip.TypeSign, RequestID: 1, Payload: payload}.Encode()
	answer := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/dev/chips/MC-000001/frame", "application/octet-stream", bytes.NewReader(req))
		if err != nil {
			answer <- 0
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f, err := chip.Decode(body)
		if err != nil || f.Type != chip.TypeSignature {
			answer <- -1
			return
		}
		answer <- resp.StatusCode
	}()
	for !vc.Waiting() {
		<-vc.Changed()
	}
	stop() // SIGTERM's equivalent: the request above is in flight
	// Press only once the server has stopped taking new connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections 10s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond) // polling a socket state; no event to wait on
	}
	vc.Press()
	if code := <-answer; code != http.StatusOK {
		t.Fatalf("request in flight at shutdown got %d, want 200 with a signature", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
}

// TestSweepUsesServerClock: the sweep asks the store to drop what expired by the
// server's own clock (the one it was given), not the machine's: with the clock two
// days ahead, rows that expire in an hour of real time go; with the clock two days
// behind, rows that expired an hour ago of real time stay.
func TestSweepUsesServerClock(t *testing.T) {
	wall := time.Now()
	cases := []struct {
		name    string
		clock   time.Time
		expires time.Time // of the rows, in real time
		want    int
	}{
		{"clock ahead", wall.Add(48 * time.Hour), wall.Add(time.Hour), 2},
		{"clock behind", wall.Add(-48 * time.Hour), wall.Add(-time.Hour), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, true)
			s, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return c.clock })
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer s.Close()
			h := store.Handoff{TokenID: "tok-sweep", PersonID: "p-sweep", UsedAt: c.expires.Add(-time.Minute), ExpiresAt: c.expires}
			sess := store.Session{ID: "act-sweep", CookieHash: []byte("cookie-sweep"), CreatedAt: h.UsedAt, ExpiresAt: c.expires}
			if _, err := s.Store.RedeemHandoff(context.Background(), h, sess); err != nil {
				t.Fatalf("redeem: %v", err)
			}
			n, err := s.Sweep(context.Background())
			if err != nil || n != c.want {
				t.Fatalf("sweep: expected %d rows deleted, got %d (%v)", c.want, n, err)
			}
		})
	}
}

// TestTrustedProxiesConfig: TRUSTED_PROXIES is read from the environment, and a bad
// entry stops the start with a message that names it.
func TestTrustedProxiesConfig(t *testing.T) {
	if got := server.Load(func(k string) string {
		if k == "TRUSTED_PROXIES" {
			return "127.0.0.1/32,::1/128"
		}
		return ""
	}).TrustedProxies; got != "127.0.0.1/32,::1/128" {
		t.Fatalf("Load: expected TRUSTED_PROXIES in the config, got %q", got)
	}
	c := testConfig(t, false)
	c.TrustedProxies = "127.0.0.1/32, proxy.internal"
	s, err := server.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err == nil {
		s.Close()
		t.Fatal("New with a bad TRUSTED_PROXIES: expected an error, got none")
	}
	if !strings.Contains(err.Error(), "TRUSTED_PROXIES") || !strings.Contains(err.Error(), `"proxy.internal"`) {
		t.Errorf("New with a bad TRUSTED_PROXIES: expected the error to name the variable and the entry, got %v", err)
	}
}

package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mitidchip/server"
	"mitidchip/server/dev"
	"mitidchip/server/servertest"
	"mitidchip/server/store"
	"mitidchip/server/store/pgtest"
	"mitidchip/server/web"
)

// origin is the page's origin in these tests; the test servers listen elsewhere, so
// requests that must look like the page's name it in Host and Origin.
const (
	origin = "http://127.0.0.1:8080"
	host   = "127.0.0.1:8080"
)

// assetsDir is the real page (web/) with a stand-in module, built once as `make build`
// builds it: a best-quality brotli build takes seconds under -race. The servers only
// read it.
var assetsDir string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "servertest-")
	if err != nil {
		panic(err)
	}
	assetsDir = filepath.Join(tmp, "assets")
	if _, err := web.Build(assetsDir, os.DirFS("../web"), os.DirFS("web/testdata/module")); err != nil {
		panic(fmt.Sprintf("build test assets: %v", err))
	}
	code := pgtest.Main(m)
	os.RemoveAll(tmp)
	os.Exit(code)
}

// testConfig is a configuration on a fresh data folder: with dev mode, ready to start;
// without, the test sets the folder up (servertest.ProductionData).
func testConfig(t *testing.T, devMode bool) server.Config {
	c := server.Load(func(k string) string {
		switch k {
		case "DATA_DIR":
			return filepath.Join(t.TempDir(), "var")
		case "ADDR":
			return "127.0.0.1:0"
		case "PUBLIC_ORIGIN":
			return origin
		}
		return ""
	})
	c.AssetsDir = assetsDir
	if devMode {
		c.Dev = dev.New()
	}
	return c
}

// productionConfig is a configuration on a data folder set up for production.
func productionConfig(t *testing.T) (server.Config, servertest.Production) {
	t.Helper()
	c := testConfig(t, false)
	return c, servertest.ProductionData(t, c, 3)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newServer(t *testing.T, c server.Config) *server.Server {
	t.Helper()
	s, err := server.New(context.Background(), c, discard(), time.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func start(t *testing.T, c server.Config) (*server.Server, *httptest.Server) {
	t.Helper()
	s := newServer(t, c)
	ts := httptest.NewServer(s.Handler)
	t.Cleanup(ts.Close)
	return s, ts
}

// serve runs s.Serve on a port of its own until the test ends; it returns the base URL.
func serve(t *testing.T, s *server.Server) string {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, "127.0.0.1:0", time.Second, func(a net.Addr) { addr <- a }) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a.String()
	case err := <-served:
		t.Fatalf("Serve: %v", err)
		return ""
	}
}

// request sends a request as the page would: addressed to the page's host, and a POST
// from its origin.
func request(t *testing.T, method, url string, body io.Reader) (int, string) {
	t.Helper()
	code, b, err := do(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

// do is request for a goroutine of the test, which must not stop the test itself.
func do(method, url string, body io.Reader) (int, string, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	if method == http.MethodPost {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestDevMode starts the server in dev mode on a fresh data folder (it makes keys, a
// CA and chips), checks the dev endpoints and the virtual chip page answer, and starts
// it again on the same folder, which reuses what the first start made.
func TestDevMode(t *testing.T) {
	c := testConfig(t, true)
	s, ts := start(t, c)
	if !strings.HasPrefix(s.Link, origin+"/#t=") {
		t.Fatalf("dev link = %q, want the origin with a #t= token", s.Link)
	}
	for _, p := range []string{"/dev/chips", "/dev/chips/MC-000001", "/healthz"} {
		if code, body := request(t, http.MethodGet, ts.URL+p, nil); code != http.StatusOK {
			t.Errorf("dev GET %s = %d %q, want 200", p, code, body)
		}
	}
	caBefore, err := os.ReadFile(filepath.Join(c.DataDir, "dev", "manufacturer-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ts.Close()

	// A second dev start reuses the data: same CA, chips already imported.
	c.Dev = dev.New()
	start(t, c)
	caAfter, _ := os.ReadFile(filepath.Join(c.DataDir, "dev", "manufacturer-ca.pem"))
	if string(caBefore) != string(caAfter) {
		t.Error("second dev start minted a new CA; want the first one reused")
	}
	if c.Dev.(*dev.Mode).Chips == nil {
		t.Error("second dev start has no virtual chips")
	}
}

// TestDevChipPage: dev mode publishes the virtual chip page, which the production
// build no longer holds, on the page's own stylesheet and icon.
func TestDevChipPage(t *testing.T) {
	_, ts := start(t, testConfig(t, true))
	code, page := request(t, http.MethodGet, ts.URL+"/dev/chip.html", nil)
	if code != http.StatusOK || !strings.Contains(page, "Virtual MitID chip") {
		t.Fatalf("GET /dev/chip.html = %d, want 200 with the chip page; got:\n%s", code, page)
	}
	refs := regexp.MustCompile(`(?:href|src)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	want := map[string]bool{"style.": false, "chip.": false, "favicon.": false}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") {
			ref = "/dev/" + ref
		}
		if ref == "/dev/link" || ref == "/dev/block-link" {
			continue // the demo person's links redirect to the configured origin (server/dev tests them)
		}
		if code, _ := request(t, http.MethodGet, ts.URL+ref, nil); code != http.StatusOK {
			t.Errorf("the chip page's %s: GET %s = %d, want 200", m[0], ref, code)
		}
		for prefix := range want {
			if strings.Contains(ref, "/"+prefix) {
				want[prefix] = true
			}
		}
	}
	for prefix, seen := range want {
		if !seen {
			t.Errorf("the chip page links no %s… file; links: %v", prefix, refs)
		}
	}
}

// TestProductionServesNoDevFiles: without -dev, nothing of dev mode answers, whatever
// spelling of the path: the mux and the page handler look at the same form of it,
// and the production build has no dev page to find.
func TestProductionServesNoDevFiles(t *testing.T) {
	c, _ := productionConfig(t)
	s, ts := start(t, c)
	if s.Link != "" {
		t.Error("production server has a demo link")
	}
	tests := []struct{ method, path string }{
		{http.MethodGet, "/dev/chip.html"},
		{http.MethodGet, "/dev%2Fchip.html"},
		{http.MethodGet, "/dev%2fchip.html"},
		{http.MethodGet, "/%64ev/chip.html"},
		{http.MethodGet, "/%64ev%2Fchip.html"},
		{http.MethodGet, "/dev/%2e%2e/"},
		{http.MethodGet, "/dev/%2e%2e/index.html"},
		{http.MethodGet, "//dev/chip.html"},
		{http.MethodGet, "/./dev/chip.js"},
		{http.MethodGet, "/dev/chip.js"},
		{http.MethodGet, "/dev%2Fchip.js"},
		{http.MethodGet, "/dev/"},
		{http.MethodGet, "/dev/chips"},
		{http.MethodGet, "/dev%2Fchips"},
		{http.MethodGet, "/dev/chips/MC-000001"},
		{http.MethodGet, "/dev/link"},
		{http.MethodGet, "/dev/block-link"},
		{http.MethodPost, "/dev/chips/MC-000001/press"},
		{http.MethodPost, "/dev%2Fchips%2FMC-000001%2Fpress"},
		{http.MethodPost, "/dev/chips/MC-000001/frame"},
		{http.MethodPost, "/dev/chip.html"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			// The client follows the mux's redirects to the clean path (// and /./).
			code, body := request(t, tc.method, ts.URL+tc.path, strings.NewReader("x"))
			if code != http.StatusNotFound {
				t.Errorf("expected 404, got %d", code)
			}
			if strings.Contains(body, "Virtual MitID chip") || strings.Contains(body, "/dev/chips/") {
				t.Errorf("expected nothing of the dev page in the answer, got:\n%.300s", body)
			}
		})
	}
	for _, p := range []string{"/", "/healthz", "/readyz"} {
		if code, _ := request(t, http.MethodGet, ts.URL+p, nil); code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, code)
		}
	}
	if code, body := request(t, http.MethodGet, ts.URL+"/metrics", nil); code != http.StatusOK || !strings.Contains(body, "activations_started_total") {
		t.Errorf("/metrics = %d, want 200 with activations_started_total", code)
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

package scenario

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/chip/virtual"
	"mitidchip/server"
	"mitidchip/server/dev"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
	"mitidchip/server/servertest"
)

// AssetsEnv names the built page the servers serve (make build's build/assets).
const AssetsEnv = "ASSETS_DIR"

// Server is the real activation server, listening on 127.0.0.1 (a secure context for
// the browser) at a port of its own, with its SQLite store in the test's temp folder.
type Server struct {
	*server.Server
	Chips  *dev.Chips    // the virtual chips; nil for a production start
	Origin string        // http://127.0.0.1:PORT, also the server's PUBLIC_ORIGIN
	Config server.Config // as the server was assembled
	// Production is what a production start's data folder was set up with: the app
	// backend's key (NewLink signs with it) and the imported chips.
	Production servertest.Production
	clock      *Clock // nil: real time
}

// Clock is a server clock that a test moves ahead of real time (the browser's), to
// skip a wait such as a chip's attempt window: the server, its dev chips, and the
// links and codes the scenario makes for it all read it.
type Clock struct{ ahead atomic.Int64 }

// Now is the real time plus what Advance added.
func (c *Clock) Now() time.Time { return time.Now().Add(c.Ahead()) }

// Advance moves the clock d further ahead of real time.
func (c *Clock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }

// Ahead is how far the clock is ahead of real time.
func (c *Clock) Ahead() time.Duration { return time.Duration(c.ahead.Load()) }

// Now is the time on the server's clock.
func (s *Server) Now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock.Now()
}

// ServerOption configures Start.
type ServerOption func(*serverConfig)

type serverConfig struct {
	production bool
	assetsDir  string
	clock      *Clock
}

// Production starts the server without -dev, as it runs for citizens: no virtual
// chips, no dev link, on a data folder set up as an operator sets one up
// (servertest.ProductionData): the app backend's public key, a test manufacturer's
// root and its chips imported from a delivery file. A production server refuses a
// folder that dev mode set up.
func Production() ServerOption { return func(c *serverConfig) { c.production = true } }

// Assets serves the built page in dir instead of $ASSETS_DIR.
func Assets(dir string) ServerOption { return func(c *serverConfig) { c.assetsDir = dir } }

// WithClock runs the server on c instead of real time.
func WithClock(c *Clock) ServerOption { return func(sc *serverConfig) { sc.clock = c } }

// Start runs the server until t ends. Its log is printed when t fails.
func Start(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	cfg := serverConfig{assetsDir: os.Getenv(AssetsEnv)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.assetsDir == "" {
		t.Fatalf("scenario: no built page: set %s (make build does) or build it in TestMain with BuildAssets", AssetsEnv)
	}
	// Listen first: the origin the browser sees must be in the configuration.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("scenario: listen: %v", err)
	}
	origin := "http://" + ln.Addr().String()
	env := map[string]string{
		"ADDR":          ln.Addr().String(),
		"DATA_DIR":      t.TempDir(),
		"PUBLIC_ORIGIN": origin,
		"ASSETS_DIR":    cfg.assetsDir,
	}
	c := server.Load(func(k string) string { return env[k] })

	logs := &tail{max: 64 << 10}
	log := observe.NewLogger(logs, slog.LevelInfo)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", logs.String())
		}
	})
	var prod servertest.Production
	if cfg.production {
		prod = servertest.ProductionData(t, c, 3)
	} else {
		c.Dev = dev.New()
	}
	now := time.Now
	if cfg.clock != nil {
		now = cfg.clock.Now
	}
	s, err := server.New(context.Background(), c, log, now)
	if err != nil {
		ln.Close()
		t.Fatalf("scenario: start the server (dev %v): %v", c.Dev != nil, err)
	}
	srv := s.HTTPServer() // the production timeouts, which dev waits must outlast
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: a dev chip's sign request may still be waiting.
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("scenario: server: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("scenario: close the store: %v", err)
		}
	})
	out := &Server{Server: s, Origin: origin, Config: c, Production: prod, clock: cfg.clock}
	if m, ok := c.Dev.(*dev.Mode); ok {
		out.Chips = m.Chips
	}
	return out
}

// NewLink mints an activation link for a person, as the MitID app's backend does when
// it hands the person over to the page. An empty userID gives the person the user ID
// UserIDOf(personID): every activation needs one.
func (s *Server) NewLink(t testing.TB, personID, userID string) string {
	t.Helper()
	if userID == "" {
		userID = UserIDOf(personID)
	}
	tok, _, err := s.issuer(t, s.Now).Issue(personID, userID)
	if err != nil {
		t.Fatalf("scenario: activation link for %s: %v", personID, err)
	}
	return s.Origin + "/#t=" + tok
}

// UserIDOf is the MitID user ID a link made without one gives the person.
func UserIDOf(personID string) string { return "uid." + personID }

// issuer signs handoff tokens as the app's backend, with the key the server trusts:
// dev mode's, from its data folder, or the one a production folder was set up with.
func (s *Server) issuer(t testing.TB, now func() time.Time) *handoff.Issuer {
	t.Helper()
	if s.Chips == nil {
		return s.Production.Issuer(s.Config, now)
	}
	key, err := server.HandoffKey(filepath.Join(s.Config.DataDir, dev.HandoffKeyFile))
	if err != nil {
		t.Fatalf("scenario: the app backend's key: %v", err)
	}
	c := s.Config
	return handoff.NewIssuer(key, c.HandoffIssuer, c.HandoffAudience, 10*time.Minute, now, rand.Reader)
}

// tail keeps the last max bytes of the server's log.
type tail struct {
	max int
	mu  sync.Mutex
	b   []byte
}

var _ io.Writer = (*tail)(nil)

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0:0], w.b[over:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.b))
}

// ProductionChip is the i-th chip a production start imported, as a virtual chip the
// browser's emulated Bluetooth or NFC can talk to (the server knows it only by its
// delivery record, as it would a real chip).
func (s *Server) ProductionChip(t testing.TB, i int) *virtual.Chip {
	t.Helper()
	if i < 0 || i >= len(s.Production.Chips) {
		t.Fatalf("scenario: production chip %d: the start imported %d", i, len(s.Production.Chips))
	}
	vc, err := virtual.New(s.Production.Chips[i].Config(time.Now))
	if err != nil {
		t.Fatalf("scenario: production chip %d: %v", i, err)
	}
	return vc
}

// Package server assembles the activation server from its parts: configuration,
// store, registry, API, page and operations endpoints, and dev mode.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mitidchip/credential/kdf"
	"mitidchip/server/activation"
	"mitidchip/server/activity"
	"mitidchip/server/api"
	"mitidchip/server/block"
	"mitidchip/server/clientip"
	"mitidchip/server/counter"
	"mitidchip/server/handoff"
	"mitidchip/server/logon"
	"mitidchip/server/observe"
	"mitidchip/server/oidc"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/web"
)

// Config is the server's configuration; Load fills it from the environment.
type Config struct {
	Addr    string // ADDR: listen address
	DataDir string // DATA_DIR: database (SQLite), keys, dev chips
	// DatabaseURL (DATABASE_URL), when set, is the PostgreSQL database the store is
	// in (postgres://user:password@host:port/db?sslmode=…), shared by every instance;
	// when empty the store is SQLite's activation.db in DataDir, for one instance.
	DatabaseURL string
	Origin      string // PUBLIC_ORIGIN: the page's origin as browsers see it
	AssetsDir   string // ASSETS_DIR: the built page (make build)
	// TrustedProxies (TRUSTED_PROXIES) is a comma-separated list of CIDR prefixes or
	// addresses of the TLS proxies in front of the server, whose X-Forwarded-For is
	// believed (clientip.Parse); empty trusts none, and every client is its TCP peer.
	TrustedProxies string
	// Dev is dev mode (serve -dev): demo keys, demo chips and the virtual-chip
	// endpoints, supplied by server/dev. Nil in production; the production command
	// does not link it.
	Dev Dev

	HandoffIssuer    string // HANDOFF_ISSUER: the app backend's name in its tokens
	HandoffAudience  string // HANDOFF_AUDIENCE: this service's name in the tokens
	HandoffPublicKey string // HANDOFF_PUBLIC_KEY_FILE: PEM; in dev, derived from the dev key
	SealKeyFile      string // SEAL_KEY_FILE: base64 32-byte key that seals TOTP seeds
	// LogonKeyFile (LOGON_KEY_FILE) is the base64 32-byte logon key: it keys the hash
	// that names user IDs in the store and the salts answered for user IDs no one has
	// (server/logon). The server does not start without it; dev mode makes it.
	LogonKeyFile string
	RootsFile    string // TRUSTED_ROOTS_FILE: PEM manufacturer CA certificates
}

// Load reads the configuration from environment variables, with defaults that suit
// `make run` from the repository's root.
func Load(getenv func(string) string) Config {
	get := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:      get("ADDR", "127.0.0.1:8080"),
		DataDir:   get("DATA_DIR", "var"),
		AssetsDir: get("ASSETS_DIR", filepath.Join("build", "assets")),
	}
	c.TrustedProxies = getenv("TRUSTED_PROXIES")
	c.DatabaseURL = getenv("DATABASE_URL")
	c.Origin = get("PUBLIC_ORIGIN", "http://"+c.Addr)
	c.HandoffIssuer = get("HANDOFF_ISSUER", "mitid-app-backend")
	c.HandoffAudience = get("HANDOFF_AUDIENCE", c.Origin)
	c.HandoffPublicKey = get("HANDOFF_PUBLIC_KEY_FILE", filepath.Join(c.DataDir, "keys", "handoff-public.pem"))
	c.SealKeyFile = get("SEAL_KEY_FILE", filepath.Join(c.DataDir, "keys", "seal.key"))
	c.LogonKeyFile = get("LOGON_KEY_FILE", filepath.Join(c.DataDir, "keys", "logon.key"))
	c.RootsFile = get("TRUSTED_ROOTS_FILE", filepath.Join(c.DataDir, "trusted-roots.pem"))
	return c
}

// secureCookie: browsers drop Secure cookies set over plain http, except that
// loopback is the one plain-http place a person can develop; anywhere else the
// origin must be https.
func secureCookie(origin string) (bool, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" {
		return false, fmt.Errorf("server: PUBLIC_ORIGIN %q is not scheme://host[:port]", origin)
	}
	if u.Scheme == "https" {
		return true, nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return false, nil
	}
	return false, fmt.Errorf("server: PUBLIC_ORIGIN %q must be https (plain http only on loopback)", origin)
}

// Dev is what dev mode adds to the server. Its only implementation is server/dev,
// which the production command does not link.
type Dev interface {
	// Prepare creates, once, what dev mode needs in the data folder (keys, a
	// manufacturer CA trusted as a root, demo chips) before the store opens.
	Prepare(c Config, now func() time.Time) error
	// Mount imports the demo chips through reg, adds the dev endpoints and the dev
	// page to mux, and returns an activation link for the demo person.
	Mount(ctx context.Context, m DevMount) (link string, err error)
	// Register is the demo national register the Borgerservice console looks
	// persons up in (production has none: the person id as given).
	Register() counter.Register
}

// DevMount is what Dev.Mount gets to work with.
type DevMount struct {
	Config   Config
	Registry *registry.Registry
	Store    store.Store // the demo site registers itself as an OIDC client
	Mux      *http.ServeMux
	Assets   web.Manifest // the built page's, for the dev page to link its stylesheet
	Log      *slog.Logger
	Now      func() time.Time
}

// Server is an assembled server, ready to listen.
type Server struct {
	Handler  http.Handler
	Store    store.Store
	OIDC     *oidc.Provider  // the OpenID Connect provider; the logon ceremony calls its Finish
	API      *api.API        // LoggedOn tells handlers added later who is logged on
	Logon    *logon.Ceremony // the logon ceremony
	Link     string          // dev mode: a fresh activation link for the demo person
	Timeouts Timeouts        // DefaultTimeouts from New; read by Serve and HTTPServer
	log      *slog.Logger
	now      func() time.Time
}

// Timeouts bound how long one request may hold a connection, its file descriptor and
// its goroutine, so that slow clients cannot pile them up.
type Timeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // from the end of the headers to the end of the answer
	Idle       time.Duration // a kept-alive connection waiting for its next request
}

// DefaultTimeouts are the production timeouts; docs/decisions.md says why these.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: time.Minute, Idle: 2 * time.Minute}
}

// DevMeta names the <meta> that tells the activation page the server is in dev mode
// (web/app.js reads it): only then does it offer and list the virtual chips.
const DevMeta = "mitid-dev"

// MaxHeaderBytes bounds a request's headers: the page sends a few hundred bytes and
// one cookie.
const MaxHeaderBytes = 16 << 10

// New assembles the server. In dev mode it first creates, once, what the demo needs;
// in production it refuses a data folder that dev mode set up (see refuseDevData).
func New(ctx context.Context, c Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	secure, err := secureCookie(c.Origin)
	if err != nil {
		return nil, err
	}
	proxies, err := clientip.Parse(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server: TRUSTED_PROXIES: %w", err)
	}
	if c.Dev == nil {
		if err := refuseDevData(c); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	if c.Dev != nil {
		if err := c.Dev.Prepare(c, now); err != nil {
			return nil, fmt.Errorf("server: dev setup: %w", err)
		}
	}
	st, err := c.OpenStore(ctx, true)
	if err != nil {
		return nil, err
	}
	s, err := assemble(ctx, c, st, secure, proxies, log, now)
	if err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// OpenStore opens the store the configuration names: PostgreSQL at DatabaseURL when
// set, else SQLite's activation.db in DataDir. serve claims an SQLite file for this
// server alone (store.WithServeLock), as a second server on it would wait on the
// one writer; several servers on one PostgreSQL are what it is for, so there it
// claims nothing.
func (c Config) OpenStore(ctx context.Context, serve bool) (store.Store, error) {
	if c.DatabaseURL != "" {
		return store.OpenPostgres(ctx, c.DatabaseURL)
	}
	var opts []store.Option
	if serve {
		opts = append(opts, store.WithServeLock())
	}
	return store.Open(filepath.Join(c.DataDir, "activation.db"), opts...)
}

func assemble(ctx context.Context, c Config, st store.Store, secure bool, proxies *clientip.Resolver, log *slog.Logger, now func() time.Time) (*Server, error) {
	reg, err := c.Registry(st)
	if err != nil {
		return nil, err
	}
	pubPEM, err := os.ReadFile(c.HandoffPublicKey)
	if err != nil {
		return nil, fmt.Errorf("server: handoff public key: %w", err)
	}
	pub, err := handoff.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		return nil, err
	}
	metrics := observe.NewMetrics(api.ErrorCodes...)
	ceremony, err := activation.New(activation.Config{
		Store: st, Registry: reg, Now: now, Rand: rand.Reader, KDF: kdf.DefaultParams(),
	})
	if err != nil {
		return nil, err
	}
	blocks, err := block.New(st, now)
	if err != nil {
		return nil, err
	}
	verifier := handoff.NewVerifier(pub, c.HandoffIssuer, c.HandoffAudience, now)
	sealKey, err := c.SealKey()
	if err != nil {
		return nil, err
	}
	provider, err := oidc.New(ctx, oidc.Config{Store: st, Origin: c.Origin, Sealer: seal.NewSealer(sealKey, rand.Reader),
		SealKey: sealKey, Now: now, Rand: rand.Reader})
	if err != nil {
		return nil, err
	}
	logonKey, err := readKey(c.LogonKeyFile, "logon key (LOGON_KEY_FILE)")
	if err != nil {
		return nil, err
	}
	logons, err := logon.New(logon.Config{
		Store: st, Registry: reg, Key: logonKey, Origin: c.Origin, Now: now, Rand: rand.Reader, KDF: kdf.DefaultParams(),
		// The provider's authorization requests are finished by a logon at /logon.
		AuthRequests: provider,
	})
	if err != nil {
		return nil, err
	}
	var register counter.Register
	if c.Dev != nil {
		register = c.Dev.Register()
	}
	desk, err := counter.New(counter.Config{
		Store: st, Ceremony: ceremony, Register: register, DocumentKey: counter.DocumentKey(logonKey[:]), Now: now,
		Started: func(string) { metrics.Assisted() },
	})
	if err != nil {
		return nil, err
	}
	a, err := api.New(api.Config{
		Ceremony: ceremony, Handoff: verifier,
		// The same app backend and key; each endpoint accepts tokens of its own purpose.
		Block: blocks, BlockHandoff: verifier.For(handoff.PurposeBlockChip),
		Metrics: metrics, Now: now, Origin: c.Origin, SecureCookie: secure, ClientAddr: proxies.Addr,
		Logon: logons, Counter: desk, Activity: activity.NewHandler(st),
	})
	if err != nil {
		return nil, err
	}
	var pageOpts []web.Option
	if c.Dev != nil {
		// The page offers the virtual chips only when the server says it has them: in
		// production it never asks for them.
		pageOpts = append(pageOpts, web.WithMeta(DevMeta, "on"))
	}
	page, err := web.NewHandler(c.AssetsDir, pageOpts...)
	if err != nil {
		return nil, fmt.Errorf("server: the page (run `make build`): %w", err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	provider.Register(mux)
	mux.Handle("GET /healthz", observe.Healthz())
	mux.Handle("GET /readyz", observe.Readyz(st.Probe, now))
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("/", page)
	// The page on the other device of a handover (docs/api.md): the same page, which
	// takes the code from its fragment.
	mux.Handle("GET "+api.ContinuePath, continuePage(page))
	// Mit MitID is for a logged-on person; anyone else goes to the logon page.
	mux.Handle("GET /mit", a.RequireLogon(page))
	// Borgerservice's console: caseworkers log on with their own chip and come back.
	mux.Handle("GET "+api.CounterPath, a.RequireLogonFor(api.CounterPath, page))
	s := &Server{Store: st, OIDC: provider, API: a, Logon: logons, Timeouts: DefaultTimeouts(), log: log, now: now}
	if c.Dev != nil {
		s.Link, err = c.Dev.Mount(ctx, DevMount{Config: c, Registry: reg, Store: st, Mux: mux, Assets: page.Manifest(), Log: log, Now: now})
		if err != nil {
			return nil, fmt.Errorf("server: dev mode: %w", err)
		}
	} else {
		// Nothing under /dev/ exists in production, whatever ASSETS_DIR holds (a build
		// from before the dev page left web/ still has it).
		mux.Handle("/dev/", http.NotFoundHandler())
	}
	s.Handler = web.SecurityHeaders(metrics.Instrument(observe.AccessLog(log, mux)))
	return s, nil
}

// Registry opens the chip registry on st with the configured roots and seal key.
func (c Config) Registry(st store.Store) (*registry.Registry, error) {
	roots := x509.NewCertPool()
	b, err := os.ReadFile(c.RootsFile)
	if err != nil {
		return nil, fmt.Errorf("server: trusted manufacturer roots: %w", err)
	}
	n := 0
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("server: trusted root in %s: %w", c.RootsFile, err)
		}
		roots.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("server: no certificates in %s", c.RootsFile)
	}
	key, err := c.SealKey()
	if err != nil {
		return nil, err
	}
	return registry.New(st, roots, seal.NewSealer(key, rand.Reader)), nil
}

// SealKey reads the seal key, which seals chip seeds and the OIDC signing keys.
func (c Config) SealKey() (seal.Key, error) { return readKey(c.SealKeyFile, "seal key") }

// readKey reads a 32-byte key file (base64 or hex, as seal.ParseKey reads it).
func readKey(path, what string) (seal.Key, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return seal.Key{}, fmt.Errorf("server: %s: %w", what, err)
	}
	key, err := seal.ParseKey(strings.TrimSpace(string(text)))
	if err != nil {
		return seal.Key{}, fmt.Errorf("server: %s in %s: %w", what, path, err)
	}
	return key, nil
}

// HTTPServer is the http.Server that Serve runs: s.Handler with s.Timeouts and
// MaxHeaderBytes. Every request gets read and write deadlines; the dev endpoints that
// wait for a virtual button extend their own (server/dev).
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: s.Timeouts.ReadHeader,
		ReadTimeout:       s.Timeouts.Read,
		WriteTimeout:      s.Timeouts.Write,
		IdleTimeout:       s.Timeouts.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve listens until ctx ends, then lets requests in flight finish (up to grace).
func (s *Server) Serve(ctx context.Context, addr string, grace time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := s.HTTPServer()
	go s.sweep(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// sweep drops expired sessions, handoff records and OIDC requests and tokens now
// and then.
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Sweep(ctx); err != nil {
				s.log.Warn("sweep expired", "error", err.Error(), "rows", n)
			} else if n > 0 {
				s.log.Info("swept expired rows", "rows", n)
			}
		}
	}
}

// Sweep drops the sessions and handoff records that expired before the server's
// clock says now, store.SweepBatch rows per transaction, and says how many went.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	return s.Store.DeleteExpired(ctx, s.now(), store.SweepBatch)
}

// Close closes the store.
func (s *Server) Close() error { return s.Store.Close() }

// HandoffKey reads the app backend's private key (dev and tests only).
func HandoffKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return handoff.ParsePrivateKeyPEM(b)
}

// continuePage serves the page at "/" for the handover's other device.
func continuePage(page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/", ""
		page.ServeHTTP(w, r2)
	})
}

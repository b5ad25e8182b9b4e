package dev

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server"
	"mitidchip/server/dev/demosite"
	"mitidchip/server/handoff"
	"mitidchip/server/oidc"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
)

// Mode is dev mode as the server assembles it (server.Config.Dev). After the server
// is assembled, Chips holds the virtual chips.
type Mode struct {
	Chips  *Chips
	chips  []manufacturer.Chip
	issuer *handoff.Issuer
	// demoAddr is where the demo site listens (WithDemoSite); empty: no demo site.
	demoAddr string
	// DemoSiteURL is the demo site's address once Mount started it.
	DemoSiteURL string
}

var _ server.Dev = (*Mode)(nil)

// Option configures dev mode.
type Option func(*Mode)

// WithDemoSite makes Mount start the demo site, "Demo Kommune – selvbetjening", a
// relying party of the server's OpenID Connect provider, on addr ("host:port"; port
// 0 picks one).
func WithDemoSite(addr string) Option { return func(m *Mode) { m.demoAddr = addr } }

// New returns dev mode, ready for server.Config.Dev.
func New(opts ...Option) *Mode {
	m := &Mode{}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Prepare creates, on first start, everything dev mode needs in the data folder: the
// app backend's key pair, a seal key, a logon key, a manufacturer CA trusted as a root, and a batch
// of demo chips. Later starts reuse them.
func (m *Mode) Prepare(c server.Config, now func() time.Time) error {
	priv, err := EnsureHandoffKey(c.DataDir, rand.Reader)
	if err != nil {
		return err
	}
	pubPEM, err := handoff.EncodePublicKeyPEM(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := writeIfAbsent(c.HandoffPublicKey, pubPEM); err != nil {
		return err
	}
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writeIfAbsent(c.SealKeyFile, []byte(seal.EncodeKey(key)+"\n")); err != nil {
		return err
	}
	logonKey, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writeIfAbsent(c.LogonKeyFile, []byte(seal.EncodeKey(logonKey)+"\n")); err != nil {
		return err
	}
	chips, files, err := EnsureChips(c.DataDir, rand.Reader, now())
	if err != nil {
		return err
	}
	roots, err := os.ReadFile(c.RootsFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !bytes.Contains(roots, files.RootsPEM) {
		if err := WriteFile(c.RootsFile, append(roots, files.RootsPEM...)); err != nil {
			return err
		}
	}
	m.chips = chips
	m.issuer = handoff.NewIssuer(priv, c.HandoffIssuer, c.HandoffAudience, 10*time.Minute, now, rand.Reader)
	return nil
}

// Mount imports the demo chips, serves them as virtual chips with the dev endpoints
// and the virtual chip page, and returns an activation link for the demo person.
func (m *Mode) Mount(ctx context.Context, d server.DevMount) (string, error) {
	if m.issuer == nil {
		return "", errors.New("dev: Mount before Prepare")
	}
	if err := importFile(ctx, d.Registry, filepath.Join(d.Config.DataDir, DeliveryFile), d.Now(), d.Log); err != nil {
		return "", err
	}
	var err error
	if m.Chips, err = NewChips(m.chips, m.issuer, d.Now); err != nil {
		return "", err
	}
	if err := m.Chips.Register(d.Mux, d.Config.Origin); err != nil {
		return "", err
	}
	page, err := chipPage(d.Assets)
	if err != nil {
		return "", err
	}
	d.Mux.Handle("GET /dev/{file...}", page)
	if m.demoAddr != "" {
		if m.DemoSiteURL, err = startDemoSite(ctx, m.demoAddr, d); err != nil {
			return "", fmt.Errorf("demo site: %w", err)
		}
	}
	return m.Chips.Link(d.Config.Origin, DemoPerson, DemoUserID)
}

// startDemoSite listens on addr, registers the demo site as a client of the
// provider with a fresh secret (it lives in memory: the next start registers it
// again), and serves it until ctx ends.
func startDemoSite(ctx context.Context, addr string, d server.DevMount) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	origin := "http://" + ln.Addr().String()
	c, secret, err := oidc.NewClient(demosite.ClientID, demosite.Name, []string{demosite.RedirectURI(origin)}, false, rand.Reader, d.Now())
	if err == nil {
		if err = d.Store.RemoveClient(ctx, demosite.ClientID); errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	if err == nil {
		err = d.Store.AddClient(ctx, c)
	}
	if err != nil {
		ln.Close()
		return "", err
	}
	srv := &http.Server{
		Handler:           demosite.New(demosite.Config{Issuer: d.Config.Origin, ClientSecret: secret, Origin: origin, Log: d.Log}),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: time.Minute,
	}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	d.Log.Info("demo site", "url", origin, "client_id", demosite.ClientID)
	return origin, nil
}

// importFile imports a delivery file into the registry; a re-import adds nothing.
func importFile(ctx context.Context, reg *registry.Registry, path string, now time.Time, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	added, total, err := reg.Import(ctx, f, now)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	log.Info("chips imported", "file", path, "added", added, "in_file", total)
	return nil
}

func writeIfAbsent(path string, b []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return WriteFile(path, b)
}

// DemoSite is the demo site's address, empty if none was started.
func (m *Mode) DemoSite() string { return m.DemoSiteURL }

package scenario

// A server that stops and starts again under the person's feet.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"mitidchip/server"
	"mitidchip/server/dev"
	"mitidchip/server/observe"
)

// Restartable is a dev server that a test can stop and start again on the same data
// folder and the same port, so the page's origin and cookie stay valid, as across a
// deploy or a crash of the only instance.
type Restartable struct {
	t    testing.TB
	cfg  server.Config
	logs *tail
	log  *slog.Logger

	cur  *Server
	http *http.Server
	done chan error
}

// StartRestartable starts a dev server that the test can Stop and Start again; it is
// stopped when t ends.
func StartRestartable(t testing.TB) *Restartable {
	t.Helper()
	assets := os.Getenv(AssetsEnv)
	if assets == "" {
		t.Fatalf("scenario: no built page: set %s (make build does) or build it in TestMain with BuildAssets", AssetsEnv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("scenario: listen: %v", err)
	}
	addr := ln.Addr().String()
	env := map[string]string{
		"ADDR":          addr,
		"DATA_DIR":      t.TempDir(),
		"PUBLIC_ORIGIN": "http://" + addr,
		"ASSETS_DIR":    assets,
	}
	cfg := server.Load(func(k string) string { return env[k] })
	r := &Restartable{t: t, cfg: cfg, logs: &tail{max: 64 << 10}}
	r.log = observe.NewLogger(r.logs, slog.LevelInfo)
	t.Cleanup(func() {
		if r.cur != nil {
			r.stop()
		}
		if t.Failed() {
			t.Logf("server log (tail, every start):\n%s", r.logs.String())
		}
	})
	r.serve(ln)
	return r
}

// Server is the server running now; nil while stopped.
func (r *Restartable) Server() *Server { return r.cur }

// Stop closes every connection and the store, as when the process ends.
func (r *Restartable) Stop() {
	r.t.Helper()
	if r.cur == nil {
		r.t.Fatal("scenario: stop: the server is not running")
	}
	r.stop()
}

func (r *Restartable) stop() {
	r.t.Helper()
	r.http.Close()
	if err := <-r.done; !errors.Is(err, http.ErrServerClosed) {
		r.t.Errorf("scenario: server: %v", err)
	}
	if err := r.cur.Close(); err != nil {
		r.t.Errorf("scenario: close the store: %v", err)
	}
	r.cur, r.http = nil, nil
	r.log.Info("scenario: server stopped")
}

// Start starts a new server on the stopped one's data folder and port.
func (r *Restartable) Start() *Server {
	r.t.Helper()
	if r.cur != nil {
		r.t.Fatal("scenario: start: the server is running")
	}
	ln, err := net.Listen("tcp", r.cfg.Addr)
	if err != nil {
		r.t.Fatalf("scenario: listen on %s again: %v", r.cfg.Addr, err)
	}
	r.serve(ln)
	return r.cur
}

func (r *Restartable) serve(ln net.Listener) {
	r.t.Helper()
	// A new process: new virtual chips, from the same data folder.
	m := dev.New()
	r.cfg.Dev = m
	s, err := server.New(context.Background(), r.cfg, r.log, time.Now)
	if err != nil {
		ln.Close()
		r.t.Fatalf("scenario: start the server on %s: %v", r.cfg.DataDir, err)
	}
	r.http = s.HTTPServer()
	r.done = make(chan error, 1)
	go func(srv *http.Server, done chan<- error) { done <- srv.Serve(ln) }(r.http, r.done)
	r.cur = &Server{Server: s, Chips: m.Chips, Origin: r.cfg.Origin, Config: r.cfg}
}

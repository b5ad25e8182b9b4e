// Package cli is the mitid-chip command: serve, mint a handoff link, import and look
// after a manufacturer's chips, and build the page's assets. Two binaries run it:
// server/cmd/mitid-chip (production, without dev mode) and server/cmd/mitid-chip-dev.
package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"mitidchip/server"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
	"mitidchip/server/web"
)

const usage = `mitid-chip: the MitID chip activation server and OpenID Connect provider.

Usage:
  mitid-chip serve [-dev]              serve the page and the activation API
  mitid-chip handoff -person ID [-user USERID]
                                       print an activation link signed with the app
                                       backend's key (dev and tests; in production that
                                       key lives with the app's backend)
  mitid-chip chips import FILE         import a manufacturer's delivery file
  mitid-chip chips show SERIAL         a chip's status, person, attempts, and each
                                       person's wrong codes and lock on it
  mitid-chip chips unlock SERIAL       lift every person's lock on a chip and forget
                                       their wrong codes and its attempts
  mitid-chip chips revoke SERIAL       revoke a chip for good (lost, stolen, faulty)
                                       show, unlock and revoke are audited
  mitid-chip clients add --id ID --name NAME --redirect-uri URI [--redirect-uri URI...] [--public]
                                       register a site that logs people on (OpenID
                                       Connect); prints its secret once (none if --public)
  mitid-chip clients list              the registered sites
  mitid-chip clients remove --id ID    remove a site with its pending logons and tokens
                                       add and remove are audited
  mitid-chip staff grant --person ID --office NAME
                                       make a person a caseworker at a Borgerservice
                                       office (the console at /borgerservice); again
                                       with another office moves them
  mitid-chip staff revoke --person ID [--office NAME]
                                       withdraw the role: the console refuses the
                                       caseworker's next request
  mitid-chip staff list                the caseworkers; grant and revoke are audited
  mitid-chip assets -out DIR SRC...    build the page: hashed names, .br and .gz

Environment (defaults suit running from the repository's root):
  ADDR                     listen address (127.0.0.1:8080)
  DATA_DIR                 database (SQLite), keys and dev chips (var)
  DATABASE_URL             postgres://user:password@host:port/db?sslmode=…: the store in
                           PostgreSQL, shared by several instances (empty: SQLite in DATA_DIR)
  PUBLIC_ORIGIN            the page's origin as browsers see it (http://$ADDR)
  ASSETS_DIR               the built page (build/assets)
  TRUSTED_PROXIES          CIDR prefixes or addresses of the TLS proxies in front of the
                           server, comma-separated; from these peers the client is the
                           right-most address in X-Forwarded-For that is not a trusted
                           proxy (empty: trust none, the client is the TCP peer). A proxy
                           on the same host: 127.0.0.1/32,::1/128
  HANDOFF_ISSUER           issuer in handoff tokens (mitid-app-backend)
  HANDOFF_AUDIENCE         audience in handoff tokens ($PUBLIC_ORIGIN)
  HANDOFF_PUBLIC_KEY_FILE  the app backend's Ed25519 public key, PEM ($DATA_DIR/keys/handoff-public.pem)
  HANDOFF_PRIVATE_KEY_FILE its private key, for the handoff command ($DATA_DIR/keys/handoff-private.pem,
                           where only dev mode keeps it: serve refuses a folder holding it)
  SEAL_KEY_FILE            base64 32-byte key sealing TOTP seeds at rest ($DATA_DIR/keys/seal.key)
  LOGON_KEY_FILE           base64 32-byte key naming user IDs at logon; serve needs it
                           ($DATA_DIR/keys/logon.key)
  TRUSTED_ROOTS_FILE       manufacturer CA certificates, PEM ($DATA_DIR/trusted-roots.pem)

In -dev mode the server creates, on first start, dev keys, a dev manufacturer CA, demo
chips (imported and served as virtual chips at /dev/chips) and prints an activation link
for a demo person. Without -dev none of that exists, and serve refuses a DATA_DIR that
-dev set up: use a fresh one (docs/operations.md).
`

// Main runs the command with the process's arguments and environment and exits
// non-zero on failure. dev makes the dev mode for `serve -dev`; nil in production.
func Main(dev func() server.Dev) {
	if err := Run(os.Args[1:], os.Stdout, os.Getenv, dev); err != nil {
		fmt.Fprintln(os.Stderr, "mitid-chip:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("see mitid-chip -help")

// Run runs the command with args (without the program's name).
func Run(args []string, stdout io.Writer, getenv func(string) string, dev func() server.Dev) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	cfg := server.Load(getenv)
	switch args[0] {
	case "serve":
		return serve(args[1:], cfg, stdout, dev)
	case "handoff":
		return mintLink(args[1:], cfg, getenv, stdout)
	case "chips":
		return chips(args[1:], cfg, stdout)
	case "clients":
		return clients(args[1:], cfg, stdout, time.Now())
	case "staff":
		return staff(args[1:], cfg, stdout, time.Now())
	case "assets":
		return assets(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}

func serve(args []string, cfg server.Config, stdout io.Writer, dev func() server.Dev) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	devFlag := fs.Bool("dev", false, "dev mode: demo keys, demo chips, virtual chip endpoints")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *devFlag {
		if dev == nil {
			return errors.New("serve -dev: this is the production build, which has no dev mode; run bin/mitid-chip-dev (make run builds it)")
		}
		cfg.Dev = dev()
	}
	log := observe.NewLogger(os.Stderr, slog.LevelInfo)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := server.New(ctx, cfg, log, time.Now)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx, cfg.Addr, 20*time.Second, func(a net.Addr) {
		log.Info("listening", "addr", a.String(), "origin", cfg.Origin, "dev", cfg.Dev != nil)
		if s.Link != "" {
			fmt.Fprintf(stdout, "Activation link: %s\n", s.Link)
			fmt.Fprintf(stdout, "Virtual chips:   %s/dev/chip.html\n", cfg.Origin)
			fmt.Fprintf(stdout, "A fresh link:    %s/dev/link\n", cfg.Origin)
			if d, ok := cfg.Dev.(interface{ DemoSite() string }); ok && d.DemoSite() != "" {
				fmt.Fprintf(stdout, "Demo site:       %s (Log på med MitID)\n", d.DemoSite())
			}
		}
	})
}

func mintLink(args []string, cfg server.Config, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("handoff", flag.ContinueOnError)
	person := fs.String("person", "", "the person's id (required)")
	user := fs.String("user", "", "the person's MitID user id, if any")
	ttl := fs.Duration("ttl", 10*time.Minute, "token lifetime (at most 15m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *person == "" {
		return errors.New("handoff: -person is required")
	}
	keyFile := getenv("HANDOFF_PRIVATE_KEY_FILE")
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "keys", "handoff-private.pem")
	}
	priv, err := server.HandoffKey(keyFile)
	if err != nil {
		return fmt.Errorf("handoff: app backend key: %w", err)
	}
	tok, _, err := handoff.NewIssuer(priv, cfg.HandoffIssuer, cfg.HandoffAudience, *ttl, time.Now, rand.Reader).Issue(*person, *user)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Activation link: %s/#t=%s\n", cfg.Origin, tok)
	return nil
}

func importChips(file string, cfg server.Config, stdout io.Writer) error {
	st, err := cfg.OpenStore(context.Background(), false)
	if err != nil {
		return err
	}
	defer st.Close()
	reg, err := cfg.Registry(st)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	added, total, err := reg.Import(context.Background(), f, time.Now())
	if err != nil {
		return fmt.Errorf("import %s: nothing imported: %w", file, err)
	}
	fmt.Fprintf(stdout, "imported %d new chips (%d in file, %d already known)\n", added, total, total-added)
	return nil
}

func assets(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("assets", flag.ContinueOnError)
	out := fs.String("out", "", "output folder (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("assets: -out DIR and at least one source folder are required")
	}
	srcs := make([]iofs.FS, 0, fs.NArg())
	for _, d := range fs.Args() {
		srcs = append(srcs, os.DirFS(d))
	}
	m, err := web.Build(*out, srcs...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %d assets into %s\n", len(m), *out)
	return nil
}

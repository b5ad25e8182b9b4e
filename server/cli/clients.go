package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"mitidchip/server"
	"mitidchip/server/oidc"
	"mitidchip/server/store"
)

// uris is a repeatable flag.
type uris []string

func (u *uris) String() string     { return strings.Join(*u, " ") }
func (u *uris) Set(s string) error { *u = append(*u, s); return nil }

// clients runs `mitid-chip clients add|list|remove`: the sites that log people on
// through the OpenID Connect provider (docs/oidc.md).
func clients(args []string, cfg server.Config, stdout io.Writer, now time.Time) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("clients "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	var redirects uris
	id := fs.String("id", "", "the client id the site sends (required)")
	var run func(context.Context, store.Store) error
	switch args[0] {
	case "add":
		name := fs.String("name", "", "the site's name, as the logon page shows it (required)")
		public := fs.Bool("public", false, "a public client: no secret, PKCE alone (a page or an app that cannot keep a secret)")
		fs.Var(&redirects, "redirect-uri", "a redirect URI, matched exactly (repeat for more)")
		run = func(ctx context.Context, st store.Store) error {
			return addClient(ctx, st, *id, *name, redirects, *public, now, stdout)
		}
	case "list":
		run = func(ctx context.Context, st store.Store) error { return listClients(ctx, st, stdout) }
	case "remove":
		run = func(ctx context.Context, st store.Store) error { return removeClient(ctx, st, *id, now, stdout) }
	default:
		return fmt.Errorf("unknown clients command %q: %w", args[0], errUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("clients %s: unexpected %q: %w", args[0], fs.Arg(0), errUsage)
	}
	if args[0] != "list" && *id == "" {
		return fmt.Errorf("clients %s: --id is required", args[0])
	}
	st, err := cfg.OpenStore(context.Background(), false)
	if err != nil {
		return err
	}
	defer st.Close()
	return run(context.Background(), st)
}

func clientAudit(event string, c store.OIDCClient, at time.Time) store.AuditEntry {
	d, _ := json.Marshal(map[string]any{"client": c.ID, "name": c.Name, "redirect_uris": c.RedirectURIs,
		"public": c.SecretHash == nil, "by": "operator"}) // plain values: cannot fail
	return store.AuditEntry{At: at, Event: event, Detail: string(d)}
}

func addClient(ctx context.Context, st store.Store, id, name string, redirects []string, public bool, now time.Time, out io.Writer) error {
	c, secret, err := oidc.NewClient(id, name, redirects, public, rand.Reader, now)
	if err != nil {
		return fmt.Errorf("clients add: %w", err)
	}
	err = st.AddClient(ctx, c, clientAudit("operator_client_added", c, now))
	if errors.Is(err, store.ErrClientExists) {
		return fmt.Errorf("clients add: client %q exists already (remove it first to change it)", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Client %s (%s) added, redirect URIs: %s\n", c.ID, c.Name, strings.Join(c.RedirectURIs, " "))
	if public {
		fmt.Fprintln(out, "Public client: no secret; it must use PKCE (S256).")
		return nil
	}
	fmt.Fprintf(out, "Client secret (shown this once; only its hash is kept): %s\n", secret)
	return nil
}

func listClients(ctx context.Context, st store.Store, out io.Writer) error {
	list, err := st.OIDCClients(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "No clients.")
		return nil
	}
	for _, c := range list {
		kind := "confidential"
		if c.SecretHash == nil {
			kind = "public"
		}
		fmt.Fprintf(out, "%s\t%s\t%s\tadded %s\t%s\n", c.ID, c.Name, kind, rfc3339(c.CreatedAt), strings.Join(c.RedirectURIs, " "))
	}
	return nil
}

func removeClient(ctx context.Context, st store.Store, id string, now time.Time, out io.Writer) error {
	c, err := st.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("clients remove: no client %q", id)
	}
	if err != nil {
		return err
	}
	if err := st.RemoveClient(ctx, id, clientAudit("operator_client_removed", c, now)); err != nil {
		return err
	}
	fmt.Fprintf(out, "Client %s removed, with its pending logons and tokens.\n", id)
	return nil
}

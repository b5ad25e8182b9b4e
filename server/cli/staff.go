package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"mitidchip/server"
	"mitidchip/server/counter"
	"mitidchip/server/store"
)

// staff runs `mitid-chip staff grant|revoke|list`: the caseworkers of Borgerservice
// (docs/borgerservice.md). Grant and revoke are audited; a withdrawn role refuses
// the console's next request.
func staff(args []string, cfg server.Config, stdout io.Writer, now time.Time) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("staff "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	person := fs.String("person", "", "the caseworker's person id (required for grant and revoke)")
	office := fs.String("office", "", "the Borgerservice office, e.g. Aarhus (required for grant)")
	var run func(context.Context, store.Store) error
	switch args[0] {
	case "grant":
		run = func(ctx context.Context, st store.Store) error {
			return grantStaff(ctx, st, *person, *office, now, stdout)
		}
	case "revoke":
		run = func(ctx context.Context, st store.Store) error {
			return revokeStaff(ctx, st, *person, *office, now, stdout)
		}
	case "list":
		run = func(ctx context.Context, st store.Store) error { return listStaff(ctx, st, stdout) }
	default:
		return fmt.Errorf("unknown staff command %q: %w", args[0], errUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("staff %s: unexpected %q: %w", args[0], fs.Arg(0), errUsage)
	}
	if args[0] != "list" && !counter.ValidPersonID(*person) {
		return fmt.Errorf("staff %s: --person is required: 1 to %d printable characters", args[0], counter.MaxPersonID)
	}
	if args[0] == "grant" && !counter.ValidOffice(*office) {
		return fmt.Errorf("staff grant: --office is required: 1 to %d bytes of letters, digits, spaces, hyphens and dots", counter.MaxOffice)
	}
	st, err := cfg.OpenStore(context.Background(), false)
	if err != nil {
		return err
	}
	defer st.Close()
	return run(context.Background(), st)
}

// staffAudit is the operator's act on a person's role: in that person's history.
func staffAudit(person, office, event string, at time.Time) store.AuditEntry {
	d, _ := json.Marshal(map[string]string{"office": office, "by": "operator"}) // strings only: cannot fail
	return store.AuditEntry{At: at, PersonID: person, Event: event, Detail: string(d)}
}

func grantStaff(ctx context.Context, st store.Store, person, office string, now time.Time, out io.Writer) error {
	before, err := st.StaffRole(ctx, person)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err = st.GrantStaff(ctx, store.StaffRole{PersonID: person, Office: office, GrantedAt: now}, staffAudit(person, office, "staff_granted", now))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("staff grant: no person %q: a caseworker logs on with their own MitID, so they activate a chip first", person)
	}
	if err != nil {
		return err
	}
	if before.Office != "" && before.Office != office {
		fmt.Fprintf(out, "%s is a caseworker at Borgerservice %s (moved from %s)\n", person, office, before.Office)
		return nil
	}
	fmt.Fprintf(out, "%s is a caseworker at Borgerservice %s\n", person, office)
	return nil
}

func revokeStaff(ctx context.Context, st store.Store, person, office string, now time.Time, out io.Writer) error {
	r, err := st.StaffRole(ctx, person)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("staff revoke: %s has no caseworker role", person)
	}
	if err != nil {
		return err
	}
	if office != "" && office != r.Office {
		return fmt.Errorf("staff revoke: %s is a caseworker at %s, not %s", person, r.Office, office)
	}
	if err := st.RevokeStaff(ctx, person, staffAudit(person, r.Office, "staff_revoked", now)); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s is no longer a caseworker at Borgerservice %s; the console refuses their next request\n", person, r.Office)
	return nil
}

func listStaff(ctx context.Context, st store.Store, out io.Writer) error {
	roles, err := st.StaffRoles(ctx)
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		fmt.Fprintln(out, "no caseworkers")
		return nil
	}
	for _, r := range roles {
		fmt.Fprintf(out, "%-24s %-20s granted %s\n", r.PersonID, r.Office, rfc3339(r.GrantedAt))
	}
	return nil
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"mitidchip/server"
	"mitidchip/server/activation"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// chips runs `mitid-chip chips import|show|unlock|revoke ARG`.
func chips(args []string, cfg server.Config, stdout io.Writer) error {
	if len(args) != 2 {
		return errUsage
	}
	op, arg := args[0], args[1]
	if op == "import" {
		return importChips(arg, cfg, stdout)
	}
	run, ok := map[string]func(context.Context, *store.SQLite, store.Chip, time.Time, io.Writer) error{
		"show": showChip, "unlock": unlockChip, "revoke": revokeChip,
	}[op]
	if !ok {
		return fmt.Errorf("unknown chips command %q: %w", op, errUsage)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "activation.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	c, err := st.Chip(ctx, arg)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("chips %s: no chip %q in the registry", op, arg)
	}
	if err != nil {
		return err
	}
	return run(ctx, st, c, time.Now(), stdout)
}

// operatorAudit is the audit entry for an operator's act on c: it names the chip's
// person, so it belongs to their history too.
func operatorAudit(c store.Chip, event string, at time.Time) store.AuditEntry {
	d, _ := json.Marshal(map[string]string{"serial": c.Serial, "by": "operator"}) // strings only: cannot fail
	return store.AuditEntry{At: at, PersonID: c.PersonID, Event: event, Detail: string(d)}
}

// showChip prints what an operator needs to answer a person whose chip is refused.
// Looking is audited before anything is shown.
func showChip(ctx context.Context, st *store.SQLite, c store.Chip, now time.Time, out io.Writer) error {
	if err := st.Audit(ctx, operatorAudit(c, "operator_chip_shown", now)); err != nil {
		return err
	}
	lim := activation.DefaultLimits
	when := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	person := "none"
	if c.PersonID != "" {
		person = c.PersonID
		if !c.BoundAt.IsZero() {
			person += " (bound " + when(c.BoundAt) + ")"
		}
	}
	failures, lock := c.FailedCodes, "not locked"
	switch {
	case c.LockedAt(now):
		lock = fmt.Sprintf("until %s (in %s)", when(c.LockedUntil), c.LockedUntil.Sub(now).Round(time.Second))
	case !c.LockedUntil.IsZero():
		// The wrong codes before a lifted lock are forgotten at the next attempt.
		failures, lock = 0, "not locked (the last lock lifted at "+when(c.LockedUntil)+")"
	}
	lastCode := "none accepted"
	if c.LastStep > 0 {
		lastCode = fmt.Sprintf("step %d, %s", c.LastStep, when(time.Unix(c.LastStep*int64(registry.Period/time.Second), 0)))
	}
	attempts := "none in the current window"
	if !c.AttemptsSince.IsZero() && now.Before(c.AttemptsSince.Add(lim.AttemptWindow)) {
		attempts = fmt.Sprintf("%d since %s", c.Attempts, when(c.AttemptsSince))
	}
	codes := "wrong codes"
	if failures == 1 {
		codes = "wrong code"
	}
	fmt.Fprintf(out, "chip       %s\n", c.Serial)
	fmt.Fprintf(out, "status     %s\n", c.Status)
	fmt.Fprintf(out, "person     %s\n", person)
	fmt.Fprintf(out, "failures   %d %s in a row (the chip locks at %d)\n", failures, codes, lim.LockAfter)
	fmt.Fprintf(out, "lock       %s\n", lock)
	fmt.Fprintf(out, "locks      %d since the last right code; the next lasts %s\n", c.Locks, lim.LockFor(c.Locks+1))
	fmt.Fprintf(out, "last code  %s\n", lastCode)
	fmt.Fprintf(out, "attempts   %s (at most %d per %s)\n", attempts, lim.Attempts, lim.AttemptWindow)
	return nil
}

func unlockChip(ctx context.Context, st *store.SQLite, c store.Chip, now time.Time, out io.Writer) error {
	if err := st.UnlockChip(ctx, c.Serial, operatorAudit(c, "operator_chip_unlocked", now)); err != nil {
		return err
	}
	was := "was not locked"
	if c.LockedAt(now) {
		was = "was locked until " + c.LockedUntil.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(out, "chip %s unlocked (it %s); its wrong codes and locks are forgotten\n", c.Serial, was)
	return nil
}

func revokeChip(ctx context.Context, st *store.SQLite, c store.Chip, now time.Time, out io.Writer) error {
	if err := st.RevokeChip(ctx, c.Serial, operatorAudit(c, "operator_chip_revoked", now)); err != nil {
		return err
	}
	fmt.Fprintf(out, "chip %s revoked (it was %s); it can never be activated or used again\n", c.Serial, c.Status)
	return nil
}

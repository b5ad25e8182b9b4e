package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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
	run, ok := map[string]func(context.Context, store.Store, store.Chip, time.Time, io.Writer) error{
		"show": showChip, "unlock": unlockChip, "revoke": revokeChip,
	}[op]
	if !ok {
		return fmt.Errorf("unknown chips command %q: %w", op, errUsage)
	}
	st, err := cfg.OpenStore(context.Background(), false)
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

// showChip prints what an operator needs to answer a person whose chip is refused:
// the chip, and each person with wrong codes or locks on it (a person's wrong codes
// lock that person alone out of the chip). Looking is audited before anything is
// shown.
func showChip(ctx context.Context, st store.Store, c store.Chip, now time.Time, out io.Writer) error {
	if err := st.Audit(ctx, operatorAudit(c, "operator_chip_shown", now)); err != nil {
		return err
	}
	failures, err := st.ChipFailures(ctx, c.Serial)
	if err != nil {
		return err
	}
	lim := activation.DefaultLimits
	person := "none"
	if c.PersonID != "" {
		person = c.PersonID
		if !c.BoundAt.IsZero() {
			person += " (bound " + rfc3339(c.BoundAt) + ")"
		}
	}
	lastCode := "none accepted"
	if c.LastStep > 0 {
		lastCode = fmt.Sprintf("step %d, %s", c.LastStep, rfc3339(time.Unix(c.LastStep*int64(registry.Period/time.Second), 0)))
	}
	attempts := "none in the current window"
	if !c.AttemptsSince.IsZero() && now.Before(c.AttemptsSince.Add(lim.AttemptWindow)) {
		attempts = fmt.Sprintf("%d since %s, until %s", c.Attempts, rfc3339(c.AttemptsSince), rfc3339(c.AttemptsSince.Add(lim.AttemptWindow)))
	}
	fmt.Fprintf(out, "chip       %s\n", c.Serial)
	fmt.Fprintf(out, "status     %s\n", c.Status)
	fmt.Fprintf(out, "person     %s\n", person)
	fmt.Fprintf(out, "last code  %s\n", lastCode)
	fmt.Fprintf(out, "attempts   %s (at most %d per %s, from anyone)\n", attempts, lim.Attempts, lim.AttemptWindow)
	fmt.Fprintf(out, "failures   %d %s (%d wrong codes in a row lock that person alone out of the chip)\n",
		len(failures), plural(len(failures), "person", "persons"), lim.LockAfter)
	for _, f := range failures {
		fmt.Fprintf(out, "  %s\n", describeFailure(f, lim, now))
	}
	return nil
}

// describeFailure is one person's line in `chips show`: wrong codes in a row, lock,
// locks so far and how long the next lasts.
func describeFailure(f store.ChipFailure, lim store.CodeLimits, now time.Time) string {
	wrong, lock := f.FailedCodes, "not locked"
	switch {
	case f.LockedAt(now):
		lock = fmt.Sprintf("locked until %s (in %s)", rfc3339(f.LockedUntil), f.LockedUntil.Sub(now).Round(time.Second))
	case !f.LockedUntil.IsZero():
		// The wrong codes before a lifted lock are forgotten at the person's next try.
		wrong, lock = 0, "not locked (the last lock lifted at "+rfc3339(f.LockedUntil)+")"
	}
	return fmt.Sprintf("%s: %d %s in a row; %s; %d %s since their last right code, the next lasts %s",
		f.PersonID, wrong, plural(wrong, "wrong code", "wrong codes"), lock, f.Locks, plural(f.Locks, "lock", "locks"), lim.LockFor(f.Locks+1))
}

func unlockChip(ctx context.Context, st store.Store, c store.Chip, now time.Time, out io.Writer) error {
	failures, err := st.ChipFailures(ctx, c.Serial)
	if err != nil {
		return err
	}
	if err := st.UnlockChip(ctx, c.Serial, operatorAudit(c, "operator_chip_unlocked", now)); err != nil {
		return err
	}
	var locked []string
	for _, f := range failures {
		if f.LockedAt(now) {
			locked = append(locked, f.PersonID+" until "+rfc3339(f.LockedUntil))
		}
	}
	was := "no one was locked out"
	if len(locked) > 0 {
		was = "locked out: " + strings.Join(locked, ", ")
	}
	fmt.Fprintf(out, "chip %s unlocked (%s); the wrong codes and locks of %d %s and its attempt window are forgotten\n",
		c.Serial, was, len(failures), plural(len(failures), "person", "persons"))
	return nil
}

func revokeChip(ctx context.Context, st store.Store, c store.Chip, now time.Time, out io.Writer) error {
	if err := st.RevokeChip(ctx, c.Serial, operatorAudit(c, "operator_chip_revoked", now)); err != nil {
		return err
	}
	fmt.Fprintf(out, "chip %s revoked (it was %s); it can never be activated or used again\n", c.Serial, c.Status)
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// plural is one when n is 1, else other.
func plural(n int, one, other string) string {
	if n == 1 {
		return one
	}
	return other
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CodeLimits are the bounds the store applies to one-time code attempts, in the same
// transaction that records each attempt. The ceremony decides them
// (server/activation); docs/decisions.md says why these.
type CodeLimits struct {
	// BlockAfter wrong codes in a row block a session.
	BlockAfter int
	// LockAfter wrong codes in a row on a chip, across sessions, lock it: the first
	// lock for FirstLock, each further one (until a right code) twice as long as the
	// one before, never longer than MaxLock.
	LockAfter int
	FirstLock time.Duration
	MaxLock   time.Duration
	// Attempts codes, right or wrong, may be checked per chip in a window of
	// AttemptWindow that begins with the first of them.
	Attempts      int
	AttemptWindow time.Duration
}

// Validate says what is wrong with l, if anything.
func (l CodeLimits) Validate() error {
	if l.BlockAfter < 1 || l.LockAfter < 1 || l.Attempts < 1 || l.FirstLock <= 0 || l.MaxLock < l.FirstLock || l.AttemptWindow <= 0 {
		return fmt.Errorf("code limits %+v: counts must be at least 1, durations positive, MaxLock at least FirstLock", l)
	}
	return nil
}

// LockFor is how long the n-th lock since the last right code lasts (n from 1).
func (l CodeLimits) LockFor(n int) time.Duration {
	d := l.FirstLock
	for i := 1; i < n && d < l.MaxLock; i++ {
		d *= 2
	}
	return min(d, l.MaxLock)
}

// admit decides whether a code attempt on c at `at` may be checked, for a session of
// person. It returns the chip as the attempt leaves it (a lifted lock cleared, the
// attempt counted in its window) or why the attempt is refused.
func (l CodeLimits) admit(c Chip, person string, at time.Time) (Chip, error) {
	if c.Status == ChipBound && c.PersonID != person {
		// The session presented the chip before someone else bound it: its codes
		// must not count against the holder's chip.
		return c, fmt.Errorf("chip %s is bound to another person: %w", c.Serial, ErrChipTaken)
	}
	if c.LockedAt(at) {
		return c, &RetryError{Reason: ErrChipLocked, Serial: c.Serial, Until: c.LockedUntil}
	}
	if !c.LockedUntil.IsZero() {
		// The lock lifted: a fresh run of wrong codes begins. Locks stays, so the
		// next lock is longer, until a right code.
		c.LockedUntil, c.FailedCodes = time.Time{}, 0
	}
	if c.AttemptsSince.IsZero() || !at.Before(c.AttemptsSince.Add(l.AttemptWindow)) {
		c.AttemptsSince, c.Attempts = at, 0
	}
	if c.Attempts >= l.Attempts {
		return c, &RetryError{Reason: ErrTooManyAttempts, Serial: c.Serial, Until: c.AttemptsSince.Add(l.AttemptWindow)}
	}
	c.Attempts++
	return c, nil
}

// fail counts a wrong code on an admitted chip and locks it at LockAfter.
func (l CodeLimits) fail(c Chip, at time.Time) (out Chip, locked bool) {
	c.FailedCodes++
	if c.FailedCodes < l.LockAfter {
		return c, false
	}
	c.Locks++
	c.LockedUntil = at.Add(l.LockFor(c.Locks))
	return c, true
}

// holdChip reads the chip's row for the rest of tx, so no other transaction changes
// it in between: an UPDATE that changes nothing takes the row lock on PostgreSQL
// (like SELECT ... FOR UPDATE), and SQLite's write transaction holds the whole file.
// It sets a column no key or index involves, so nothing else is checked.
func holdChip(ctx context.Context, tx *sql.Tx, serial string) (Chip, error) {
	c, err := scanChip(tx.QueryRowContext(ctx, `UPDATE chips SET attempts = attempts WHERE serial = ? RETURNING `+chipCols, serial))
	if err != nil {
		return Chip{}, fmt.Errorf("chip %s: %w", serial, notFound(err))
	}
	return c, nil
}

// writeChipCounts writes what admit, fail and a right code change on a held chip.
func writeChipCounts(ctx context.Context, tx *sql.Tx, c Chip) error {
	if _, err := tx.ExecContext(ctx, `UPDATE chips SET last_step = ?, failed_codes = ?, locked_until = ?,
		lock_count = ?, attempts = ?, attempts_since = ? WHERE serial = ?`,
		c.LastStep, c.FailedCodes, nanos(c.LockedUntil), c.Locks, c.Attempts, nanos(c.AttemptsSince), c.Serial); err != nil {
		return fmt.Errorf("chip %s: %w", c.Serial, err)
	}
	return nil
}

// lockAudit is the audit entry for a lock that a wrong code in session s started.
func lockAudit(s Session, c Chip, at time.Time) AuditEntry {
	d, _ := json.Marshal(map[string]any{ // strings and numbers only: cannot fail
		"serial": c.Serial, "until": c.LockedUntil.UTC().Format(time.RFC3339), "lock": c.Locks,
	})
	return AuditEntry{At: at, ActivationID: s.ID, PersonID: s.PersonID, Event: "chip_locked", Detail: string(d)}
}

// UnlockChip lifts the chip's lock and forgets its counts.
func (st *SQLite) UnlockChip(ctx context.Context, serial string, audit ...AuditEntry) error {
	return st.inTx(ctx, "unlock", "chip "+serial, func(tx *sql.Tx) error {
		found, err := changed(tx.ExecContext(ctx, `UPDATE chips SET failed_codes = 0, locked_until = NULL,
			lock_count = 0, attempts = 0, attempts_since = NULL WHERE serial = ?`, serial))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return writeAudit(ctx, tx, audit)
	})
}

// Audit appends entries to the audit trail.
func (st *SQLite) Audit(ctx context.Context, audit ...AuditEntry) error {
	if len(audit) == 0 {
		return errors.New("store: audit: no entries")
	}
	return st.inTx(ctx, "audit", fmt.Sprintf("%d entries", len(audit)), func(tx *sql.Tx) error {
		return writeAudit(ctx, tx, audit)
	})
}

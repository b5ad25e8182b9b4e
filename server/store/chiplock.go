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
	// LockAfter wrong codes in a row by one person on one chip, across their
	// sessions, lock that person out of the chip (no one else): the first lock for
	// FirstLock, each further one (until their right code) twice as long as the one
	// before, never longer than MaxLock.
	LockAfter int
	FirstLock time.Duration
	MaxLock   time.Duration
	// Attempts codes, right or wrong, from anyone, may be checked per chip in a
	// window of AttemptWindow that begins with the first of them.
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

// admit decides whether a code attempt on c at `at` may be checked for the person
// whose failures on c are f. It returns c and f as the attempt leaves them (f's
// lifted lock cleared, the attempt counted in c's window) or why it is refused. The
// person's lock comes before the window, so a person who is locked out fills no one's
// window.
func (l CodeLimits) admit(c Chip, f ChipFailure, at time.Time) (Chip, ChipFailure, error) {
	if c.Status == ChipBound && c.PersonID != f.PersonID {
		// The session presented the chip before someone else bound it: its codes
		// must not count against the holder's chip.
		return c, f, fmt.Errorf("chip %s is bound to another person: %w", c.Serial, ErrChipTaken)
	}
	if f.LockedAt(at) {
		return c, f, &RetryError{Reason: ErrChipLocked, Serial: c.Serial, Until: f.LockedUntil}
	}
	if !f.LockedUntil.IsZero() {
		// The lock lifted: a fresh run of wrong codes begins. Locks stays, so the
		// person's next lock is longer, until their right code.
		f.LockedUntil, f.FailedCodes = time.Time{}, 0
	}
	if c.AttemptsSince.IsZero() || !at.Before(c.AttemptsSince.Add(l.AttemptWindow)) {
		c.AttemptsSince, c.Attempts = at, 0
	}
	if c.Attempts >= l.Attempts {
		return c, f, &RetryError{Reason: ErrTooManyAttempts, Serial: c.Serial, Until: c.AttemptsSince.Add(l.AttemptWindow)}
	}
	c.Attempts++
	return c, f, nil
}

// fail counts a wrong code on admitted failures and locks at LockAfter.
func (l CodeLimits) fail(f ChipFailure, at time.Time) (out ChipFailure, locked bool) {
	f.FailedCodes++
	if f.FailedCodes < l.LockAfter {
		return f, false
	}
	f.Locks++
	f.LockedUntil = at.Add(l.LockFor(f.Locks))
	return f, true
}

// holdChip reads the chip's row for the rest of tx, so no other transaction changes
// it in between: an UPDATE that changes nothing takes the row lock on PostgreSQL
// (like SELECT ... FOR UPDATE), and SQLite's write transaction holds the whole file.
// It sets a column no key or index involves, so nothing else is checked.
//
// Every transaction that writes chip_failures holds the chip's row first (this, or
// an UPDATE of the chip), so the rows of a held chip's failures are the held
// transaction's to read and write too.
func holdChip(ctx context.Context, tx *sql.Tx, serial string) (Chip, error) {
	c, err := scanChip(tx.QueryRowContext(ctx, `UPDATE chips SET attempts = attempts WHERE serial = ? RETURNING `+chipCols, serial))
	if err != nil {
		return Chip{}, fmt.Errorf("chip %s: %w", serial, notFound(err))
	}
	return c, nil
}

const failureCols = `serial, person_id, failed_codes, lock_count, locked_until`

func scanFailure(row interface{ Scan(...any) error }) (ChipFailure, error) {
	var f ChipFailure
	err := row.Scan(&f.Serial, &f.PersonID, &f.FailedCodes, &f.Locks, timeCol{&f.LockedUntil})
	return f, err
}

// heldFailure reads person's failures on a chip held in tx (holdChip); a person
// without a row has none.
func heldFailure(ctx context.Context, tx *sql.Tx, serial, person string) (ChipFailure, error) {
	f, err := scanFailure(tx.QueryRowContext(ctx, `SELECT `+failureCols+` FROM chip_failures
		WHERE serial = ? AND person_id = ?`, serial, person))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ChipFailure{Serial: serial, PersonID: person}, nil
	case err != nil:
		return ChipFailure{}, fmt.Errorf("failures of %s on chip %s: %w", person, serial, err)
	}
	return f, nil
}

// writeChipCounts writes what admit and a right code change on a held chip.
func writeChipCounts(ctx context.Context, tx *sql.Tx, c Chip) error {
	if _, err := tx.ExecContext(ctx, `UPDATE chips SET last_step = ?, attempts = ?, attempts_since = ? WHERE serial = ?`,
		c.LastStep, c.Attempts, nanos(c.AttemptsSince), c.Serial); err != nil {
		return fmt.Errorf("chip %s: %w", c.Serial, err)
	}
	return nil
}

// writeFailure writes a person's failures on a held chip: a row while they have
// wrong codes in a row or locks, none once they have neither.
func writeFailure(ctx context.Context, tx *sql.Tx, f ChipFailure) error {
	var err error
	if f.FailedCodes == 0 && f.Locks == 0 && f.LockedUntil.IsZero() {
		_, err = tx.ExecContext(ctx, `DELETE FROM chip_failures WHERE serial = ? AND person_id = ?`, f.Serial, f.PersonID)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO chip_failures (`+failureCols+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (serial, person_id) DO UPDATE SET failed_codes = excluded.failed_codes,
			lock_count = excluded.lock_count, locked_until = excluded.locked_until`,
			f.Serial, f.PersonID, f.FailedCodes, f.Locks, nanos(f.LockedUntil))
	}
	if err != nil {
		return fmt.Errorf("failures of %s on chip %s: %w", f.PersonID, f.Serial, err)
	}
	return nil
}

// lockAudit is the audit entry for the lock that a wrong code in session s started
// for its person.
func lockAudit(s Session, f ChipFailure, at time.Time) AuditEntry {
	d, _ := json.Marshal(map[string]any{ // strings and numbers only: cannot fail
		"serial": f.Serial, "until": f.LockedUntil.UTC().Format(time.RFC3339), "lock": f.Locks,
	})
	return AuditEntry{At: at, ActivationID: s.ID, PersonID: s.PersonID, Event: "chip_locked", Detail: string(d)}
}

// UnlockChip forgets every person's wrong codes and locks on the chip, and its
// attempt window.
func (st *sqlStore) UnlockChip(ctx context.Context, serial string, audit ...AuditEntry) error {
	return st.inTx(ctx, "unlock", "chip "+serial, func(tx *sql.Tx) error {
		// The chip's row first, as every writer of its failures holds it.
		found, err := changed(tx.ExecContext(ctx, `UPDATE chips SET attempts = 0, attempts_since = NULL WHERE serial = ?`, serial))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM chip_failures WHERE serial = ?`, serial); err != nil {
			return fmt.Errorf("failures on chip %s: %w", serial, err)
		}
		if err := st.hit("unlock/failures"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
}

// ChipFailures lists the persons with wrong codes or locks on the chip.
func (st *sqlStore) ChipFailures(ctx context.Context, serial string) ([]ChipFailure, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT `+failureCols+` FROM chip_failures WHERE serial = ? ORDER BY person_id`, serial)
	if err != nil {
		return nil, fmt.Errorf("store: failures on chip %s: %w", serial, err)
	}
	defer rows.Close()
	var out []ChipFailure
	for rows.Next() {
		f, err := scanFailure(rows)
		if err != nil {
			return nil, fmt.Errorf("store: failures on chip %s: %w", serial, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: failures on chip %s: %w", serial, err)
	}
	return out, nil
}

// Audit appends entries to the audit trail.
func (st *sqlStore) Audit(ctx context.Context, audit ...AuditEntry) error {
	if len(audit) == 0 {
		return errors.New("store: audit: no entries")
	}
	return st.inTx(ctx, "audit", fmt.Sprintf("%d entries", len(audit)), func(tx *sql.Tx) error {
		return writeAudit(ctx, tx, audit)
	})
}

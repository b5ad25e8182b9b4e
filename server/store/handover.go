package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Handover errors, for RedeemHandover and CreateHandover.
var (
	// ErrHandoverWrong: the code matches no handover, or a handover's first half but
	// not the whole code (counted on that handover).
	ErrHandoverWrong = errors.New("handover code does not match")
	// ErrHandoverUsed: the handover was redeemed before.
	ErrHandoverUsed = errors.New("handover code already used")
	// ErrHandoverExpired: the handover's minutes are up.
	ErrHandoverExpired = errors.New("handover code expired")
	// ErrHandoverVoid: the handover had MaxWrong wrong codes and takes no more.
	ErrHandoverVoid = errors.New("handover void after wrong codes")
	// ErrHandoverTaken: another handover has the same lookup hash; the caller makes
	// a new code.
	ErrHandoverTaken = errors.New("handover lookup hash in use")
)

// Handover is a short one-time code that moves an activation at the password step
// to another device (docs/decisions.md, "Continue on another device"). The store
// keeps only hashes: LookupHash (of the code's first half) finds the row, so wrong
// codes count on it; CodeHash (of the whole code) is what must match.
type Handover struct {
	LookupHash   []byte
	CodeHash     []byte
	ActivationID string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	WrongCodes   int
	UsedAt       time.Time // zero until redeemed
}

// HandoverRedemption is one try to redeem a handover code on another device.
type HandoverRedemption struct {
	LookupHash, CodeHash []byte
	// CookieHash becomes the session's cookie hash: the first device's cookie stops
	// working.
	CookieHash []byte
	At         time.Time
	// MaxWrong wrong codes void the handover.
	MaxWrong int
	// Redeemed is written when the code is right, Rejected when it is wrong for a
	// handover found by its lookup hash; the store fills in their ActivationID and
	// PersonID.
	Redeemed, Rejected AuditEntry
}

// CreateHandover inserts h for its session, which must be in StateRedeemed and
// unexpired at h.CreatedAt (else ErrConflict; ErrNotFound if it does not exist).
// An unused handover the session had before is dropped: one code at a time.
// ErrHandoverTaken if h.LookupHash is another handover's.
func (st *sqlStore) CreateHandover(ctx context.Context, h Handover, audit ...AuditEntry) error {
	if len(h.LookupHash) == 0 || len(h.CodeHash) == 0 || h.ActivationID == "" || !h.ExpiresAt.After(h.CreatedAt) {
		return fmt.Errorf("store: create handover for %s: lookup hash, code hash, activation id and a later expiry are required", h.ActivationID)
	}
	return st.inTx(ctx, "handover", "for session "+h.ActivationID, func(tx *sql.Tx) error {
		s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM activation_sessions WHERE id = ?`, h.ActivationID))
		if err != nil {
			return notFound(err)
		}
		if s.State != StateRedeemed || !h.CreatedAt.Before(s.ExpiresAt) {
			return fmt.Errorf("session %s in state %s, expiring %v: %w", s.ID, s.State, s.ExpiresAt, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM handovers WHERE activation_id = ? AND used_at IS NULL`, h.ActivationID); err != nil {
			return fmt.Errorf("earlier handovers: %w", err)
		}
		fresh, err := changed(tx.ExecContext(ctx, `INSERT INTO handovers (lookup_hash, code_hash, activation_id, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (lookup_hash) DO NOTHING`,
			h.LookupHash, h.CodeHash, h.ActivationID, nanos(h.CreatedAt), nanos(h.ExpiresAt)))
		if err != nil {
			return err
		}
		if !fresh {
			return ErrHandoverTaken
		}
		if err := st.hit("handover/insert"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, named(audit, s))
	})
}

// RedeemHandover redeems a handover code: the handover found by r.LookupHash must be
// unused, unexpired and not void, and its code hash r.CodeHash; its session must
// still be in StateRedeemed and unexpired. Then, in one transaction, the handover is
// marked used and the session gets r.CookieHash (its Version moves on). A code that
// finds no handover is ErrHandoverWrong and writes nothing; a wrong code for a found
// handover counts on it (and is committed), and its r.MaxWrong-th voids it. A session
// that moved on (its first device set the password) is ErrConflict.
func (st *sqlStore) RedeemHandover(ctx context.Context, r HandoverRedemption) (Session, error) {
	if len(r.LookupHash) == 0 || len(r.CodeHash) == 0 || len(r.CookieHash) == 0 || r.MaxWrong < 1 {
		return Session{}, errors.New("store: redeem handover: lookup hash, code hash, cookie hash and MaxWrong are required")
	}
	var out Session
	var refused error // a refusal whose counting must still commit
	err := st.inTx(ctx, "handover", "redemption", func(tx *sql.Tx) error {
		refused = nil // afresh if the transaction is retried
		var h Handover
		err := tx.QueryRowContext(ctx, `SELECT lookup_hash, code_hash, activation_id, created_at, expires_at, wrong_codes, used_at
			FROM handovers WHERE lookup_hash = ?`, r.LookupHash).Scan(&h.LookupHash, &h.CodeHash, &h.ActivationID,
			timeCol{&h.CreatedAt}, timeCol{&h.ExpiresAt}, &h.WrongCodes, timeCol{&h.UsedAt})
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no handover with that lookup hash: %w", ErrHandoverWrong)
		}
		if err != nil {
			return err
		}
		switch {
		case !h.UsedAt.IsZero():
			return fmt.Errorf("handover of %s used at %v: %w", h.ActivationID, h.UsedAt, ErrHandoverUsed)
		case h.WrongCodes >= r.MaxWrong:
			return fmt.Errorf("handover of %s: %d wrong codes: %w", h.ActivationID, h.WrongCodes, ErrHandoverVoid)
		case !r.At.Before(h.ExpiresAt):
			return fmt.Errorf("handover of %s expired at %v: %w", h.ActivationID, h.ExpiresAt, ErrHandoverExpired)
		}
		s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM activation_sessions WHERE id = ?`, h.ActivationID))
		if err != nil {
			return fmt.Errorf("session %s of a handover: %w", h.ActivationID, notFound(err))
		}
		if subtle.ConstantTimeCompare(h.CodeHash, r.CodeHash) != 1 {
			if _, err := tx.ExecContext(ctx, `UPDATE handovers SET wrong_codes = wrong_codes + 1 WHERE lookup_hash = ?`, h.LookupHash); err != nil {
				return fmt.Errorf("count a wrong code on the handover of %s: %w", h.ActivationID, err)
			}
			refused = fmt.Errorf("handover of %s: wrong code %d of %d: %w", h.ActivationID, h.WrongCodes+1, r.MaxWrong, ErrHandoverWrong)
			if h.WrongCodes+1 >= r.MaxWrong {
				refused = fmt.Errorf("handover of %s: wrong code %d of %d: %w", h.ActivationID, h.WrongCodes+1, r.MaxWrong, ErrHandoverVoid)
			}
			return writeAudit(ctx, tx, named([]AuditEntry{r.Rejected}, s))
		}
		if s.State != StateRedeemed || !r.At.Before(s.ExpiresAt) {
			return fmt.Errorf("session %s in state %s, expiring %v: %w", s.ID, s.State, s.ExpiresAt, ErrConflict)
		}
		used, err := changed(tx.ExecContext(ctx, `UPDATE handovers SET used_at = ? WHERE lookup_hash = ? AND used_at IS NULL`,
			nanos(r.At), h.LookupHash))
		if err != nil {
			return fmt.Errorf("mark the handover of %s used: %w", h.ActivationID, err)
		}
		if !used {
			return fmt.Errorf("handover of %s: %w", h.ActivationID, ErrHandoverUsed)
		}
		if err := st.hit("handover/used"); err != nil {
			return err
		}
		if out, err = casSession(ctx, tx, s, `cookie_hash = ?, updated_at = ?`, []any{r.CookieHash, nanos(r.At)}, StateRedeemed); err != nil {
			return err
		}
		return writeAudit(ctx, tx, named([]AuditEntry{r.Redeemed}, s))
	})
	if err != nil {
		return Session{}, err
	}
	if refused != nil {
		return Session{}, fmt.Errorf("store: handover redemption: %w", refused)
	}
	return out, nil
}

// Handovers lists an activation's handovers, oldest first (for tests and operators).
func (st *sqlStore) Handovers(ctx context.Context, activationID string) ([]Handover, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT lookup_hash, code_hash, activation_id, created_at, expires_at, wrong_codes, used_at
		FROM handovers WHERE activation_id = ? ORDER BY created_at, `+st.d.insertOrder, activationID)
	if err != nil {
		return nil, fmt.Errorf("store: handovers of %s: %w", activationID, err)
	}
	defer rows.Close()
	var out []Handover
	for rows.Next() {
		var h Handover
		if err := rows.Scan(&h.LookupHash, &h.CodeHash, &h.ActivationID, timeCol{&h.CreatedAt}, timeCol{&h.ExpiresAt},
			&h.WrongCodes, timeCol{&h.UsedAt}); err != nil {
			return nil, fmt.Errorf("store: handovers of %s: %w", activationID, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// named gives audit entries without an activation or a person those of s.
func named(audit []AuditEntry, s Session) []AuditEntry {
	out := make([]AuditEntry, 0, len(audit))
	for _, a := range audit {
		if a.Event == "" {
			continue
		}
		if a.ActivationID == "" {
			a.ActivationID = s.ID
		}
		if a.PersonID == "" {
			a.PersonID = s.PersonID
		}
		out = append(out, a)
	}
	return out
}

package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mitidchip/credential/userid"
)

const sessionCols = `id, person_id, cookie_hash, request_hash, state, created_at, expires_at, updated_at, version,
	kdf_salt, kdf_time, kdf_memory_kib, kdf_threads, password_verifier, chip_serial, chip_public_key,
	nonce, wrong_codes`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var s Session
	err := row.Scan(&s.ID, &s.PersonID, &s.CookieHash, &s.RequestHash, &s.State, timeCol{&s.CreatedAt},
		timeCol{&s.ExpiresAt}, timeCol{&s.UpdatedAt}, &s.Version, &s.KDF.Salt, &s.KDF.Time,
		&s.KDF.MemoryKiB, &s.KDF.Threads, &s.PasswordVerifier, textCol{&s.ChipSerial},
		&s.ChipPublicKey, &s.Nonce, &s.WrongCodes)
	return s, err
}

// RedeemHandoff marks the token used, checks the person's limits, creates the person
// if absent and inserts the new session, all in one transaction. SQLite runs one
// write transaction at a time, so the counts cannot change under it.
func (st *sqlStore) RedeemHandoff(ctx context.Context, h Handoff, s Session, audit ...AuditEntry) (Session, error) {
	if h.TokenID == "" || h.PersonID == "" {
		return Session{}, errors.New("store: redeem handoff: token id and person id are required")
	}
	if s.PersonID != "" && s.PersonID != h.PersonID {
		return Session{}, fmt.Errorf("store: redeem handoff %s: session is for person %q, token for %q", h.TokenID, s.PersonID, h.PersonID)
	}
	if s.State != "" && s.State != StateRedeemed {
		return Session{}, fmt.Errorf("store: redeem handoff %s: new session in state %q", h.TokenID, s.State)
	}
	s.PersonID, s.State, s.Version, s.WrongCodes = h.PersonID, StateRedeemed, 1, 0
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = s.CreatedAt
	}
	uid := userid.Normalize(h.UserID)
	keep := h.ExpiresAt
	if w := h.UsedAt.Add(h.Limits.Window); h.Limits.MaxHandoffs > 0 && w.After(keep) {
		keep = w // the row is what the person's handoffs are counted by
	}
	err := st.inTx(ctx, "redeem", "handoff "+h.TokenID, func(tx *sql.Tx) error {
		fresh, err := changed(tx.ExecContext(ctx, `INSERT INTO used_handoffs (token_id, person_id, used_at, expires_at, activation_id)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (token_id) DO NOTHING`,
			h.TokenID, h.PersonID, nanos(h.UsedAt), nanos(keep), s.ID))
		if err != nil {
			return err
		}
		if !fresh {
			return ErrHandoffUsed
		}
		if err := st.hit("redeem/handoff"); err != nil {
			return err
		}
		if err := withinLimits(ctx, tx, h); err != nil {
			return err
		}
		if uid != "" {
			taken, err := exists(ctx, tx, `SELECT 1 FROM persons WHERE user_id = ? AND person_id <> ?`, uid, h.PersonID)
			if err != nil {
				return err
			}
			if taken {
				return ErrUserIDTaken
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO persons (person_id, user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET user_id = COALESCE(persons.user_id, excluded.user_id)`,
			h.PersonID, orNull(uid), nanos(h.UsedAt), nanos(h.UsedAt)); err != nil {
			return fmt.Errorf("person %s: %w", h.PersonID, err)
		}
		if err := st.hit("redeem/person"); err != nil {
			return err
		}
		if h.Assisted != nil {
			if err := insertAssisted(ctx, tx, *h.Assisted, h.PersonID, s.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO activation_sessions (`+sessionCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.PersonID, s.CookieHash, orNull(s.RequestHash), s.State, nanos(s.CreatedAt), nanos(s.ExpiresAt),
			nanos(s.UpdatedAt), s.Version, orNull(s.KDF.Salt), s.KDF.Time, s.KDF.MemoryKiB,
			s.KDF.Threads, orNull(s.PasswordVerifier), orNull(s.ChipSerial), orNull(s.ChipPublicKey),
			orNull(s.Nonce), s.WrongCodes); err != nil {
			return fmt.Errorf("session %s: %w", s.ID, err)
		}
		if err := st.hit("redeem/session"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// withinLimits checks h.Limits inside the redeeming transaction, after h's own row
// was inserted (so it is counted) and before its session is.
func withinLimits(ctx context.Context, tx *sql.Tx, h Handoff) error {
	if l := h.Limits; l.MaxHandoffs > 0 {
		since := h.UsedAt.Add(-l.Window)
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM used_handoffs WHERE person_id = ? AND used_at > ?`,
			h.PersonID, nanos(since)).Scan(&n); err != nil {
			return fmt.Errorf("count handoffs of %s: %w", h.PersonID, err)
		}
		if n > l.MaxHandoffs {
			return fmt.Errorf("person %s: %d handoffs within %v, limit %d: %w", h.PersonID, n, l.Window, l.MaxHandoffs, ErrTooManyHandoffs)
		}
	}
	if l := h.Limits; l.MaxOpenSessions > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM activation_sessions
			WHERE person_id = ? AND expires_at > ? AND state NOT IN (?, ?)`,
			h.PersonID, nanos(h.UsedAt), StateCompleted, StateBlocked).Scan(&n); err != nil {
			return fmt.Errorf("count open sessions of %s: %w", h.PersonID, err)
		}
		if n >= l.MaxOpenSessions {
			return fmt.Errorf("person %s: %d open sessions, limit %d: %w", h.PersonID, n, l.MaxOpenSessions, ErrTooManySessions)
		}
	}
	return nil
}

// RedeemAgain gives the session a used token started a new cookie hash, for the
// client that started it (the same request hash) while nothing else happened to it.
func (st *sqlStore) RedeemAgain(ctx context.Context, tokenID string, requestHash, cookieHash []byte, at time.Time, audit ...AuditEntry) (Session, error) {
	if len(requestHash) == 0 || len(cookieHash) == 0 {
		return Session{}, fmt.Errorf("store: redeem handoff %s again: request hash and cookie hash are required", tokenID)
	}
	var out Session
	err := st.inTx(ctx, "again", "handoff "+tokenID, func(tx *sql.Tx) error {
		var id sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT activation_id FROM used_handoffs WHERE token_id = ?`, tokenID).Scan(&id); err != nil {
			return notFound(err)
		}
		if !id.Valid {
			return fmt.Errorf("no session recorded with the token: %w", ErrHandoffUsed)
		}
		s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM activation_sessions WHERE id = ?`, id.String))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("session %s is gone: %w", id.String, ErrHandoffUsed)
		case err != nil:
			return fmt.Errorf("session %s: %w", id.String, err)
		case len(s.RequestHash) == 0 || subtle.ConstantTimeCompare(s.RequestHash, requestHash) != 1:
			return fmt.Errorf("session %s was started by another request: %w", s.ID, ErrHandoffUsed)
		case s.State != StateRedeemed:
			return fmt.Errorf("session %s has moved on to %s: %w", s.ID, s.State, ErrHandoffUsed)
		case !at.Before(s.ExpiresAt):
			return fmt.Errorf("session %s expired at %v: %w", s.ID, s.ExpiresAt, ErrHandoffUsed)
		}
		if out, err = casSession(ctx, tx, s, `cookie_hash = ?, updated_at = ?`, []any{cookieHash, nanos(at)}, StateRedeemed); err != nil {
			return err
		}
		if err := st.hit("again/session"); err != nil {
			return err
		}
		named := make([]AuditEntry, len(audit))
		for i, a := range audit {
			if a.ActivationID == "" {
				a.ActivationID = s.ID
			}
			named[i] = a
		}
		return writeAudit(ctx, tx, named)
	})
	if err != nil {
		return Session{}, err
	}
	return out, nil
}

// Session returns the session with the given id.
func (st *sqlStore) Session(ctx context.Context, id string) (Session, error) {
	s, err := scanSession(st.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM activation_sessions WHERE id = ?`, id))
	if err != nil {
		return Session{}, fmt.Errorf("store: session %s: %w", id, notFound(err))
	}
	return s, nil
}

// SessionByCookie returns the session whose cookie hashes to cookieHash.
func (st *sqlStore) SessionByCookie(ctx context.Context, cookieHash []byte) (Session, error) {
	s, err := scanSession(st.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM activation_sessions WHERE cookie_hash = ?`, cookieHash))
	if err != nil {
		return Session{}, fmt.Errorf("store: session by cookie: %w", notFound(err))
	}
	return s, nil
}

// UpdateSession writes the caller-owned fields of s if the row still has s.Version.
func (st *sqlStore) UpdateSession(ctx context.Context, s Session, audit ...AuditEntry) (Session, error) {
	// A code_verified session is frozen until Complete, so its chip cannot be swapped
	// after the code check; it can only be blocked.
	from := []State{StateRedeemed, StatePasswordSet, StateChipPresented}
	switch s.State {
	case StateRedeemed, StatePasswordSet, StateChipPresented:
	case StateBlocked:
		from = append(from, StateCodeVerified)
	default:
		return Session{}, fmt.Errorf("store: update session %s: state %q is not set by UpdateSession", s.ID, s.State)
	}
	var out Session
	err := st.inTx(ctx, "update", "session "+s.ID, func(tx *sql.Tx) error {
		var err error
		out, err = casSession(ctx, tx, s, `state = ?, expires_at = ?, updated_at = ?, kdf_salt = ?,
			kdf_time = ?, kdf_memory_kib = ?, kdf_threads = ?, password_verifier = ?, chip_serial = ?,
			chip_public_key = ?, nonce = ?`,
			[]any{s.State, nanos(s.ExpiresAt), nanos(s.UpdatedAt), orNull(s.KDF.Salt), s.KDF.Time,
				s.KDF.MemoryKiB, s.KDF.Threads, orNull(s.PasswordVerifier), orNull(s.ChipSerial),
				orNull(s.ChipPublicKey), orNull(s.Nonce)}, from...)
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
	return out, err
}

// AcceptCode records a right one-time code at time-step step.
func (st *sqlStore) AcceptCode(ctx context.Context, s Session, step, maxStep int64, lim CodeLimits, at time.Time, audit ...AuditEntry) (Session, error) {
	if err := lim.Validate(); err != nil {
		return Session{}, fmt.Errorf("store: accept code for session %s: %w", s.ID, err)
	}
	if step < 1 || step > maxStep {
		// The registry never matches a step beyond its window; recording one would
		// hold back the chip's codes until real time caught up with it.
		return Session{}, fmt.Errorf("store: accept code for session %s: step %d is not in 1..%d", s.ID, step, maxStep)
	}
	var out Session
	err := st.inTx(ctx, "accept", "code for session "+s.ID, func(tx *sql.Tx) error {
		c, f, err := st.admit(ctx, tx, s, lim, at)
		if err != nil {
			return err
		}
		out, err = casSession(ctx, tx, s, `state = ?, wrong_codes = 0, updated_at = ?`,
			[]any{StateCodeVerified, nanos(at)}, StateChipPresented)
		if err != nil {
			return err
		}
		// The chip's row is held since admit, so the step check and its recording
		// cannot interleave with another request's: two requests racing with the same
		// code cannot both pass. A last step beyond the window came from a clock that
		// was ahead and holds nothing back.
		if step <= c.LastStep && c.LastStep <= maxStep {
			return fmt.Errorf("chip %s, step %d: %w", c.Serial, step, ErrStepUsed)
		}
		c.LastStep = step
		if err := writeChipCounts(ctx, tx, c); err != nil {
			return err
		}
		if err := st.hit("code/counts"); err != nil {
			return err
		}
		// The person's right code forgets their wrong codes and locks, not others'.
		if err := writeFailure(ctx, tx, ChipFailure{Serial: f.Serial, PersonID: f.PersonID}); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
	return out, err
}

// RejectCode records a wrong one-time code on the session and on its person's
// failures with the chip.
func (st *sqlStore) RejectCode(ctx context.Context, s Session, lim CodeLimits, at time.Time, audit ...AuditEntry) (Session, ChipFailure, error) {
	if err := lim.Validate(); err != nil {
		return Session{}, ChipFailure{}, fmt.Errorf("store: reject code for session %s: %w", s.ID, err)
	}
	var out Session
	var f ChipFailure
	err := st.inTx(ctx, "reject", "code for session "+s.ID, func(tx *sql.Tx) error {
		var c Chip
		var err error
		if c, f, err = st.admit(ctx, tx, s, lim, at); err != nil {
			return err
		}
		out, err = casSession(ctx, tx, s, `wrong_codes = wrong_codes + 1,
			state = CASE WHEN wrong_codes + 1 >= ? THEN ? ELSE state END, updated_at = ?`,
			[]any{lim.BlockAfter, StateBlocked, nanos(at)}, StateChipPresented)
		if err != nil {
			return err
		}
		if err := writeChipCounts(ctx, tx, c); err != nil {
			return err
		}
		if err := st.hit("code/counts"); err != nil {
			return err
		}
		var locked bool
		f, locked = lim.fail(f, at)
		if err := writeFailure(ctx, tx, f); err != nil {
			return err
		}
		entries := audit // not audit itself: a retried transaction starts from the caller's
		if locked {
			entries = append(audit[:len(audit):len(audit)], lockAudit(out, f, at))
		}
		return writeAudit(ctx, tx, entries)
	})
	if err != nil {
		return Session{}, ChipFailure{}, err
	}
	return out, f, nil
}

// admit holds the chip of the session as the caller read it, reads its person's
// failures with it and admits the attempt (CodeLimits.admit). The session's row is
// checked by the caller's casSession in the same transaction, so its chip and person
// are those of the row.
func (st *sqlStore) admit(ctx context.Context, tx *sql.Tx, s Session, lim CodeLimits, at time.Time) (Chip, ChipFailure, error) {
	if s.ChipSerial == "" {
		return Chip{}, ChipFailure{}, fmt.Errorf("session has no chip: %w", ErrConflict)
	}
	c, err := holdChip(ctx, tx, s.ChipSerial)
	if err != nil {
		return Chip{}, ChipFailure{}, err
	}
	if err := st.hit("code/chip"); err != nil {
		return Chip{}, ChipFailure{}, err
	}
	f, err := heldFailure(ctx, tx, c.Serial, s.PersonID)
	if err != nil {
		return Chip{}, ChipFailure{}, err
	}
	return lim.admit(c, f, at)
}

// Complete binds the session's chip to its person and finishes the session.
func (st *sqlStore) Complete(ctx context.Context, s Session, at time.Time, audit ...AuditEntry) (Session, error) {
	var out Session
	err := st.inTx(ctx, "complete", "session "+s.ID, func(tx *sql.Tx) error {
		var err error
		// Everything below comes from the row as stored, not from the caller's copy.
		out, err = casSession(ctx, tx, s, `state = ?, updated_at = ?`, []any{StateCompleted, nanos(at)}, StateCodeVerified)
		if err != nil {
			return err
		}
		if out.ChipSerial == "" || len(out.PasswordVerifier) == 0 {
			return errors.New("session has no chip or no password verifier")
		}
		if err := st.hit("complete/session"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET password_verifier = ?, kdf_salt = ?,
			kdf_time = ?, kdf_memory_kib = ?, kdf_threads = ?, updated_at = ? WHERE person_id = ?`,
			out.PasswordVerifier, orNull(out.KDF.Salt), out.KDF.Time, out.KDF.MemoryKiB,
			out.KDF.Threads, nanos(at), out.PersonID); err != nil {
			return fmt.Errorf("person %s: %w", out.PersonID, err)
		}
		if err := st.hit("complete/person"); err != nil {
			return err
		}
		// Retire first: the one-bound-chip-per-person index checks each statement.
		if _, err := tx.ExecContext(ctx, `UPDATE chips SET status = 'retired'
			WHERE person_id = ? AND status = 'bound' AND serial <> ?`, out.PersonID, out.ChipSerial); err != nil {
			return fmt.Errorf("retire chips of %s: %w", out.PersonID, err)
		}
		if err := st.hit("complete/retire"); err != nil {
			return err
		}
		bound, err := changed(tx.ExecContext(ctx, `UPDATE chips SET status = 'bound', person_id = ?, bound_at = ?
			WHERE serial = ? AND (status = 'available' OR (status = 'bound' AND person_id = ?))`,
			out.PersonID, nanos(at), out.ChipSerial, out.PersonID))
		if err != nil {
			return fmt.Errorf("bind chip %s: %w", out.ChipSerial, err)
		}
		if !bound {
			// A chip its holder blocked is refused as such, so the person is told
			// to order a new one rather than that someone else has it.
			blocked, err := exists(ctx, tx, `SELECT 1 FROM chip_blocks WHERE serial = ?`, out.ChipSerial)
			if err != nil {
				return fmt.Errorf("chip %s: %w", out.ChipSerial, err)
			}
			if blocked {
				return fmt.Errorf("chip %s: %w", out.ChipSerial, ErrChipBlocked)
			}
			return fmt.Errorf("chip %s: %w", out.ChipSerial, ErrChipTaken)
		}
		if err := st.hit("complete/bind"); err != nil {
			return err
		}
		// Bound, the chip takes codes from its holder alone (admit), and theirs were
		// forgotten with their right code: the others' failures count for nothing.
		// The bind above holds the chip's row.
		if _, err := tx.ExecContext(ctx, `DELETE FROM chip_failures WHERE serial = ?`, out.ChipSerial); err != nil {
			return fmt.Errorf("failures on chip %s: %w", out.ChipSerial, err)
		}
		if err := st.hit("complete/failures"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
	return out, err
}

// casSession applies set (with args) to the session if it still has s.Version and is
// in one of the states from, bumps the version, and returns the row as written.
func casSession(ctx context.Context, tx *sql.Tx, s Session, set string, args []any, from ...State) (Session, error) {
	q := `UPDATE activation_sessions SET ` + set + `, version = version + 1
		WHERE id = ? AND version = ? AND state IN (?` + strings.Repeat(", ?", len(from)-1) + `)
		RETURNING ` + sessionCols
	args = append(args, s.ID, s.Version)
	for _, f := range from {
		args = append(args, f)
	}
	out, err := scanSession(tx.QueryRowContext(ctx, q, args...))
	if !errors.Is(err, sql.ErrNoRows) {
		return out, err
	}
	found, err := exists(ctx, tx, `SELECT 1 FROM activation_sessions WHERE id = ?`, s.ID)
	switch {
	case err != nil:
		return Session{}, err
	case !found:
		return Session{}, ErrNotFound
	}
	return Session{}, ErrConflict
}

// DeleteExpired drops sessions, used handoffs, handovers, OIDC authorization requests
// and OIDC access tokens that expired before now, batch rows
// per transaction.
func (st *sqlStore) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	if batch < 1 {
		return 0, fmt.Errorf("store: delete expired rows: batch %d is below 1", batch)
	}
	total := 0
	for _, table := range []string{"activation_sessions", "used_handoffs", "handovers", "oidc_auth_requests", "oidc_tokens",
		"logon_challenges", "logon_failures", "logon_sessions", "staff_sessions"} {
		for {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("store: delete expired rows of %s: %w", table, err)
			}
			var n int64
			err := st.inTx(ctx, "sweep", "expired rows of "+table, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+st.d.rowid+` IN
					(SELECT `+st.d.rowid+` FROM `+table+` WHERE expires_at < ? LIMIT ?)`, now.UnixNano(), batch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, err
			}
			total += int(n)
			if n < int64(batch) {
				break
			}
		}
	}
	return total, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Errors of Borgerservice, the caseworkers' console (Staff).
var (
	// ErrNotStaff: the person has no caseworker role (never had, or it was
	// withdrawn), or not at the office named.
	ErrNotStaff = errors.New("the person has no caseworker role")
	// ErrConsoleIdle: the console was not used with this logon session for longer
	// than its idle timeout; the caseworker logs on again.
	ErrConsoleIdle = errors.New("the console session was idle too long")
	// ErrTooManyAssisted: the caseworker started Assisted.MaxPerHour assisted
	// activations within the hour already.
	ErrTooManyAssisted = errors.New("too many assisted activations by the caseworker this hour")
)

// StaffRole is a person's caseworker role at a Borgerservice office: one office per
// person (granting another moves them).
type StaffRole struct {
	PersonID  string
	Office    string
	GrantedAt time.Time
}

// ConsoleUse is one request of a caseworker's console under a MitID.dk session.
type ConsoleUse struct {
	LogonSessionID string
	PersonID       string
	At             time.Time
	// Idle is the console's idle timeout: a logon session whose last console use is
	// Idle or more before At may not use the console again.
	Idle time.Duration
	// Keep is when the record of the session's console use may go: not before the
	// logon session itself has ended, or a swept record would make it fresh again.
	Keep time.Time
}

// Assisted is the ID check behind an activation started at Borgerservice: it rides
// on Handoff.Assisted, so it is written in the redeeming transaction.
type Assisted struct {
	ActivationID    string // set by the store from the session
	CitizenID       string // set by the store from the handoff
	CaseworkerID    string
	Office          string
	DocumentType    string
	DocumentHash    []byte // keyed hash of the document number; never the number
	DocumentExpires time.Time
	ChipSerial      string // the chip handed over at the counter; empty if none
	CreatedAt       time.Time
	// MaxPerHour bounds the caseworker's assisted activations within the hour
	// before CreatedAt, this one included; 0 means no limit.
	MaxPerHour int
}

// Staff is the caseworkers' roles and what the console keeps. Store embeds it.
type Staff interface {
	// GrantStaff gives r.PersonID the caseworker role at r.Office (replacing an
	// office they had), with the audit entries; ErrNotFound if no such person.
	GrantStaff(ctx context.Context, r StaffRole, audit ...AuditEntry) error
	// RevokeStaff withdraws the person's role; ErrNotFound if they have none.
	RevokeStaff(ctx context.Context, personID string, audit ...AuditEntry) error
	// StaffRole is the person's role, or ErrNotFound.
	StaffRole(ctx context.Context, personID string) (StaffRole, error)
	// StaffRoles lists every role, by office then person.
	StaffRoles(ctx context.Context) ([]StaffRole, error)
	// UseConsole admits one console request, in one transaction: the person's
	// role (ErrNotStaff if none), then the logon session's last console use
	// (ErrConsoleIdle if it was u.Idle or more before u.At, and it stays so). An
	// admitted use is recorded. A refusal writes nothing.
	UseConsole(ctx context.Context, u ConsoleUse) (StaffRole, error)
	// AssistedActivation is the ID check behind an activation, or ErrNotFound for
	// one the app's handoff started.
	AssistedActivation(ctx context.Context, activationID string) (Assisted, error)
	// EndActivations ends the person's open activations (not completed, blocked or
	// expired at `at`): their ExpiresAt becomes at, their Version moves on, and
	// the audit entries are written. It says how many ended.
	EndActivations(ctx context.Context, personID string, at time.Time, audit ...AuditEntry) (int, error)
	// OpenSessions counts the person's open activations at `at` (not completed,
	// blocked or expired).
	OpenSessions(ctx context.Context, personID string, at time.Time) (int, error)
	// PersonChipFailures lists the person's wrong codes and locks on every chip,
	// by serial.
	PersonChipFailures(ctx context.Context, personID string) ([]ChipFailure, error)
}

// GrantStaff gives a person the caseworker role.
func (st *sqlStore) GrantStaff(ctx context.Context, r StaffRole, audit ...AuditEntry) error {
	if r.PersonID == "" || r.Office == "" {
		return errors.New("store: grant staff: person and office are required")
	}
	return st.inTx(ctx, "staff", "grant to "+r.PersonID, func(tx *sql.Tx) error {
		known, err := exists(ctx, tx, `SELECT 1 FROM persons WHERE person_id = ?`, r.PersonID)
		if err != nil {
			return err
		}
		if !known {
			return fmt.Errorf("person %s: %w", r.PersonID, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_roles (person_id, office, granted_at) VALUES (?, ?, ?)
			ON CONFLICT (person_id) DO UPDATE SET office = excluded.office, granted_at = excluded.granted_at`,
			r.PersonID, r.Office, nanos(r.GrantedAt)); err != nil {
			return err
		}
		if err := st.hit("staff/grant"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
}

// RevokeStaff withdraws a person's caseworker role.
func (st *sqlStore) RevokeStaff(ctx context.Context, personID string, audit ...AuditEntry) error {
	return st.inTx(ctx, "staff", "revoke from "+personID, func(tx *sql.Tx) error {
		gone, err := changed(tx.ExecContext(ctx, `DELETE FROM staff_roles WHERE person_id = ?`, personID))
		if err != nil {
			return err
		}
		if !gone {
			return fmt.Errorf("role of %s: %w", personID, ErrNotFound)
		}
		if err := st.hit("staff/revoke"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
}

// StaffRole returns the person's role.
func (st *sqlStore) StaffRole(ctx context.Context, personID string) (StaffRole, error) {
	r, err := scanRole(st.r.QueryRowContext(ctx, `SELECT person_id, office, granted_at FROM staff_roles WHERE person_id = ?`, personID))
	if err != nil {
		return StaffRole{}, fmt.Errorf("store: role of %s: %w", personID, notFound(err))
	}
	return r, nil
}

func scanRole(row interface{ Scan(...any) error }) (StaffRole, error) {
	var r StaffRole
	err := row.Scan(&r.PersonID, &r.Office, timeCol{&r.GrantedAt})
	return r, err
}

// StaffRoles lists every role.
func (st *sqlStore) StaffRoles(ctx context.Context) ([]StaffRole, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT person_id, office, granted_at FROM staff_roles ORDER BY office, person_id`)
	if err != nil {
		return nil, fmt.Errorf("store: staff roles: %w", err)
	}
	defer rows.Close()
	out := []StaffRole{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("store: staff roles: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UseConsole admits and records one console request.
func (st *sqlStore) UseConsole(ctx context.Context, u ConsoleUse) (StaffRole, error) {
	if u.LogonSessionID == "" || u.PersonID == "" || u.Idle <= 0 {
		return StaffRole{}, errors.New("store: use console: logon session, person and idle timeout are required")
	}
	var out StaffRole
	err := st.inTx(ctx, "console", "use by "+u.PersonID, func(tx *sql.Tx) error {
		r, err := scanRole(tx.QueryRowContext(ctx, `SELECT person_id, office, granted_at FROM staff_roles WHERE person_id = ?`, u.PersonID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("person %s: %w", u.PersonID, ErrNotStaff)
		case err != nil:
			return err
		}
		out = r
		var seen time.Time
		var person string
		err = tx.QueryRowContext(ctx, `SELECT person_id, seen_at FROM staff_sessions WHERE logon_session_id = ?`, u.LogonSessionID).
			Scan(&person, timeCol{&seen})
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case person != u.PersonID:
			return fmt.Errorf("logon session %s is %s's, not %s's: %w", u.LogonSessionID, person, u.PersonID, ErrNotStaff)
		case !u.At.Before(seen.Add(u.Idle)):
			return fmt.Errorf("console last used %v, idle %v: %w", seen, u.Idle, ErrConsoleIdle)
		}
		keep := u.Keep
		if keep.Before(u.At.Add(u.Idle)) {
			keep = u.At.Add(u.Idle)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO staff_sessions (logon_session_id, person_id, seen_at, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (logon_session_id) DO UPDATE SET seen_at = excluded.seen_at, expires_at = excluded.expires_at`,
			u.LogonSessionID, u.PersonID, nanos(u.At), nanos(keep))
		return err
	})
	if err != nil {
		return StaffRole{}, err
	}
	return out, nil
}

// insertAssisted writes the ID check behind an assisted activation, in the
// redeeming transaction: the caseworker's role at the office is checked again (it
// may have been withdrawn since the request was admitted) and their hourly count.
func insertAssisted(ctx context.Context, tx *sql.Tx, a Assisted, citizen, activationID string) error {
	if a.CaseworkerID == "" || a.Office == "" || a.DocumentType == "" || len(a.DocumentHash) == 0 {
		return errors.New("assisted activation: caseworker, office, document type and hash are required")
	}
	staff, err := exists(ctx, tx, `SELECT 1 FROM staff_roles WHERE person_id = ? AND office = ?`, a.CaseworkerID, a.Office)
	if err != nil {
		return err
	}
	if !staff {
		return fmt.Errorf("caseworker %s at %s: %w", a.CaseworkerID, a.Office, ErrNotStaff)
	}
	if a.MaxPerHour > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM assisted_activations WHERE caseworker_id = ? AND created_at > ?`,
			a.CaseworkerID, nanos(a.CreatedAt.Add(-time.Hour))).Scan(&n); err != nil {
			return err
		}
		if n >= a.MaxPerHour {
			return fmt.Errorf("caseworker %s: %d assisted activations within the hour: %w", a.CaseworkerID, n, ErrTooManyAssisted)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO assisted_activations (activation_id, citizen_id, caseworker_id, office,
		document_type, document_hash, document_expires, chip_serial, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		activationID, citizen, a.CaseworkerID, a.Office, a.DocumentType, a.DocumentHash, nanos(a.DocumentExpires),
		a.ChipSerial, nanos(a.CreatedAt))
	return err
}

// AssistedActivation returns the ID check behind an activation.
func (st *sqlStore) AssistedActivation(ctx context.Context, activationID string) (Assisted, error) {
	var a Assisted
	err := st.r.QueryRowContext(ctx, `SELECT activation_id, citizen_id, caseworker_id, office, document_type, document_hash,
		document_expires, chip_serial, created_at FROM assisted_activations WHERE activation_id = ?`, activationID).
		Scan(&a.ActivationID, &a.CitizenID, &a.CaseworkerID, &a.Office, &a.DocumentType, &a.DocumentHash,
			timeCol{&a.DocumentExpires}, &a.ChipSerial, timeCol{&a.CreatedAt})
	if err != nil {
		return Assisted{}, fmt.Errorf("store: assisted activation %s: %w", activationID, notFound(err))
	}
	return a, nil
}

// EndActivations ends the person's open activations.
func (st *sqlStore) EndActivations(ctx context.Context, personID string, at time.Time, audit ...AuditEntry) (int, error) {
	var n int64
	err := st.inTx(ctx, "end", "activations of "+personID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE activation_sessions SET expires_at = ?, updated_at = ?, version = version + 1
			WHERE person_id = ? AND expires_at > ? AND state NOT IN (?, ?)`,
			nanos(at), nanos(at), personID, nanos(at), StateCompleted, StateBlocked)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 0 {
			return nil // nothing ended: nothing to audit
		}
		if err := st.hit("end/sessions"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// PersonChipFailures lists the person's wrong codes and locks on every chip.
func (st *sqlStore) PersonChipFailures(ctx context.Context, personID string) ([]ChipFailure, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT `+failureCols+` FROM chip_failures WHERE person_id = ? ORDER BY serial`, personID)
	if err != nil {
		return nil, fmt.Errorf("store: chip failures of %s: %w", personID, err)
	}
	defer rows.Close()
	out := []ChipFailure{}
	for rows.Next() {
		f, err := scanFailure(rows)
		if err != nil {
			return nil, fmt.Errorf("store: chip failures of %s: %w", personID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// OpenSessions counts the person's open activations.
func (st *sqlStore) OpenSessions(ctx context.Context, personID string, at time.Time) (int, error) {
	var n int
	if err := st.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM activation_sessions
		WHERE person_id = ? AND expires_at > ? AND state NOT IN (?, ?)`,
		personID, nanos(at), StateCompleted, StateBlocked).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: open sessions of %s: %w", personID, err)
	}
	return n, nil
}

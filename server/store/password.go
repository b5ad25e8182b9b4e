package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrSessionEnded: the MitID.dk session a change was asked in has ended (logged off,
// idle or absolute end, or ended by another change).
var ErrSessionEnded = errors.New("MitID.dk session ended")

// The purposes of a logon challenge (LogonChallenge.Purpose).
const (
	// PurposeLogon is a logon: at MitID.dk, or for an OIDC authorization request.
	PurposeLogon = ""
	// PurposePasswordChange is a logged-on person changing their password: the old
	// password proved as at logon, the new one's verifier, the chip's press.
	PurposePasswordChange = "password_change"
)

// checkPurpose says what is wrong with a challenge's purpose and new password
// fields, if anything.
func checkPurpose(c LogonChallenge) error {
	switch c.Purpose {
	case PurposeLogon:
		if len(c.NewKDF.Salt) > 0 || c.NewKDF.Time != 0 || c.NewKDF.MemoryKiB != 0 || c.NewKDF.Threads != 0 {
			return errors.New("store: begin logon: a logon has no new password")
		}
	case PurposePasswordChange:
		if len(c.NewKDF.Salt) == 0 || c.NewKDF.Time == 0 || c.NewKDF.MemoryKiB == 0 || c.NewKDF.Threads == 0 {
			return errors.New("store: begin password change: the new password's salt and cost are required")
		}
		if c.AuthRequest != "" {
			return errors.New("store: begin password change: not for an authorization request")
		}
	default:
		return fmt.Errorf("store: begin logon: unknown purpose %q", c.Purpose)
	}
	return nil
}

// PasswordChanges is a logged-on person changing their password (docs/selfservice.md).
// It is begun with BeginLogon (Purpose PurposePasswordChange) and its old password
// checked with TryPassword, which counts toward the user ID's logon lock exactly as
// a logon's; then the new verifier is recorded, and the chip's press completes it.
type PasswordChanges interface {
	// SetNewVerifier records the new password's verifier on a password change whose
	// old password passed for personID: unused and unexpired at `at`
	// (ErrLogonUsed, ErrLogonExpired, ErrNotFound), of PurposePasswordChange, for
	// personID, its password step passed and no verifier recorded before
	// (ErrConflict). A refusal writes nothing. It returns the challenge as written.
	SetNewVerifier(ctx context.Context, challengeID, personID string, verifier []byte, at time.Time) (LogonChallenge, error)
	// ChangePassword completes a password change, in one transaction: the challenge
	// must be as SetNewVerifier left it, with c.Verifier recorded (ErrConflict
	// otherwise), unused and unexpired at c.At; c.ChipSerial bound to the person
	// (ErrChipTaken); c.SessionID a session of the person's that has not ended at
	// c.At (ErrSessionEnded). Then the person's verifier and KDF become the new ones,
	// the challenge is used, the user ID's LogonFailure goes, the chip's LastUsedAt
	// becomes c.At, every other MitID.dk session of the person ends, and the audit
	// entries are written. It returns how many sessions it ended.
	ChangePassword(ctx context.Context, c PasswordChange) (int, error)
}

// PasswordChange completes a change of password.
type PasswordChange struct {
	ChallengeID string
	PersonID    string
	SessionID   string // the session it was made in: kept; the person's others end
	ChipSerial  string // the chip that approved it
	Verifier    []byte // the new verifier the chip approved: must be the one recorded
	At          time.Time
	Audit       []AuditEntry
}

// holdChange reads a password change for the rest of tx and checks it is personID's,
// its old password passed.
func holdChange(ctx context.Context, tx *sql.Tx, id, personID string, at time.Time) (LogonChallenge, error) {
	c, err := holdChallenge(ctx, tx, id, at)
	if err != nil {
		return c, err
	}
	if c.Purpose != PurposePasswordChange || c.PersonID != personID || personID == "" || !c.PasswordOK {
		return c, fmt.Errorf("challenge %s: purpose %q, person %q, password passed %v; not %q's password change: %w",
			c.ID, c.Purpose, c.PersonID, c.PasswordOK, personID, ErrConflict)
	}
	return c, nil
}

// SetNewVerifier records a password change's new verifier.
func (st *sqlStore) SetNewVerifier(ctx context.Context, challengeID, personID string, verifier []byte, at time.Time) (LogonChallenge, error) {
	if len(verifier) == 0 {
		return LogonChallenge{}, errors.New("store: new verifier: the verifier is required")
	}
	var c LogonChallenge
	err := st.inTx(ctx, "password", "new verifier "+challengeID, func(tx *sql.Tx) error {
		var err error
		if c, err = holdChange(ctx, tx, challengeID, personID, at); err != nil {
			return err
		}
		if c.NewVerifier != nil {
			return fmt.Errorf("challenge %s: a new verifier was given before: %w", c.ID, ErrConflict)
		}
		c.NewVerifier = verifier
		_, err = tx.ExecContext(ctx, `UPDATE logon_challenges SET new_verifier = ? WHERE id = ?`, verifier, c.ID)
		return err
	})
	if err != nil {
		return LogonChallenge{}, fmt.Errorf("store: %w", err)
	}
	return c, nil
}

// ChangePassword completes a password change.
func (st *sqlStore) ChangePassword(ctx context.Context, pc PasswordChange) (int, error) {
	if pc.ChallengeID == "" || pc.PersonID == "" || pc.SessionID == "" || pc.ChipSerial == "" || len(pc.Verifier) == 0 {
		return 0, errors.New("store: change password: challenge, person, session, chip and verifier are required")
	}
	var ended int64
	err := st.inTx(ctx, "password", "change "+pc.ChallengeID, func(tx *sql.Tx) error {
		c, err := holdChange(ctx, tx, pc.ChallengeID, pc.PersonID, pc.At)
		if err != nil {
			return err
		}
		if c.NewVerifier == nil || !bytes.Equal(c.NewVerifier, pc.Verifier) {
			return fmt.Errorf("challenge %s: the new verifier is not the one recorded: %w", c.ID, ErrConflict)
		}
		ch, err := holdChip(ctx, tx, pc.ChipSerial)
		if err != nil {
			return err
		}
		if ch.Status != ChipBound || ch.PersonID != pc.PersonID {
			return fmt.Errorf("chip %s is %s for %q, not bound to %q: %w", ch.Serial, ch.Status, ch.PersonID, pc.PersonID, ErrChipTaken)
		}
		live, err := changed(tx.ExecContext(ctx, `UPDATE logon_sessions SET seen_at = seen_at WHERE id = ? AND person_id = ? AND expires_at > ?`,
			pc.SessionID, pc.PersonID, nanos(pc.At)))
		if err != nil {
			return fmt.Errorf("session %s: %w", pc.SessionID, err)
		}
		if !live {
			return fmt.Errorf("session %s of %s: %w", pc.SessionID, pc.PersonID, ErrSessionEnded)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET password_verifier = ?, kdf_salt = ?, kdf_time = ?, kdf_memory_kib = ?,
			kdf_threads = ?, updated_at = ? WHERE person_id = ?`, c.NewVerifier, c.NewKDF.Salt, c.NewKDF.Time, c.NewKDF.MemoryKiB,
			c.NewKDF.Threads, nanos(pc.At), pc.PersonID); err != nil {
			return fmt.Errorf("person %s: %w", pc.PersonID, err)
		}
		if err := st.hit("password/person"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logon_challenges SET used_at = ? WHERE id = ?`, nanos(pc.At), c.ID); err != nil {
			return fmt.Errorf("challenge %s: %w", c.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM logon_failures WHERE user_key = ?`, c.UserKey); err != nil {
			return fmt.Errorf("logon failures: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chips SET last_used_at = ? WHERE serial = ?`, nanos(pc.At), ch.Serial); err != nil {
			return fmt.Errorf("chip %s: %w", ch.Serial, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM logon_sessions WHERE person_id = ? AND id <> ?`, pc.PersonID, pc.SessionID)
		if err != nil {
			return fmt.Errorf("the other sessions of %s: %w", pc.PersonID, err)
		}
		if ended, err = res.RowsAffected(); err != nil {
			return err
		}
		if err := st.hit("password/sessions"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, pc.Audit)
	})
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return int(ended), nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Errors of the person's own acts on their chip (SelfService).
var (
	// ErrNoActiveChip: the person has no chip bound to them, so there is nothing
	// to block.
	ErrNoActiveChip = errors.New("the person has no active chip")
	// ErrChipChanged: the person's active chip is not the one named (it changed
	// since the person was shown it).
	ErrChipChanged = errors.New("the person's active chip is another one")
	// ErrChipBlocked: the chip was blocked by its holder and can never be bound
	// again (ChipBlock says when and why).
	ErrChipBlocked = errors.New("chip blocked by its holder")
)

// The reasons a chip is blocked by its holder (ChipBlock.Reason).
const (
	// BlockReasonLost: blocked from the MitID app because it is lost (or stolen), so
	// the person cannot use it to log on.
	BlockReasonLost = "lost"
	// BlockReasonRequested: blocked by a person logged on at MitID.dk with it, who
	// still had it and asked to block it (stolen later, or no longer wanted).
	BlockReasonRequested = "requested"
)

// MaxAuditPage bounds one page of PersonAudit.
const MaxAuditPage = 100

// ChipBlock is a chip its holder blocked for good.
type ChipBlock struct {
	Serial    string
	PersonID  string
	Reason    string // BlockReasonLost or BlockReasonRequested
	BlockedAt time.Time
}

// BlockRequest is a request to block a person's active chip: from a verified handoff
// token (TokenID), from their MitID.dk session (SessionID), or, with neither, from a
// caseworker at Borgerservice who checked their ID.
type BlockRequest struct {
	Serial   string // the chip the person was shown and confirmed
	PersonID string
	Reason   string
	At       time.Time
	// TokenID is the handoff token's id: a token blocks once. TokenExpiresAt is
	// when the record of its use may go (as Handoff.ExpiresAt). Empty for a block
	// without a token: a caseworker's at Borgerservice, who checked the person's ID.
	TokenID        string
	TokenExpiresAt time.Time
	// SessionID is the person's MitID.dk session the block is asked in: it must
	// not have ended at At (ErrSessionEnded).
	SessionID string
}

// SelfService is what a person does with their own chip and sees of their own
// records, without an operator. Store embeds it.
type SelfService interface {
	// BlockChip blocks the person's active chip for good, in one transaction: the
	// token id is marked used (ErrHandoffUsed if it was, checked first), or for a
	// block from a session, the session must be the person's and not ended at b.At
	// (ErrSessionEnded, checked first); the chip
	// bound to b.PersonID must be b.Serial (ErrNoActiveChip if they have none,
	// ErrChipChanged if it is another); then the chip's status becomes
	// ChipRevoked (final: it is never bound, presented or used again), its block
	// is recorded (ChipBlock), every open activation session that presented it
	// (chip presented or code verified, not expired at b.At) ends (its ExpiresAt
	// becomes b.At, its Version moves on), every MitID.dk session logged on with it
	// ends (the one it was asked in among them), and the audit entries are written. On
	// any error nothing is written and the token stays unused. It returns the chip
	// as written.
	BlockChip(ctx context.Context, b BlockRequest, audit ...AuditEntry) (Chip, error)
	// ChipBlock is the chip's block, or ErrNotFound if its holder never blocked it
	// (a chip an operator revoked has none).
	ChipBlock(ctx context.Context, serial string) (ChipBlock, error)
	// HandoffUsed reports whether a handoff token id has been redeemed (by an
	// activation or a block) and its record is still kept.
	HandoffUsed(ctx context.Context, tokenID string) (bool, error)
	// PersonAudit lists the person's audit entries (PersonID equal to personID),
	// newest first (by ID, descending), at most limit of them (1 to MaxAuditPage;
	// anything else means MaxAuditPage), and only those with an ID below beforeID
	// when beforeID is above 0: the next page starts before the last ID of this one.
	PersonAudit(ctx context.Context, personID string, beforeID int64, limit int) ([]AuditEntry, error)
}

// BlockChip blocks the person's active chip for good.
func (st *sqlStore) BlockChip(ctx context.Context, b BlockRequest, audit ...AuditEntry) (Chip, error) {
	if b.Serial == "" || b.PersonID == "" || b.Reason == "" || (b.TokenID != "" && b.SessionID != "") {
		return Chip{}, fmt.Errorf("store: block chip: serial, person and reason are required, and at most one of a token id and a session")
	}
	var out Chip
	err := st.inTx(ctx, "block", "chip "+b.Serial, func(tx *sql.Tx) error {
		switch {
		case b.TokenID != "":
			fresh, err := changed(tx.ExecContext(ctx, `INSERT INTO used_handoffs (token_id, person_id, used_at, expires_at)
				VALUES (?, ?, ?, ?) ON CONFLICT (token_id) DO NOTHING`, b.TokenID, b.PersonID, nanos(b.At), nanos(b.TokenExpiresAt)))
			if err != nil {
				return fmt.Errorf("token %s: %w", b.TokenID, err)
			}
			if !fresh {
				return fmt.Errorf("token %s: %w", b.TokenID, ErrHandoffUsed)
			}
		case b.SessionID != "":
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM logon_sessions WHERE id = ? AND person_id = ? AND expires_at > ?`,
				b.SessionID, b.PersonID, nanos(b.At)).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("session %s of %s: %w", b.SessionID, b.PersonID, ErrSessionEnded)
			case err != nil:
				return fmt.Errorf("session %s of %s: %w", b.SessionID, b.PersonID, err)
			}
		}
		if err := st.hit("block/token"); err != nil {
			return err
		}
		return blockChip(ctx, st, tx, b, &out, audit)
	})
	if err != nil {
		return Chip{}, err
	}
	return out, nil
}

// blockChip is BlockChip after its token was marked used or its session checked (a
// caseworker's block has neither).
func blockChip(ctx context.Context, st *sqlStore, tx *sql.Tx, b BlockRequest, out *Chip, audit []AuditEntry) error {
	var active string
	err := tx.QueryRowContext(ctx, `SELECT serial FROM chips WHERE person_id = ? AND status = 'bound'`, b.PersonID).Scan(&active)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("person %s: %w", b.PersonID, ErrNoActiveChip)
	case err != nil:
		return err
	case active != b.Serial:
		return fmt.Errorf("person %s has chip %s, not %s: %w", b.PersonID, active, b.Serial, ErrChipChanged)
	}
	c, err := scanChip(tx.QueryRowContext(ctx, `UPDATE chips SET status = 'revoked'
		WHERE serial = ? AND person_id = ? AND status = 'bound' RETURNING `+chipCols, b.Serial, b.PersonID))
	if err != nil {
		return fmt.Errorf("chip %s: %w", b.Serial, err)
	}
	*out = c
	if err := st.hit("block/chip"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO chip_blocks (serial, person_id, reason, blocked_at)
		VALUES (?, ?, ?, ?)`, b.Serial, b.PersonID, b.Reason, nanos(b.At)); err != nil {
		return fmt.Errorf("record the block of %s: %w", b.Serial, err)
	}
	if err := st.hit("block/record"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE activation_sessions SET expires_at = ?, updated_at = ?, version = version + 1
		WHERE chip_serial = ? AND state IN ('chip_presented', 'code_verified') AND expires_at > ?`,
		nanos(b.At), nanos(b.At), b.Serial, nanos(b.At)); err != nil {
		return fmt.Errorf("end the sessions with %s: %w", b.Serial, err)
	}
	// Every MitID.dk session logged on with the chip ends with it.
	if _, err := tx.ExecContext(ctx, `DELETE FROM logon_sessions WHERE chip_serial = ?`, b.Serial); err != nil {
		return fmt.Errorf("end the MitID.dk sessions with %s: %w", b.Serial, err)
	}
	if err := st.hit("block/sessions"); err != nil {
		return err
	}
	return writeAudit(ctx, tx, audit)
}

// ChipBlock returns the chip's block.
func (st *sqlStore) ChipBlock(ctx context.Context, serial string) (ChipBlock, error) {
	var b ChipBlock
	err := st.r.QueryRowContext(ctx, `SELECT serial, person_id, reason, blocked_at FROM chip_blocks WHERE serial = ?`, serial).
		Scan(&b.Serial, &b.PersonID, &b.Reason, timeCol{&b.BlockedAt})
	if err != nil {
		return ChipBlock{}, fmt.Errorf("store: block of chip %s: %w", serial, notFound(err))
	}
	return b, nil
}

// HandoffUsed reports whether the token id was redeemed.
func (st *sqlStore) HandoffUsed(ctx context.Context, tokenID string) (bool, error) {
	var one int
	err := st.r.QueryRowContext(ctx, `SELECT 1 FROM used_handoffs WHERE token_id = ?`, tokenID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: handoff %s used: %w", tokenID, err)
	}
	return true, nil
}

// PersonAudit lists the person's audit entries, newest first.
func (st *sqlStore) PersonAudit(ctx context.Context, personID string, beforeID int64, limit int) ([]AuditEntry, error) {
	if limit < 1 || limit > MaxAuditPage {
		limit = MaxAuditPage
	}
	q := `SELECT id, at, activation_id, person_id, event, detail FROM audit_log WHERE person_id = ?`
	args := []any{personID}
	if beforeID > 0 {
		q += ` AND id < ?`
		args = append(args, beforeID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := st.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit entries of person %s: %w", personID, err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.ActivationID, &e.PersonID, &e.Event, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit entries of person %s: %w", personID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit entries of person %s: %w", personID, err)
	}
	return out, nil
}

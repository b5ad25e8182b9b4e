// Package block is a person blocking their own MitID chip without it, as a plain Go
// state machine: the MitID app's backend hands the person over with a handoff token
// whose purpose is blocking (handoff.PurposeBlockChip); the person is shown their
// active chip and confirms; the chip is then blocked for good, the token used once,
// in one store transaction. It knows nothing of HTTP; server/api is its adapter.
//
// A person who has lost their chip cannot log on with it, so this is how they reach
// it: through the app, where they proved who they are without the chip.
package block

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"mitidchip/server/activation"
	"mitidchip/server/handoff"
	"mitidchip/server/store"
)

// The refusals of blocking, beside the handoff's own (activation.CodeHandoff*).
const (
	// CodeNoActiveChip: the person has no active chip: nothing to block (never had
	// one, or blocked it already).
	CodeNoActiveChip activation.Code = "no_active_chip"
	// CodeChipChanged: the chip the person confirmed is not their active chip any
	// more (they activated another since the page showed it).
	CodeChipChanged activation.Code = "chip_changed"
	// CodeNotLoggedOn: a block from MitID.dk whose session has ended.
	CodeNotLoggedOn activation.Code = "not_logged_on"
)

// HandoffMargin is how much longer than the token can verify the record of its use
// is kept, as for activation (activation.HandoffMargin).
const HandoffMargin = activation.HandoffMargin

// maxSerial bounds the serial a request names; registered serials are far shorter.
const maxSerial = 64

// Service blocks chips.
type Service struct {
	store store.Store
	now   func() time.Time
}

// New returns the service on st, reading the time from now.
func New(st store.Store, now func() time.Time) (*Service, error) {
	if st == nil || now == nil {
		return nil, errors.New("block: needs a store and a clock")
	}
	return &Service{store: st, now: now}, nil
}

// Target is the chip a block token would block: the person's active chip.
type Target struct {
	Serial      string
	ActivatedAt time.Time // when it was bound to the person
}

// Blocked is a chip just blocked.
type Blocked struct {
	Serial    string
	BlockedAt time.Time
}

// Show is the person's active chip, which the verified token lets them block. It
// writes nothing: the token stays unused until Block.
func (s *Service) Show(ctx context.Context, claims handoff.Claims) (Target, error) {
	if err := checkPurpose(claims); err != nil {
		return Target{}, err
	}
	used, err := s.store.HandoffUsed(ctx, claims.TokenID)
	switch {
	case err != nil:
		return Target{}, internal(err)
	case used:
		return Target{}, refuse(activation.CodeHandoffUsed, fmt.Errorf("token %s used", claims.TokenID))
	}
	c, err := s.store.ActiveChip(ctx, claims.PersonID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Target{}, refuse(CodeNoActiveChip, err)
	case err != nil:
		return Target{}, internal(err)
	}
	return Target{Serial: c.Serial, ActivatedAt: c.BoundAt}, nil
}

// Block blocks the person's active chip, which must be serial (the one they were
// shown), for good: the chip is never bound, presented or used again, the person's
// open activations with it end, and the token cannot be used again. On a refusal
// nothing changes and the token stays unused.
func (s *Service) Block(ctx context.Context, claims handoff.Claims, serial string) (Blocked, error) {
	if err := checkPurpose(claims); err != nil {
		return Blocked{}, err
	}
	if !ValidSerial(serial) {
		return Blocked{}, refuse(CodeChipChanged, fmt.Errorf("serial of the wrong form (%d bytes)", len(serial)))
	}
	now := s.now()
	detail, _ := json.Marshal(map[string]string{ // strings only: cannot fail
		"serial": serial, "reason": store.BlockReasonLost, "by": "person", "via": "mitid_app", "token_id": claims.TokenID,
	})
	_, err := s.store.BlockChip(ctx, store.BlockRequest{
		Serial: serial, PersonID: claims.PersonID, Reason: store.BlockReasonLost, At: now,
		TokenID: claims.TokenID, TokenExpiresAt: claims.Expiry.Add(handoff.Leeway + HandoffMargin),
	}, store.AuditEntry{At: now, PersonID: claims.PersonID, Event: EventChipBlocked, Detail: string(detail)})
	switch {
	case errors.Is(err, store.ErrHandoffUsed):
		return Blocked{}, refuse(activation.CodeHandoffUsed, err)
	case errors.Is(err, store.ErrNoActiveChip):
		return Blocked{}, refuse(CodeNoActiveChip, err)
	case errors.Is(err, store.ErrChipChanged):
		return Blocked{}, refuse(CodeChipChanged, err)
	case err != nil:
		return Blocked{}, internal(err)
	}
	return Blocked{Serial: serial, BlockedAt: now}, nil
}

// BlockOwn blocks, for good, the active chip of the person logged on at MitID.dk in
// session s, which must be serial (the one they were shown): a person who still has
// their chip and wants it blocked (stolen later, or no longer wanted). The same
// store path as Block, without a token: the session must still be live, and ends
// with the block, as does every other MitID.dk session logged on with the chip. On
// a refusal nothing changes.
func (s *Service) BlockOwn(ctx context.Context, sess store.LogonSession, serial string) (Blocked, error) {
	if !ValidSerial(serial) {
		return Blocked{}, refuse(CodeChipChanged, fmt.Errorf("serial of the wrong form (%d bytes)", len(serial)))
	}
	now := s.now()
	detail, _ := json.Marshal(map[string]string{ // strings only: cannot fail
		"serial": serial, "reason": store.BlockReasonRequested, "by": "person", "via": "mitid_dk", "session": sess.ID,
	})
	_, err := s.store.BlockChip(ctx, store.BlockRequest{
		Serial: serial, PersonID: sess.PersonID, Reason: store.BlockReasonRequested, At: now, SessionID: sess.ID,
	}, store.AuditEntry{At: now, PersonID: sess.PersonID, Event: EventChipBlocked, Detail: string(detail)})
	switch {
	case errors.Is(err, store.ErrSessionEnded):
		return Blocked{}, refuse(CodeNotLoggedOn, err)
	case errors.Is(err, store.ErrNoActiveChip):
		return Blocked{}, refuse(CodeNoActiveChip, err)
	case errors.Is(err, store.ErrChipChanged):
		return Blocked{}, refuse(CodeChipChanged, err)
	case err != nil:
		return Blocked{}, internal(err)
	}
	return Blocked{Serial: serial, BlockedAt: now}, nil
}

// EventChipBlocked is the audit event of a block.
const EventChipBlocked = "chip_blocked"

// ValidSerial reports whether s could be a chip's serial: 1 to 64 bytes of printable
// ASCII.
func ValidSerial(s string) bool {
	if s == "" || len(s) > maxSerial || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkPurpose refuses claims of any token but a block token: the API verifies with
// a Verifier for PurposeBlockChip, and this keeps it so should that ever change.
func checkPurpose(c handoff.Claims) error {
	if c.Purpose != handoff.PurposeBlockChip {
		return refuse(activation.CodeHandoffInvalid, fmt.Errorf("%w: pur %q at block", handoff.ErrPurpose, c.Purpose))
	}
	return nil
}

func refuse(code activation.Code, err error) *activation.Error {
	return &activation.Error{Code: code, Err: err}
}

func internal(err error) *activation.Error {
	return &activation.Error{Code: activation.CodeInternal, Err: err}
}

package activation

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"mitidchip/credential/kdf"
	"mitidchip/credential/userid"
	"mitidchip/server/store"
)

// Assisted activation (docs/borgerservice.md): a caseworker at Borgerservice checked
// the person's ID, and the server starts their activation exactly as the app's
// handoff would (store.RedeemHandoff: a token id used once, the person's limits, the
// person created or given the user ID), with the caseworker's ID check written in
// the same transaction. No one holds the new session's cookie: the person reaches
// it only by the handover code made at once (BeginHandover: one use, minutes), on
// their own phone or on the counter's device.

// AssistedTokenPrefix names the token id an assisted activation records in place of
// a handoff token's: "counter:" and the activation's id.
const AssistedTokenPrefix = "counter:"

// AssistedStart is what the caseworker's check gives the ceremony.
type AssistedStart struct {
	PersonID string
	UserID   string // the MitID user ID the person will log on with (userid.Check)
	Check    store.Assisted
	// Detail is the audit entry's detail (caseworker, office, document type): never
	// the document number.
	Detail map[string]any
}

// Assisted is an assisted activation started: its session and its handover code.
type Assisted struct {
	Session  store.Session
	Handover Handover
}

// EventAssistedStarted is the audit event of an assisted activation's start.
const EventAssistedStarted = "assisted_activation_started"

// StartAssisted starts an activation for a.PersonID from a caseworker's ID check
// and makes its handover code. The person may have no other activation open
// (store.ErrTooManySessions); the store's own refusals (store.ErrNotStaff,
// store.ErrTooManyAssisted, store.ErrTooManyHandoffs, store.ErrUserIDTaken) come
// back wrapped, for the caller to name, and then nothing was written.
func (c *Ceremony) StartAssisted(ctx context.Context, a AssistedStart) (Assisted, error) {
	if a.PersonID == "" {
		return Assisted{}, errors.New("assisted activation: person id is required")
	}
	if rs := userid.Check(a.UserID); rs != nil {
		return Assisted{}, refuse(CodeUserIDMissing, fmt.Errorf("assisted activation: user ID breaks the rules %v", rs))
	}
	cookie, err := c.randomBytes(CookieSize) // thrown away: the handover gives the cookie
	if err != nil {
		return Assisted{}, internal(err)
	}
	id, err := c.random(16)
	if err != nil {
		return Assisted{}, internal(err)
	}
	salt, err := kdf.NewSalt(c.cfg.Rand)
	if err != nil {
		return Assisted{}, internal(err)
	}
	now := c.cfg.Now()
	hash := sha256.Sum256(cookie)
	s := store.Session{
		ID: id, PersonID: a.PersonID, CookieHash: hash[:], CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL),
		KDF: store.KDF{Salt: salt, Time: c.cfg.KDF.Time, MemoryKiB: c.cfg.KDF.MemoryKiB, Threads: c.cfg.KDF.Threads},
	}
	check := a.Check
	check.CreatedAt = now
	h := store.Handoff{
		TokenID: AssistedTokenPrefix + id, PersonID: a.PersonID, UserID: a.UserID, UsedAt: now,
		ExpiresAt: s.ExpiresAt.Add(HandoffMargin),
		// One activation open at a time: a second is refused, and the caseworker
		// may end the first (store.EndActivations).
		Limits:   store.Limits{MaxHandoffs: c.cfg.HandoffsPerHour, Window: time.Hour, MaxOpenSessions: 1},
		Assisted: &check,
	}
	s, err = c.cfg.Store.RedeemHandoff(ctx, h, s, c.audit(s, EventAssistedStarted, a.Detail))
	if err != nil {
		return Assisted{}, fmt.Errorf("assisted activation: %w", err)
	}
	ho, err := c.BeginHandover(ctx, s)
	if err != nil {
		return Assisted{}, err
	}
	return Assisted{Session: s, Handover: ho}, nil
}

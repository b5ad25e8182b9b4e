package activation

import (
	"context"
	"crypto/sha256"
	"errors"

	"strings"
	"time"

	"mitidchip/server/store"
)

// Continue on another device (docs/decisions.md, "Continue on another device"): a
// browser that cannot reach the chip hands its activation, still at the password
// step, to another device by a short one-time code.
const (
	// HandoverTTL is how long a handover code works, at most (never past the session).
	HandoverTTL = 10 * time.Minute
	// HandoverMaxWrong wrong codes for one handover void it.
	HandoverMaxWrong = 5
	// HandoverCodeLen is the code's length: 40 bits from HandoverAlphabet. Its first
	// half finds the handover, so wrong codes count on it; the whole must match.
	HandoverCodeLen = 8
	// HandoverAlphabet has no 0/O, 1/I: easy to read aloud and to type.
	HandoverAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
)

// Handover is a code made for the other device, and when it stops working.
type Handover struct {
	Code      string
	ExpiresAt time.Time
}

// HandoverState is how a handover code stands for the device that made it.
type HandoverState string

const (
	// HandoverOpen: the code may still be redeemed.
	HandoverOpen HandoverState = "open"
	// HandoverExpired: its minutes are up, unused.
	HandoverExpired HandoverState = "expired"
	// HandoverVoid: HandoverMaxWrong wrong codes voided it.
	HandoverVoid HandoverState = "void"
)

// HandoverStatus is the newest unused handover of an activation, as the device that
// made it may know it (it holds the code already).
type HandoverStatus struct {
	State     HandoverState
	ExpiresAt time.Time
}

// handoverStatus is the newest unused handover of the activation, or nil. A used one
// is not reported: the device that made it has lost its session by then.
func (c *Ceremony) handoverStatus(ctx context.Context, activationID string) (*HandoverStatus, error) {
	hs, err := c.cfg.Store.Handovers(ctx, activationID)
	if err != nil {
		return nil, internal(err)
	}
	if len(hs) == 0 || !hs[len(hs)-1].UsedAt.IsZero() {
		return nil, nil
	}
	h := hs[len(hs)-1]
	st := HandoverStatus{State: HandoverOpen, ExpiresAt: h.ExpiresAt}
	switch {
	case h.WrongCodes >= HandoverMaxWrong:
		st.State = HandoverVoid
	case !c.cfg.Now().Before(h.ExpiresAt):
		st.State = HandoverExpired
	}
	return &st, nil
}

// BeginHandover makes a one-time code that moves s to another device. s must be at
// the password step; a code made before for s stops working.
func (c *Ceremony) BeginHandover(ctx context.Context, s store.Session) (Handover, error) {
	if err := expect(s, store.StateRedeemed); err != nil {
		return Handover{}, err
	}
	now := c.cfg.Now()
	expires := now.Add(HandoverTTL)
	if s.ExpiresAt.Before(expires) {
		expires = s.ExpiresAt
	}
	if !expires.After(now) {
		return Handover{}, refuse(CodeSessionExpired, errors.New("session expires before a handover could be used"))
	}
	// A lookup hash can meet another live handover's (20 bits): draw again.
	for range 4 {
		code, err := c.handoverCode()
		if err != nil {
			return Handover{}, internal(err)
		}
		lookup, whole := handoverHashes(code)
		err = c.cfg.Store.CreateHandover(ctx, store.Handover{LookupHash: lookup, CodeHash: whole, ActivationID: s.ID, CreatedAt: now, ExpiresAt: expires},
			c.audit(s, "handover_created", map[string]any{"expires_at": expires.UTC().Format(time.RFC3339)}))
		switch {
		case errors.Is(err, store.ErrHandoverTaken):
			continue
		case errors.Is(err, store.ErrConflict):
			return Handover{}, refuse(CodeOutOfOrder, err)
		case err != nil:
			return Handover{}, internal(err)
		}
		return Handover{Code: code, ExpiresAt: expires}, nil
	}
	return Handover{}, internal(errors.New("handover: no free lookup hash in 4 draws"))
}

// FinishHandover redeems a code on the other device: the same session, still at the
// password step, under a new cookie; the first device's cookie stops working.
func (c *Ceremony) FinishHandover(ctx context.Context, code string) (Started, error) {
	norm, ok := NormalizeHandoverCode(code)
	if !ok {
		// Not a code at all: no handover to count it on (the address limit does).
		return Started{}, refuse(CodeHandoverWrong, errors.New("handover code of the wrong form"))
	}
	cookie, err := c.random(CookieSize)
	if err != nil {
		return Started{}, internal(err)
	}
	now := c.cfg.Now()
	lookup, whole := handoverHashes(norm)
	cookieHash := sha256.Sum256([]byte(cookie))
	s, err := c.cfg.Store.RedeemHandover(ctx, store.HandoverRedemption{
		LookupHash: lookup, CodeHash: whole, CookieHash: cookieHash[:], At: now, MaxWrong: HandoverMaxWrong,
		Redeemed: store.AuditEntry{At: now, Event: "handover_redeemed", Detail: "{}"},
		Rejected: store.AuditEntry{At: now, Event: "handover_rejected", Detail: "{}"},
	})
	switch {
	case errors.Is(err, store.ErrHandoverWrong):
		return Started{}, refuse(CodeHandoverWrong, err)
	case errors.Is(err, store.ErrHandoverVoid):
		return Started{}, refuse(CodeHandoverVoid, err)
	case errors.Is(err, store.ErrHandoverExpired):
		return Started{}, refuse(CodeHandoverExpired, err)
	case errors.Is(err, store.ErrHandoverUsed), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Used, or the first device went on with the activation (or it was swept):
		// either way this code no longer leads anywhere.
		return Started{}, refuse(CodeHandoverUsed, err)
	case err != nil:
		return Started{}, internal(err)
	}
	return Started{Session: s, Cookie: cookie}, nil
}

// NormalizeHandoverCode is code as the person may type it (lower case, spaces,
// hyphens) in its stored form, and whether it has that form.
func NormalizeHandoverCode(code string) (string, bool) {
	if len(code) > 32 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == ' ' || r == '-' || r == '.' || r == '\u00a0':
		case r < 128 && strings.ContainsRune(HandoverAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != HandoverCodeLen {
		return "", false
	}
	return b.String(), true
}

// FormatHandoverCode is the code as shown: two groups of four.
func FormatHandoverCode(code string) string {
	if len(code) != HandoverCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

func (c *Ceremony) handoverCode() (string, error) {
	b, err := c.randomBytes(HandoverCodeLen)
	if err != nil {
		return "", err
	}
	for i := range b {
		b[i] = HandoverAlphabet[int(b[i])%len(HandoverAlphabet)] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}

// handoverHashes are what the store keeps of a code: the SHA-256 of its first half
// (which finds it) and of the whole.
func handoverHashes(code string) (lookup, whole []byte) {
	l := sha256.Sum256([]byte("handover-lookup:" + code[:HandoverCodeLen/2]))
	w := sha256.Sum256([]byte("handover-code:" + code))
	return l[:], w[:]
}

// Package activation is the activation ceremony as a plain Go state machine: redeem
// the app's handoff, set the password verifier, present the chip, check its one-time
// code and bind it with its signature. It knows nothing of HTTP; all state between
// calls lives in the store (atomic, single use, expiring), so any instance can answer.
// server/api is a thin HTTP adapter over it.
package activation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"mitidchip/chip"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/credential/userid"
	"mitidchip/server/handoff"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// Limits of the ceremony (docs/decisions.md, "A chip lock that lifts").
const (
	// BlockAfter wrong codes in a row block the activation (MitID's rule).
	BlockAfter = 3
	// ChipLockAfter wrong codes in a row by one person on one chip, across their
	// sessions, lock that person (no one else) out of the chip: cycling sessions does
	// not buy more guesses, and a stranger's wrong codes never lock out its holder.
	// The lock lifts after ChipFirstLock; each further lock of the person before
	// their right code lasts twice as long as the one before, up to ChipMaxLock.
	ChipLockAfter = 10
	ChipFirstLock = 15 * time.Minute
	ChipMaxLock   = 24 * time.Hour
	// ChipAttempts codes, right or wrong, may be checked per chip in a window of
	// ChipAttemptWindow, whoever sends them from wherever: the bound on guessing
	// across many identities, each with its own lock.
	ChipAttempts      = 10
	ChipAttemptWindow = 10 * time.Minute
	// CookieSize is the session cookie's entropy in bytes.
	CookieSize = 32
	nonceSize  = 32

	// HandoffsPerHour is how many handoffs one person may redeem in an hour, and
	// OpenSessions how many activations they may have open at once: limits on the
	// person, not on an address, so that no one can prepare code guesses in bulk and
	// no one but the person is held up by them.
	HandoffsPerHour = 10
	OpenSessions    = 3
	// HandoffMargin is how much longer than a token can verify (its expiry plus
	// handoff.Leeway) the record of its use is kept: it covers clock differences
	// between the instance that sweeps and the one that verifies.
	HandoffMargin = time.Minute
)

// DefaultLimits are the code limits the ceremony applies unless Config says others.
var DefaultLimits = store.CodeLimits{
	BlockAfter: BlockAfter, LockAfter: ChipLockAfter, FirstLock: ChipFirstLock, MaxLock: ChipMaxLock,
	Attempts: ChipAttempts, AttemptWindow: ChipAttemptWindow,
}

// Config is what the ceremony needs. Now and Rand are injected so tests pin time and
// randomness.
type Config struct {
	Store      store.Store
	Registry   *registry.Registry
	Now        func() time.Time
	Rand       io.Reader
	KDF        kdf.Params
	SessionTTL time.Duration // default 30 minutes
	// Per-person limits; zero means the default (HandoffsPerHour, OpenSessions).
	HandoffsPerHour, OpenSessions int
	// Limits bound code attempts per session and per chip; the zero value means
	// DefaultLimits.
	Limits store.CodeLimits
}

// Ceremony runs activations.
type Ceremony struct {
	cfg Config
}

// New checks cfg and returns the ceremony.
func New(cfg Config) (*Ceremony, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("activation: config needs Store, Registry, Now and Rand")
	}
	if err := cfg.KDF.Validate(); err != nil {
		return nil, err
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.HandoffsPerHour <= 0 {
		cfg.HandoffsPerHour = HandoffsPerHour
	}
	if cfg.OpenSessions <= 0 {
		cfg.OpenSessions = OpenSessions
	}
	if cfg.Limits == (store.CodeLimits{}) {
		cfg.Limits = DefaultLimits
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	return &Ceremony{cfg: cfg}, nil
}

// SessionTTL is how long an activation session lives.
func (c *Ceremony) SessionTTL() time.Duration { return c.cfg.SessionTTL }

// Step is where an activation is, as the page names it.
type Step string

// The steps, in ceremony order; StepCompleted and StepBlocked are final.
const (
	StepPassword  Step = "password"
	StepChip      Step = "chip"
	StepCode      Step = "code"
	StepSign      Step = "sign"
	StepCompleted Step = "completed"
	StepBlocked   Step = "blocked"
)

var steps = map[store.State]Step{
	store.StateRedeemed:      StepPassword,
	store.StatePasswordSet:   StepChip,
	store.StateChipPresented: StepCode,
	store.StateCodeVerified:  StepSign,
	store.StateCompleted:     StepCompleted,
	store.StateBlocked:       StepBlocked,
}

// View is what the page needs to render (or, after a reload, resume) an activation.
type View struct {
	ActivationID string
	Step         Step
	UserID       string
	TriesLeft    int
	ChipSerial   string
	// Binding is present from the code step on: the transcript fields the page does
	// not already know for sure.
	Binding *transcript.Binding
	// Handover is the newest unused handover code made for this activation, at the
	// password step only (nil if none): what the device that made it watches for.
	Handover *HandoverStatus
	// Office is the Borgerservice office where a caseworker started the activation
	// (docs/borgerservice.md); empty for one the app's handoff started.
	Office string
}

// PasswordParams is the Argon2id salt and cost for this person's password, and the
// user ID the password must not contain.
type PasswordParams struct {
	KDF    store.KDF
	UserID string
}

// Started is a redeemed handoff: the new session and the cookie that names it. The
// cookie is given to the browser and never stored; the store keeps its hash.
type Started struct {
	Session store.Session
	Cookie  string
	// Again is set when the redemption was a retry of one whose answer was lost: the
	// session is the one that redemption started, with a new cookie.
	Again bool
}

// View describes s for the page.
func (c *Ceremony) View(ctx context.Context, s store.Session) (View, error) {
	p, err := c.cfg.Store.Person(ctx, s.PersonID)
	if err != nil {
		return View{}, internal(err)
	}
	v := View{ActivationID: s.ID, Step: steps[s.State], UserID: p.UserID, TriesLeft: max(0, c.cfg.Limits.BlockAfter-s.WrongCodes), ChipSerial: s.ChipSerial}
	if s.State == store.StateChipPresented || s.State == store.StateCodeVerified {
		b := bindingOf(s)
		v.Binding = &b
	}
	if s.State == store.StateRedeemed {
		h, err := c.handoverStatus(ctx, s.ID)
		if err != nil {
			return View{}, err
		}
		v.Handover = h
	}
	a, err := c.cfg.Store.AssistedActivation(ctx, s.ID)
	switch {
	case err == nil:
		v.Office = a.Office
	case !errors.Is(err, store.ErrNotFound):
		return View{}, internal(err)
	}
	return v, nil
}

func bindingOf(s store.Session) transcript.Binding {
	return transcript.Binding{
		ActivationID: s.ID, UserID: s.PersonID, ChipSerial: s.ChipSerial, ChipPublicKey: s.ChipPublicKey,
		PasswordVerifier: s.PasswordVerifier, Nonce: s.Nonce,
	}
}

// Request ids: the client chooses one per handoff token (16 random bytes, unpadded
// base64url) and sends it with every try to redeem it, so that a try whose answer was
// lost can be repeated by that client and by no other.
const (
	minRequestID = 22 // 128 bits
	maxRequestID = 64
)

// ValidRequestID reports whether id has the form of a request id: 22 to 64
// characters of the base64url alphabet.
func ValidRequestID(id string) bool {
	if len(id) < minRequestID || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Redeem begins an activation from a verified handoff: it records the token as used
// and creates the person (if new) and the session, all in one step, within the
// person's limits. requestID is the client's id for this redemption (ValidRequestID):
// when the token was used already, by this same request id, and its session has not
// moved on, the client lost the first answer, and gets the same session under a new
// cookie (Started.Again); the old cookie stops working.
func (c *Ceremony) Redeem(ctx context.Context, claims handoff.Claims, requestID string) (Started, error) {
	if !ValidRequestID(requestID) {
		return Started{}, internal(errors.New("redeem: request id of the wrong form"))
	}
	// Every person logs on with a MitID user ID (server/logon), so the handoff must
	// carry one that keeps MitID's rules.
	if claims.UserID == "" {
		return Started{}, refuse(CodeUserIDMissing, errors.New("handoff token without a user ID"))
	}
	if rs := userid.Check(claims.UserID); rs != nil {
		return Started{}, refuse(CodeUserIDMissing, fmt.Errorf("handoff token's user ID breaks the rules %v", rs))
	}
	cookie, err := c.random(CookieSize)
	if err != nil {
		return Started{}, internal(err)
	}
	id, err := c.random(16)
	if err != nil {
		return Started{}, internal(err)
	}
	salt, err := kdf.NewSalt(c.cfg.Rand)
	if err != nil {
		return Started{}, internal(err)
	}
	now := c.cfg.Now()
	hash := sha256.Sum256([]byte(cookie))
	reqHash := sha256.Sum256([]byte(requestID))
	s := store.Session{
		ID: id, PersonID: claims.PersonID, CookieHash: hash[:], RequestHash: reqHash[:], CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(c.cfg.SessionTTL),
		KDF:       store.KDF{Salt: salt, Time: c.cfg.KDF.Time, MemoryKiB: c.cfg.KDF.MemoryKiB, Threads: c.cfg.KDF.Threads},
	}
	h := store.Handoff{
		TokenID: claims.TokenID, PersonID: claims.PersonID, UserID: claims.UserID, UsedAt: now,
		// Kept while the token could still verify, or a sweep would let it be redeemed again.
		ExpiresAt: claims.Expiry.Add(handoff.Leeway + HandoffMargin),
		Limits:    store.Limits{MaxHandoffs: c.cfg.HandoffsPerHour, Window: time.Hour, MaxOpenSessions: c.cfg.OpenSessions},
	}
	s, err = c.cfg.Store.RedeemHandoff(ctx, h, s, c.audit(s, "handoff_redeemed", map[string]any{"token_id": claims.TokenID}))
	switch {
	case errors.Is(err, store.ErrHandoffUsed):
		return c.redeemAgain(ctx, claims, reqHash[:], cookie, hash[:], err)
	case errors.Is(err, store.ErrTooManyHandoffs):
		return Started{}, refuse(CodeTooManyHandoffs, err)
	case errors.Is(err, store.ErrTooManySessions):
		return Started{}, refuse(CodeTooManySessions, err)
	case errors.Is(err, store.ErrUserIDTaken):
		return Started{}, conflict(CodeUserIDTaken, err)
	case err != nil:
		return Started{}, internal(err)
	}
	return Started{Session: s, Cookie: cookie}, nil
}

// redeemAgain answers a used token: the same client retrying gets its session under
// a new cookie; anyone else is refused as before.
func (c *Ceremony) redeemAgain(ctx context.Context, claims handoff.Claims, reqHash []byte, cookie string, cookieHash []byte, used error) (Started, error) {
	// The store names the session in the audit entry: only it knows which one it is.
	s, err := c.cfg.Store.RedeemAgain(ctx, claims.TokenID, reqHash, cookieHash, c.cfg.Now(),
		c.audit(store.Session{PersonID: claims.PersonID}, "handoff_redeemed_again", map[string]any{"token_id": claims.TokenID}))
	switch {
	case errors.Is(err, store.ErrHandoffUsed):
		return Started{}, refuse(CodeHandoffUsed, err)
	case errors.Is(err, store.ErrNotFound):
		// Used a moment ago, swept since: a replay all the same.
		return Started{}, refuse(CodeHandoffUsed, errors.Join(used, err))
	case err != nil:
		return Started{}, internal(err)
	}
	return Started{Session: s, Cookie: cookie, Again: true}, nil
}

// Resume finds the activation a session cookie names; an expired session is refused
// unless it completed.
func (c *Ceremony) Resume(ctx context.Context, cookie string) (store.Session, error) {
	if len(cookie) == 0 || len(cookie) > 128 {
		return store.Session{}, refuse(CodeNoSession, errors.New("no session cookie"))
	}
	h := sha256.Sum256([]byte(cookie))
	s, err := c.cfg.Store.SessionByCookie(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, refuse(CodeNoSession, errors.New("unknown session cookie"))
	}
	if err != nil {
		return store.Session{}, internal(err)
	}
	if s.State != store.StateCompleted && !c.cfg.Now().Before(s.ExpiresAt) {
		return s, refuse(CodeSessionExpired, errors.New("session expired at "+s.ExpiresAt.Format(time.RFC3339)))
	}
	return s, nil
}

// PasswordParams says how the page derives the password verifier.
func (c *Ceremony) PasswordParams(ctx context.Context, s store.Session) (PasswordParams, error) {
	if err := expect(s, store.StateRedeemed); err != nil {
		return PasswordParams{}, err
	}
	p, err := c.cfg.Store.Person(ctx, s.PersonID)
	if err != nil {
		return PasswordParams{}, internal(err)
	}
	return PasswordParams{KDF: s.KDF, UserID: p.UserID}, nil
}

// SetPassword records the password verifier (an Ed25519 public key derived from the
// password; the password never reaches the server).
func (c *Ceremony) SetPassword(ctx context.Context, s store.Session, verifier []byte) (store.Session, error) {
	if err := expect(s, store.StateRedeemed); err != nil {
		return s, err
	}
	if err := kdf.CheckVerifier(verifier); err != nil {
		return s, refuse(CodeVerifierInvalid, err)
	}
	s.PasswordVerifier, s.State, s.UpdatedAt = verifier, store.StatePasswordSet, c.cfg.Now()
	return c.update(ctx, s, c.audit(s, "password_set", nil))
}

// PresentChip checks the chip's hello (exactly as the chip sent it) against the
// registry. A person may present a chip again (another chip, or after a lost link)
// until the code is accepted.
func (c *Ceremony) PresentChip(ctx context.Context, s store.Session, hello []byte) (store.Session, error) {
	if err := expect(s, store.StatePasswordSet, store.StateChipPresented); err != nil {
		return s, err
	}
	h, err := chip.ParseHello(hello)
	if err != nil {
		return s, refuse(CodeHelloInvalid, err)
	}
	ch, err := c.cfg.Registry.Attest(ctx, h, c.cfg.Now())
	if err != nil {
		return s, chipRefused(err)
	}
	if ch.Status == store.ChipBound && ch.PersonID != s.PersonID {
		return s, refuse(CodeChipTaken, errors.New("chip "+ch.Serial+" bound to another person"))
	}
	nonce, err := c.randomBytes(nonceSize)
	if err != nil {
		return s, internal(err)
	}
	s.ChipSerial, s.ChipPublicKey, s.Nonce = h.Serial, h.PublicKey, nonce
	s.State, s.UpdatedAt = store.StateChipPresented, c.cfg.Now()
	return c.update(ctx, s, c.audit(s, "chip_presented", map[string]any{"serial": h.Serial, "firmware": h.Firmware}))
}

func chipRefused(err error) error {
	switch {
	case errors.Is(err, registry.ErrUnknownChip):
		return refuse(CodeChipUnknown, err)
	case errors.Is(err, registry.ErrBlocked):
		return refuse(CodeChipBlocked, err)
	case errors.Is(err, registry.ErrRevoked), errors.Is(err, registry.ErrRetired):
		return refuse(CodeChipRevoked, err)
	case errors.Is(err, registry.ErrUntrustedCA), errors.Is(err, registry.ErrNotAttested):
		return refuse(CodeChipNotAttested, err)
	}
	return internal(err)
}

// CheckCode checks the one-time code the person read off the chip's display. The
// code is checked first; the store then admits the attempt (the person not locked
// out of the chip, its attempts not used up) in the same step that records it, so
// racing requests cannot all slip under the lock, and a refused attempt looks the
// same whether its code was right or not.
func (c *Ceremony) CheckCode(ctx context.Context, s store.Session, code string) (store.Session, error) {
	if err := expect(s, store.StateChipPresented); err != nil {
		return s, err
	}
	ch, err := c.cfg.Store.Chip(ctx, s.ChipSerial)
	if err != nil {
		return s, internal(err)
	}
	now := c.cfg.Now()
	step, err := c.cfg.Registry.CheckCode(ch, code, now)
	switch {
	case errors.Is(err, registry.ErrCodeFormat):
		return s, refuse(CodeCodeFormat, err)
	case errors.Is(err, registry.ErrWrongCode):
		return c.wrongCode(ctx, s, now, err)
	case err != nil && !errors.Is(err, registry.ErrStepReplayed):
		return s, internal(err)
	}
	// A replayed step goes to the store too, which refuses it with ErrStepUsed once
	// the attempt is admitted.
	out, err := c.cfg.Store.AcceptCode(ctx, s, step, registry.MaxStep(now), c.cfg.Limits, now,
		c.audit(s, "code_accepted", map[string]any{"serial": ch.Serial}))
	if err != nil {
		return s, attemptRefused(err)
	}
	return out, nil
}

func (c *Ceremony) wrongCode(ctx context.Context, s store.Session, now time.Time, reason error) (store.Session, error) {
	out, f, err := c.cfg.Store.RejectCode(ctx, s, c.cfg.Limits, now,
		c.audit(s, "code_rejected", map[string]any{"serial": s.ChipSerial, "wrong_in_a_row": s.WrongCodes + 1}))
	if err != nil {
		return s, attemptRefused(err)
	}
	if f.LockedAt(now) {
		// This code locked the person out of the chip: say so now, and until when,
		// rather than at their next try.
		return out, &Error{Code: CodeChipLocked, Err: fmt.Errorf("%w; it locks the person out of chip %s", reason, f.Serial), RetryAt: f.LockedUntil}
	}
	if out.State == store.StateBlocked {
		return out, refuse(CodeActivationBlocked, reason)
	}
	e := refuse(CodeCodeWrong, reason)
	e.TriesLeft = c.cfg.Limits.BlockAfter - out.WrongCodes
	return out, e
}

// attemptRefused is the refusal for a code attempt the store did not record.
func attemptRefused(err error) *Error {
	var retry *store.RetryError
	switch {
	case errors.As(err, &retry) && errors.Is(err, store.ErrChipLocked):
		return &Error{Code: CodeChipLocked, Err: err, RetryAt: retry.Until}
	case errors.As(err, &retry):
		return &Error{Code: CodeTooManyCodes, Err: err, RetryAt: retry.Until}
	case errors.Is(err, store.ErrChipTaken):
		return refuse(CodeChipTaken, err)
	case errors.Is(err, store.ErrStepUsed):
		return refuse(CodeCodeUsed, err)
	case errors.Is(err, store.ErrConflict):
		// Another request for this session (a second tab, a double submit) changed it
		// first; the page reloads the state rather than report a server fault.
		return refuse(CodeOutOfOrder, err)
	}
	return internal(err)
}

// Finish binds the chip: its signature over the binding transcript must verify with
// its attested key; then the person, the chip and the session change in one step.
func (c *Ceremony) Finish(ctx context.Context, s store.Session, signature []byte) (store.Session, error) {
	if err := expect(s, store.StateCodeVerified); err != nil {
		return s, err
	}
	hash, err := bindingOf(s).Hash()
	if err != nil {
		return s, internal(err)
	}
	if err := registry.VerifySignature(s.ChipPublicKey, hash, signature); err != nil {
		return s, refuse(CodeSignatureInvalid, err)
	}
	out, err := c.cfg.Store.Complete(ctx, s, c.cfg.Now(), c.audit(s, "activation_completed", map[string]any{"serial": s.ChipSerial}))
	switch {
	case errors.Is(err, store.ErrChipBlocked):
		return s, refuse(CodeChipBlocked, err)
	case errors.Is(err, store.ErrChipTaken):
		return s, refuse(CodeChipTaken, err)
	case errors.Is(err, store.ErrConflict):
		return s, refuse(CodeOutOfOrder, err)
	case err != nil:
		return s, internal(err)
	}
	return out, nil
}

// expect refuses a step taken out of order.
func expect(s store.Session, allowed ...store.State) error {
	for _, st := range allowed {
		if s.State == st {
			return nil
		}
	}
	code := CodeOutOfOrder
	switch s.State {
	case store.StateBlocked:
		code = CodeActivationBlocked
	case store.StateCompleted:
		code = CodeAlreadyCompleted
	}
	return conflict(code, errors.New("step not allowed in state "+string(s.State)))
}

func (c *Ceremony) update(ctx context.Context, s store.Session, audit ...store.AuditEntry) (store.Session, error) {
	out, err := c.cfg.Store.UpdateSession(ctx, s, audit...)
	if errors.Is(err, store.ErrConflict) {
		return s, refuse(CodeOutOfOrder, err)
	}
	if err != nil {
		return s, internal(err)
	}
	return out, nil
}

// audit makes an audit entry for s; detail must never hold a secret.
func (c *Ceremony) audit(s store.Session, event string, detail map[string]any) store.AuditEntry {
	d := "{}"
	if detail != nil {
		b, _ := json.Marshal(detail) // strings and numbers only: cannot fail
		d = string(b)
	}
	return store.AuditEntry{At: c.cfg.Now(), ActivationID: s.ID, PersonID: s.PersonID, Event: event, Detail: d}
}

func (c *Ceremony) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.cfg.Rand, b); err != nil {
		return nil, err
	}
	return b, nil
}

// random returns n random bytes as unpadded base64url: cookie values and ids.
func (c *Ceremony) random(n int) (string, error) {
	b, err := c.randomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

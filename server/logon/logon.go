// Package logon is the logon ceremony at MitID.dk as a plain Go state machine: the
// person's user ID begins it with a single-use challenge, the password key proves
// itself by signing that challenge, and the person's chip signs the logon transcript;
// then a MitID.dk session is made (or an OIDC authorization request finished). It
// knows nothing of HTTP; all state between calls lives in the store, so any instance
// can answer. server/api is a thin HTTP adapter over it. docs/logon.md describes it.
package logon

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"mitidchip/chip"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/credential/userid"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
)

// Lifetimes and limits (docs/decisions.md, "Logon"; docs/logon.md).
const (
	// ChallengeTTL is how long a logon may take from its user ID to the chip's press.
	ChallengeTTL = 5 * time.Minute
	// IdleTTL and AbsoluteTTL bound a MitID.dk session: it ends IdleTTL after its
	// last use, and AbsoluteTTL after the logon whatever its use.
	IdleTTL     = 15 * time.Minute
	AbsoluteTTL = 12 * time.Hour
	// TouchEvery is how stale a session's last use may be before a request records
	// it again: one write a minute per session at most, not one per request.
	TouchEvery = time.Minute
	// LockAfter logons begun and not completed in a row (a wrong password, or a
	// right one without the chip's press) lock logon for the user ID: FirstLock,
	// twice as long each further time until a logon, at most MaxLock. A count is
	// forgotten Forget after its last attempt or lock.
	LockAfter = 5
	FirstLock = 15 * time.Minute
	MaxLock   = 4 * time.Hour
	Forget    = 24 * time.Hour
	// CookieSize is the session cookie's entropy in bytes.
	CookieSize    = 32
	challengeSize = 32
	nonceSize     = 32
	// MaxUserIDInput bounds what a person may type as a user ID, in bytes: the
	// longest user ID (userid.MaxLength characters of up to 4 bytes each).
	MaxUserIDInput = 4 * userid.MaxLength
	// MaxAuthRequest bounds an OIDC authorization request id.
	MaxAuthRequest = 128
)

// DefaultLimits are the lock rules the ceremony applies unless Config says others.
var DefaultLimits = store.LogonLimits{LockAfter: LockAfter, FirstLock: FirstLock, MaxLock: MaxLock, Forget: Forget}

// AuthRequests is where an OIDC provider plugs in: the logon page opened as
// /logon?auth_request=ID carries ID through the ceremony (and into the transcript),
// and a logon for it ends here.
type AuthRequests interface {
	// Finish completes OIDC authorization request id for personID, logged on at
	// authTime with password and chip; it returns the URL the browser goes to next.
	Finish(ctx context.Context, id, personID string, authTime time.Time) (string, error)
	// Site names the site request id is for; an error if the request cannot be
	// finished, with the name still when only its time ran out (an error with a
	// method AuthRequestExpired() bool that says true, as Finish's then).
	Site(ctx context.Context, id string) (string, error)
	// Cancel ends request id without a logon and returns where the browser goes: the
	// site, told that the person cancelled.
	Cancel(ctx context.Context, id string) (string, error)
}

// Config is what the ceremony needs. Now and Rand are injected so tests pin time and
// randomness.
type Config struct {
	Store    store.Store
	Registry *registry.Registry
	// Key is the server's logon key (LOGON_KEY_FILE): it keys the hash that names a
	// user ID in the store, and derives the salt answered for a user ID no one has.
	Key    seal.Key
	Origin string // the page's origin, as the logon transcript names it
	Now    func() time.Time
	Rand   io.Reader
	// KDF is the Argon2id cost answered for a user ID no one has: the server's
	// default, as new activations get.
	KDF    kdf.Params
	Limits store.LogonLimits // zero: DefaultLimits
	// AuthRequests finishes OIDC authorization requests; nil refuses logons for one.
	AuthRequests AuthRequests
}

// Ceremony runs logons.
type Ceremony struct {
	cfg   Config
	dummy []byte // the verifier a user ID no one has is checked against
}

// New checks cfg and returns the ceremony.
func New(cfg Config) (*Ceremony, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.Now == nil || cfg.Rand == nil || cfg.Origin == "" {
		return nil, errors.New("logon: config needs Store, Registry, Now, Rand and Origin")
	}
	if cfg.Key == (seal.Key{}) {
		return nil, errors.New("logon: config needs the logon key")
	}
	if err := cfg.KDF.Validate(); err != nil {
		return nil, err
	}
	if cfg.Limits == (store.LogonLimits{}) {
		cfg.Limits = DefaultLimits
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("logon: %w", err)
	}
	c := &Ceremony{cfg: cfg}
	seed := c.mac("dummy-verifier", "")
	c.dummy = kdf.Verifier(ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize]))
	return c, nil
}

// mac is HMAC-SHA256 under the logon key of a purpose label and a value.
func (c *Ceremony) mac(purpose, value string) []byte {
	m := hmac.New(sha256.New, c.cfg.Key[:])
	m.Write([]byte("mitid-chip/logon-key/" + purpose + "\x00"))
	m.Write([]byte(value))
	return m.Sum(nil)
}

// UserKey is how the store names a user ID: a keyed hash of its normalized form, so
// the store keeps no user ID a stranger typed.
func (c *Ceremony) UserKey(userID string) string {
	return hex.EncodeToString(c.mac("user", userid.Normalize(userID)))
}

// ValidUserIDInput reports whether s can be looked up as a user ID: not empty, valid
// UTF-8, at most MaxUserIDInput bytes. Whether anyone has it is not said.
func ValidUserIDInput(s string) bool {
	return s != "" && len(s) <= MaxUserIDInput && utf8.ValidString(s)
}

// ValidAuthRequest reports whether s has the form of an authorization request id:
// 1 to MaxAuthRequest printable ASCII characters without spaces.
func ValidAuthRequest(s string) bool {
	if s == "" || len(s) > MaxAuthRequest {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidChallengeID reports whether s has the form of a challenge id (16 random bytes,
// unpadded base64url).
func ValidChallengeID(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 16
}

// Begun is a challenge for the password proof, and how the page derives the key.
type Begun struct {
	ChallengeID string
	Challenge   []byte
	KDF         store.KDF
}

// Begin starts a logon for userID (as typed; compared case-insensitively), for
// MitID.dk or, with authRequest, for an OIDC authorization request. A user ID no one
// has is answered exactly as one someone has: a challenge stored the same way, and a
// salt derived from the user ID with the logon key, with the default cost.
func (c *Ceremony) Begin(ctx context.Context, userID, authRequest string) (Begun, error) {
	if !ValidUserIDInput(userID) {
		return Begun{}, refuse(CodeBadRequest, errors.New("user ID empty, over the limit or not UTF-8"))
	}
	if authRequest != "" {
		if !ValidAuthRequest(authRequest) {
			return Begun{}, refuse(CodeBadRequest, errors.New("auth_request of the wrong form"))
		}
		if c.cfg.AuthRequests == nil {
			return Begun{}, refuse(CodeAuthRequestInvalid, errors.New("no OIDC provider to finish an authorization request"))
		}
	}
	id, err := c.random(16)
	if err != nil {
		return Begun{}, internal(err)
	}
	challenge, err := c.randomBytes(challengeSize)
	if err != nil {
		return Begun{}, internal(err)
	}
	now := c.cfg.Now()
	ch := store.LogonChallenge{
		ID: id, Challenge: challenge, UserKey: c.UserKey(userID), AuthRequest: authRequest,
		CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL),
	}
	ch, p, err := c.cfg.Store.BeginLogon(ctx, ch, userID, now)
	var retry *store.RetryError
	switch {
	case errors.As(err, &retry) && errors.Is(err, store.ErrLogonLocked):
		return Begun{}, &Error{Code: CodeLogonLocked, Err: err, RetryAt: retry.Until}
	case err != nil:
		return Begun{}, internal(err)
	}
	k := store.KDF{Salt: c.mac("salt", userid.Normalize(userID))[:kdf.SaltSize],
		Time: c.cfg.KDF.Time, MemoryKiB: c.cfg.KDF.MemoryKiB, Threads: c.cfg.KDF.Threads}
	if known(p) {
		k = p.KDF
	}
	return Begun{ChallengeID: ch.ID, Challenge: ch.Challenge, KDF: k}, nil
}

// known reports whether p can log on: a person with a user ID and a password record.
func known(p store.Person) bool {
	return p.ID != "" && p.UserID != "" && len(p.PasswordVerifier) == kdf.VerifierSize && len(p.KDF.Salt) > 0
}

// Password checks the password proof: the signature of the person's password key
// over the challenge. A wrong password and a user ID no one has fail alike (the same
// verification, the same store work, the same code). Every try counts toward the
// lock, right or wrong, until a logon completes. A right password answers the
// logon transcript without the chip's fields, which the chip's hello gives.
func (c *Ceremony) Password(ctx context.Context, challengeID string, proof []byte) (transcript.Logon, error) {
	ch, err := c.challenge(ctx, challengeID)
	if err != nil {
		return transcript.Logon{}, err
	}
	if ch.Purpose != store.PurposeLogon {
		return transcript.Logon{}, refuse(CodeOutOfOrder, fmt.Errorf("challenge of purpose %q at the logon's password step", ch.Purpose))
	}
	p, nonce, err := c.prove(ctx, ch, proof, "logon_password", "logon_failed")
	if err != nil {
		return transcript.Logon{}, err
	}
	return transcript.Logon{
		ChallengeID: ch.ID, Challenge: ch.Challenge, UserID: p.UserID, Origin: c.cfg.Origin,
		Purpose: purpose(ch.AuthRequest), Nonce: nonce,
	}, nil
}

// prove checks a password proof over the challenge ch and records the outcome with
// the audit event passed or failed; every try counts toward the user ID's lock. It
// returns the person and the transcript's nonce for a right password.
func (c *Ceremony) prove(ctx context.Context, ch store.LogonChallenge, proof []byte, passed, failed string) (store.Person, []byte, error) {
	if !ch.PasswordAt.IsZero() {
		return store.Person{}, nil, refuse(CodeLogonUsed, errors.New("password step taken before"))
	}
	// The same read whether or not the challenge names a person.
	p, err := c.cfg.Store.Person(ctx, ch.PersonID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Person{}, nil, internal(err)
	}
	verifier := c.dummy
	if known(p) {
		verifier = p.PasswordVerifier
	}
	checked := kdf.Check(verifier, ch.Challenge, proof)
	ok := checked == nil && known(p)
	nonce, err := c.randomBytes(nonceSize)
	if err != nil {
		return store.Person{}, nil, internal(err)
	}
	now := c.cfg.Now()
	event, detail := passed, map[string]any{"logon": ch.ID}
	if !ok {
		event, detail["reason"] = failed, "password"
	}
	_, f, err := c.cfg.Store.TryPassword(ctx, store.PasswordTry{
		ChallengeID: ch.ID, OK: ok, Nonce: nonce, Limits: c.cfg.Limits, At: now,
		Audit: []store.AuditEntry{c.audit(ch.PersonID, event, detail)},
	})
	if err != nil {
		return store.Person{}, nil, stored(err)
	}
	if !ok {
		reason := errors.Join(errors.New("wrong password or no such user ID"), checked)
		if f.LockedAt(now) {
			// This try locked logon for the user ID: say so now, and until when.
			return store.Person{}, nil, &Error{Code: CodeLogonLocked, Err: reason, RetryAt: f.LockedUntil}
		}
		return store.Person{}, nil, refuse(CodeLogonFailed, reason)
	}
	return p, nonce, nil
}

func purpose(authRequest string) string {
	if authRequest == "" {
		return transcript.PurposeMitID
	}
	return transcript.PurposeAuthRequest + authRequest
}

// challenge reads a challenge that can still be used.
func (c *Ceremony) challenge(ctx context.Context, id string) (store.LogonChallenge, error) {
	if !ValidChallengeID(id) {
		return store.LogonChallenge{}, refuse(CodeBadRequest, errors.New("challenge id of the wrong form"))
	}
	ch, err := c.cfg.Store.LogonChallenge(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ch, refuse(CodeLogonExpired, err)
	case err != nil:
		return ch, internal(err)
	case !ch.UsedAt.IsZero():
		return ch, refuse(CodeLogonUsed, errors.New("challenge used at "+ch.UsedAt.Format(time.RFC3339)))
	case !c.cfg.Now().Before(ch.ExpiresAt):
		return ch, refuse(CodeLogonExpired, errors.New("challenge expired at "+ch.ExpiresAt.Format(time.RFC3339)))
	}
	return ch, nil
}

// stored is the refusal for a store call of the ceremony that failed.
func stored(err error) *Error {
	var retry *store.RetryError
	switch {
	case errors.As(err, &retry) && errors.Is(err, store.ErrLogonLocked):
		return &Error{Code: CodeLogonLocked, Err: err, RetryAt: retry.Until}
	case errors.Is(err, store.ErrLogonUsed):
		return refuse(CodeLogonUsed, err)
	case errors.Is(err, store.ErrLogonExpired), errors.Is(err, store.ErrNotFound):
		return refuse(CodeLogonExpired, err)
	case errors.Is(err, store.ErrChipTaken):
		return refuse(CodeChipNotYours, err)
	case errors.Is(err, store.ErrConflict):
		return refuse(CodeOutOfOrder, err)
	}
	return internal(err)
}

// Done is a completed logon: the new session, the cookie that names it (given to
// the browser, never stored) and where the browser goes next.
type Done struct {
	Session store.LogonSession
	Cookie  string
	Next    string
}

// Chip finishes a logon whose password passed: hello is the chip's hello reply
// exactly as the chip sent it, signature its ECDSA signature over the logon
// transcript. The chip must be the person's active chip, attested by its registered
// certificate, whose key verifies the signature over the transcript the server
// rebuilds from its own record. Then the challenge is used, the session made, and,
// for an OIDC authorization request, the request finished instead of a session
// made: a logon for a site gives no MitID.dk session (decision 72), so an error
// from finishing the request leaves the person logged on nowhere.
func (c *Ceremony) Chip(ctx context.Context, challengeID string, hello, signature []byte) (Done, error) {
	ch, err := c.challenge(ctx, challengeID)
	if err != nil {
		return Done{}, err
	}
	if ch.Purpose != store.PurposeLogon {
		return Done{}, refuse(CodeOutOfOrder, fmt.Errorf("challenge of purpose %q at the logon's chip step", ch.Purpose))
	}
	h, p, err := c.verifyChip(ctx, ch, hello, signature, purpose(ch.AuthRequest))
	if err != nil {
		return Done{}, err
	}
	now := c.cfg.Now()
	audit := []store.AuditEntry{c.audit(p.ID, "logon", map[string]any{"logon": ch.ID, "serial": h.Serial, "for": purpose(ch.AuthRequest)})}
	if ch.AuthRequest != "" {
		// A logon for a site is not a logon at MitID.dk (decision 72): no session.
		if _, err := c.cfg.Store.FinishLogon(ctx, store.LogonFinish{ChallengeID: ch.ID, NoSession: true, At: now, Audit: audit,
			Session: store.LogonSession{PersonID: p.ID, ChipSerial: h.Serial}}); err != nil {
			return Done{}, stored(err)
		}
		return c.finishSite(ctx, ch.AuthRequest, p.ID, now)
	}
	cookie, err := c.random(CookieSize)
	if err != nil {
		return Done{}, internal(err)
	}
	id, err := c.random(16)
	if err != nil {
		return Done{}, internal(err)
	}
	hashed := sha256.Sum256([]byte(cookie))
	s := store.LogonSession{ID: id, CookieHash: hashed[:], PersonID: p.ID, ChipSerial: h.Serial, CreatedAt: now, SeenAt: now,
		ExpiresAt: now.Add(IdleTTL)}
	s, err = c.cfg.Store.FinishLogon(ctx, store.LogonFinish{ChallengeID: ch.ID, Session: s, At: now, Audit: audit})
	if err != nil {
		return Done{}, stored(err)
	}
	return Done{Session: s, Cookie: cookie, Next: MitPath}, nil
}

// finishSite finishes the site's authorization request for the person who logged
// on: the browser goes to the provider's callback.
func (c *Ceremony) finishSite(ctx context.Context, authRequest, personID string, now time.Time) (Done, error) {
	if c.cfg.AuthRequests == nil {
		return Done{}, refuse(CodeAuthRequestInvalid, errors.New("no OIDC provider to finish the authorization request"))
	}
	next, err := c.cfg.AuthRequests.Finish(ctx, authRequest, personID, now)
	if err != nil {
		return Done{}, refuse(authRequestCode(err), err)
	}
	return Done{Next: next}, nil
}

// authRequestCode is the refusal for an authorization request that cannot be
// finished: auth_request_expired when only its time ran out (the page can still
// send the person back to the site), else auth_request_invalid.
func authRequestCode(err error) Code {
	var e interface{ AuthRequestExpired() bool }
	if errors.As(err, &e) && e.AuthRequestExpired() {
		return CodeAuthRequestExpired
	}
	return CodeAuthRequestInvalid
}

// Site names the site that authorization request id is for, for the logon page.
// A request that cannot be finished is refused: auth_request_expired (with the
// name) if its time ran out, else auth_request_invalid.
func (c *Ceremony) Site(ctx context.Context, id string) (string, error) {
	if !ValidAuthRequest(id) {
		return "", refuse(CodeBadRequest, errors.New("auth_request of the wrong form"))
	}
	if c.cfg.AuthRequests == nil {
		return "", refuse(CodeAuthRequestInvalid, errors.New("no OIDC provider"))
	}
	name, err := c.cfg.AuthRequests.Site(ctx, id)
	if err != nil {
		return name, refuse(authRequestCode(err), err)
	}
	return name, nil
}

// Cancel ends authorization request id without a logon, as the person chose on the
// logon page, and returns where the browser goes: back to the site.
func (c *Ceremony) Cancel(ctx context.Context, id string) (string, error) {
	if !ValidAuthRequest(id) {
		return "", refuse(CodeBadRequest, errors.New("auth_request of the wrong form"))
	}
	if c.cfg.AuthRequests == nil {
		return "", refuse(CodeAuthRequestInvalid, errors.New("no OIDC provider"))
	}
	next, err := c.cfg.AuthRequests.Cancel(ctx, id)
	if err != nil {
		return "", refuse(CodeAuthRequestInvalid, err)
	}
	return next, nil
}

// verifyChip checks a chip's hello and its signature over the transcript of ch for
// purpose: the chip must be the person's active chip, attested by its registered
// certificate, whose key verifies the signature over the transcript the server
// rebuilds from its own record. It writes nothing.
func (c *Ceremony) verifyChip(ctx context.Context, ch store.LogonChallenge, hello, signature []byte, purpose string) (chip.Hello, store.Person, error) {
	if !ch.PasswordOK {
		return chip.Hello{}, store.Person{}, refuse(CodeOutOfOrder, errors.New("the password step has not passed"))
	}
	h, err := chip.ParseHello(hello)
	if err != nil {
		return chip.Hello{}, store.Person{}, refuse(CodeHelloInvalid, err)
	}
	rec, err := c.cfg.Registry.Attest(ctx, h, c.cfg.Now())
	switch {
	case errors.Is(err, registry.ErrUnknownChip):
		return h, store.Person{}, refuse(CodeChipUnknown, err)
	case errors.Is(err, registry.ErrBlocked):
		return h, store.Person{}, refuse(CodeChipBlocked, err)
	case errors.Is(err, registry.ErrRevoked):
		return h, store.Person{}, refuse(CodeChipRevoked, err)
	case errors.Is(err, registry.ErrRetired):
		return h, store.Person{}, refuse(CodeChipNotYours, err)
	case errors.Is(err, registry.ErrUntrustedCA), errors.Is(err, registry.ErrNotAttested):
		return h, store.Person{}, refuse(CodeChipNotAttested, err)
	case err != nil:
		return h, store.Person{}, internal(err)
	}
	if rec.Status != store.ChipBound || rec.PersonID != ch.PersonID {
		return h, store.Person{}, refuse(CodeChipNotYours, errors.New("chip "+rec.Serial+" is "+string(rec.Status)+", not the person's active chip"))
	}
	p, err := c.cfg.Store.Person(ctx, ch.PersonID)
	if err != nil {
		return h, store.Person{}, internal(err)
	}
	hash, err := transcript.Logon{
		ChallengeID: ch.ID, Challenge: ch.Challenge, UserID: p.UserID, ChipSerial: h.Serial, ChipPublicKey: h.PublicKey,
		Origin: c.cfg.Origin, Purpose: purpose, Nonce: ch.Nonce,
	}.Hash()
	if err != nil {
		return h, p, internal(err)
	}
	if err := registry.VerifySignature(h.PublicKey, hash, signature); err != nil {
		return h, p, refuse(CodeSignatureInvalid, err)
	}
	return h, p, nil
}

// MitPath is the self-service page a logon for MitID.dk goes to.
const MitPath = "/mit"

// Session finds the MitID.dk session a cookie names, refusing one that ended, and
// records its use (at most once a TouchEvery), which moves its idle end on.
func (c *Ceremony) Session(ctx context.Context, cookie string) (store.LogonSession, error) {
	if cookie == "" || len(cookie) > 128 {
		return store.LogonSession{}, refuse(CodeNotLoggedOn, errors.New("no logon cookie"))
	}
	h := sha256.Sum256([]byte(cookie))
	s, err := c.cfg.Store.LogonSessionByCookie(ctx, h[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s, refuse(CodeNotLoggedOn, errors.New("unknown logon cookie"))
	case err != nil:
		return s, internal(err)
	}
	now := c.cfg.Now()
	if !now.Before(s.ExpiresAt) {
		return s, refuse(CodeNotLoggedOn, errors.New("session ended at "+s.ExpiresAt.Format(time.RFC3339)))
	}
	if now.Sub(s.SeenAt) >= TouchEvery {
		s.SeenAt, s.ExpiresAt = now, minTime(now.Add(IdleTTL), s.CreatedAt.Add(AbsoluteTTL))
		if err := c.cfg.Store.TouchLogonSession(ctx, s); errors.Is(err, store.ErrNotFound) {
			return s, refuse(CodeNotLoggedOn, err) // logged off meanwhile
		} else if err != nil {
			return s, internal(err)
		}
	}
	return s, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// LogOff ends a session.
func (c *Ceremony) LogOff(ctx context.Context, s store.LogonSession) error {
	err := c.cfg.Store.EndLogonSession(ctx, s.ID, c.audit(s.PersonID, "logoff", map[string]any{"session": s.ID}))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(CodeNotLoggedOn, err)
	case err != nil:
		return internal(err)
	}
	return nil
}

// Mine is what the self-service page shows a logged-on person.
type Mine struct {
	UserID string
	Chip   store.Chip // the active chip; zero if none
	// SessionEnds is when the session ends if not used before.
	SessionEnds time.Time
}

// Mine reads what the person of s sees at MitID.dk.
func (c *Ceremony) Mine(ctx context.Context, s store.LogonSession) (Mine, error) {
	p, err := c.cfg.Store.Person(ctx, s.PersonID)
	if err != nil {
		return Mine{}, internal(err)
	}
	ch, err := c.cfg.Store.ActiveChip(ctx, s.PersonID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Mine{}, internal(err)
	}
	return Mine{UserID: p.UserID, Chip: ch, SessionEnds: s.ExpiresAt}, nil
}

// audit makes an audit entry for a person ("" for a user ID no one has); detail must
// never hold a secret.
func (c *Ceremony) audit(personID, event string, detail map[string]any) store.AuditEntry {
	b, _ := json.Marshal(detail) // strings only: cannot fail
	return store.AuditEntry{At: c.cfg.Now(), PersonID: personID, Event: event, Detail: string(b)}
}

func (c *Ceremony) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.cfg.Rand, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *Ceremony) random(n int) (string, error) {
	b, err := c.randomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Package store keeps the activation server's durable state: persons, the chip registry,
// pending activation sessions, redeemed handoff tokens and the audit trail.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors callers can test for with errors.Is. Each is returned wrapped with what failed.
var (
	// ErrNotFound: no row has the given key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the session changed since the caller read it (its Version moved on),
	// or it is not in a state the call may change it from.
	ErrConflict = errors.New("session changed or is in the wrong state")
	// ErrHandoffUsed: the handoff token id was redeemed before.
	ErrHandoffUsed = errors.New("handoff token already used")
	// ErrTooManyHandoffs: the person redeemed Limits.MaxHandoffs handoffs within
	// Limits.Window already.
	ErrTooManyHandoffs = errors.New("too many handoffs redeemed by the person")
	// ErrTooManySessions: the person holds Limits.MaxOpenSessions open sessions already.
	ErrTooManySessions = errors.New("too many open activation sessions for the person")
	// ErrUserIDTaken: another person already holds the user ID.
	ErrUserIDTaken = errors.New("user ID belongs to another person")
	// ErrChipTaken: the chip is bound to another person, retired or revoked.
	ErrChipTaken = errors.New("chip is not available")
	// ErrStepUsed: a TOTP time-step at or before the chip's last accepted one.
	ErrStepUsed = errors.New("one-time code time-step already used")
	// ErrImportConflict: a serial in an import is registered with another certificate.
	ErrImportConflict = errors.New("chip serial registered with another certificate")
	// ErrChipLocked: the chip takes no code attempts from the person until a time,
	// after wrong codes of their own (see RetryError).
	ErrChipLocked = errors.New("chip locked for the person after their wrong one-time codes")
	// ErrTooManyAttempts: the chip's code attempts in this window are used up (see
	// RetryError).
	ErrTooManyAttempts = errors.New("too many one-time code attempts with the chip")

	// The store cannot commit, and why; Open and Probe return these, wrapped with the
	// file and what to do.

	// ErrReadOnly: the database file or its folder cannot be written (a read-only
	// file system, or permissions).
	ErrReadOnly = errors.New("read-only")
	// ErrDiskFull: the file system holding the database has no space left.
	ErrDiskFull = errors.New("disk full")
	// ErrLocked: another process holds the database: another server (the serve lock),
	// or a writer that kept SQLite's write lock past the busy timeout.
	ErrLocked = errors.New("locked by another process")
)

// RetryError is a refusal that lifts by itself at Until: ErrChipLocked or
// ErrTooManyAttempts, whichever errors.Is finds.
type RetryError struct {
	Reason error
	Serial string
	Until  time.Time
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("chip %s: %v until %s", e.Serial, e.Reason, e.Until.UTC().Format(time.RFC3339))
}

func (e *RetryError) Unwrap() error { return e.Reason }

// State is where an activation session is in the ceremony.
type State string

// The session states, in ceremony order; StateBlocked and StateCompleted are final.
const (
	StateRedeemed      State = "redeemed"
	StatePasswordSet   State = "password_set"
	StateChipPresented State = "chip_presented"
	StateCodeVerified  State = "code_verified"
	StateCompleted     State = "completed"
	StateBlocked       State = "blocked"
)

// ChipStatus is where a chip is in its life.
type ChipStatus string

// The chip statuses. A chip goes available → bound → retired; revoked is set by an
// operator at any time, or by the chip's holder who blocks it (SelfService.BlockChip,
// which records a ChipBlock beside it), and is final.
const (
	ChipAvailable ChipStatus = "available"
	ChipBound     ChipStatus = "bound"
	ChipRetired   ChipStatus = "retired"
	ChipRevoked   ChipStatus = "revoked"
)

// KDF is a password record's Argon2id salt and cost parameters (see credential/kdf.Params).
type KDF struct {
	Salt      []byte
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// Person is someone the app's backend has handed over at least once.
type Person struct {
	ID               string
	UserID           string // normalized (lowercase); empty when the person has none
	PasswordVerifier []byte // Ed25519 public key; nil until an activation completes
	KDF              KDF
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Chip is one registered chip.
type Chip struct {
	Serial     string
	SealedSeed []byte // TOTP seed, encrypted by the caller before import
	CertDER    []byte // attestation certificate
	Status     ChipStatus
	PersonID   string    // the person bound now or last; empty if never bound
	BoundAt    time.Time // zero if never bound
	LastStep   int64     // last accepted TOTP time-step; 0 if none
	ImportedAt time.Time
	// Attempts is how many codes, from anyone, were checked in the attempt window
	// that began at AttemptsSince (zero if none).
	Attempts      int
	AttemptsSince time.Time
	// LastUsedAt is when the chip last logged its person on; zero if never.
	LastUsedAt time.Time
}

// ChipFailure is one person's wrong codes and locks on one chip: a person's wrong
// codes lock the chip for that person alone (ChipFailures). A person without one has
// no wrong codes in a row on the chip and no lock.
type ChipFailure struct {
	Serial   string
	PersonID string
	// FailedCodes is the person's wrong codes in a row on the chip, across their
	// sessions, since their last lock lifted.
	FailedCodes int
	// Locks counts the person's locks on the chip since their last right code (or an
	// operator's unlock); each one lasts twice the one before, up to a cap
	// (CodeLimits).
	Locks int
	// LockedUntil is when the person's current or last lock lifts; zero if they have
	// not been locked since a right code. A lock is in force only before it.
	LockedUntil time.Time
}

// LockedAt reports whether the person may not enter codes with the chip at t.
func (f ChipFailure) LockedAt(t time.Time) bool { return t.Before(f.LockedUntil) }

// ChipImport is one record of a manufacturer's delivery file.
type ChipImport struct {
	Serial     string
	SealedSeed []byte
	CertDER    []byte
}

// Handoff is a verified handoff token being redeemed.
type Handoff struct {
	TokenID  string
	PersonID string
	UserID   string // optional; kept (normalized) only when the person row is created
	UsedAt   time.Time
	// ExpiresAt is when the record of the token's use may go: not before the token
	// stops verifying (its expiry plus the verifier's leeway), or a sweep could let it
	// be redeemed again. The store keeps it at least Limits.Window after UsedAt too, so
	// that it can count the person's handoffs.
	ExpiresAt time.Time
	// Limits bound what the person may start.
	Limits Limits
	// Assisted, when set, is the caseworker's ID check of an activation started at
	// Borgerservice: written in the same transaction, after the caseworker's role
	// and hourly count are checked again (ErrNotStaff, ErrTooManyAssisted).
	Assisted *Assisted
}

// Limits bound what one person may start, whatever addresses they come from. They
// are checked in the transaction that redeems, so every instance sees the same
// counts. A zero field means no limit.
type Limits struct {
	// MaxHandoffs is how many handoffs of the person may be redeemed within Window,
	// the one being redeemed included.
	MaxHandoffs int
	Window      time.Duration
	// MaxOpenSessions is how many of the person's sessions may be open at once, the
	// new one included. A session is open until it expires, completes or is blocked.
	MaxOpenSessions int
}

// Session is one activation ceremony: the server-held state between requests.
// Fields after Version are filled in as the ceremony goes on.
type Session struct {
	ID         string
	PersonID   string
	CookieHash []byte // SHA-256 of the session cookie; the cookie itself is never stored
	// RequestHash is the SHA-256 of the request id the client chose when it redeemed
	// the handoff, so that it alone can retry a redemption whose answer it lost
	// (RedeemAgain); nil if it sent none.
	RequestHash []byte
	State       State
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UpdatedAt   time.Time
	// Version is the optimistic-concurrency token: every write bumps it, and a write
	// based on an older Version fails with ErrConflict.
	Version int64

	KDF              KDF
	PasswordVerifier []byte
	ChipSerial       string
	ChipPublicKey    []byte
	Nonce            []byte
	WrongCodes       int // wrong one-time codes in a row in this session
}

// AuditEntry is one line of the audit trail. Detail is JSON made by the caller and must
// never hold a secret (password, seed, code, token).
type AuditEntry struct {
	ID           int64 // set by the store
	At           time.Time
	ActivationID string
	PersonID     string
	Event        string
	Detail       string
}

// SweepBatch is the batch size for DeleteExpired the server uses: small enough that a
// sweep holds the SQLite writer for milliseconds, not seconds.
const SweepBatch = 500

// Failpoint, when set on a store, is called between the statements of a transaction
// with the step's name; a non-nil result aborts the transaction. Tests use it to prove
// that a failure anywhere leaves nothing half-written.
type Failpoint func(step string) error

// Store is the activation server's durable state. Every method that changes more than
// one row does so in one transaction: on error nothing is written. Times are the
// caller's (its clock); the store never reads the time itself.
//
// Session-changing methods take the session as the caller last read it; s.ID and
// s.Version name that snapshot, and the call fails with ErrConflict if the row has
// moved on. They return the session as written, with Version bumped.
type Store interface {
	// SelfService: a person blocks their chip, and reads their own activity.
	SelfService

	// Logons is the logon ceremony's state (logon.go).
	Logons
	// Staff is Borgerservice's caseworkers and console (staff.go).
	Staff
	// PasswordChanges: a logged-on person changes their password (password.go).
	PasswordChanges
	// RedeemHandoff marks h.TokenID used (ErrHandoffUsed if it was), creates the person
	// if absent or gives a person without a user ID h.UserID (ErrUserIDTaken if h.UserID
	// is another person's; a person's user ID is never changed), and inserts s as a new
	// session in StateRedeemed with Version 1. s.PersonID must be empty or h.PersonID.
	// Within h.Limits, counted at h.UsedAt, or it fails with ErrTooManyHandoffs or
	// ErrTooManySessions (a replay is reported first); then nothing is written and the
	// token stays unused, so the person can try again later.
	RedeemHandoff(ctx context.Context, h Handoff, s Session, audit ...AuditEntry) (Session, error)
	// RedeemAgain is a redemption retried by the client that made it, after the answer
	// was lost: if tokenID's session was created with requestHash (not empty), is
	// still in StateRedeemed and has not expired at at, its cookie hash becomes
	// cookieHash (so the cookie given before stops working), UpdatedAt at, and its
	// Version moves on; audit entries without an ActivationID get the session's.
	// Otherwise it fails with ErrHandoffUsed and changes nothing; ErrNotFound if
	// tokenID was never redeemed.
	RedeemAgain(ctx context.Context, tokenID string, requestHash, cookieHash []byte, at time.Time, audit ...AuditEntry) (Session, error)
	// OIDCStore keeps the OpenID Connect provider's clients, requests, codes, tokens
	// and keys (oidc.go).
	OIDCStore
	// CreateHandover and RedeemHandover move an activation at the password step to
	// another device by a short one-time code (see handover.go for the contract).
	CreateHandover(ctx context.Context, h Handover, audit ...AuditEntry) error
	RedeemHandover(ctx context.Context, r HandoverRedemption) (Session, error)
	// Handovers lists an activation's handovers, oldest first.
	Handovers(ctx context.Context, activationID string) ([]Handover, error)
	// Session and SessionByCookie return a session whatever its state or expiry;
	// checking both is the caller's job.
	Session(ctx context.Context, id string) (Session, error)
	SessionByCookie(ctx context.Context, cookieHash []byte) (Session, error)
	// UpdateSession writes the caller-owned fields of s (State, ExpiresAt, UpdatedAt,
	// KDF, PasswordVerifier, ChipSerial, ChipPublicKey, Nonce). Only AcceptCode and
	// Complete move a session into StateCodeVerified or StateCompleted; a session in
	// StateCodeVerified may only be blocked here, so its chip cannot change after the
	// code check; completed and blocked sessions are final (ErrConflict).
	UpdateSession(ctx context.Context, s Session, audit ...AuditEntry) (Session, error)

	// AcceptCode and RejectCode record a checked one-time code for a session in
	// StateChipPresented. Each first admits the attempt, in the same transaction that
	// records it, holding the chip's row until commit: a chip bound to another person
	// than the session's is ErrChipTaken; a chip the session's person is locked out
	// of at `at` (their ChipFailure) is a *RetryError with ErrChipLocked; a chip
	// whose attempts in the current window, from anyone, reached lim.Attempts is a
	// *RetryError with ErrTooManyAttempts. A refused attempt changes nothing. An
	// admitted one counts in the chip's attempt window; the person's lock that lifted
	// before `at` is cleared first (their wrong codes forgotten, their Locks kept).
	// Wrong codes and locks of other persons on the chip play no part.
	//
	// AcceptCode records a right code at time-step step, which must not be beyond
	// maxStep (the newest step the caller's clock allows). ErrStepUsed unless step is
	// after the chip's LastStep, or LastStep itself is beyond maxStep (recorded under
	// a clock that was ahead; it no longer holds back codes once the clock is right).
	// Then LastStep = step, the person's ChipFailure on the chip and the session's
	// WrongCodes are reset, and the session moves to StateCodeVerified.
	AcceptCode(ctx context.Context, s Session, step, maxStep int64, lim CodeLimits, at time.Time, audit ...AuditEntry) (Session, error)
	// RejectCode records a wrong code: it counts on the session, blocking it at
	// lim.BlockAfter, and on the person's ChipFailure for the chip, locking the
	// person out of it at lim.LockAfter wrong codes in a row for lim.LockFor(Locks).
	// A lock adds a "chip_locked" audit entry for the session. It returns the
	// session and the person's ChipFailure as written.
	RejectCode(ctx context.Context, s Session, lim CodeLimits, at time.Time, audit ...AuditEntry) (Session, ChipFailure, error)
	// Complete finishes a session in StateCodeVerified: the person gets the session's
	// password verifier and KDF, the chip they had is retired, the session's chip is
	// bound to them (ErrChipTaken unless it is available or already theirs;
	// ErrChipBlocked if its holder blocked it), and the session becomes StateCompleted. The chip's ChipFailures go: a bound chip takes
	// codes from its holder alone, whose own were reset by their right code.
	Complete(ctx context.Context, s Session, at time.Time, audit ...AuditEntry) (Session, error)

	Person(ctx context.Context, id string) (Person, error)
	Chip(ctx context.Context, serial string) (Chip, error)
	// ActiveChip is the chip bound to the person now.
	ActiveChip(ctx context.Context, personID string) (Chip, error)
	// ImportChips registers chips as available, all or none. A serial already known
	// with the same certificate is left alone and not counted (a re-run of the same file
	// adds 0); one known with another certificate fails with ErrImportConflict.
	ImportChips(ctx context.Context, chips []ChipImport, at time.Time) (added int, err error)
	// RevokeChip marks a chip revoked for good, keeping its person for history.
	RevokeChip(ctx context.Context, serial string, audit ...AuditEntry) error
	// UnlockChip forgets every person's wrong codes, locks and Locks on the chip and
	// its attempt window (an operator's act). ErrNotFound for an unknown serial.
	UnlockChip(ctx context.Context, serial string, audit ...AuditEntry) error
	// ChipFailures lists the persons with wrong codes in a row or locks on the chip
	// (a lock in force or lifted, Locks above 0), by person id; none for an unknown
	// serial.
	ChipFailures(ctx context.Context, serial string) ([]ChipFailure, error)
	// Audit appends entries that belong to no other change (an operator looking at
	// a chip).
	Audit(ctx context.Context, audit ...AuditEntry) error

	// AuditEntries lists an activation's audit trail, oldest first.
	AuditEntries(ctx context.Context, activationID string) ([]AuditEntry, error)
	// DeleteExpired drops sessions, used handoffs, handovers, logon challenges, logon
	// failures, MitID.dk sessions, OIDC authorization requests
	// and OIDC access tokens whose expiry is before now, in
	// transactions of at most batch rows each so that other writers are not held up,
	// and says how many rows went (also when it fails part way, with the error). A
	// handoff row outlives its token (Handoff.ExpiresAt), so a replay is still refused
	// by the token's own expiry check.
	DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error)

	// Probe commits one tiny write, so it fails when the store cannot commit (the
	// readiness check); the error wraps ErrReadOnly, ErrDiskFull or ErrLocked when the
	// cause is one of those.
	Probe(ctx context.Context) error
	// Ping checks that the database answers; unlike Probe it writes nothing, so it
	// passes on a read-only or full disk.
	Ping(ctx context.Context) error
	Close() error
}

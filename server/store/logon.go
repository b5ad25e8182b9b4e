package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mitidchip/credential/userid"
)

// Logon errors.
var (
	// ErrLogonLocked: logon for the user ID is locked until a time, after logons begun
	// and not completed (see RetryError and LogonLimits).
	ErrLogonLocked = errors.New("logon locked for the user ID")
	// ErrLogonUsed: the challenge was used up: by a logon, by a wrong password, or its
	// password step was taken already.
	ErrLogonUsed = errors.New("logon challenge already used")
	// ErrLogonExpired: the challenge's minutes are up.
	ErrLogonExpired = errors.New("logon challenge expired")
)

// Logons is the logon ceremony's durable state (server/logon; docs/logon.md):
// single-use challenges, failed logons counted per user ID, MitID.dk sessions. Every
// refusal writes nothing; every count is made in the transaction that checks it, so
// racing requests, on any instance, cannot slip past a lock or use a challenge twice.
type Logons interface {
	// BeginLogon stores c, a new challenge (for c.Purpose: a logon, or a password
	// change with its c.NewKDF) for the user ID userID (normalized here)
	// whose keyed hash is c.UserKey, whether or not a person has it: the same reads and
	// the same insert either way, so neither the answer nor the store's work tells
	// who has MitID. c.PersonID is set to the person holding userID ("" if none). A
	// key whose logon is locked at `at` is a *RetryError with ErrLogonLocked, and
	// nothing is written. It returns the challenge as stored and the person (zero
	// if none).
	BeginLogon(ctx context.Context, c LogonChallenge, userID string, at time.Time) (LogonChallenge, Person, error)
	// LogonChallenge returns a challenge whatever its state; ErrNotFound if unknown.
	LogonChallenge(ctx context.Context, id string) (LogonChallenge, error)
	// TryPassword records the outcome of a challenge's password step. The challenge
	// must be unused, its password step not taken, and unexpired at t.At
	// (ErrLogonUsed, ErrLogonExpired, ErrNotFound); its key not locked at t.At (a
	// *RetryError with ErrLogonLocked). A refusal writes nothing. Then the attempt
	// counts on the key's LogonFailure (right or wrong: a logon begun counts until it
	// completes, which resets the count), and the LockAfter-th in a row locks the key
	// for t.Limits.LockFor(Locks); a lock that lifted before t.At is cleared first
	// (its failures forgotten, Locks kept). A wrong password uses the challenge up;
	// a right one records t.Nonce for the transcript. A new lock adds a
	// "logon_locked" audit entry. It returns the challenge and the failure as written.
	TryPassword(ctx context.Context, t PasswordTry) (LogonChallenge, LogonFailure, error)
	// FinishLogon completes a logon: the challenge must have passed its password
	// step for f.Session.PersonID, be unused and unexpired at f.At (ErrLogonUsed,
	// ErrLogonExpired, ErrConflict for another person's or another purpose's), and f.Session.ChipSerial
	// must be bound to that person (ErrChipTaken). Then, in one transaction: the
	// challenge is used, the key's LogonFailure goes, the chip's LastUsedAt becomes
	// f.At, and f.Session is stored unless f.NoSession (a logon for a site: the
	// session then only names the person and the chip).
	FinishLogon(ctx context.Context, f LogonFinish) (LogonSession, error)
	// LogonFailure is a key's count; a key without one has none.
	LogonFailure(ctx context.Context, userKey string) (LogonFailure, error)

	// LogonSessionByCookie returns a MitID.dk session whatever its expiry (the
	// caller checks it); ErrNotFound if none has the cookie hash.
	LogonSessionByCookie(ctx context.Context, cookieHash []byte) (LogonSession, error)
	// TouchLogonSession records a session's use: SeenAt and ExpiresAt become s's.
	// ErrNotFound if the session ended.
	TouchLogonSession(ctx context.Context, s LogonSession) error
	// EndLogonSession ends a session (log off); ErrNotFound if it ended before.
	EndLogonSession(ctx context.Context, id string, audit ...AuditEntry) error
}

// LogonChallenge is one logon ceremony: its challenge for the password proof, and
// what the steps recorded.
type LogonChallenge struct {
	ID        string
	Challenge []byte
	// UserKey is the keyed hash of the normalized user ID (server/logon); the store
	// never keeps a user ID a stranger typed.
	UserKey     string
	PersonID    string // "" when no person has the user ID
	AuthRequest string // the OIDC authorization request the logon is for; "" for MitID.dk
	CreatedAt   time.Time
	ExpiresAt   time.Time
	PasswordAt  time.Time // zero until the password step
	PasswordOK  bool
	Nonce       []byte // the transcript's nonce, set when the password passed
	UsedAt      time.Time
	// Purpose is PurposeLogon ("") or PurposePasswordChange (password.go).
	Purpose string
	// NewKDF is the new password's salt and cost (a password change); NewVerifier
	// its verifier, nil until SetNewVerifier.
	NewKDF      KDF
	NewVerifier []byte
}

// LogonFailure is a user ID key's logons begun and not completed, in a row.
type LogonFailure struct {
	UserKey     string
	Failures    int // since the last logon, or since the last lock lifted
	Locks       int // locks since the last logon; each lasts twice the one before
	LockedUntil time.Time
	ExpiresAt   time.Time // when the row is forgotten
}

// LockedAt reports whether logon for the key is locked at t.
func (f LogonFailure) LockedAt(t time.Time) bool { return t.Before(f.LockedUntil) }

// LogonLimits bound logons begun and not completed per user ID key.
type LogonLimits struct {
	// LockAfter such logons in a row lock the key: the first lock for FirstLock,
	// each further one (until a logon) twice as long, never longer than MaxLock.
	LockAfter int
	FirstLock time.Duration
	MaxLock   time.Duration
	// Forget is how long after its last attempt or lock a key's count is kept.
	Forget time.Duration
}

// Validate says what is wrong with l, if anything.
func (l LogonLimits) Validate() error {
	if l.LockAfter < 1 || l.FirstLock <= 0 || l.MaxLock < l.FirstLock || l.Forget < l.MaxLock {
		return fmt.Errorf("logon limits %+v: LockAfter at least 1, durations positive, MaxLock at least FirstLock, Forget at least MaxLock", l)
	}
	return nil
}

// LockFor is how long the n-th lock since the last logon lasts (n from 1).
func (l LogonLimits) LockFor(n int) time.Duration {
	return CodeLimits{FirstLock: l.FirstLock, MaxLock: l.MaxLock}.LockFor(n)
}

// count counts one attempt on f at `at` (f admitted: not locked at `at`).
func (l LogonLimits) count(f LogonFailure, at time.Time) (LogonFailure, bool) {
	if !f.LockedUntil.IsZero() {
		f.LockedUntil, f.Failures = time.Time{}, 0 // the lock lifted: a fresh run
	}
	f.Failures++
	locked := false
	if f.Failures >= l.LockAfter {
		f.Locks++
		f.LockedUntil = at.Add(l.LockFor(f.Locks))
		locked = true
	}
	f.ExpiresAt = at.Add(l.Forget)
	if f.LockedUntil.After(at) {
		f.ExpiresAt = f.LockedUntil.Add(l.Forget)
	}
	return f, locked
}

// PasswordTry is the outcome of one challenge's password step.
type PasswordTry struct {
	ChallengeID string
	OK          bool
	Nonce       []byte // for a right password
	Limits      LogonLimits
	At          time.Time
	// Audit is written with the outcome; a lock adds its own entry.
	Audit []AuditEntry
}

// LogonFinish completes a logon with a new MitID.dk session.
type LogonFinish struct {
	ChallengeID string
	Session     LogonSession
	// NoSession: the logon gives no MitID.dk session (a logon for a site); Session's
	// PersonID and ChipSerial still say who and with which chip.
	NoSession bool
	At        time.Time
	Audit     []AuditEntry
}

// LogonSession is a MitID.dk session.
type LogonSession struct {
	ID         string
	CookieHash []byte // SHA-256 of the cookie; the cookie itself is never stored
	PersonID   string
	ChipSerial string // the chip the person logged on with
	CreatedAt  time.Time
	SeenAt     time.Time
	ExpiresAt  time.Time // the earlier of the idle and the absolute end
}

const challengeCols = `id, challenge, user_key, person_id, auth_request, created_at, expires_at, password_at,
	password_ok, nonce, used_at, purpose, new_salt, new_kdf_time, new_kdf_memory_kib, new_kdf_threads, new_verifier`

func scanChallenge(row interface{ Scan(...any) error }) (LogonChallenge, error) {
	var c LogonChallenge
	var ok int
	err := row.Scan(&c.ID, &c.Challenge, &c.UserKey, &c.PersonID, &c.AuthRequest, timeCol{&c.CreatedAt},
		timeCol{&c.ExpiresAt}, timeCol{&c.PasswordAt}, &ok, &c.Nonce, timeCol{&c.UsedAt}, &c.Purpose, &c.NewKDF.Salt,
		&c.NewKDF.Time, &c.NewKDF.MemoryKiB, &c.NewKDF.Threads, &c.NewVerifier)
	c.PasswordOK = ok != 0
	return c, err
}

// BeginLogon stores a new challenge for userID, known or not.
func (st *sqlStore) BeginLogon(ctx context.Context, c LogonChallenge, userID string, at time.Time) (LogonChallenge, Person, error) {
	if c.ID == "" || len(c.Challenge) == 0 || c.UserKey == "" || !c.ExpiresAt.After(c.CreatedAt) {
		return LogonChallenge{}, Person{}, errors.New("store: begin logon: id, challenge, user key and a later expiry are required")
	}
	c.PersonID, c.PasswordAt, c.PasswordOK, c.Nonce, c.UsedAt, c.NewVerifier = "", time.Time{}, false, nil, time.Time{}, nil
	if err := checkPurpose(c); err != nil {
		return LogonChallenge{}, Person{}, err
	}
	var p Person
	err := st.inTx(ctx, "logon", "begin "+c.ID, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE user_id = ?`, userid.Normalize(userID)).Scan(personDest(&p)...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			p = Person{}
		case err != nil:
			return fmt.Errorf("person by user ID: %w", err)
		}
		f, err := logonFailure(ctx, tx, c.UserKey)
		if err != nil {
			return err
		}
		if f.LockedAt(at) {
			return &RetryError{Reason: ErrLogonLocked, Serial: "user ID", Until: f.LockedUntil}
		}
		c.PersonID = p.ID
		if _, err := tx.ExecContext(ctx, `INSERT INTO logon_challenges (`+challengeCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, NULL, NULL, ?, ?, ?, ?, ?, NULL)`,
			c.ID, c.Challenge, c.UserKey, c.PersonID, c.AuthRequest, nanos(c.CreatedAt), nanos(c.ExpiresAt),
			c.Purpose, orNull(c.NewKDF.Salt), c.NewKDF.Time, c.NewKDF.MemoryKiB, c.NewKDF.Threads); err != nil {
			return fmt.Errorf("challenge: %w", err)
		}
		return st.hit("logon/begin")
	})
	if err != nil {
		return LogonChallenge{}, Person{}, err
	}
	return c, p, nil
}

// LogonChallenge returns a challenge whatever its state.
func (st *sqlStore) LogonChallenge(ctx context.Context, id string) (LogonChallenge, error) {
	c, err := scanChallenge(st.r.QueryRowContext(ctx, `SELECT `+challengeCols+` FROM logon_challenges WHERE id = ?`, id))
	if err != nil {
		return LogonChallenge{}, fmt.Errorf("store: logon challenge %s: %w", id, notFound(err))
	}
	return c, nil
}

// holdChallenge reads a challenge for the rest of tx (as holdChip does for a chip)
// and refuses one that is used or expired at `at`.
func holdChallenge(ctx context.Context, tx *sql.Tx, id string, at time.Time) (LogonChallenge, error) {
	c, err := scanChallenge(tx.QueryRowContext(ctx, `UPDATE logon_challenges SET created_at = created_at WHERE id = ?
		RETURNING `+challengeCols, id))
	switch {
	case err != nil:
		return c, fmt.Errorf("challenge %s: %w", id, notFound(err))
	case !c.UsedAt.IsZero():
		return c, fmt.Errorf("challenge %s used at %v: %w", id, c.UsedAt, ErrLogonUsed)
	case !at.Before(c.ExpiresAt):
		return c, fmt.Errorf("challenge %s expired at %v: %w", id, c.ExpiresAt, ErrLogonExpired)
	}
	return c, nil
}

const logonFailureCols = `user_key, failures, lock_count, locked_until, expires_at`

func logonFailure(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (LogonFailure, error) {
	var f LogonFailure
	err := q.QueryRowContext(ctx, `SELECT `+logonFailureCols+` FROM logon_failures WHERE user_key = ?`, key).Scan(
		&f.UserKey, &f.Failures, &f.Locks, timeCol{&f.LockedUntil}, timeCol{&f.ExpiresAt})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return LogonFailure{UserKey: key}, nil
	case err != nil:
		return LogonFailure{}, fmt.Errorf("logon failures: %w", err)
	}
	return f, nil
}

// TryPassword records a password step's outcome and counts it.
func (st *sqlStore) TryPassword(ctx context.Context, t PasswordTry) (LogonChallenge, LogonFailure, error) {
	if err := t.Limits.Validate(); err != nil {
		return LogonChallenge{}, LogonFailure{}, fmt.Errorf("store: password try: %w", err)
	}
	if t.OK && len(t.Nonce) == 0 {
		return LogonChallenge{}, LogonFailure{}, errors.New("store: password try: a right password needs the transcript's nonce")
	}
	var c LogonChallenge
	var f LogonFailure
	err := st.inTx(ctx, "logon", "password "+t.ChallengeID, func(tx *sql.Tx) error {
		var err error
		if c, err = holdChallenge(ctx, tx, t.ChallengeID, t.At); err != nil {
			return err
		}
		if !c.PasswordAt.IsZero() {
			return fmt.Errorf("challenge %s: password step taken at %v: %w", c.ID, c.PasswordAt, ErrLogonUsed)
		}
		if f, err = logonFailure(ctx, tx, c.UserKey); err != nil {
			return err
		}
		if f.LockedAt(t.At) {
			return &RetryError{Reason: ErrLogonLocked, Serial: "user ID", Until: f.LockedUntil}
		}
		var locked bool
		f, locked = t.Limits.count(f, t.At)
		c.PasswordAt, c.PasswordOK = t.At, t.OK
		if t.OK {
			c.Nonce = t.Nonce
		} else {
			c.UsedAt = t.At
		}
		ok := 0
		if t.OK {
			ok = 1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logon_challenges SET password_at = ?, password_ok = ?, nonce = ?, used_at = ?
			WHERE id = ?`, nanos(c.PasswordAt), ok, orNull(c.Nonce), nanos(c.UsedAt), c.ID); err != nil {
			return fmt.Errorf("challenge %s: %w", c.ID, err)
		}
		if err := st.hit("logon/password"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO logon_failures (`+logonFailureCols+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_key) DO UPDATE SET failures = excluded.failures, lock_count = excluded.lock_count,
			locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
			f.UserKey, f.Failures, f.Locks, nanos(f.LockedUntil), nanos(f.ExpiresAt)); err != nil {
			return fmt.Errorf("logon failures: %w", err)
		}
		audit := t.Audit
		if locked {
			d, _ := json.Marshal(map[string]any{"until": f.LockedUntil.UTC().Format(time.RFC3339), "lock": f.Locks}) // cannot fail
			audit = append(audit[:len(audit):len(audit)], AuditEntry{At: t.At, PersonID: c.PersonID, Event: "logon_locked", Detail: string(d)})
		}
		return writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return LogonChallenge{}, LogonFailure{}, fmt.Errorf("store: %w", err)
	}
	return c, f, nil
}

// FinishLogon completes a logon with a new session.
func (st *sqlStore) FinishLogon(ctx context.Context, f LogonFinish) (LogonSession, error) {
	s := f.Session
	if s.PersonID == "" || s.ChipSerial == "" || !f.NoSession && (s.ID == "" || len(s.CookieHash) == 0 || !s.ExpiresAt.After(f.At)) {
		return LogonSession{}, errors.New("store: finish logon: session id, cookie hash, person, chip and a later expiry are required")
	}
	err := st.inTx(ctx, "logon", "finish "+f.ChallengeID, func(tx *sql.Tx) error {
		c, err := holdChallenge(ctx, tx, f.ChallengeID, f.At)
		if err != nil {
			return err
		}
		if !c.PasswordOK || c.PersonID != s.PersonID || c.Purpose != PurposeLogon {
			return fmt.Errorf("challenge %s (purpose %q): password passed %v, for person %q, not %q: %w", c.ID, c.Purpose, c.PasswordOK, c.PersonID, s.PersonID, ErrConflict)
		}
		ch, err := holdChip(ctx, tx, s.ChipSerial)
		if err != nil {
			return err
		}
		if ch.Status != ChipBound || ch.PersonID != s.PersonID {
			return fmt.Errorf("chip %s is %s for %q, not bound to %q: %w", ch.Serial, ch.Status, ch.PersonID, s.PersonID, ErrChipTaken)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logon_challenges SET used_at = ? WHERE id = ?`, nanos(f.At), c.ID); err != nil {
			return fmt.Errorf("challenge %s: %w", c.ID, err)
		}
		if err := st.hit("logon/used"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM logon_failures WHERE user_key = ?`, c.UserKey); err != nil {
			return fmt.Errorf("logon failures: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chips SET last_used_at = ? WHERE serial = ?`, nanos(f.At), ch.Serial); err != nil {
			return fmt.Errorf("chip %s: %w", ch.Serial, err)
		}
		if f.NoSession {
			return writeAudit(ctx, tx, f.Audit)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO logon_sessions (id, cookie_hash, person_id, chip_serial, created_at, seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, s.ID, s.CookieHash, s.PersonID, s.ChipSerial, nanos(s.CreatedAt), nanos(s.SeenAt), nanos(s.ExpiresAt)); err != nil {
			return fmt.Errorf("session %s: %w", s.ID, err)
		}
		if err := st.hit("logon/session"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, f.Audit)
	})
	if err != nil {
		return LogonSession{}, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

// LogonFailure is a key's count.
func (st *sqlStore) LogonFailure(ctx context.Context, userKey string) (LogonFailure, error) {
	f, err := logonFailure(ctx, st.r, userKey)
	if err != nil {
		return LogonFailure{}, fmt.Errorf("store: %w", err)
	}
	return f, nil
}

const logonSessionCols = `id, cookie_hash, person_id, chip_serial, created_at, seen_at, expires_at`

// LogonSessionByCookie returns a MitID.dk session by its cookie's hash.
func (st *sqlStore) LogonSessionByCookie(ctx context.Context, cookieHash []byte) (LogonSession, error) {
	var s LogonSession
	err := st.r.QueryRowContext(ctx, `SELECT `+logonSessionCols+` FROM logon_sessions WHERE cookie_hash = ?`, cookieHash).Scan(
		&s.ID, &s.CookieHash, &s.PersonID, &s.ChipSerial, timeCol{&s.CreatedAt}, timeCol{&s.SeenAt}, timeCol{&s.ExpiresAt})
	if err != nil {
		return LogonSession{}, fmt.Errorf("store: logon session: %w", notFound(err))
	}
	return s, nil
}

// TouchLogonSession records a session's use.
func (st *sqlStore) TouchLogonSession(ctx context.Context, s LogonSession) error {
	return st.inTx(ctx, "logon", "touch session "+s.ID, func(tx *sql.Tx) error {
		found, err := changed(tx.ExecContext(ctx, `UPDATE logon_sessions SET seen_at = ?, expires_at = ? WHERE id = ?`,
			nanos(s.SeenAt), nanos(s.ExpiresAt), s.ID))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return nil
	})
}

// EndLogonSession ends a session.
func (st *sqlStore) EndLogonSession(ctx context.Context, id string, audit ...AuditEntry) error {
	return st.inTx(ctx, "logon", "end session "+id, func(tx *sql.Tx) error {
		found, err := changed(tx.ExecContext(ctx, `DELETE FROM logon_sessions WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return writeAudit(ctx, tx, audit)
	})
}

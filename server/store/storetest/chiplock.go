package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server/store"
)

// tokens numbers the handoff tokens of sessionsOf, so that every one is new.
var tokens atomic.Int64

// sessionsOf is n new activations of person, each with serial presented.
func (e env) sessionsOf(person string, n int, serial string) []store.Session {
	e.t.Helper()
	out := make([]store.Session, n)
	for i := range out {
		tok := fmt.Sprintf("tok-%s-%d", person, tokens.Add(1))
		out[i] = e.present(e.redeem(tok, person), serial)
	}
	return out
}

// reject records one wrong code for s at `at`, expecting no error.
func (e env) reject(s store.Session, lim store.CodeLimits, at time.Time) (store.Session, store.ChipFailure) {
	e.t.Helper()
	out, f, err := e.st.RejectCode(e.ctx, s, lim, at, audit(s.ID, "code_rejected"))
	if err != nil {
		e.t.Fatalf("reject code for %s at %v: %v", s.ID, at, err)
	}
	return out, f
}

// failures lists the persons with wrong codes or locks on serial.
func (e env) failures(serial string) []store.ChipFailure {
	e.t.Helper()
	fs, err := e.st.ChipFailures(e.ctx, serial)
	if err != nil {
		e.t.Fatalf("failures on chip %s: %v", serial, err)
	}
	return fs
}

// failure is person's failures on serial: the empty one when they have none.
func (e env) failure(serial, person string) store.ChipFailure {
	e.t.Helper()
	for _, f := range e.failures(serial) {
		if f.PersonID == person {
			return f
		}
	}
	return store.ChipFailure{Serial: serial, PersonID: person}
}

// lockOut sends wrong codes for serial at `at` from fresh sessions of person, as many
// as each takes before it is blocked, until the person is locked out: exactly
// lim.LockAfter of them. It returns the person's failures as the last code left them.
func (e env) lockOut(person, serial string, lim store.CodeLimits, at time.Time) store.ChipFailure {
	e.t.Helper()
	sent := 0
	for {
		s := e.sessionsOf(person, 1, serial)[0]
		for range lim.BlockAfter {
			var f store.ChipFailure
			s, f = e.reject(s, lim, at)
			sent++
			if f.LockedAt(at) {
				if sent != lim.LockAfter {
					e.t.Fatalf("%s locked out of %s after %d wrong codes, expected %d", person, serial, sent, lim.LockAfter)
				}
				return f
			}
			if sent >= lim.LockAfter {
				e.t.Fatalf("%s not locked out of %s after %d wrong codes", person, serial, sent)
			}
		}
	}
}

// expectRetry fails t unless err is a *store.RetryError for reason lifting at until.
func expectRetry(t *testing.T, err error, reason error, until time.Time) {
	t.Helper()
	var retry *store.RetryError
	if !errors.Is(err, reason) || !errors.As(err, &retry) || !retry.Until.Equal(until) {
		t.Fatalf("expected %v until %v, got %v", reason, until, err)
	}
}

// lockLimits lock at the second wrong code in a row; sessions and attempt windows
// never get in the way.
var lockLimits = store.CodeLimits{BlockAfter: 100, LockAfter: 2, FirstLock: 15 * time.Minute, MaxLock: time.Hour,
	Attempts: 1000, AttemptWindow: 10 * time.Minute}

// realLimits are the ceremony's numbers (server/activation) but for the attempt
// window, which is not what the cases using them are about.
var realLimits = store.CodeLimits{BlockAfter: 3, LockAfter: 10, FirstLock: 15 * time.Minute, MaxLock: 24 * time.Hour,
	Attempts: 1000, AttemptWindow: 10 * time.Minute}

// testChipLockRace: twenty sessions of one person on one chip send a wrong code at
// the same moment, and so do five sessions of another person. The lock is checked in
// the step that counts, so exactly LockAfter of the first person's codes count and
// the rest are refused with the lock and change nothing; the lock is that person's
// alone, so all five of the other's count.
func testChipLockRace(t *testing.T, open Opener) {
	const sessions, others = 20, 5
	lim := limits
	lim.LockAfter = 10
	e := newEnv(t, open, nil)
	e.importChips("C1")
	ss := append(e.sessionsOf("p-guesser", sessions, "C1"), e.sessionsOf("p-other", others, "C1")...)

	start := make(chan struct{})
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() {
			<-start
			_, _, errs[i] = e.st.RejectCode(e.ctx, s, lim, t0, audit(s.ID, "code_rejected"))
		})
	}
	close(start)
	wg.Wait()

	until := t0.Add(lim.FirstLock)
	counted := map[string]int{}
	for i, err := range errs {
		got := e.session(ss[i].ID)
		if err == nil {
			counted[ss[i].PersonID]++
			if got.WrongCodes != 1 || got.Version != ss[i].Version+1 {
				t.Errorf("session %d: counted, expected 1 wrong code at version %d, got %d at %d", i, ss[i].Version+1, got.WrongCodes, got.Version)
			}
			continue
		}
		var retry *store.RetryError
		if ss[i].PersonID != "p-guesser" || !errors.Is(err, store.ErrChipLocked) || !errors.As(err, &retry) || !retry.Until.Equal(until) {
			t.Errorf("session %d of %s: expected success, or %v until %v for p-guesser; got %v", i, ss[i].PersonID, store.ErrChipLocked, until, err)
		}
		same(t, fmt.Sprintf("session %d, refused", i), ss[i], got)
	}
	if counted["p-guesser"] != lim.LockAfter || counted["p-other"] != others {
		t.Errorf("expected exactly %d wrong codes of p-guesser and all %d of p-other counted, got %v", lim.LockAfter, others, counted)
	}
	same(t, "failures", []store.ChipFailure{
		{Serial: "C1", PersonID: "p-guesser", FailedCodes: lim.LockAfter, Locks: 1, LockedUntil: until},
		{Serial: "C1", PersonID: "p-other", FailedCodes: others},
	}, e.failures("C1"))
	if c := e.chip("C1"); c.Attempts != lim.LockAfter+others {
		t.Errorf("chip: expected %d attempts, got %d", lim.LockAfter+others, c.Attempts)
	}
}

// testChipLockLifts: a person's lock lifts by itself; while it holds, every attempt
// of theirs, right or wrong, is refused and changes nothing; each further lock of
// theirs lasts twice as long, up to the cap; their right code after a lock lifts
// forgets it all.
func testChipLockLifts(t *testing.T, open Opener) {
	lim := lockLimits
	e := newEnv(t, open, nil)
	e.importChips("C1")
	s := e.sessionsOf("p1", 1, "C1")[0]

	at := t0
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour} // capped at MaxLock
	for n, d := range want {
		var f store.ChipFailure
		s, f = e.reject(s, lim, at)
		if f.FailedCodes != 1 || f.LockedAt(at) {
			t.Fatalf("lock %d: first wrong code: expected 1 in a row and no lock, got %d, locked until %v", n+1, f.FailedCodes, f.LockedUntil)
		}
		s, f = e.reject(s, lim, at)
		until := at.Add(d)
		if f.FailedCodes != 2 || f.Locks != n+1 || !f.LockedUntil.Equal(until) {
			t.Fatalf("lock %d: expected 2 in a row, lock %d until %v; got %d, lock %d until %v", n+1, n+1, until, f.FailedCodes, f.Locks, f.LockedUntil)
		}
		same(t, fmt.Sprintf("lock %d: failures as read", n+1), []store.ChipFailure{f}, e.failures("C1"))

		stillLocked := until.Add(-time.Nanosecond)
		expectFailures(e, []failing{
			{fmt.Sprintf("lock %d: wrong code while locked", n+1), func(e env) error {
				_, _, err := e.st.RejectCode(e.ctx, s, lim, stillLocked)
				expectRetry(e.t, err, store.ErrChipLocked, until)
				return err
			}, store.ErrChipLocked},
			{fmt.Sprintf("lock %d: right code while locked", n+1), func(e env) error {
				_, err := e.st.AcceptCode(e.ctx, s, 100, farStep, lim, stillLocked)
				expectRetry(e.t, err, store.ErrChipLocked, until)
				return err
			}, store.ErrChipLocked},
		})
		at = until // the lock has lifted at exactly its end
	}

	// After the last lock lifts, a right code forgets it all.
	s, err := e.st.AcceptCode(e.ctx, s, 100, farStep, lim, at)
	if err != nil {
		t.Fatalf("right code after the lock lifted: %v", err)
	}
	if fs := e.failures("C1"); len(fs) != 0 || e.chip("C1").LastStep != 100 {
		t.Errorf("after a right code: expected no failures and last step 100; got %+v and %d", fs, e.chip("C1").LastStep)
	}
	// The person's next lock is the first again.
	s2 := e.sessionsOf("p1", 1, "C1")[0]
	e.reject(s2, lim, at)
	if _, f := e.reject(e.session(s2.ID), lim, at); f.Locks != 1 || !f.LockedUntil.Equal(at.Add(lim.FirstLock)) {
		t.Errorf("first lock after a right code: expected lock 1 until %v, got lock %d until %v", at.Add(lim.FirstLock), f.Locks, f.LockedUntil)
	}
	if later := at.Add(400 * 24 * time.Hour); e.failure("C1", "p1").LockedAt(later) {
		t.Errorf("400 days later: expected p1 not locked, they are until %v", e.failure("C1", "p1").LockedUntil)
	}
}

// testChipLockStranger is issue 8's stranger: someone who read a chip's hello locks
// themselves out of it with wrong codes from several activations of their own. The
// holder, another person, presents the same chip and their right code is accepted at
// once, while the stranger stays refused until their lock lifts; each further lock
// of the stranger's is longer and holds no one else; 400 days later nothing is
// locked. Once the holder binds the chip the stranger's count goes with it.
func testChipLockStranger(t *testing.T, open Opener) {
	lim := realLimits
	e := newEnv(t, open, nil)
	e.importChips("C1")

	f := e.lockOut("p-stranger", "C1", lim, t0)
	until := t0.Add(lim.FirstLock)
	if f.Locks != 1 || !f.LockedUntil.Equal(until) {
		t.Fatalf("stranger: expected lock 1 until %v, got lock %d until %v", until, f.Locks, f.LockedUntil)
	}
	stranger := e.sessionsOf("p-stranger", 1, "C1")[0]
	strangerRefused := func(name string, at, until time.Time) failing {
		return failing{name, func(e env) error {
			_, _, err := e.st.RejectCode(e.ctx, e.session(stranger.ID), lim, at)
			expectRetry(e.t, err, store.ErrChipLocked, until)
			return err
		}, store.ErrChipLocked}
	}
	expectFailures(e, []failing{
		strangerRefused("stranger's wrong code while locked", t0, until),
		{"stranger's right code while locked", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, stranger, 100, farStep, lim, t0)
			expectRetry(e.t, err, store.ErrChipLocked, until)
			return err
		}, store.ErrChipLocked},
	})

	// The holder is not locked out: their right code is accepted at once.
	holder := e.sessionsOf("p-holder", 1, "C1")[0]
	if _, err := e.st.AcceptCode(e.ctx, holder, 100, farStep, lim, t0); err != nil {
		t.Fatalf("holder's right code while the stranger is locked out: expected it accepted, got %v", err)
	}
	if got := e.failure("C1", "p-holder"); got.FailedCodes != 0 || got.Locks != 0 || got.LockedAt(t0) {
		t.Errorf("holder: expected no failures, got %+v", got)
	}
	expectFailures(e, []failing{strangerRefused("stranger after the holder's right code", t0, until)})

	// The stranger's lock lifts and they lock themselves out again, for twice as
	// long; the holder's next code is accepted during that lock too.
	f = e.lockOut("p-stranger", "C1", lim, until)
	second := until.Add(2 * lim.FirstLock)
	if f.Locks != 2 || !f.LockedUntil.Equal(second) {
		t.Fatalf("stranger's second lock: expected lock 2 until %v, got lock %d until %v", second, f.Locks, f.LockedUntil)
	}
	holder = e.sessionsOf("p-holder", 1, "C1")[0]
	if _, err := e.st.AcceptCode(e.ctx, holder, 101, farStep, lim, until); err != nil {
		t.Fatalf("holder's right code during the stranger's second lock: %v", err)
	}
	expectFailures(e, []failing{strangerRefused("stranger during their second lock", until, second)})

	// 400 days later nothing is locked: the stranger's next wrong code counts.
	later := t0.Add(400 * 24 * time.Hour)
	for _, f := range e.failures("C1") {
		if f.LockedAt(later) {
			t.Errorf("400 days later: %s is locked out until %v", f.PersonID, f.LockedUntil)
		}
	}
	if _, f := e.reject(e.sessionsOf("p-stranger", 1, "C1")[0], lim, later); f.FailedCodes != 1 || f.Locks != 2 {
		t.Errorf("400 days later: expected the stranger's wrong code counted as their first in a row, their next lock the third; got %+v", f)
	}

	// Bound, the chip takes codes from the holder alone: the stranger's count goes.
	if _, err := e.st.Complete(e.ctx, e.session(holder.ID), later); err != nil {
		t.Fatalf("holder binds C1: %v", err)
	}
	if fs := e.failures("C1"); len(fs) != 0 {
		t.Errorf("after the holder bound the chip: expected no failures, got %+v", fs)
	}
	stranger = e.sessionsOf("p-stranger", 1, "C1")[0]
	expectFailures(e, []failing{{"stranger's code for the bound chip", func(e env) error {
		_, _, err := e.st.RejectCode(e.ctx, stranger, lim, later)
		return err
	}, store.ErrChipTaken}})
}

// testChipAttempts: attempts per chip are counted in a window across persons; those
// beyond the limit are refused, right or wrong, and count toward nothing. A person
// locked out is refused before the window, so their attempts do not fill it.
func testChipAttempts(t *testing.T, open Opener) {
	lim := limits
	lim.Attempts, lim.LockAfter = 3, 2
	e := newEnv(t, open, nil)
	e.importChips("C1")
	a := e.sessionsOf("p-a", 1, "C1")[0]
	b := e.sessionsOf("p-b", 1, "C1")[0]

	a, _ = e.reject(a, lim, t0)
	a, f := e.reject(a, lim, t0.Add(time.Minute))
	locked := t0.Add(time.Minute + lim.FirstLock)
	if !f.LockedUntil.Equal(locked) {
		t.Fatalf("p-a: expected locked out until %v, got %+v", locked, f)
	}
	expectFailures(e, []failing{{"p-a while locked out, not counted in the window", func(e env) error {
		_, _, err := e.st.RejectCode(e.ctx, a, lim, t0.Add(2*time.Minute))
		expectRetry(e.t, err, store.ErrChipLocked, locked)
		return err
	}, store.ErrChipLocked}})
	b, _ = e.reject(b, lim, t0.Add(2*time.Minute))
	if c := e.chip("C1"); c.Attempts != 3 || !c.AttemptsSince.Equal(t0) {
		t.Fatalf("after 3 attempts: expected 3 attempts since %v, got %d since %v", t0, c.Attempts, c.AttemptsSince)
	}
	end := t0.Add(lim.AttemptWindow)
	last := end.Add(-time.Nanosecond)
	fresh := e.sessionsOf("p-fresh", 1, "C1")[0]
	expectFailures(e, []failing{
		{"wrong code beyond the limit", func(e env) error {
			_, _, err := e.st.RejectCode(e.ctx, fresh, lim, last)
			expectRetry(e.t, err, store.ErrTooManyAttempts, end)
			return err
		}, store.ErrTooManyAttempts},
		{"right code beyond the limit", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, b, 100, farStep, lim, last)
			expectRetry(e.t, err, store.ErrTooManyAttempts, end)
			return err
		}, store.ErrTooManyAttempts},
		{"a locked-out person beyond the limit: told of their lock", func(e env) error {
			_, _, err := e.st.RejectCode(e.ctx, a, lim, last)
			expectRetry(e.t, err, store.ErrChipLocked, locked)
			return err
		}, store.ErrChipLocked},
	})
	// A new window begins with the next attempt after the old one ends.
	if _, f := e.reject(fresh, lim, end); f.FailedCodes != 1 {
		t.Errorf("next window: expected p-fresh's first wrong code, got %+v", f)
	}
	if c := e.chip("C1"); c.Attempts != 1 || !c.AttemptsSince.Equal(end) {
		t.Errorf("next window: expected 1 attempt since %v, got %d since %v", end, c.Attempts, c.AttemptsSince)
	}
}

// testChipCodeRefusals: attempts the store refuses before counting them.
func testChipCodeRefusals(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	// p2 presented C1 while it was free; then p1 bound it.
	late := e.present(e.redeem("tok-late", "p2"), "C1")
	if _, err := e.st.Complete(e.ctx, e.verified("tok-1", "p1", "C1", 100), t0); err != nil {
		t.Fatalf("bind C1 to p1: %v", err)
	}
	// C2's last step, 1000, was recorded under a clock that was ahead.
	e.verified("tok-ahead", "p3", "C2", 1000)
	now := e.present(e.redeem("tok-now", "p4"), "C2")
	expectFailures(e, []failing{
		{"wrong code for a chip bound to another person", func(e env) error {
			_, _, err := e.st.RejectCode(e.ctx, late, limits, t0)
			return err
		}, store.ErrChipTaken},
		{"right code for a chip bound to another person", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, late, 101, farStep, limits, t0)
			return err
		}, store.ErrChipTaken},
		{"a step beyond maxStep", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, now, 1002, 1001, limits, t0)
			return err
		}, nil},
		{"a step at the last one, inside the window", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, now, 1000, 1001, limits, t0)
			return err
		}, store.ErrStepUsed},
	})
	// Once the clock is right again, a last step beyond its window holds nothing back.
	if _, err := e.st.AcceptCode(e.ctx, now, 500, 501, limits, t0); err != nil {
		t.Fatalf("step 500 with the last step 1000 beyond the window 501: %v", err)
	}
	if c := e.chip("C1"); c.LastStep != 100 {
		t.Errorf("C1: expected last step 100, got %d", c.LastStep)
	}
	if c := e.chip("C2"); c.LastStep != 500 {
		t.Errorf("C2: expected last step 500, got %d", c.LastStep)
	}
}

// testUnlockAndAudit: an operator forgets every person's wrong codes and locks on a
// chip, and its attempt window, and writes audit entries of their own.
func testUnlockAndAudit(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	s := e.sessionsOf("p1", 1, "C1")[0]
	s, _ = e.reject(s, lockLimits, t0)
	e.reject(s, lockLimits, t0)
	e.reject(e.sessionsOf("p2", 1, "C1")[0], lockLimits, t0)
	e.reject(e.sessionsOf("p1", 1, "C2")[0], lockLimits, t0)
	if fs := e.failures("C1"); len(fs) != 2 || !fs[0].LockedAt(t0) || fs[1].FailedCodes != 1 {
		t.Fatalf("expected p1 locked out of C1 and p2 with one wrong code, got %+v", fs)
	}
	otherChip := e.failures("C2")
	op := store.AuditEntry{At: t0, Event: "operator_chip_unlocked", Detail: `{"serial":"C1","by":"operator"}`}
	if err := e.st.UnlockChip(e.ctx, "C1", op); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if fs := e.failures("C1"); len(fs) != 0 {
		t.Errorf("unlocked chip: expected no failures, got %+v", fs)
	}
	same(t, "another chip's failures", otherChip, e.failures("C2"))
	if c := e.chip("C1"); c.Attempts != 0 || !c.AttemptsSince.IsZero() {
		t.Errorf("unlocked chip: expected no attempt window, got %d since %v", c.Attempts, c.AttemptsSince)
	}
	if _, err := e.st.AcceptCode(e.ctx, e.session(s.ID), 100, farStep, lockLimits, t0, audit(s.ID, "code_accepted")); err != nil {
		t.Errorf("p1's right code after the unlock: %v", err)
	}
	if err := e.st.Audit(e.ctx, store.AuditEntry{At: t0, Event: "operator_chip_shown", Detail: `{"serial":"C1"}`}); err != nil {
		t.Fatalf("audit: %v", err)
	}
	entries, err := e.st.AuditEntries(e.ctx, "")
	if err != nil || len(entries) != 2 || entries[0].Event != "operator_chip_unlocked" || entries[1].Event != "operator_chip_shown" {
		t.Errorf("operator audit: expected operator_chip_unlocked then operator_chip_shown, got %+v (%v)", entries, err)
	}
	got, _ := e.st.AuditEntries(e.ctx, s.ID)
	if i := len(got) - 2; i < 0 || got[i].Event != "chip_locked" || got[i].PersonID != "p1" {
		t.Errorf("session audit: expected p1's lock recorded before the accepted code, got %+v", got)
	}
	expectFailures(e, []failing{
		{"unlock unknown chip", func(e env) error { return e.st.UnlockChip(e.ctx, "nope", op) }, store.ErrNotFound},
		{"audit without entries", func(e env) error { return e.st.Audit(e.ctx) }, nil},
		{"audit without event", func(e env) error { return e.st.Audit(e.ctx, store.AuditEntry{At: t0}) }, nil},
	})
}

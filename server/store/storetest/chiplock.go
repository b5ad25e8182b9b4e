package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mitidchip/server/store"
)

// presented is n new activations, one person each, with serial presented.
func (e env) presented(n int, serial string) []store.Session {
	e.t.Helper()
	out := make([]store.Session, n)
	for i := range out {
		tok := fmt.Sprintf("tok-%s-%d", serial, i)
		out[i] = e.present(e.redeem(tok, fmt.Sprintf("p-%s-%d", serial, i)), serial)
	}
	return out
}

// reject records one wrong code for s at `at`, expecting no error.
func (e env) reject(s store.Session, lim store.CodeLimits, at time.Time) (store.Session, store.Chip) {
	e.t.Helper()
	out, c, err := e.st.RejectCode(e.ctx, s, lim, at, audit(s.ID, "code_rejected"))
	if err != nil {
		e.t.Fatalf("reject code for %s at %v: %v", s.ID, at, err)
	}
	return out, c
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

// testChipLockRace: twenty sessions on one chip send a wrong code at the same moment.
// The lock is checked in the step that counts, so exactly LockAfter of them count and
// the rest are refused with the lock and change nothing.
func testChipLockRace(t *testing.T, open Opener) {
	const sessions = 20
	lim := limits
	lim.LockAfter = 10
	e := newEnv(t, open, nil)
	e.importChips("C1")
	ss := e.presented(sessions, "C1")

	start := make(chan struct{})
	errs := make([]error, sessions)
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
	counted := 0
	for i, err := range errs {
		got := e.session(ss[i].ID)
		if err == nil {
			counted++
			if got.WrongCodes != 1 || got.Version != ss[i].Version+1 {
				t.Errorf("session %d: counted, expected 1 wrong code at version %d, got %d at %d", i, ss[i].Version+1, got.WrongCodes, got.Version)
			}
			continue
		}
		var retry *store.RetryError
		if !errors.Is(err, store.ErrChipLocked) || !errors.As(err, &retry) || !retry.Until.Equal(until) {
			t.Errorf("session %d: expected %v until %v or success, got %v", i, store.ErrChipLocked, until, err)
		}
		same(t, fmt.Sprintf("session %d, refused", i), ss[i], got)
	}
	if counted != lim.LockAfter {
		t.Errorf("expected exactly %d wrong codes counted, got %d", lim.LockAfter, counted)
	}
	c := e.chip("C1")
	if c.FailedCodes != lim.LockAfter || c.Locks != 1 || !c.LockedUntil.Equal(until) || c.Attempts != lim.LockAfter {
		t.Errorf("chip: expected %d wrong codes, lock 1 until %v, %d attempts; got %d, lock %d until %v, %d attempts",
			lim.LockAfter, until, lim.LockAfter, c.FailedCodes, c.Locks, c.LockedUntil, c.Attempts)
	}
}

// testChipLockLifts: a lock lifts by itself; while it holds, every attempt, right or
// wrong, is refused and changes nothing; each further lock lasts twice as long, up to
// the cap; a right code after a lock lifts resets everything.
func testChipLockLifts(t *testing.T, open Opener) {
	lim := lockLimits
	e := newEnv(t, open, nil)
	e.importChips("C1")
	s := e.presented(1, "C1")[0]

	at := t0
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour} // capped at MaxLock
	for n, d := range want {
		var c store.Chip
		s, c = e.reject(s, lim, at)
		if c.FailedCodes != 1 || c.LockedAt(at) {
			t.Fatalf("lock %d: first wrong code: expected 1 in a row and no lock, got %d, locked until %v", n+1, c.FailedCodes, c.LockedUntil)
		}
		s, c = e.reject(s, lim, at)
		until := at.Add(d)
		if c.FailedCodes != 2 || c.Locks != n+1 || !c.LockedUntil.Equal(until) {
			t.Fatalf("lock %d: expected 2 in a row, lock %d until %v; got %d, lock %d until %v", n+1, n+1, until, c.FailedCodes, c.Locks, c.LockedUntil)
		}
		same(t, fmt.Sprintf("lock %d: chip as read", n+1), c, e.chip("C1"))

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
	if c := e.chip("C1"); c.FailedCodes != 0 || c.Locks != 0 || !c.LockedUntil.IsZero() || c.LastStep != 100 {
		t.Errorf("after a right code: expected no wrong codes, no locks, last step 100; got %+v", c)
	}
	// The next lock is the first again.
	s2 := e.present(e.redeem("tok-again", "p-again"), "C1")
	e.reject(s2, lim, at)
	if _, c := e.reject(e.session(s2.ID), lim, at); c.Locks != 1 || !c.LockedUntil.Equal(at.Add(lim.FirstLock)) {
		t.Errorf("first lock after a right code: expected lock 1 until %v, got lock %d until %v", at.Add(lim.FirstLock), c.Locks, c.LockedUntil)
	}
	if later := at.Add(400 * 24 * time.Hour); e.chip("C1").LockedAt(later) {
		t.Errorf("400 days later: expected the chip not locked, it is until %v", e.chip("C1").LockedUntil)
	}
}

// testChipAttempts: attempts per chip are counted in a window across sessions; those
// beyond the limit are refused, right or wrong, and count toward nothing.
func testChipAttempts(t *testing.T, open Opener) {
	lim := limits
	lim.Attempts, lim.LockAfter = 3, 1000
	e := newEnv(t, open, nil)
	e.importChips("C1")
	ss := e.presented(3, "C1")

	e.reject(ss[0], lim, t0)
	e.reject(ss[1], lim, t0.Add(time.Minute))
	e.reject(ss[2], lim, t0.Add(2*time.Minute))
	if c := e.chip("C1"); c.Attempts != 3 || !c.AttemptsSince.Equal(t0) || c.FailedCodes != 3 {
		t.Fatalf("after 3 attempts: expected 3 attempts since %v, 3 wrong; got %d since %v, %d wrong", t0, c.Attempts, c.AttemptsSince, c.FailedCodes)
	}
	end := t0.Add(lim.AttemptWindow)
	last := end.Add(-time.Nanosecond)
	fresh := e.present(e.redeem("tok-fresh", "p-fresh"), "C1")
	expectFailures(e, []failing{
		{"wrong code beyond the limit", func(e env) error {
			_, _, err := e.st.RejectCode(e.ctx, fresh, lim, last)
			expectRetry(e.t, err, store.ErrTooManyAttempts, end)
			return err
		}, store.ErrTooManyAttempts},
		{"right code beyond the limit", func(e env) error {
			_, err := e.st.AcceptCode(e.ctx, e.session(ss[0].ID), 100, farStep, lim, last)
			expectRetry(e.t, err, store.ErrTooManyAttempts, end)
			return err
		}, store.ErrTooManyAttempts},
	})
	// A new window begins with the next attempt after the old one ends.
	if _, c := e.reject(fresh, lim, end); c.Attempts != 1 || !c.AttemptsSince.Equal(end) || c.FailedCodes != 4 {
		t.Errorf("next window: expected 1 attempt since %v and 4 wrong; got %d since %v, %d wrong", end, c.Attempts, c.AttemptsSince, c.FailedCodes)
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
	if c := e.chip("C2"); c.LastStep != 500 {
		t.Errorf("expected last step 500, got %d", c.LastStep)
	}
}

// testUnlockAndAudit: an operator lifts a lock and writes audit entries of their own.
func testUnlockAndAudit(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1")
	s := e.presented(1, "C1")[0]
	s, _ = e.reject(s, lockLimits, t0)
	e.reject(s, lockLimits, t0)
	if !e.chip("C1").LockedAt(t0) {
		t.Fatal("expected C1 locked")
	}
	op := store.AuditEntry{At: t0, Event: "operator_chip_unlocked", Detail: `{"serial":"C1","by":"operator"}`}
	if err := e.st.UnlockChip(e.ctx, "C1", op); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	want := e.chip("C1")
	want.FailedCodes, want.Locks, want.LockedUntil, want.Attempts, want.AttemptsSince = 0, 0, time.Time{}, 0, time.Time{}
	same(t, "unlocked chip", want, e.chip("C1"))
	if err := e.st.Audit(e.ctx, store.AuditEntry{At: t0, Event: "operator_chip_shown", Detail: `{"serial":"C1"}`}); err != nil {
		t.Fatalf("audit: %v", err)
	}
	entries, err := e.st.AuditEntries(e.ctx, "")
	if err != nil || len(entries) != 2 || entries[0].Event != "operator_chip_unlocked" || entries[1].Event != "operator_chip_shown" {
		t.Errorf("operator audit: expected operator_chip_unlocked then operator_chip_shown, got %+v (%v)", entries, err)
	}
	if got, _ := e.st.AuditEntries(e.ctx, s.ID); got[len(got)-1].Event != "chip_locked" {
		t.Errorf("session audit: expected the lock recorded last, got %+v", got)
	}
	expectFailures(e, []failing{
		{"unlock unknown chip", func(e env) error { return e.st.UnlockChip(e.ctx, "nope", op) }, store.ErrNotFound},
		{"audit without entries", func(e env) error { return e.st.Audit(e.ctx) }, nil},
		{"audit without event", func(e env) error { return e.st.Audit(e.ctx, store.AuditEntry{At: t0}) }, nil},
	})
}

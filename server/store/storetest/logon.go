package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"mitidchip/server/store"
)

var logonLimits = store.LogonLimits{LockAfter: 3, FirstLock: 15 * time.Minute, MaxLock: time.Hour, Forget: 24 * time.Hour}

// activated is person with user ID uid and chip serial bound, through a whole
// activation.
func (e env) activated(token, person, uid, serial string) {
	e.t.Helper()
	h := handoff(token, person)
	h.UserID = uid
	s, err := e.st.RedeemHandoff(e.ctx, h, newSession(token))
	if err != nil {
		e.t.Fatalf("redeem %s: %v", token, err)
	}
	s, err = e.st.AcceptCode(e.ctx, e.present(s, serial), 1, farStep, limits, t0)
	if err != nil {
		e.t.Fatalf("accept code: %v", err)
	}
	if _, err := e.st.Complete(e.ctx, s, t0); err != nil {
		e.t.Fatalf("complete: %v", err)
	}
}

func challengeOf(id, key string) store.LogonChallenge {
	return store.LogonChallenge{ID: id, Challenge: []byte("challenge-" + id + "-0123456789"), UserKey: key,
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
}

func (e env) beginLogon(id, key, uid string) (store.LogonChallenge, store.Person) {
	e.t.Helper()
	c, p, err := e.st.BeginLogon(e.ctx, challengeOf(id, key), uid, t0)
	if err != nil {
		e.t.Fatalf("begin logon %s: %v", id, err)
	}
	return c, p
}

func tryPassword(id string, ok bool, at time.Time) store.PasswordTry {
	return store.PasswordTry{ChallengeID: id, OK: ok, Nonce: []byte("nonce-" + id), Limits: logonLimits, At: at,
		Audit: []store.AuditEntry{{At: at, Event: "logon_password", Detail: "{}"}}}
}

func logonSession(id, person, serial string, at time.Time) store.LogonSession {
	return store.LogonSession{ID: id, CookieHash: hashOf("cookie-" + id), PersonID: person, ChipSerial: serial,
		CreatedAt: at, SeenAt: at, ExpiresAt: at.Add(15 * time.Minute)}
}

// testLogon: a challenge begun for a user ID someone has names them, one for a user
// ID no one has names no one, and both are stored alike; a right password then the
// chip make a session, use the challenge, reset the count and record the chip's use;
// every refusal changes nothing.
func testLogon(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	e.activated("tok-1", "p1", "Anna.Hansen", "C1")
	e.activated("tok-2", "p2", "bo.jensen", "C2")

	c, p := e.beginLogon("L1", "key-anna", "ANNA.hansen")
	if c.PersonID != "p1" || p.ID != "p1" || p.UserID != "anna.hansen" {
		t.Fatalf("begin for a known user ID: challenge %+v, person %+v", c, p)
	}
	if got, err := e.st.LogonChallenge(e.ctx, "L1"); err != nil {
		t.Fatal(err)
	} else {
		same(t, "stored challenge", c, got)
	}
	u, nobody := e.beginLogon("U1", "key-nobody", "nobody.here")
	if u.PersonID != "" || nobody.ID != "" {
		t.Fatalf("begin for an unknown user ID: challenge %+v, person %+v", u, nobody)
	}

	at := t0.Add(time.Minute)
	c, f, err := e.st.TryPassword(e.ctx, tryPassword("L1", true, at))
	if err != nil || !c.PasswordOK || !c.PasswordAt.Equal(at) || string(c.Nonce) != "nonce-L1" || f.Failures != 1 {
		t.Fatalf("right password: %+v, %+v (%v)", c, f, err)
	}
	expectFailures(e, []failing{
		{"password step twice", func(e env) error {
			_, _, err := e.st.TryPassword(e.ctx, tryPassword("L1", true, at))
			return err
		}, store.ErrLogonUsed},
		{"unknown challenge", func(e env) error {
			_, _, err := e.st.TryPassword(e.ctx, tryPassword("nope", true, at))
			return err
		}, store.ErrNotFound},
		{"expired challenge", func(e env) error {
			_, _, err := e.st.TryPassword(e.ctx, tryPassword("U1", false, t0.Add(5*time.Minute)))
			return err
		}, store.ErrLogonExpired},
		{"finish with another person's chip", func(e env) error {
			_, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L1", Session: logonSession("S1", "p1", "C2", at), At: at})
			return err
		}, store.ErrChipTaken},
		{"finish for another person", func(e env) error {
			_, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L1", Session: logonSession("S1", "p2", "C2", at), At: at})
			return err
		}, store.ErrConflict},
		{"finish before the password", func(e env) error {
			_, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "U1", Session: logonSession("S1", "p1", "C1", at), At: at})
			return err
		}, store.ErrConflict},
	})

	s, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L1", Session: logonSession("S1", "p1", "C1", at), At: at,
		Audit: []store.AuditEntry{{At: at, PersonID: "p1", Event: "logon", Detail: "{}"}}})
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	got, err := e.st.LogonSessionByCookie(e.ctx, hashOf("cookie-S1"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "session", s, got)
	if ch := e.chip("C1"); !ch.LastUsedAt.Equal(at) {
		t.Errorf("chip C1 last used: expected %v, got %v", at, ch.LastUsedAt)
	}
	if f, _ := e.st.LogonFailure(e.ctx, "key-anna"); f != (store.LogonFailure{UserKey: "key-anna"}) {
		t.Errorf("count after a logon: %+v", f)
	}
	expectFailures(e, []failing{
		{"finish twice", func(e env) error {
			_, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L1", Session: logonSession("S2", "p1", "C1", at), At: at})
			return err
		}, store.ErrLogonUsed},
	})

	later := at.Add(5 * time.Minute)
	got.SeenAt, got.ExpiresAt = later, later.Add(15*time.Minute)
	if err := e.st.TouchLogonSession(e.ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.st.LogonSessionByCookie(e.ctx, hashOf("cookie-S1")); !again.SeenAt.Equal(later) {
		t.Errorf("touched session: %+v", again)
	}
	if err := e.st.EndLogonSession(e.ctx, "S1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.LogonSessionByCookie(e.ctx, hashOf("cookie-S1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ended session: expected %v, got %v", store.ErrNotFound, err)
	}
	if err := e.st.EndLogonSession(e.ctx, "S1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ending twice: expected %v, got %v", store.ErrNotFound, err)
	}

	// Everything the logon left is swept once expired.
	if n, err := e.st.DeleteExpired(e.ctx, t0.Add(48*time.Hour), 100); err != nil || n < 3 {
		t.Fatalf("sweep: %d rows (%v)", n, err)
	}
	for _, id := range []string{"L1", "U1"} {
		if _, err := e.st.LogonChallenge(e.ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("challenge %s after the sweep: %v", id, err)
		}
	}
}

// testLogonLock: wrong passwords count on the key and lock it, told with when; a
// lock refuses begins and password steps without writing; a lifted lock starts a
// fresh count and the next lock is twice as long.
func testLogonLock(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	at := t0
	n := 0
	try := func(ok bool) (store.LogonFailure, error) {
		n++
		id := "L" + strconv.Itoa(n)
		c := challengeOf(id, "key")
		c.CreatedAt, c.ExpiresAt = at, at.Add(5*time.Minute)
		if _, _, err := e.st.BeginLogon(e.ctx, c, "nobody", at); err != nil {
			return store.LogonFailure{}, err
		}
		_, f, err := e.st.TryPassword(e.ctx, tryPassword(id, ok, at))
		return f, err
	}
	for i := 1; i <= logonLimits.LockAfter; i++ {
		f, err := try(false)
		if err != nil || f.Failures != i {
			t.Fatalf("wrong password %d: %+v (%v)", i, f, err)
		}
	}
	f, _ := e.st.LogonFailure(e.ctx, "key")
	if f.Locks != 1 || !f.LockedUntil.Equal(at.Add(15*time.Minute)) {
		t.Fatalf("lock: %+v", f)
	}
	expectFailures(e, []failing{
		{"begin while locked", func(e env) error {
			_, _, err := e.st.BeginLogon(e.ctx, challengeOf("X", "key"), "nobody", at)
			var retry *store.RetryError
			if !errors.As(err, &retry) || !retry.Until.Equal(f.LockedUntil) {
				t.Errorf("expected a RetryError until %v, got %v", f.LockedUntil, err)
			}
			return err
		}, store.ErrLogonLocked},
	})
	// Another key is not locked.
	if _, _, err := e.st.BeginLogon(e.ctx, challengeOf("other", "other-key"), "other", at); err != nil {
		t.Fatal(err)
	}
	at = f.LockedUntil
	for i := 1; i <= logonLimits.LockAfter; i++ {
		if _, err := try(false); err != nil {
			t.Fatal(err)
		}
	}
	if f, _ := e.st.LogonFailure(e.ctx, "key"); f.Locks != 2 || !f.LockedUntil.Equal(at.Add(30*time.Minute)) {
		t.Fatalf("second lock: %+v", f)
	}
}

// testLogonRace: a challenge is used once, and a key's count is exact, however
// many requests race.
func testLogonRace(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1")
	e.activated("tok-1", "p1", "anna.hansen", "C1")
	e.beginLogon("L1", "key-anna", "anna.hansen")
	if _, _, err := e.st.TryPassword(e.ctx, tryPassword("L1", true, t0)); err != nil {
		t.Fatal(err)
	}
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L1",
				Session: logonSession("S"+strconv.Itoa(i), "p1", "C1", t0), At: t0})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrLogonUsed):
			t.Errorf("a losing finish: expected %v, got %v", store.ErrLogonUsed, err)
		}
	}
	if won != 1 {
		t.Fatalf("expected one logon from the challenge, got %d", won)
	}

	// Wrong passwords racing on one key: each counted once, the lock at exactly
	// LockAfter, and no try after it admitted.
	for i := range racers {
		e.beginLogon("W"+strconv.Itoa(i), "key-race", "nobody")
	}
	locked := 0
	admitted := make([]bool, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.st.TryPassword(e.ctx, tryPassword("W"+strconv.Itoa(i), false, t0))
			admitted[i] = err == nil
			if err != nil && !errors.Is(err, store.ErrLogonLocked) {
				t.Errorf("racing try: %v", err)
			}
		}()
	}
	wg.Wait()
	for _, a := range admitted {
		if !a {
			locked++
		}
	}
	if racers-locked != logonLimits.LockAfter {
		t.Fatalf("expected %d tries admitted before the lock, got %d", logonLimits.LockAfter, racers-locked)
	}
	if f, _ := e.st.LogonFailure(e.ctx, "key-race"); f.Locks != 1 || f.Failures != logonLimits.LockAfter {
		t.Fatalf("count after the race: %+v", f)
	}
}

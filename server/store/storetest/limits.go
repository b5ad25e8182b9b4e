package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server/store"
)

// limited is a handoff for person with limits of 3 handoffs an hour and 2 open
// sessions, used at at.
func limited(token, person string, at time.Time) store.Handoff {
	h := handoff(token, person)
	h.UsedAt, h.ExpiresAt = at, at.Add(5*time.Minute)
	h.Limits = store.Limits{MaxHandoffs: 3, Window: time.Hour, MaxOpenSessions: 2}
	return h
}

// sessionAt is a new session for token created at at, living ttl.
func sessionAt(token string, at time.Time, ttl time.Duration) store.Session {
	s := newSession(token)
	s.CreatedAt, s.ExpiresAt = at, at.Add(ttl)
	return s
}

func testPersonLimits(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	redeem := func(token, person string, at time.Time, ttl time.Duration) error {
		_, err := e.st.RedeemHandoff(e.ctx, limited(token, person, at), sessionAt(token, at, ttl), audit("act-"+token, "handoff_redeemed"))
		return err
	}
	must := func(token, person string, at time.Time, ttl time.Duration) {
		t.Helper()
		if err := redeem(token, person, at, ttl); err != nil {
			t.Fatalf("redeem %s for %s at %v: %v", token, person, at.Sub(t0), err)
		}
	}

	// Two open sessions: the third waits until one of them ends.
	must("tok-1", "p1", t0, 10*time.Minute)
	must("tok-2", "p1", t0, 20*time.Minute)
	expectFailures(e, []failing{
		{"third open session", func(e env) error { return redeem("tok-3", "p1", t0.Add(time.Minute), time.Hour) }, store.ErrTooManySessions},
		{"third open session, the first one at its last moment", func(e env) error {
			return redeem("tok-3", "p1", t0.Add(10*time.Minute-time.Nanosecond), time.Hour)
		}, store.ErrTooManySessions},
		{"a replay is reported before the limit", func(e env) error { return redeem("tok-1", "p1", t0.Add(time.Minute), time.Hour) }, store.ErrHandoffUsed},
	})
	// Another person is not affected.
	must("tok-q1", "q1", t0.Add(time.Minute), time.Hour)
	// The refused token was not marked used: once the first session expired, it starts
	// the third handoff of the hour.
	must("tok-3", "p1", t0.Add(10*time.Minute), 5*time.Minute)

	// A completed or blocked session is not open.
	blocked := e.session("act-tok-2")
	blocked.State = store.StateBlocked
	e.update(blocked)
	// Three handoffs within the hour: the fourth waits for the first to be an hour old,
	// and a sweep meanwhile does not forget them (the rows are kept for the window
	// even though the tokens expired).
	if _, err := e.st.DeleteExpired(e.ctx, t0.Add(59*time.Minute), store.SweepBatch); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	expectFailures(e, []failing{
		{"fourth handoff within the hour", func(e env) error { return redeem("tok-4", "p1", t0.Add(59*time.Minute), time.Minute) }, store.ErrTooManyHandoffs},
	})
	must("tok-4", "p1", t0.Add(time.Hour), time.Minute)
	must("tok-q2", "q1", t0.Add(time.Hour), time.Minute)

	// Zero limits are no limits.
	for i := range 5 {
		token := fmt.Sprintf("tok-free-%d", i)
		if _, err := e.st.RedeemHandoff(e.ctx, handoff(token, "p-free"), newSession(token)); err != nil {
			t.Fatalf("redeem %s without limits: %v", token, err)
		}
	}
}

// testPersonLimitsRace redeems many handoffs of one person at once: exactly as many
// as the open-session limit succeed, whichever instance or goroutine sends them.
func testPersonLimitsRace(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	const tries = 12
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, tries)
	for i := range tries {
		wg.Go(func() {
			token := fmt.Sprintf("tok-race-%02d", i)
			h := limited(token, "p1", t0)
			h.Limits.MaxHandoffs = 0
			<-start
			_, err := e.st.RedeemHandoff(e.ctx, h, sessionAt(token, t0, time.Hour))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrTooManySessions):
				refused.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent redeem: expected success or %v, got %v", store.ErrTooManySessions, err)
	}
	if ok.Load() != 2 || refused.Load() != tries-2 {
		t.Errorf("concurrent redeems with a limit of 2 open sessions: expected 2 to succeed and %d refused, got %d and %d", tries-2, ok.Load(), refused.Load())
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testRedeemAgain(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	redeem := func(token, person, requestID string) store.Session {
		t.Helper()
		s := newSession(token)
		s.RequestHash = hashOf(requestID)
		out, err := e.st.RedeemHandoff(e.ctx, handoff(token, person), s, audit("act-"+token, "handoff_redeemed"))
		if err != nil {
			t.Fatalf("redeem %s: %v", token, err)
		}
		return out
	}
	s := redeem("tok-1", "p1", "req-1")
	if got := e.session(s.ID).RequestHash; string(got) != string(hashOf("req-1")) {
		t.Fatalf("stored request hash: expected %x, got %x", hashOf("req-1"), got)
	}

	at := t0.Add(time.Minute)
	again, err := e.st.RedeemAgain(e.ctx, "tok-1", hashOf("req-1"), hashOf("cookie-2"), at, audit(s.ID, "handoff_redeemed_again"))
	if err != nil {
		t.Fatalf("redeem again: %v", err)
	}
	want := s
	want.CookieHash, want.UpdatedAt, want.Version = hashOf("cookie-2"), at, s.Version+1
	same(t, "session redeemed again", want, again)
	same(t, "stored session", want, e.session(s.ID))
	if _, err := e.st.SessionByCookie(e.ctx, s.CookieHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first cookie after redeeming again: expected %v, got %v", store.ErrNotFound, err)
	}
	if entries, _ := e.st.AuditEntries(e.ctx, s.ID); len(entries) != 2 || entries[1].Event != "handoff_redeemed_again" {
		t.Errorf("audit: expected handoff_redeemed then handoff_redeemed_again, got %+v", entries)
	}

	moved := redeem("tok-2", "p2", "req-2")
	moved.State = store.StatePasswordSet
	e.update(moved)
	redeem("tok-3", "p3", "req-3") // expires at t0+15m
	if _, err := e.st.RedeemHandoff(e.ctx, handoff("tok-4", "p4"), newSession("tok-4")); err != nil {
		t.Fatalf("redeem without a request id: %v", err)
	}
	expectFailures(e, []failing{
		{"another request id", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-1", hashOf("req-other"), hashOf("cookie-3"), at)
			return err
		}, store.ErrHandoffUsed},
		{"session moved on", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-2", hashOf("req-2"), hashOf("cookie-3"), at)
			return err
		}, store.ErrHandoffUsed},
		{"session expired", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-3", hashOf("req-3"), hashOf("cookie-3"), t0.Add(15*time.Minute))
			return err
		}, store.ErrHandoffUsed},
		{"redeemed without a request id", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-4", hashOf(""), hashOf("cookie-3"), at)
			return err
		}, store.ErrHandoffUsed},
		{"never redeemed", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-9", hashOf("req-1"), hashOf("cookie-3"), at)
			return err
		}, store.ErrNotFound},
		{"no request hash", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-1", nil, hashOf("cookie-3"), at)
			return err
		}, nil},
		{"cookie hash in use", func(e env) error {
			_, err := e.st.RedeemAgain(e.ctx, "tok-1", hashOf("req-1"), newSession("tok-3").CookieHash, at)
			return err
		}, nil},
	})
}

// testSweepBatches: DeleteExpired works through its rows in transactions of at most
// batch rows, each committed on its own, so a failure part way keeps what went.
func testSweepBatches(t *testing.T, open Opener) {
	const batch, pairs = 10, 25 // 25 sessions and 25 handoff rows
	var commits atomic.Int32
	var failAt atomic.Int32 // fail the nth sweep commit; 0 never
	e := newEnv(t, open, func(step string) error {
		if step != "sweep/commit" {
			return nil
		}
		if n := commits.Add(1); n == failAt.Load() {
			return fmt.Errorf("commit %d: %w", n, errInjected)
		}
		return nil
	})
	for i := range pairs {
		e.redeem(fmt.Sprintf("tok-%02d", i), "p1")
	}
	// Not yet expired: one look per table, nothing deleted.
	if n, err := e.st.DeleteExpired(e.ctx, t0, batch); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: expected 0 rows, got %d (%v)", n, err)
	}

	// The second transaction fails: the first one's rows are gone, and no more.
	after := t0.Add(time.Hour)
	commits.Store(0)
	failAt.Store(2)
	n, err := e.st.DeleteExpired(e.ctx, after, batch)
	if !errors.Is(err, errInjected) {
		t.Fatalf("sweep failing at its second commit: expected the injected failure, got %d rows and %v", n, err)
	}
	rows := Snapshot(t, e.st)
	left := len(rows["activation_sessions"]) + len(rows["used_handoffs"])
	if gone := 2*pairs - left; gone < 1 || gone > batch || gone != n {
		t.Fatalf("after a sweep that failed at its second commit: expected 1 to %d rows gone and reported, got %d gone, %d reported", batch, gone, n)
	}

	failAt.Store(0)
	commits.Store(0)
	n, err = e.st.DeleteExpired(e.ctx, after, batch)
	if err != nil || n != left {
		t.Fatalf("sweep: expected the %d rows left deleted, got %d (%v)", left, n, err)
	}
	if min := int32((left + batch - 1) / batch); commits.Load() < min {
		t.Errorf("sweep of %d rows in batches of %d: expected at least %d transactions, got %d", left, batch, min, commits.Load())
	}
	if n, err := e.st.DeleteExpired(e.ctx, after, 0); err == nil {
		t.Errorf("sweep with batch 0: expected an error, got %d rows", n)
	}
}

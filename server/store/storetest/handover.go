package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server/store"
)

// handoverOf is a handover for session id with code code, valid for ten minutes
// from t0; its lookup hash is of the code's first half.
func handoverOf(id, code string) store.Handover {
	return store.Handover{LookupHash: hashOf(code[:len(code)/2]), CodeHash: hashOf(code), ActivationID: id,
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func redemptionOf(code, cookie string, at time.Time) store.HandoverRedemption {
	return store.HandoverRedemption{LookupHash: hashOf(code[:len(code)/2]), CodeHash: hashOf(code), CookieHash: hashOf(cookie),
		At: at, MaxWrong: 5, Redeemed: store.AuditEntry{At: at, Event: "handover_redeemed", Detail: "{}"},
		Rejected: store.AuditEntry{At: at, Event: "handover_rejected", Detail: "{}"}}
}

func (e env) createHandover(h store.Handover) {
	e.t.Helper()
	if err := e.st.CreateHandover(e.ctx, h, audit(h.ActivationID, "handover_created")); err != nil {
		e.t.Fatalf("create handover for %s: %v", h.ActivationID, err)
	}
}

// testHandover: the code moves the session to a new cookie once; the old cookie stops
// working; the audit trail names both ends; a second use, a code past its minutes, a
// session that moved on are refused and change nothing.
func testHandover(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	s := e.redeem("tok-1", "p1")
	e.createHandover(handoverOf(s.ID, "ABCDEFGH"))

	at := t0.Add(time.Minute)
	out, err := e.st.RedeemHandover(e.ctx, redemptionOf("ABCDEFGH", "cookie-b", at))
	if err != nil {
		t.Fatalf("redeem the handover: %v", err)
	}
	want := s
	want.CookieHash, want.UpdatedAt, want.Version = hashOf("cookie-b"), at, s.Version+1
	same(t, "session after the handover", want, out)
	if _, err := e.st.SessionByCookie(e.ctx, s.CookieHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first device's cookie after the handover: expected %v, got %v", store.ErrNotFound, err)
	}
	entries, err := e.st.AuditEntries(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, a := range entries {
		events = append(events, a.Event)
		if a.PersonID != "p1" && a.Event != "handoff_redeemed" {
			t.Errorf("audit %s: expected person p1, got %q", a.Event, a.PersonID)
		}
	}
	if len(events) != 3 || events[1] != "handover_created" || events[2] != "handover_redeemed" {
		t.Errorf("audit: expected handoff_redeemed, handover_created, handover_redeemed, got %v", events)
	}

	moved := e.redeem("tok-2", "p2")
	e.createHandover(handoverOf(moved.ID, "MOVEDON2"))
	moved.State = store.StatePasswordSet
	e.update(moved)
	expired := e.redeem("tok-3", "p3")
	e.createHandover(handoverOf(expired.ID, "EXPIRED3"))
	replaced := e.redeem("tok-4", "p4")
	e.createHandover(handoverOf(replaced.ID, "FIRST444"))
	e.createHandover(handoverOf(replaced.ID, "SECOND44"))
	expectFailures(e, []failing{
		{"used twice", func(e env) error {
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("ABCDEFGH", "cookie-c", at))
			return err
		}, store.ErrHandoverUsed},
		{"no such code", func(e env) error {
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("ZZZZZZZZ", "cookie-c", at))
			return err
		}, store.ErrHandoverWrong},
		{"session moved on", func(e env) error {
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("MOVEDON2", "cookie-c", at))
			return err
		}, store.ErrConflict},
		{"expired", func(e env) error {
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("EXPIRED3", "cookie-c", t0.Add(10*time.Minute)))
			return err
		}, store.ErrHandoverExpired},
		{"replaced by a newer code", func(e env) error {
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("FIRST444", "cookie-c", at))
			return err
		}, store.ErrHandoverWrong},
		{"create for a session that moved on", func(e env) error {
			return e.st.CreateHandover(e.ctx, handoverOf(moved.ID, "ANOTHER2"))
		}, store.ErrConflict},
		{"create with a lookup hash in use", func(e env) error {
			return e.st.CreateHandover(e.ctx, handoverOf(expired.ID, "SECONDXX"))
		}, store.ErrHandoverTaken},
		{"create for no session", func(e env) error {
			return e.st.CreateHandover(e.ctx, handoverOf("act-none", "NOSESSON"))
		}, store.ErrNotFound},
	})
	if _, err := e.st.RedeemHandover(e.ctx, redemptionOf("SECOND44", "cookie-d", at)); err != nil {
		t.Errorf("the newer of two codes: %v", err)
	}

	// The sweep takes handovers by their own expiry.
	if _, err := e.st.DeleteExpired(e.ctx, t0.Add(11*time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	if hs, err := e.st.Handovers(e.ctx, expired.ID); err != nil || len(hs) != 0 {
		t.Errorf("handovers after their expiry was swept: expected none, got %v (%v)", hs, err)
	}
}

// testHandoverWrongCodes: wrong codes count on the handover they name by their first
// half (committed, with an audit entry), the fifth voids it, and then even the right
// code is refused.
func testHandoverWrongCodes(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	s := e.redeem("tok-1", "p1")
	e.createHandover(handoverOf(s.ID, "ABCDEFGH"))
	at := t0.Add(time.Minute)
	for i := 1; i <= 5; i++ {
		_, err := e.st.RedeemHandover(e.ctx, redemptionOf("ABCDWXYZ", "cookie-x", at))
		want := store.ErrHandoverWrong
		if i == 5 {
			want = store.ErrHandoverVoid
		}
		if !errors.Is(err, want) {
			t.Fatalf("wrong code %d: expected %v, got %v", i, want, err)
		}
	}
	hs, err := e.st.Handovers(e.ctx, s.ID)
	if err != nil || len(hs) != 1 || hs[0].WrongCodes != 5 || !hs[0].UsedAt.IsZero() {
		t.Fatalf("the handover after 5 wrong codes: expected 5 wrong and unused, got %+v (%v)", hs, err)
	}
	if _, err := e.st.RedeemHandover(e.ctx, redemptionOf("ABCDEFGH", "cookie-b", at)); !errors.Is(err, store.ErrHandoverVoid) {
		t.Fatalf("the right code after 5 wrong ones: expected %v, got %v", store.ErrHandoverVoid, err)
	}
	if got := e.session(s.ID); string(got.CookieHash) != string(s.CookieHash) {
		t.Errorf("the session's cookie after a void handover: expected it unchanged")
	}
	entries, _ := e.st.AuditEntries(e.ctx, s.ID)
	rejected := 0
	for _, a := range entries {
		if a.Event == "handover_rejected" {
			rejected++
		}
	}
	if rejected != 5 {
		t.Errorf("audit: expected 5 handover_rejected entries, got %d in %+v", rejected, entries)
	}
}

// testHandoverRace: two devices redeem the same code at once; exactly one wins, and
// the session ends with the winner's cookie.
func testHandoverRace(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	s := e.redeem("tok-1", "p1")
	e.createHandover(handoverOf(s.ID, "ABCDEFGH"))
	const tries = 8
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, tries)
	for i := range tries {
		wg.Go(func() {
			cookie := string(rune('a'+i)) + "-cookie"
			<-start
			_, err := e.st.RedeemHandover(e.ctx, redemptionOf("ABCDEFGH", cookie, t0.Add(time.Minute)))
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(cookie)
			case errors.Is(err, store.ErrHandoverUsed):
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent redemption: expected success or %v, got %v", store.ErrHandoverUsed, err)
	}
	if wins.Load() != 1 {
		t.Fatalf("concurrent redemptions of one code: expected exactly 1 to win, got %d", wins.Load())
	}
	if got := e.session(s.ID).CookieHash; string(got) != string(hashOf(winner.Load().(string))) {
		t.Errorf("the session's cookie: expected the winner's")
	}
}

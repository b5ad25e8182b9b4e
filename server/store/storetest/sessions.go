package storetest

import (
	"errors"
	"testing"
	"time"

	"mitidchip/server/store"
)

func testRedeem(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	h := handoff("tok-1", "p1")
	h.UserID = "Alice.ÆØÅ"
	s, err := e.st.RedeemHandoff(e.ctx, h, newSession("tok-1"), audit("act-tok-1", "handoff_redeemed"))
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	want := newSession("tok-1")
	want.PersonID, want.State, want.Version, want.UpdatedAt = "p1", store.StateRedeemed, 1, t0
	same(t, "returned session", want, s)
	same(t, "session by id", want, e.session(s.ID))
	byCookie, err := e.st.SessionByCookie(e.ctx, s.CookieHash)
	if err != nil {
		t.Fatalf("session by cookie: %v", err)
	}
	same(t, "session by cookie", want, byCookie)
	same(t, "person", store.Person{ID: "p1", UserID: "alice.æøå", CreatedAt: t0, UpdatedAt: t0}, e.person("p1"))

	// A later handoff for the same person starts another session and leaves the
	// person as it was.
	h2 := handoff("tok-2", "p1")
	h2.UserID = "someone.else"
	if _, err := e.st.RedeemHandoff(e.ctx, h2, newSession("tok-2")); err != nil {
		t.Fatalf("second redeem for p1: %v", err)
	}
	same(t, "person after second handoff", store.Person{ID: "p1", UserID: "alice.æøå", CreatedAt: t0, UpdatedAt: t0}, e.person("p1"))

	expectFailures(e, []failing{
		{"replayed token", func(e env) error {
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-1", "p1"), newSession("tok-1b"))
			return err
		}, store.ErrHandoffUsed},
		{"replayed token for another person", func(e env) error {
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-1", "p2"), newSession("tok-1c"))
			return err
		}, store.ErrHandoffUsed},
		{"replay is reported before anything else", func(e env) error {
			h := handoff("tok-1", "p2")
			h.UserID = "alice.æøå"
			_, err := e.st.RedeemHandoff(e.ctx, h, newSession("tok-1"))
			return err
		}, store.ErrHandoffUsed},
		{"user id of another person", func(e env) error {
			h := handoff("tok-3", "p2")
			h.UserID = "ALICE.æøå"
			_, err := e.st.RedeemHandoff(e.ctx, h, newSession("tok-3"))
			return err
		}, store.ErrUserIDTaken},
		{"session for another person", func(e env) error {
			s := newSession("tok-4")
			s.PersonID = "p9"
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-4", "p2"), s)
			return err
		}, nil},
		{"session not new", func(e env) error {
			s := newSession("tok-5")
			s.State = store.StateCodeVerified
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-5", "p2"), s)
			return err
		}, nil},
		{"cookie hash in use", func(e env) error {
			s := newSession("tok-6")
			s.CookieHash = newSession("tok-1").CookieHash
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-6", "p2"), s)
			return err
		}, nil},
		{"audit detail not JSON", func(e env) error {
			a := audit("act-tok-7", "handoff_redeemed")
			a.Detail = "{not json"
			_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-7", "p2"), newSession("tok-7"), a)
			return err
		}, nil},
		{"no token id", func(e env) error {
			_, err := e.st.RedeemHandoff(e.ctx, handoff("", "p2"), newSession("tok-8"))
			return err
		}, nil},
	})
}

func testLookups(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.redeem("tok-1", "p1")
	cases := []struct {
		name string
		call func() error
	}{
		{"session", func() error { _, err := e.st.Session(e.ctx, "nope"); return err }},
		{"session by cookie", func() error { _, err := e.st.SessionByCookie(e.ctx, []byte("nope")); return err }},
		{"person", func() error { _, err := e.st.Person(e.ctx, "nope"); return err }},
		{"chip", func() error { _, err := e.st.Chip(e.ctx, "nope"); return err }},
		{"active chip of person without one", func() error { _, err := e.st.ActiveChip(e.ctx, "p1"); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("expected %v, got %v", store.ErrNotFound, err)
			}
		})
	}
	if err := e.st.Ping(e.ctx); err != nil {
		t.Errorf("ping: expected no error, got %v", err)
	}
}

func testUpdate(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1")
	s := e.redeem("tok-1", "p1")
	stale := s

	s.State = store.StatePasswordSet
	s.UpdatedAt = t0.Add(time.Minute)
	s.ExpiresAt = t0.Add(20 * time.Minute)
	s.KDF = store.KDF{Salt: []byte("salt"), Time: 3, MemoryKiB: 65536, Threads: 4}
	s.PasswordVerifier = []byte("verifier")
	s.ChipSerial, s.ChipPublicKey, s.Nonce = "C1", []byte("pub"), []byte("nonce")
	got, err := e.st.UpdateSession(e.ctx, s, audit(s.ID, "password_set"))
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	want := s
	want.Version = 2
	same(t, "returned session", want, got)
	same(t, "stored session", want, e.session(s.ID))
	if entries, _ := e.st.AuditEntries(e.ctx, s.ID); len(entries) != 2 || entries[1].Event != "password_set" {
		t.Errorf("audit: expected handoff_redeemed then password_set, got %+v", entries)
	}

	blocked := e.redeem("tok-2", "p2")
	blocked.State = store.StateBlocked
	blocked = e.update(blocked)

	expectFailures(e, []failing{
		{"stale version", func(e env) error { _, err := e.st.UpdateSession(e.ctx, stale); return err }, store.ErrConflict},
		{"unknown session", func(e env) error {
			s := got
			s.ID = "nope"
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, store.ErrNotFound},
		{"into code_verified", func(e env) error {
			s := got
			s.State = store.StateCodeVerified
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, nil},
		{"into completed", func(e env) error {
			s := got
			s.State = store.StateCompleted
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, nil},
		{"unknown state", func(e env) error {
			s := got
			s.State = "dancing"
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, nil},
		{"blocked session revived", func(e env) error {
			s := blocked
			s.State = store.StateChipPresented
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, store.ErrConflict},
		{"unknown chip", func(e env) error {
			s := got
			s.ChipSerial = "C-unknown"
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, nil},
		{"audit without event", func(e env) error {
			_, err := e.st.UpdateSession(e.ctx, got, store.AuditEntry{At: t0, ActivationID: got.ID})
			return err
		}, nil},
	})
}

func testAuditAndCleanup(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	s := e.redeem("tok-1", "p1")
	s.State = store.StatePasswordSet
	second := store.AuditEntry{At: t0.Add(time.Second), ActivationID: s.ID, PersonID: "p1", Event: "password_set"}
	if _, err := e.st.UpdateSession(e.ctx, s, second, audit(s.ID, "third")); err != nil {
		t.Fatalf("update: %v", err)
	}
	entries, err := e.st.AuditEntries(e.ctx, s.ID)
	if err != nil {
		t.Fatalf("audit entries: %v", err)
	}
	if len(entries) != 3 {
		t.Fatalf("expected 3 audit entries, got %d: %+v", len(entries), entries)
	}
	second.ID = entries[1].ID
	same(t, "second entry", second, entries[1])
	if !(entries[0].ID < entries[1].ID && entries[1].ID < entries[2].ID) || entries[2].Event != "third" {
		t.Errorf("expected entries in the order written, got %+v", entries)
	}
	if got, err := e.st.AuditEntries(e.ctx, "nope"); err != nil || len(got) != 0 {
		t.Errorf("audit of unknown activation: expected none, got %+v (%v)", got, err)
	}

	// tok-1: handoff expires at t0+5m, session at t0+15m. tok-2 an hour later.
	late := newSession("tok-2")
	late.CreatedAt, late.ExpiresAt = t0.Add(time.Hour), t0.Add(time.Hour+15*time.Minute)
	lateHandoff := handoff("tok-2", "p2")
	lateHandoff.ExpiresAt = t0.Add(time.Hour + 5*time.Minute)
	if _, err := e.st.RedeemHandoff(e.ctx, lateHandoff, late); err != nil {
		t.Fatalf("redeem tok-2: %v", err)
	}
	cases := []struct {
		name string
		now  time.Time
		want int
	}{
		{"nothing expired yet", t0.Add(5 * time.Minute), 0},
		{"first handoff expired", t0.Add(10 * time.Minute), 1},
		{"first session expired", t0.Add(20 * time.Minute), 1},
		{"everything expired", t0.Add(2 * time.Hour), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := e.st.DeleteExpired(e.ctx, c.now, store.SweepBatch)
			if err != nil || n != c.want {
				t.Fatalf("expected %d rows deleted, got %d (%v)", c.want, n, err)
			}
		})
	}
	if _, err := e.st.Session(e.ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: expected %v, got %v", store.ErrNotFound, err)
	}
	e.person("p1") // persons and the audit trail outlive their sessions
	if got, _ := e.st.AuditEntries(e.ctx, s.ID); len(got) != 3 {
		t.Errorf("audit after cleanup: expected 3 entries, got %d", len(got))
	}
}

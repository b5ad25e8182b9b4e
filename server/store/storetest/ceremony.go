package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"mitidchip/server/store"
)

func testCodes(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1")
	s := e.present(e.redeem("tok-1", "p1"), "C1")

	for i := 1; i <= 2; i++ {
		var err error
		if s, _, err = e.st.RejectCode(e.ctx, s, limits, t0, audit(s.ID, "code_rejected")); err != nil {
			t.Fatalf("reject %d: %v", i, err)
		}
		if s.WrongCodes != i || s.State != store.StateChipPresented {
			t.Fatalf("after wrong code %d: expected %d wrong codes in %s, got %d in %s", i, i, store.StateChipPresented, s.WrongCodes, s.State)
		}
	}
	if got := e.failure("C1", "p1").FailedCodes; got != 2 {
		t.Errorf("p1's wrong codes on C1: expected 2, got %d", got)
	}

	stale := s
	s, err := e.st.AcceptCode(e.ctx, s, 100, farStep, limits, t0.Add(time.Minute), audit(s.ID, "code_accepted"))
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if s.State != store.StateCodeVerified || s.WrongCodes != 0 || !s.UpdatedAt.Equal(t0.Add(time.Minute)) || s.Version != stale.Version+1 {
		t.Errorf("accepted session: expected code_verified, 0 wrong codes, updated at %v, version %d; got %s, %d, %v, %d",
			t0.Add(time.Minute), stale.Version+1, s.State, s.WrongCodes, s.UpdatedAt, s.Version)
	}
	if c, fs := e.chip("C1"), e.failures("C1"); c.LastStep != 100 || len(fs) != 0 {
		t.Errorf("chip after accept: expected last step 100 and no failures, got %d and %+v", c.LastStep, fs)
	}

	// A second activation with the same chip cannot reuse the step.
	other := e.present(e.redeem("tok-2", "p2"), "C1")
	toBlock := e.present(e.redeem("tok-3", "p3"), "C1")
	fresh := e.redeem("tok-4", "p4")

	expectFailures(e, []failing{
		{"same step again", func(e env) error { _, err := e.st.AcceptCode(e.ctx, other, 100, farStep, limits, t0); return err }, store.ErrStepUsed},
		{"earlier step", func(e env) error { _, err := e.st.AcceptCode(e.ctx, other, 99, farStep, limits, t0); return err }, store.ErrStepUsed},
		{"accept on stale version", func(e env) error { _, err := e.st.AcceptCode(e.ctx, stale, 101, farStep, limits, t0); return err }, store.ErrConflict},
		{"accept twice", func(e env) error { _, err := e.st.AcceptCode(e.ctx, s, 101, farStep, limits, t0); return err }, store.ErrConflict},
		{"accept before a chip is presented", func(e env) error { _, err := e.st.AcceptCode(e.ctx, fresh, 101, farStep, limits, t0); return err }, store.ErrConflict},
		{"reject on stale version", func(e env) error { _, _, err := e.st.RejectCode(e.ctx, stale, limits, t0); return err }, store.ErrConflict},
		{"reject with blockAfter 0", func(e env) error {
			lim := limits
			lim.BlockAfter = 0
			_, _, err := e.st.RejectCode(e.ctx, other, lim, t0)
			return err
		}, nil},
		{"accept beyond maxStep", func(e env) error { _, err := e.st.AcceptCode(e.ctx, other, 101, 100, limits, t0); return err }, nil},
		{"accept with no attempts allowed", func(e env) error {
			lim := limits
			lim.Attempts = 0
			_, err := e.st.AcceptCode(e.ctx, other, 101, farStep, lim, t0)
			return err
		}, nil},
		{"accept unknown session", func(e env) error {
			s := other
			s.ID = "nope"
			_, err := e.st.AcceptCode(e.ctx, s, 101, farStep, limits, t0)
			return err
		}, store.ErrNotFound},
	})

	if _, err := e.st.AcceptCode(e.ctx, other, 101, farStep, limits, t0); err != nil {
		t.Errorf("accept at a later step: expected no error, got %v", err)
	}

	// The third wrong code in a row blocks, and a blocked session takes no more codes.
	for i := 1; i <= 3; i++ {
		if toBlock, _, err = e.st.RejectCode(e.ctx, toBlock, limits, t0); err != nil {
			t.Fatalf("reject %d: %v", i, err)
		}
	}
	if toBlock.State != store.StateBlocked || toBlock.WrongCodes != 3 {
		t.Errorf("after 3 wrong codes: expected blocked with 3, got %s with %d", toBlock.State, toBlock.WrongCodes)
	}
	if got := e.failure("C1", "p3").FailedCodes; got != 3 {
		t.Errorf("p3's wrong codes on C1: expected 3, got %d", got)
	}
	expectFailures(e, []failing{
		{"accept on blocked session", func(e env) error { _, err := e.st.AcceptCode(e.ctx, toBlock, 200, farStep, limits, t0); return err }, store.ErrConflict},
		{"reject on blocked session", func(e env) error { _, _, err := e.st.RejectCode(e.ctx, toBlock, limits, t0); return err }, store.ErrConflict},
	})
}

func testComplete(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2", "C3")
	at := t0.Add(2 * time.Minute)

	s := e.verified("tok-1", "p1", "C1", 100)
	done, err := e.st.Complete(e.ctx, s, at, audit(s.ID, "activation_completed"))
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	want := s
	want.State, want.UpdatedAt, want.Version = store.StateCompleted, at, s.Version+1
	same(t, "completed session", want, done)
	same(t, "person", store.Person{ID: "p1", PasswordVerifier: s.PasswordVerifier, KDF: s.KDF, CreatedAt: t0, UpdatedAt: at}, e.person("p1"))
	active, err := e.st.ActiveChip(e.ctx, "p1")
	if err != nil {
		t.Fatalf("active chip: %v", err)
	}
	same(t, "active chip", store.Chip{Serial: "C1", SealedSeed: []byte("seed-C1"), CertDER: []byte("cert-C1"),
		Status: store.ChipBound, PersonID: "p1", BoundAt: at, LastStep: 100, ImportedAt: t0, Attempts: 1, AttemptsSince: t0}, active)

	// Activating a new chip retires the old one; the person keeps exactly one.
	s2 := e.verified("tok-2", "p1", "C2", 100)
	// p2's code for C2 is accepted while C2 is free; once p1 has it, p2 cannot bind it.
	taken := e.verified("tok-4", "p2", "C2", 101)
	if _, err := e.st.Complete(e.ctx, s2, at); err != nil {
		t.Fatalf("complete with a second chip: %v", err)
	}
	if c := e.chip("C1"); c.Status != store.ChipRetired || c.PersonID != "p1" {
		t.Errorf("old chip: expected retired and still naming p1, got %s and %q", c.Status, c.PersonID)
	}
	if c, err := e.st.ActiveChip(e.ctx, "p1"); err != nil || c.Serial != "C2" {
		t.Errorf("active chip: expected C2, got %q (%v)", c.Serial, err)
	}
	// Activating the chip one already has (a new password) keeps it bound.
	if _, err := e.st.Complete(e.ctx, e.verified("tok-3", "p1", "C2", 102), at); err != nil {
		t.Fatalf("complete with the chip already bound to p1: %v", err)
	}
	if c := e.chip("C2"); c.Status != store.ChipBound || c.PersonID != "p1" {
		t.Errorf("re-activated chip: expected bound to p1, got %s to %q", c.Status, c.PersonID)
	}

	revoked := e.verified("tok-5", "p2", "C3", 100)
	if err := e.st.RevokeChip(e.ctx, "C3"); err != nil {
		t.Fatalf("revoke C3: %v", err)
	}
	retired := e.verified("tok-6", "p2", "C1", 101)
	presented := e.present(e.redeem("tok-7", "p3"), "C2")

	expectFailures(e, []failing{
		{"chip bound to another person", func(e env) error { _, err := e.st.Complete(e.ctx, taken, at); return err }, store.ErrChipTaken},
		{"revoked chip", func(e env) error { _, err := e.st.Complete(e.ctx, revoked, at); return err }, store.ErrChipTaken},
		{"retired chip", func(e env) error { _, err := e.st.Complete(e.ctx, retired, at); return err }, store.ErrChipTaken},
		{"code not verified", func(e env) error { _, err := e.st.Complete(e.ctx, presented, at); return err }, store.ErrConflict},
		{"completed twice", func(e env) error { _, err := e.st.Complete(e.ctx, done, at); return err }, store.ErrConflict},
		{"stale version", func(e env) error { _, err := e.st.Complete(e.ctx, s, at); return err }, store.ErrConflict},
		{"unknown session", func(e env) error {
			s := taken
			s.ID = "nope"
			_, err := e.st.Complete(e.ctx, s, at)
			return err
		}, store.ErrNotFound},
		{"swap chip after code check", func(e env) error {
			s := taken
			s.State, s.ChipSerial = store.StateChipPresented, "C1"
			_, err := e.st.UpdateSession(e.ctx, s)
			return err
		}, store.ErrConflict},
	})
}

// testCompleteRace has two persons finish activations of one chip at the same time.
func testCompleteRace(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	serials := []string{"R1", "R2", "R3"}
	e.importChips(serials...)
	for _, serial := range serials {
		a := e.verified("tok-a-"+serial, "pa-"+serial, serial, 100)
		b := e.verified("tok-b-"+serial, "pb-"+serial, serial, 101)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, s := range []store.Session{a, b} {
			wg.Go(func() {
				<-start
				_, errs[i] = e.st.Complete(e.ctx, s, t0)
			})
		}
		close(start)
		wg.Wait()

		winner, loser, loserErr := a, b, errs[1]
		switch {
		case errs[0] == nil && errs[1] != nil:
		case errs[1] == nil && errs[0] != nil:
			winner, loser, loserErr = b, a, errs[0]
		default:
			t.Fatalf("chip %s: expected exactly one Complete to succeed, got %v and %v", serial, errs[0], errs[1])
		}
		if !errors.Is(loserErr, store.ErrChipTaken) && !errors.Is(loserErr, store.ErrConflict) {
			t.Errorf("chip %s: expected the loser to get %v or %v, got %v", serial, store.ErrChipTaken, store.ErrConflict, loserErr)
		}
		if c := e.chip(serial); c.Status != store.ChipBound || c.PersonID != winner.PersonID {
			t.Errorf("chip %s: expected bound to %s, got %s to %q", serial, winner.PersonID, c.Status, c.PersonID)
		}
		if got := e.session(loser.ID).State; got != store.StateCodeVerified {
			t.Errorf("losing session: expected still %s, got %s", store.StateCodeVerified, got)
		}
		if got := e.person(loser.PersonID).PasswordVerifier; got != nil {
			t.Errorf("losing person: expected no password verifier, got %x", got)
		}
	}
}

package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"mitidchip/server/store"
)

// bound completes an activation of serial for person, so that it is their active chip.
func (e env) bound(token, person, serial string, step int64) {
	e.t.Helper()
	if _, err := e.st.Complete(e.ctx, e.verified(token, person, serial, step), t0, audit("act-"+token, "activation_completed")); err != nil {
		e.t.Fatalf("complete %s for %s: %v", serial, person, err)
	}
}

func blockOf(token, person, serial string, at time.Time) store.BlockRequest {
	return store.BlockRequest{Serial: serial, PersonID: person, Reason: store.BlockReasonLost, At: at,
		TokenID: token, TokenExpiresAt: at.Add(10 * time.Minute)}
}

func blockAudit(person, serial string, at time.Time) store.AuditEntry {
	return store.AuditEntry{At: at, PersonID: person, Event: "chip_blocked", Detail: `{"serial":"` + serial + `","reason":"lost"}`}
}

// testBlockChip: a person blocks their active chip for good, once per token, and
// the chip can never be bound again; every refusal writes nothing.
func testBlockChip(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2", "C3")
	e.bound("tok-1", "p1", "C1", 100)
	e.bound("tok-2", "p2", "C2", 100)
	at := t0.Add(5 * time.Minute)

	// Open sessions that presented C1: p1's own, again (chip presented) and a
	// stranger's, who found it (code verified: codes of a chip bound to another are
	// refused, so only p1 gets there; the stranger's stays at chip presented).
	own := e.verified("tok-3", "p1", "C1", 101)
	stranger := e.present(e.redeem("tok-4", "p3"), "C1")
	// Someone else's session with another chip is left alone.
	other := e.present(e.redeem("tok-5", "p2"), "C3")

	// The refusals first: nothing written, the token unused.
	expectFailures(e, []failing{
		{"no active chip", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-x", "p3", "C1", at), blockAudit("p3", "C1", at))
			return err
		}, store.ErrNoActiveChip},
		{"unknown person", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-x", "nobody", "C1", at))
			return err
		}, store.ErrNoActiveChip},
		{"another chip than the active one", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-x", "p1", "C2", at), blockAudit("p1", "C2", at))
			return err
		}, store.ErrChipChanged},
		{"token used by an activation", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("tok-1", "p1", "C1", at), blockAudit("p1", "C1", at))
			return err
		}, store.ErrHandoffUsed},
		{"no reason", func(e env) error {
			b := blockOf("btok-x", "p1", "C1", at)
			b.Reason = ""
			_, err := e.st.BlockChip(e.ctx, b)
			return err
		}, nil},
		{"audit entry without an event", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-x", "p1", "C1", at), store.AuditEntry{At: at, PersonID: "p1"})
			return err
		}, nil},
	})
	if used, err := e.st.HandoffUsed(e.ctx, "btok-x"); err != nil || used {
		t.Fatalf("after the refusals: expected btok-x unused, got %v (%v)", used, err)
	}
	if used, err := e.st.HandoffUsed(e.ctx, "tok-1"); err != nil || !used {
		t.Fatalf("an activation's token: expected used, got %v (%v)", used, err)
	}

	c, err := e.st.BlockChip(e.ctx, blockOf("btok-1", "p1", "C1", at), blockAudit("p1", "C1", at))
	if err != nil {
		t.Fatalf("block: %v", err)
	}
	same(t, "blocked chip", store.Chip{Serial: "C1", SealedSeed: []byte("seed-C1"), CertDER: []byte("cert-C1"),
		Status: store.ChipRevoked, PersonID: "p1", BoundAt: t0, LastStep: 101, ImportedAt: t0, Attempts: 2, AttemptsSince: t0}, c)
	same(t, "chip as stored", c, e.chip("C1"))
	b, err := e.st.ChipBlock(e.ctx, "C1")
	if err != nil {
		t.Fatalf("chip block: %v", err)
	}
	same(t, "block record", store.ChipBlock{Serial: "C1", PersonID: "p1", Reason: store.BlockReasonLost, BlockedAt: at}, b)
	if _, err := e.st.ChipBlock(e.ctx, "C2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("block of a chip never blocked: expected %v, got %v", store.ErrNotFound, err)
	}
	if _, err := e.st.ActiveChip(e.ctx, "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("active chip after the block: expected none, got %v", err)
	}
	if used, err := e.st.HandoffUsed(e.ctx, "btok-1"); err != nil || !used {
		t.Errorf("the block's token: expected used, got %v (%v)", used, err)
	}
	// The sessions that presented the chip end now; the other one goes on.
	for _, s := range []store.Session{own, stranger} {
		got := e.session(s.ID)
		if !got.ExpiresAt.Equal(at) || !got.UpdatedAt.Equal(at) || got.Version != s.Version+1 || got.State != s.State {
			t.Errorf("session %s with the blocked chip: expected it to expire at %v (state %s, version %d), got expiry %v, state %s, version %d",
				s.ID, at, s.State, s.Version+1, got.ExpiresAt, got.State, got.Version)
		}
	}
	same(t, "a session with another chip", other, e.session(other.ID))
	entries, err := e.st.PersonAudit(e.ctx, "p1", 0, 1)
	if err != nil || len(entries) != 1 || entries[0].Event != "chip_blocked" || !entries[0].At.Equal(at) {
		t.Errorf("the person's newest audit entry: expected chip_blocked at %v, got %+v (%v)", at, entries, err)
	}

	// Blocked for good: again with the same token, or another, or an operator's
	// unlock; never bound again, by its holder or anyone.
	expectFailures(e, []failing{
		{"the same token again", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-1", "p1", "C1", at), blockAudit("p1", "C1", at))
			return err
		}, store.ErrHandoffUsed},
		{"blocked again with a new token", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, blockOf("btok-2", "p1", "C1", at), blockAudit("p1", "C1", at))
			return err
		}, store.ErrNoActiveChip},
		{"bound again by its holder", func(e env) error {
			_, err := e.st.Complete(e.ctx, own, at)
			return err
		}, store.ErrConflict}, // own's version moved on when the block ended it
	})
	// A new activation with the blocked chip, right up to Complete (the store's
	// last word; the registry refuses it at presentation already).
	for i, person := range []string{"p1", "p4"} {
		s := e.verified(fmt.Sprintf("tok-again-%d", i), person, "C1", int64(200+i))
		expectFailures(e, []failing{{"bound again by " + person, func(e env) error {
			_, err := e.st.Complete(e.ctx, s, at)
			return err
		}, store.ErrChipBlocked}})
	}
	// An operator's revoke is not a block.
	if err := e.st.RevokeChip(e.ctx, "C3"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ChipBlock(e.ctx, "C3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an operator's revoked chip: expected no block record, got %v", err)
	}
	// The person activates a new chip afterwards.
	e.importChips("C4")
	e.bound("tok-new", "p1", "C4", 100)
	if c, err := e.st.ActiveChip(e.ctx, "p1"); err != nil || c.Serial != "C4" {
		t.Errorf("active chip after a new activation: expected C4, got %q (%v)", c.Serial, err)
	}
	if c := e.chip("C1"); c.Status != store.ChipRevoked {
		t.Errorf("the blocked chip after the new activation: expected %s, got %s", store.ChipRevoked, c.Status)
	}
}

// testPersonAudit: a person's entries, newest first, paged by id; nobody else's.
func testPersonAudit(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	var want []store.AuditEntry
	for i := range 7 {
		p := "p1"
		if i%3 == 2 {
			p = "p2"
		}
		entry := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), ActivationID: "act", PersonID: p,
			Event: fmt.Sprintf("event_%d", i), Detail: `{"i":` + fmt.Sprint(i) + `}`}
		if err := e.st.Audit(e.ctx, entry); err != nil {
			t.Fatal(err)
		}
		if p == "p1" {
			want = append([]store.AuditEntry{entry}, want...)
		}
	}
	page := func(before int64, limit int) []store.AuditEntry {
		t.Helper()
		got, err := e.st.PersonAudit(e.ctx, "p1", before, limit)
		if err != nil {
			t.Fatalf("person audit before %d, limit %d: %v", before, limit, err)
		}
		return got
	}
	strip := func(es []store.AuditEntry) []store.AuditEntry {
		out := make([]store.AuditEntry, len(es))
		for i, e := range es {
			e.ID = 0
			out[i] = e
		}
		return out
	}
	all := page(0, 0)
	same(t, "every entry of p1, newest first", want, strip(all))
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("ids: expected falling, got %d after %d", all[i].ID, all[i-1].ID)
		}
	}
	first := page(0, 2)
	same(t, "first page of 2", all[:2], first)
	second := page(first[1].ID, 2)
	same(t, "second page of 2", all[2:4], second)
	last := page(all[len(all)-1].ID, 2)
	same(t, "after the oldest", []store.AuditEntry{}, last)
	same(t, "limit above the bound", all, page(0, store.MaxAuditPage+1))
	same(t, "negative limit", all, page(0, -1))
	if got, err := e.st.PersonAudit(e.ctx, "nobody", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("a person with no entries: expected none, got %+v (%v)", got, err)
	}
}

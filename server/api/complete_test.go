package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"mitidchip/server/api"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// TestRaceToBindOneChip: two persons reach the last step with the same chip (their
// codes a step apart) and send their signatures at once. Exactly one wins; the other
// gets a clear error, and the store binds the chip to the winner alone.
func TestRaceToBindOneChip(t *testing.T) {
	f := newFixture(t, nil)
	for round, m := range f.chips[:2] {
		vc := f.virtualChip(m)
		a := f.begin(fmt.Sprintf("person-a%d", round), vc).through("code")
		f.clock.Advance(registry.Period) // a's step is used; b needs the next one
		b := f.begin(fmt.Sprintf("person-b%d", round), vc).through("code")
		racers := []*ceremony{a, b}
		sigs := [][]byte{a.sign(), b.sign()}

		results := make([]response, len(racers))
		errs := make([]error, len(racers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, cm := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = cm.c.send(http.MethodPost, "/api/v1/chip/signature", api.SignatureRequest{Signature: sigs[i]})
			}()
		}
		close(start)
		wg.Wait()

		winner, loser := -1, -1
		for i, res := range results {
			if errs[i] != nil {
				t.Fatalf("round %d, %s: %v", round, racers[i].person, errs[i])
			}
			if res.status == http.StatusOK {
				if winner >= 0 {
					t.Fatalf("round %d: both activations completed with chip %s", round, m.Serial)
				}
				winner = i
				continue
			}
			loser = i
			var body struct{ Error api.Error }
			if err := json.Unmarshal(res.body, &body); err != nil || res.status != http.StatusConflict ||
				(body.Error.Code != "chip_taken" && body.Error.Code != "out_of_order") {
				t.Fatalf("round %d, %s: expected 409 chip_taken or out_of_order, got %d %s", round, racers[i].person, res.status, res.body)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither activation completed: %d %s / %d %s", round,
				results[0].status, results[0].body, results[1].status, results[1].body)
		}
		results[winner].state(t, "completed")

		w, l := racers[winner], racers[loser]
		if c, err := f.store.ActiveChip(f.ctx, w.person); err != nil || c.Serial != m.Serial {
			t.Errorf("round %d: expected %s to hold chip %s, got %q (%v)", round, w.person, m.Serial, c.Serial, err)
		}
		if c, err := f.store.ActiveChip(f.ctx, l.person); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: expected %s to hold no chip, got %q (%v)", round, l.person, c.Serial, err)
		}
		if c, err := f.store.Chip(f.ctx, m.Serial); err != nil || c.Status != store.ChipBound || c.PersonID != w.person {
			t.Errorf("round %d: expected chip %s bound to %s, got %+v (%v)", round, m.Serial, w.person, c, err)
		}
		if p, err := f.store.Person(f.ctx, l.person); err != nil || p.PasswordVerifier != nil {
			t.Errorf("round %d: expected the loser %s without a password verifier, got %x (%v)", round, l.person, p.PasswordVerifier, err)
		}
		// The loser's session is still waiting; trying again gives the same answer.
		l.c.get("/api/v1/activation").state(t, "sign")
		before := f.snapshot()
		l.postSignature(sigs[loser]).expectError(t, http.StatusConflict, "chip_taken")
		f.assertUnchanged(before)
	}
}

// TestCompleteFailureLeavesNothing: a failure at any point inside the completing
// transaction leaves the store exactly as it was, and the same signature completes
// the activation once the fault is gone. The person already has a chip, so the
// retirement of the old chip is inside the transaction too.
func TestCompleteFailureLeavesNothing(t *testing.T) {
	for _, step := range []string{"complete/session", "complete/person", "complete/retire", "complete/bind", "complete/commit"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t, nil)
			old := f.activate("person-a", f.virtualChip(f.chips[0]))
			cm := f.begin("person-a", f.virtualChip(f.chips[1])).through("code")
			sig := cm.sign()

			before := f.snapshot()
			f.failAtStep(step)
			cm.postSignature(sig).expectError(t, http.StatusInternalServerError, "internal")
			f.failAtStep("")
			if f.failHits.Load() != 1 {
				t.Fatalf("expected the failpoint %s hit once, got %d", step, f.failHits.Load())
			}
			f.assertUnchanged(before)
			cm.c.get("/api/v1/activation").state(t, "sign")

			cm.postSignature(sig).state(t, "completed")
			if c, err := f.store.ActiveChip(f.ctx, "person-a"); err != nil || c.Serial != f.chips[1].Serial {
				t.Errorf("expected person-a to hold %s, got %q (%v)", f.chips[1].Serial, c.Serial, err)
			}
			if c, err := f.store.Chip(f.ctx, f.chips[0].Serial); err != nil || c.Status != store.ChipRetired {
				t.Errorf("expected the old chip %s retired, got %q (%v)", f.chips[0].Serial, c.Status, err)
			}
			p, err := f.store.Person(f.ctx, "person-a")
			if err != nil || !bytes.Equal(p.PasswordVerifier, cm.verifier) || bytes.Equal(p.PasswordVerifier, old.verifier) {
				t.Errorf("expected person-a's verifier replaced by the new one, got %x (%v)", p.PasswordVerifier, err)
			}
		})
	}
}

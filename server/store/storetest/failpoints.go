package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"mitidchip/server/store"
)

// trap is a failpoint that records the steps it sees and fails at one of them.
type trap struct {
	mu     sync.Mutex
	armed  bool
	target string
	seen   []string
}

func (tr *trap) hook(step string) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !tr.armed {
		return nil
	}
	tr.seen = append(tr.seen, step)
	if step == tr.target {
		return fmt.Errorf("%s: %w", step, errInjected)
	}
	return nil
}

func (tr *trap) arm(target string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.armed, tr.target, tr.seen = true, target, nil
}

func (tr *trap) disarm() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.armed = false
	return tr.seen
}

// testFailpoints fails each multi-row transaction, and the readiness probe, at every
// step it reports and checks that nothing was written, then that the same call succeeds
// once the fault is gone.
func testFailpoints(t *testing.T, open Opener) {
	ops := []struct {
		name  string
		setup func(e env) func() error // returns the call under test
	}{
		{"redeem", func(e env) func() error {
			return func() error {
				_, err := e.st.RedeemHandoff(e.ctx, handoff("tok-f", "pf"), newSession("tok-f"), audit("act-tok-f", "handoff_redeemed"))
				return err
			}
		}},
		{"redeem again", func(e env) func() error {
			s := newSession("tok-a")
			s.RequestHash = hashOf("req-a")
			if _, err := e.st.RedeemHandoff(e.ctx, handoff("tok-a", "pa"), s); err != nil {
				e.t.Fatalf("redeem: %v", err)
			}
			return func() error {
				_, err := e.st.RedeemAgain(e.ctx, "tok-a", hashOf("req-a"), hashOf("cookie-a2"), t0, audit(s.ID, "handoff_redeemed_again"))
				return err
			}
		}},
		{"accept", func(e env) func() error {
			e.importChips("C1")
			s := e.present(e.redeem("tok-1", "p1"), "C1")
			return func() error {
				_, err := e.st.AcceptCode(e.ctx, s, 100, farStep, limits, t0, audit(s.ID, "code_accepted"))
				return err
			}
		}},
		{"reject", func(e env) func() error {
			e.importChips("C1")
			s := e.present(e.redeem("tok-1", "p1"), "C1")
			lim := limits
			lim.LockAfter = 1 // the wrong code locks the chip, so its audit entry is written too
			return func() error {
				_, _, err := e.st.RejectCode(e.ctx, s, lim, t0, audit(s.ID, "code_rejected"))
				return err
			}
		}},
		{"block", func(e env) func() error {
			e.importChips("C1")
			e.bound("tok-1", "p1", "C1", 100)
			e.present(e.redeem("tok-2", "p2"), "C1") // a session the block ends
			return func() error {
				_, err := e.st.BlockChip(e.ctx, blockOf("btok-1", "p1", "C1", t0), blockAudit("p1", "C1", t0))
				return err
			}
		}},
		{"probe", func(e env) func() error {
			return func() error { return e.st.Probe(e.ctx) }
		}},
		{"unlock", func(e env) func() error {
			e.importChips("C1")
			e.reject(e.present(e.redeem("tok-1", "p1"), "C1"), lockLimits, t0)
			e.reject(e.present(e.redeem("tok-2", "p2"), "C1"), lockLimits, t0)
			op := store.AuditEntry{At: t0, Event: "operator_chip_unlocked", Detail: `{"serial":"C1"}`}
			return func() error { return e.st.UnlockChip(e.ctx, "C1", op) }
		}},
		{"complete", func(e env) func() error {
			e.importChips("C1", "C2")
			if _, err := e.st.Complete(e.ctx, e.verified("tok-1", "p1", "C1", 100), t0); err != nil {
				e.t.Fatalf("first activation: %v", err)
			}
			// A stranger's wrong code on C2, whose count goes when p1 binds it.
			e.reject(e.present(e.redeem("tok-3", "p3"), "C2"), limits, t0)
			s := e.verified("tok-2", "p1", "C2", 100)
			return func() error { _, err := e.st.Complete(e.ctx, s, t0, audit(s.ID, "activation_completed")); return err }
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			// A clean run names the steps.
			tr := &trap{}
			e := newEnv(t, open, tr.hook)
			call := op.setup(e)
			tr.arm("")
			if err := call(); err != nil {
				t.Fatalf("clean run: %v", err)
			}
			steps := tr.disarm()
			if len(steps) == 0 {
				t.Fatalf("the store reported no failpoint steps for %s", op.name)
			}
			for _, step := range steps {
				t.Run(step, func(t *testing.T) {
					tr := &trap{}
					e := newEnv(t, open, tr.hook)
					call := op.setup(e)
					before := Snapshot(t, e.st)
					tr.arm(step)
					err := call()
					tr.disarm()
					if !errors.Is(err, errInjected) {
						t.Fatalf("expected the injected failure, got %v", err)
					}
					AssertUnchanged(t, e.st, before)
					if err := call(); err != nil {
						t.Errorf("retry without the fault: expected success, got %v", err)
					}
				})
			}
		})
	}
}

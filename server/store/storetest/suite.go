package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"mitidchip/server/store"
)

// t0 has nanoseconds so that a store keeping less precision is caught.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// limits are the code limits of every case not about them: their counts are out of
// reach. farStep is a maxStep that no case's step comes near.
var limits = store.CodeLimits{BlockAfter: 3, LockAfter: 1000, FirstLock: 15 * time.Minute, MaxLock: 24 * time.Hour,
	Attempts: 1000, AttemptWindow: 10 * time.Minute}

const farStep = 1 << 40

// errInjected is what the suite's failpoints return.
var errInjected = errors.New("injected failure")

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("RedeemHandoff", func(t *testing.T) { testRedeem(t, open) })
	t.Run("Lookups", func(t *testing.T) { testLookups(t, open) })
	t.Run("UpdateSession", func(t *testing.T) { testUpdate(t, open) })
	t.Run("ImportAndRevokeChips", func(t *testing.T) { testImport(t, open) })
	t.Run("Codes", func(t *testing.T) { testCodes(t, open) })
	t.Run("ChipLockRace", func(t *testing.T) { testChipLockRace(t, open) })
	t.Run("ChipLockLifts", func(t *testing.T) { testChipLockLifts(t, open) })
	t.Run("ChipLockStranger", func(t *testing.T) { testChipLockStranger(t, open) })
	t.Run("ChipAttempts", func(t *testing.T) { testChipAttempts(t, open) })
	t.Run("ChipCodeRefusals", func(t *testing.T) { testChipCodeRefusals(t, open) })
	t.Run("UnlockAndAudit", func(t *testing.T) { testUnlockAndAudit(t, open) })
	t.Run("Complete", func(t *testing.T) { testComplete(t, open) })
	t.Run("CompleteRace", func(t *testing.T) { testCompleteRace(t, open) })
	t.Run("Failpoints", func(t *testing.T) { testFailpoints(t, open) })
	t.Run("AuditAndCleanup", func(t *testing.T) { testAuditAndCleanup(t, open) })
	t.Run("PersonLimits", func(t *testing.T) { testPersonLimits(t, open) })
	t.Run("PersonLimitsRace", func(t *testing.T) { testPersonLimitsRace(t, open) })
	t.Run("RedeemAgain", func(t *testing.T) { testRedeemAgain(t, open) })
	t.Run("SweepBatches", func(t *testing.T) { testSweepBatches(t, open) })
	t.Run("Handover", func(t *testing.T) { testHandover(t, open) })
	t.Run("HandoverWrongCodes", func(t *testing.T) { testHandoverWrongCodes(t, open) })
	t.Run("HandoverRace", func(t *testing.T) { testHandoverRace(t, open) })
	t.Run("OIDCClients", func(t *testing.T) { testOIDCClients(t, open) })
	t.Run("OIDCAuthRequests", func(t *testing.T) { testOIDCAuthRequests(t, open) })
	t.Run("OIDCCancel", func(t *testing.T) { testOIDCCancel(t, open) })
	t.Run("OIDCCodes", func(t *testing.T) { testOIDCCodes(t, open) })
	t.Run("OIDCCodeRace", func(t *testing.T) { testOIDCCodeRace(t, open) })
	t.Run("OIDCKeys", func(t *testing.T) { testOIDCKeys(t, open) })
	t.Run("BlockChip", func(t *testing.T) { testBlockChip(t, open) })
	t.Run("PersonAudit", func(t *testing.T) { testPersonAudit(t, open) })
	t.Run("Logon", func(t *testing.T) { testLogon(t, open) })
	t.Run("LogonLock", func(t *testing.T) { testLogonLock(t, open) })
	t.Run("LogonRace", func(t *testing.T) { testLogonRace(t, open) })
	t.Run("Staff", func(t *testing.T) { testStaff(t, open) })
	t.Run("Assisted", func(t *testing.T) { testAssisted(t, open) })
	t.Run("PersonChipFailures", func(t *testing.T) { testPersonChipFailures(t, open) })
	t.Run("PasswordChange", func(t *testing.T) { testPasswordChange(t, open) })
	t.Run("BlockFromSession", func(t *testing.T) { testBlockFromSession(t, open) })
}

// env is one store under test with the fixtures the cases build on.
type env struct {
	t   *testing.T
	st  Store
	ctx context.Context
}

func newEnv(t *testing.T, open Opener, fail store.Failpoint) env {
	return env{t: t, st: open(t, fail), ctx: context.Background()}
}

func handoff(token, person string) store.Handoff {
	return store.Handoff{TokenID: token, PersonID: person, UsedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
}

func newSession(token string) store.Session {
	hash := sha256.Sum256([]byte("cookie-" + token))
	return store.Session{ID: "act-" + token, CookieHash: hash[:], CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
}

func audit(activation, event string) store.AuditEntry {
	return store.AuditEntry{At: t0, ActivationID: activation, Event: event, Detail: `{"k":"v"}`}
}

// redeem starts an activation for person with a handoff token named token.
func (e env) redeem(token, person string) store.Session {
	e.t.Helper()
	s, err := e.st.RedeemHandoff(e.ctx, handoff(token, person), newSession(token), audit("act-"+token, "handoff_redeemed"))
	if err != nil {
		e.t.Fatalf("redeem %s for %s: %v", token, person, err)
	}
	return s
}

func (e env) importChips(serials ...string) {
	e.t.Helper()
	var chips []store.ChipImport
	for _, s := range serials {
		chips = append(chips, store.ChipImport{Serial: s, SealedSeed: []byte("seed-" + s), CertDER: []byte("cert-" + s)})
	}
	if _, err := e.st.ImportChips(e.ctx, chips, t0); err != nil {
		e.t.Fatalf("import %v: %v", serials, err)
	}
}

func (e env) update(s store.Session) store.Session {
	e.t.Helper()
	out, err := e.st.UpdateSession(e.ctx, s)
	if err != nil {
		e.t.Fatalf("update session %s to %s: %v", s.ID, s.State, err)
	}
	return out
}

// present takes a session through the password step and presents chip serial.
func (e env) present(s store.Session, serial string) store.Session {
	e.t.Helper()
	s.State = store.StatePasswordSet
	s.KDF = store.KDF{Salt: []byte("salt-" + s.ID), Time: 2, MemoryKiB: 19456, Threads: 1}
	s.PasswordVerifier = []byte("verifier-" + s.ID)
	s = e.update(s)
	s.State, s.ChipSerial, s.ChipPublicKey, s.Nonce = store.StateChipPresented, serial, []byte("pub-"+serial), []byte("nonce-"+s.ID)
	return e.update(s)
}

// verified is a new activation of serial for person, right up to Complete.
func (e env) verified(token, person, serial string, step int64) store.Session {
	e.t.Helper()
	s, err := e.st.AcceptCode(e.ctx, e.present(e.redeem(token, person), serial), step, farStep, limits, t0)
	if err != nil {
		e.t.Fatalf("accept code of %s at step %d: %v", serial, step, err)
	}
	return s
}

func (e env) session(id string) store.Session {
	e.t.Helper()
	s, err := e.st.Session(e.ctx, id)
	if err != nil {
		e.t.Fatalf("session %s: %v", id, err)
	}
	return s
}

func (e env) chip(serial string) store.Chip {
	e.t.Helper()
	c, err := e.st.Chip(e.ctx, serial)
	if err != nil {
		e.t.Fatalf("chip %s: %v", serial, err)
	}
	return c
}

func (e env) person(id string) store.Person {
	e.t.Helper()
	p, err := e.st.Person(e.ctx, id)
	if err != nil {
		e.t.Fatalf("person %s: %v", id, err)
	}
	return p
}

// failing is a call expected to fail with want (any error when want is nil) and to
// change nothing.
type failing struct {
	name string
	call func(e env) error
	want error
}

// expectFailures runs each case on e's store, checking its error and that the store
// is as before.
func expectFailures(e env, cases []failing) {
	e.t.Helper()
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			before := Snapshot(t, e.st)
			err := c.call(env{t: t, st: e.st, ctx: e.ctx})
			switch {
			case err == nil:
				t.Fatalf("expected an error, got none")
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("expected error %v, got %v", c.want, err)
			}
			AssertUnchanged(t, e.st, before)
		})
	}
}

func same[T any](t *testing.T, what string, want, got T) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s:\nexpected %+v\ngot      %+v", what, want, got)
	}
}

package storetest

import (
	"testing"
	"time"

	"mitidchip/server/store"
)

func staffAudit(person, event string) store.AuditEntry {
	return store.AuditEntry{At: t0, PersonID: person, Event: event, Detail: `{"office":"Aarhus"}`}
}

// assisted is an assisted activation of citizen by caseworker at office.
func assisted(token, citizen, caseworker, office string, perHour int) (store.Handoff, store.Session) {
	h := handoff(token, citizen)
	h.Limits = store.Limits{MaxOpenSessions: 1}
	h.Assisted = &store.Assisted{CaseworkerID: caseworker, Office: office, DocumentType: "passport",
		DocumentHash: []byte("hash-" + token), DocumentExpires: t0.AddDate(2, 0, 0), ChipSerial: "C9", CreatedAt: t0, MaxPerHour: perHour}
	return h, newSession(token)
}

// testStaff: caseworker roles are granted, moved and withdrawn; the console's use
// is admitted only with a role and within its idle timeout; every refusal writes
// nothing.
func testStaff(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.redeem("tok-cw", "cw1")
	e.redeem("tok-cw2", "cw2")

	expectFailures(e, []failing{
		{"grant to no one", func(e env) error {
			return e.st.GrantStaff(e.ctx, store.StaffRole{PersonID: "nobody", Office: "Aarhus", GrantedAt: t0}, staffAudit("nobody", "staff_granted"))
		}, store.ErrNotFound},
		{"revoke a role no one has", func(e env) error {
			return e.st.RevokeStaff(e.ctx, "cw1", staffAudit("cw1", "staff_revoked"))
		}, store.ErrNotFound},
		{"console without a role", func(e env) error {
			_, err := e.st.UseConsole(e.ctx, store.ConsoleUse{LogonSessionID: "ls1", PersonID: "cw1", At: t0, Idle: 10 * time.Minute, Keep: t0.Add(time.Hour)})
			return err
		}, store.ErrNotStaff},
	})

	if err := e.st.GrantStaff(e.ctx, store.StaffRole{PersonID: "cw1", Office: "Odense", GrantedAt: t0}, staffAudit("cw1", "staff_granted")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.GrantStaff(e.ctx, store.StaffRole{PersonID: "cw1", Office: "Aarhus", GrantedAt: t0.Add(time.Second)}, staffAudit("cw1", "staff_granted")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.GrantStaff(e.ctx, store.StaffRole{PersonID: "cw2", Office: "Aalborg", GrantedAt: t0}); err != nil {
		t.Fatal(err)
	}
	r, err := e.st.StaffRole(e.ctx, "cw1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "role after moving office", store.StaffRole{PersonID: "cw1", Office: "Aarhus", GrantedAt: t0.Add(time.Second)}, r)
	roles, err := e.st.StaffRoles(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "roles by office", []store.StaffRole{{PersonID: "cw2", Office: "Aalborg", GrantedAt: t0}, r}, roles)

	use := store.ConsoleUse{LogonSessionID: "ls1", PersonID: "cw1", At: t0, Idle: 10 * time.Minute, Keep: t0.Add(12 * time.Hour)}
	if r, err := e.st.UseConsole(e.ctx, use); err != nil || r.Office != "Aarhus" {
		t.Fatalf("first console use: %+v, %v", r, err)
	}
	use.At = t0.Add(9 * time.Minute)
	if _, err := e.st.UseConsole(e.ctx, use); err != nil {
		t.Fatalf("use within the idle timeout: %v", err)
	}
	expectFailures(e, []failing{
		{"console idle", func(e env) error {
			u := use
			u.At = use.At.Add(10 * time.Minute)
			_, err := e.st.UseConsole(e.ctx, u)
			return err
		}, store.ErrConsoleIdle},
		{"another person's logon session", func(e env) error {
			u := use
			u.PersonID = "cw2"
			_, err := e.st.UseConsole(e.ctx, u)
			return err
		}, store.ErrNotStaff},
	})
	// The idle record outlives its idle time: a sweep before Keep does not make the
	// session fresh again.
	if _, err := e.st.DeleteExpired(e.ctx, t0.Add(time.Hour), store.SweepBatch); err != nil {
		t.Fatal(err)
	}
	u := use
	u.At = t0.Add(time.Hour)
	if _, err := e.st.UseConsole(e.ctx, u); err == nil {
		t.Fatal("an idle console session was admitted after a sweep")
	}

	if err := e.st.RevokeStaff(e.ctx, "cw1", staffAudit("cw1", "staff_revoked")); err != nil {
		t.Fatal(err)
	}
	expectFailures(e, []failing{
		{"console after the role was withdrawn", func(e env) error {
			_, err := e.st.UseConsole(e.ctx, store.ConsoleUse{LogonSessionID: "ls2", PersonID: "cw1", At: t0, Idle: 10 * time.Minute, Keep: t0.Add(time.Hour)})
			return err
		}, store.ErrNotStaff},
	})
}

// testAssisted: an assisted activation is a redemption with the caseworker's ID
// check written beside it, refused without a role, over the hourly count, or for a
// citizen with an activation under way; a caseworker's block needs no token.
func testAssisted(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.redeem("tok-cw", "cw1")
	if err := e.st.GrantStaff(e.ctx, store.StaffRole{PersonID: "cw1", Office: "Aarhus", GrantedAt: t0}); err != nil {
		t.Fatal(err)
	}
	expectFailures(e, []failing{
		{"caseworker without a role", func(e env) error {
			h, s := assisted("a1", "citizen1", "cw2", "Aarhus", 5)
			_, err := e.st.RedeemHandoff(e.ctx, h, s, audit(s.ID, "assisted_activation_started"))
			return err
		}, store.ErrNotStaff},
		{"caseworker at another office", func(e env) error {
			h, s := assisted("a1", "citizen1", "cw1", "Odense", 5)
			_, err := e.st.RedeemHandoff(e.ctx, h, s)
			return err
		}, store.ErrNotStaff},
	})
	h, s := assisted("a1", "citizen1", "cw1", "Aarhus", 2)
	s, err := e.st.RedeemHandoff(e.ctx, h, s, audit(s.ID, "assisted_activation_started"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.st.AssistedActivation(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *h.Assisted
	want.ActivationID, want.CitizenID, want.MaxPerHour = s.ID, "citizen1", 0
	same(t, "assisted activation", want, got)
	if _, err := e.st.AssistedActivation(e.ctx, "act-tok-cw"); err == nil {
		t.Fatal("a handoff's activation has an ID check")
	}
	expectFailures(e, []failing{
		{"citizen with an activation under way", func(e env) error {
			h, s := assisted("a2", "citizen1", "cw1", "Aarhus", 5)
			_, err := e.st.RedeemHandoff(e.ctx, h, s)
			return err
		}, store.ErrTooManySessions},
	})
	h2, s2 := assisted("a3", "citizen2", "cw1", "Aarhus", 2)
	if _, err := e.st.RedeemHandoff(e.ctx, h2, s2); err != nil {
		t.Fatal(err)
	}
	expectFailures(e, []failing{
		{"over the caseworker's hourly count", func(e env) error {
			h, s := assisted("a4", "citizen3", "cw1", "Aarhus", 2)
			_, err := e.st.RedeemHandoff(e.ctx, h, s)
			return err
		}, store.ErrTooManyAssisted},
	})

	// Ending the citizen's activations makes room for a new one.
	n, err := e.st.EndActivations(e.ctx, "citizen1", t0.Add(time.Minute), staffAudit("citizen1", "activations_ended"))
	if err != nil || n != 1 {
		t.Fatalf("end activations: %d, %v", n, err)
	}
	if got := e.session(s.ID); !got.ExpiresAt.Equal(t0.Add(time.Minute)) || got.Version != s.Version+1 {
		t.Fatalf("ended session: expires %v version %d", got.ExpiresAt, got.Version)
	}
	if n, err := e.st.EndActivations(e.ctx, "citizen1", t0.Add(2*time.Minute)); err != nil || n != 0 {
		t.Fatalf("end activations again: %d, %v", n, err)
	}

	// A block without a token (the caseworker checked the ID): once, all or nothing.
	e.importChips("C1")
	e.bound("tok-b", "p1", "C1", 100)
	at := t0.Add(3 * time.Minute)
	b := store.BlockRequest{Serial: "C1", PersonID: "p1", Reason: store.BlockReasonLost, At: at}
	if _, err := e.st.BlockChip(e.ctx, b, blockAudit("p1", "C1", at)); err != nil {
		t.Fatalf("block without a token: %v", err)
	}
	if c := e.chip("C1"); c.Status != store.ChipRevoked {
		t.Fatalf("chip after block: %s", c.Status)
	}
	expectFailures(e, []failing{
		{"block again without a token", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, b, blockAudit("p1", "C1", at))
			return err
		}, store.ErrNoActiveChip},
	})
}

// testPersonChipFailures: a person's wrong codes are listed across chips.
func testPersonChipFailures(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	s1 := e.present(e.redeem("tok-1", "p1"), "C1")
	e.reject(s1, limits, t0)
	s2 := e.present(e.redeem("tok-2", "p1"), "C2")
	e.reject(s2, limits, t0)
	s3 := e.present(e.redeem("tok-3", "p2"), "C1")
	e.reject(s3, limits, t0)
	fs, err := e.st.PersonChipFailures(e.ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "p1's failures", []store.ChipFailure{{Serial: "C1", PersonID: "p1", FailedCodes: 1}, {Serial: "C2", PersonID: "p1", FailedCodes: 1}}, fs)
}

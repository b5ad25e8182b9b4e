package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"mitidchip/server/store"
)

func changeOf(id, key string) store.LogonChallenge {
	c := challengeOf(id, key)
	c.Purpose = store.PurposePasswordChange
	c.NewKDF = store.KDF{Salt: []byte("new-salt-" + id + "-0123456"), Time: 2, MemoryKiB: 8192, Threads: 1}
	return c
}

// loggedOn is a MitID.dk session of person with chip serial, by a whole logon.
func (e env) loggedOn(id, key, uid, person, serial string, at time.Time) store.LogonSession {
	e.t.Helper()
	e.beginLogon("L-"+id, key, uid)
	if _, _, err := e.st.TryPassword(e.ctx, tryPassword("L-"+id, true, at)); err != nil {
		e.t.Fatal(err)
	}
	s, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "L-" + id, Session: logonSession(id, person, serial, at), At: at})
	if err != nil {
		e.t.Fatalf("logon %s: %v", id, err)
	}
	return s
}

// testPasswordChange: a change is a challenge of its own purpose that no logon
// finishes; its old password counts as a logon's; the new verifier is given once;
// the change replaces verifier and KDF, uses the challenge, resets the count and
// ends the person's other sessions; every refusal writes nothing.
func testPasswordChange(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	e.activated("tok-1", "p1", "anna.hansen", "C1")
	e.activated("tok-2", "p2", "bo.jensen", "C2")
	at := t0.Add(time.Minute)
	s1 := e.loggedOn("S1", "key-anna", "anna.hansen", "p1", "C1", at)
	s2 := e.loggedOn("S2", "key-anna", "anna.hansen", "p1", "C1", at)
	sb := e.loggedOn("SB", "key-bo", "bo.jensen", "p2", "C2", at)

	expectFailures(e, []failing{
		{"a change without its new salt", func(e env) error {
			c := changeOf("X", "key-anna")
			c.NewKDF.Salt = nil
			_, _, err := e.st.BeginLogon(e.ctx, c, "anna.hansen", at)
			return err
		}, nil},
		{"a logon with a new salt", func(e env) error {
			c := challengeOf("X", "key-anna")
			c.NewKDF = changeOf("X", "key-anna").NewKDF
			_, _, err := e.st.BeginLogon(e.ctx, c, "anna.hansen", at)
			return err
		}, nil},
		{"an unknown purpose", func(e env) error {
			c := changeOf("X", "key-anna")
			c.Purpose = "other"
			_, _, err := e.st.BeginLogon(e.ctx, c, "anna.hansen", at)
			return err
		}, nil},
	})

	c, p, err := e.st.BeginLogon(e.ctx, changeOf("P1", "key-anna"), "anna.hansen", at)
	if err != nil || p.ID != "p1" || c.Purpose != store.PurposePasswordChange || c.NewVerifier != nil {
		t.Fatalf("begin change: %+v, %+v, %v", c, p, err)
	}
	if got, err := e.st.LogonChallenge(e.ctx, "P1"); err != nil {
		t.Fatal(err)
	} else {
		same(t, "stored change", c, got)
	}
	v := bytes.Repeat([]byte{7}, 32)
	expectFailures(e, []failing{
		{"a new verifier before the old password", func(e env) error {
			_, err := e.st.SetNewVerifier(e.ctx, "P1", "p1", v, at)
			return err
		}, store.ErrConflict},
	})
	if _, _, err := e.st.TryPassword(e.ctx, tryPassword("P1", true, at)); err != nil {
		t.Fatal(err)
	}
	// A logon is not finished with a change's challenge.
	expectFailures(e, []failing{
		{"a logon finished with a change", func(e env) error {
			_, err := e.st.FinishLogon(e.ctx, store.LogonFinish{ChallengeID: "P1", Session: logonSession("S9", "p1", "C1", at), At: at})
			return err
		}, store.ErrConflict},
		{"another person's new verifier", func(e env) error {
			_, err := e.st.SetNewVerifier(e.ctx, "P1", "p2", v, at)
			return err
		}, store.ErrConflict},
		{"a change without a new verifier", func(e env) error {
			_, err := e.st.ChangePassword(e.ctx, store.PasswordChange{ChallengeID: "P1", PersonID: "p1", SessionID: s1.ID, ChipSerial: "C1", Verifier: v, At: at})
			return err
		}, store.ErrConflict},
	})
	c, err = e.st.SetNewVerifier(e.ctx, "P1", "p1", v, at)
	if err != nil || !bytes.Equal(c.NewVerifier, v) {
		t.Fatalf("new verifier: %+v, %v", c, err)
	}
	change := func(mod func(*store.PasswordChange)) func(e env) error {
		return func(e env) error {
			pc := store.PasswordChange{ChallengeID: "P1", PersonID: "p1", SessionID: s1.ID, ChipSerial: "C1", Verifier: v, At: at,
				Audit: []store.AuditEntry{{At: at, PersonID: "p1", Event: "password_changed", Detail: "{}"}}}
			mod(&pc)
			_, err := e.st.ChangePassword(e.ctx, pc)
			return err
		}
	}
	expectFailures(e, []failing{
		{"a second new verifier", func(e env) error {
			_, err := e.st.SetNewVerifier(e.ctx, "P1", "p1", bytes.Repeat([]byte{8}, 32), at)
			return err
		}, store.ErrConflict},
		{"another verifier than the one given", change(func(pc *store.PasswordChange) { pc.Verifier = bytes.Repeat([]byte{8}, 32) }), store.ErrConflict},
		{"another person's chip", change(func(pc *store.PasswordChange) { pc.ChipSerial = "C2" }), store.ErrChipTaken},
		{"another person's session", change(func(pc *store.PasswordChange) { pc.SessionID = sb.ID }), store.ErrSessionEnded},
		{"after the challenge expired", change(func(pc *store.PasswordChange) { pc.At = s1.ExpiresAt }), store.ErrLogonExpired},
		{"for another person", change(func(pc *store.PasswordChange) { pc.PersonID = "p2"; pc.SessionID = sb.ID; pc.ChipSerial = "C2" }), store.ErrConflict},
		{"an audit entry without an event", change(func(pc *store.PasswordChange) { pc.Audit = []store.AuditEntry{{At: at}} }), nil},
	})

	n, err := e.st.ChangePassword(e.ctx, store.PasswordChange{ChallengeID: "P1", PersonID: "p1", SessionID: s1.ID, ChipSerial: "C1",
		Verifier: v, At: at.Add(time.Second), Audit: []store.AuditEntry{{At: at, PersonID: "p1", Event: "password_changed", Detail: "{}"}}})
	if err != nil || n != 1 {
		t.Fatalf("change: %d, %v", n, err)
	}
	person, err := e.st.Person(e.ctx, "p1")
	if err != nil || !bytes.Equal(person.PasswordVerifier, v) || !bytes.Equal(person.KDF.Salt, c.NewKDF.Salt) || person.KDF.Time != 2 || person.KDF.MemoryKiB != 8192 || person.KDF.Threads != 1 {
		t.Fatalf("person after the change: %+v, %v", person, err)
	}
	if _, err := e.st.LogonSessionByCookie(e.ctx, s1.CookieHash); err != nil {
		t.Errorf("the session of the change: %v", err)
	}
	if _, err := e.st.LogonSessionByCookie(e.ctx, s2.CookieHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the person's other session: expected it ended, got %v", err)
	}
	if _, err := e.st.LogonSessionByCookie(e.ctx, sb.CookieHash); err != nil {
		t.Errorf("another person's session: %v", err)
	}
	if f, _ := e.st.LogonFailure(e.ctx, "key-anna"); f != (store.LogonFailure{UserKey: "key-anna"}) {
		t.Errorf("count after a change: %+v", f)
	}
	expectFailures(e, []failing{
		{"the change again", change(func(pc *store.PasswordChange) {}), store.ErrLogonUsed},
	})
}

// testBlockFromSession: a block asked in a live MitID.dk session needs no token; it
// ends every session logged on with the chip; a session that ended, or another
// person's, blocks nothing.
func testBlockFromSession(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.importChips("C1", "C2")
	e.activated("tok-1", "p1", "anna.hansen", "C1")
	e.activated("tok-2", "p2", "bo.jensen", "C2")
	at := t0.Add(time.Minute)
	s1 := e.loggedOn("S1", "key-anna", "anna.hansen", "p1", "C1", at)
	s2 := e.loggedOn("S2", "key-anna", "anna.hansen", "p1", "C1", at)
	sb := e.loggedOn("SB", "key-bo", "bo.jensen", "p2", "C2", at)
	req := func(session string, at time.Time) store.BlockRequest {
		return store.BlockRequest{Serial: "C1", PersonID: "p1", Reason: store.BlockReasonRequested, At: at, SessionID: session}
	}
	expectFailures(e, []failing{
		{"another person's session", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, req(sb.ID, at))
			return err
		}, store.ErrSessionEnded},
		{"an ended session", func(e env) error {
			_, err := e.st.BlockChip(e.ctx, req(s1.ID, s1.ExpiresAt))
			return err
		}, store.ErrSessionEnded},
		{"both a token and a session", func(e env) error {
			b := req(s1.ID, at)
			b.TokenID = "btok"
			_, err := e.st.BlockChip(e.ctx, b)
			return err
		}, nil},
	})
	if _, err := e.st.BlockChip(e.ctx, req(s1.ID, at), blockAudit("p1", "C1", at)); err != nil {
		t.Fatalf("block: %v", err)
	}
	b, err := e.st.ChipBlock(e.ctx, "C1")
	if err != nil || b.Reason != store.BlockReasonRequested {
		t.Fatalf("block record: %+v, %v", b, err)
	}
	for _, s := range []store.LogonSession{s1, s2} {
		if _, err := e.st.LogonSessionByCookie(e.ctx, s.CookieHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s with the blocked chip: expected it ended, got %v", s.ID, err)
		}
	}
	if _, err := e.st.LogonSessionByCookie(e.ctx, sb.CookieHash); err != nil {
		t.Errorf("another person's session: %v", err)
	}
}

package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/server/activity"
	"mitidchip/server/api"
	"mitidchip/server/logon"
)

// withMit gives the fixture's API what /mit needs beside the logon: the activity,
// blocking, and a cheap Argon2id cost for the new passwords.
func withMit(c *setup) {
	withBlock(c)
	c.API.Activity = activity.NewHandler(c.Activation.Store)
	c.Logon.KDF = testKDF
}

// loggedOn is a browser logged on at MitID.dk as uid with chip m.
func (f *fixture) loggedOn(uid, pw string, m manufacturer.Chip) *client {
	f.t.Helper()
	c := f.newClient()
	l := f.logonBegin(c, uid).passed(pw)
	var done api.LogonDone
	l.chip(m, l.tr).decodeOK(f.t, &done)
	return c
}

// changeOf is one change of password in a logged-on browser, as /mit does it.
type changeOf struct {
	f     *fixture
	c     *client
	begun api.PasswordChangeBegun
	tr    api.LogonTranscript
}

func (f *fixture) changeBegin(c *client) *changeOf {
	f.t.Helper()
	ch := &changeOf{f: f, c: c}
	c.post("/api/v1/mit/password/begin", map[string]any{}).decodeOK(f.t, &ch.begun)
	return ch
}

func (ch *changeOf) old(pw string) response {
	ch.f.t.Helper()
	l := &logonOf{f: ch.f, begun: api.LogonBegun{ChallengeID: ch.begun.ChallengeID, Challenge: ch.begun.Challenge,
		Salt: ch.begun.Salt, Time: ch.begun.Time, MemoryKiB: ch.begun.MemoryKiB, Threads: ch.begun.Threads}}
	return ch.c.post("/api/v1/mit/password/old", api.PasswordChangeOldRequest{ChallengeID: ch.begun.ChallengeID, Proof: l.proof(pw)})
}

// verifier derives the new password's verifier with the new salt, as the worker does.
func (ch *changeOf) verifier(pw string) []byte {
	ch.f.t.Helper()
	n := ch.begun.NewKDF
	priv, err := kdf.Derive(pw, n.Salt, kdf.Params{Time: n.Time, MemoryKiB: n.MemoryKiB, Threads: n.Threads})
	if err != nil {
		ch.f.t.Fatalf("derive: %v", err)
	}
	return kdf.Verifier(priv)
}

func (ch *changeOf) setNew(v []byte) response {
	return ch.c.post("/api/v1/mit/password/new", api.PasswordChangeNewRequest{ChallengeID: ch.begun.ChallengeID, Verifier: v})
}

func (ch *changeOf) newPassword(pw string) *changeOf {
	ch.f.t.Helper()
	var p api.LogonPassed
	ch.setNew(ch.verifier(pw)).decodeOK(ch.f.t, &p)
	ch.tr = p.Transcript
	return ch
}

func (ch *changeOf) chip(m manufacturer.Chip, tr api.LogonTranscript) response {
	ch.f.t.Helper()
	return ch.c.post("/api/v1/mit/password/chip", api.PasswordChangeChipRequest{ChallengeID: ch.begun.ChallengeID,
		Hello: helloPayload(ch.f.t, ch.f.virtualChip(m)), Signature: signLogon(ch.f.t, m, tr)})
}

func (f *fixture) activityOf(c *client) []string {
	f.t.Helper()
	var a activity.Answer
	c.get("/api/v1/mit/activity").decodeOK(f.t, &a)
	var kinds []string
	for _, e := range a.Events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// TestMitPasswordChange: the old password and the chip's press change the password
// to one with a new salt; the person's other sessions end; the old password then
// fails at logon and the new one works; the activity says so.
func TestMitPasswordChange(t *testing.T) {
	f := newFixture(t, withMit)
	m := f.chips[0]
	f.activate("person-a", f.virtualChip(m))
	c := f.loggedOn("uid.person-a", password, m)
	other := f.loggedOn("uid.person-a", password, m)
	before, err := f.store.Person(f.ctx, "person-a")
	if err != nil {
		t.Fatal(err)
	}

	ch := f.changeBegin(c)
	if !bytes.Equal(ch.begun.Salt, before.KDF.Salt) || bytes.Equal(ch.begun.NewKDF.Salt, before.KDF.Salt) || len(ch.begun.NewKDF.Salt) != kdf.SaltSize {
		t.Fatalf("salts: old %x, begun %x, new %x", before.KDF.Salt, ch.begun.Salt, ch.begun.NewKDF.Salt)
	}
	ch.old(password).decodeOK(t, &struct{}{})
	const newPassword = "another Long passphrase 7"
	ch.newPassword(newPassword)
	v := ch.verifier(newPassword)
	if ch.tr.Purpose != transcript.PurposePasswordChange+transcript.PasswordChangeDigest(v) || ch.tr.UserID != "uid.person-a" {
		t.Fatalf("transcript: %+v", ch.tr)
	}
	var done api.PasswordChanged
	ch.chip(m, ch.tr).decodeOK(t, &done)
	if done.EndedSessions != 1 {
		t.Fatalf("ended sessions: %d", done.EndedSessions)
	}
	after, err := f.store.Person(f.ctx, "person-a")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after.PasswordVerifier, v) || !bytes.Equal(after.KDF.Salt, ch.begun.NewKDF.Salt) {
		t.Fatalf("person after: %+v", after)
	}
	// This browser stays logged on; the other is logged off.
	c.get("/api/v1/mit").decodeOK(t, &api.Mit{})
	other.get("/api/v1/mit").expectError(t, http.StatusUnauthorized, "not_logged_on")

	// Replayed: the challenge is used.
	snap := f.snapshot()
	ch.chip(m, ch.tr).expectError(t, http.StatusConflict, "logon_used")
	ch.old(password).expectError(t, http.StatusConflict, "logon_used")
	f.assertUnchanged(snap)

	// The old password fails at logon, the new one works.
	f.logonBegin(f.newClient(), "uid.person-a").password(password).expectError(t, http.StatusUnauthorized, "logon_failed")
	f.loggedOn("uid.person-a", newPassword, m)

	got := f.activityOf(c)
	want := []string{"logged_on", "logon_failed", "password_changed", "logged_on", "logged_on", "activation_completed"}
	if len(got) < len(want) {
		t.Fatalf("activity: %v", got)
	}
	for i, k := range want {
		if got[i] != k {
			t.Fatalf("activity: %v, want it to begin %v", got, want)
		}
	}
}

// TestMitPasswordChangeRefusals: each refusal answers its code and changes nothing
// (a wrong old password only counts, as at logon).
func TestMitPasswordChangeRefusals(t *testing.T) {
	f := newFixture(t, withMit)
	mine, theirs := f.chips[0], f.chips[1]
	f.activate("person-a", f.virtualChip(mine))
	f.activate("person-b", f.virtualChip(theirs))
	c := f.loggedOn("uid.person-a", password, mine)
	b := f.loggedOn("uid.person-b", password, theirs)

	ready := f.changeBegin(c) // old password passed, new one given
	ready.old(password).decodeOK(t, &struct{}{})
	ready.newPassword("another Long passphrase 7")
	fresh := f.changeBegin(c) // begun only
	logonTr := f.logonBegin(f.newClient(), "uid.person-a").passed(password)
	identity := make([]byte, kdf.VerifierSize) // the neutral element: a small-order point
	identity[0] = 1

	for _, tc := range []struct {
		name   string
		res    func() response
		status int
		code   string
	}{
		{"no session", func() response {
			return f.newClient().post("/api/v1/mit/password/begin", map[string]any{})
		}, http.StatusUnauthorized, "not_logged_on"},
		{"a cross-site POST", func() response {
			o := *c
			o.origin = "https://evil.example"
			return o.post("/api/v1/mit/password/begin", map[string]any{})
		}, http.StatusForbidden, "origin_denied"},
		{"no Origin at all", func() response {
			o := *c
			o.origin = ""
			return o.post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: mine.Serial})
		}, http.StatusForbidden, "origin_denied"},
		{"a new password before the old one", func() response { return fresh.setNew(fresh.verifier("whatever Long 9")) }, http.StatusConflict, "out_of_order"},
		{"a verifier of the wrong size", func() response { return fresh.setNew([]byte{1, 2, 3}) }, http.StatusBadRequest, "verifier_invalid"},
		{"a small-order verifier", func() response { return fresh.setNew(identity) }, http.StatusBadRequest, "verifier_invalid"},
		{"a second new password", func() response { return ready.setNew(ready.verifier("a third Long one 5")) }, http.StatusConflict, "out_of_order"},
		{"no chip press (no signature)", func() response {
			return c.post("/api/v1/mit/password/chip", api.PasswordChangeChipRequest{ChallengeID: ready.begun.ChallengeID,
				Hello: helloPayload(t, f.virtualChip(mine))})
		}, http.StatusBadRequest, "signature_invalid"},
		{"another person's chip", func() response { return ready.chip(theirs, ready.tr) }, http.StatusForbidden, "chip_not_yours"},
		{"the chip's signature over a logon", func() response { return ready.chip(mine, logonTr.tr) }, http.StatusBadRequest, "signature_invalid"},
		{"the change's signature at logon", func() response {
			return c.post("/api/v1/logon/chip", api.LogonChipRequest{ChallengeID: ready.begun.ChallengeID,
				Hello: helloPayload(t, f.virtualChip(mine)), Signature: signLogon(t, mine, ready.tr)})
		}, http.StatusConflict, "out_of_order"},
		{"the change's challenge at the logon's password step", func() response {
			return c.post("/api/v1/logon/password", api.LogonPasswordRequest{ChallengeID: fresh.begun.ChallengeID, Proof: make([]byte, 64)})
		}, http.StatusConflict, "out_of_order"},
		{"a logon's challenge at the change", func() response {
			return c.post("/api/v1/mit/password/chip", api.PasswordChangeChipRequest{ChallengeID: logonTr.begun.ChallengeID,
				Hello: helloPayload(t, f.virtualChip(mine)), Signature: signLogon(t, mine, logonTr.tr)})
		}, http.StatusConflict, "out_of_order"},
		{"another person's session", func() response { return (&changeOf{f: f, c: b, begun: ready.begun}).chip(theirs, ready.tr) }, http.StatusConflict, "out_of_order"},
		{"an unknown member", func() response {
			return c.post("/api/v1/mit/password/new", `{"challenge_id":"x","verifier":"","extra":1}`)
		}, http.StatusBadRequest, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot()
			tc.res().expectError(t, tc.status, tc.code)
			f.assertUnchanged(before)
		})
	}

	t.Run("a wrong old password counts toward the logon lock", func(t *testing.T) {
		person, _ := f.store.Person(f.ctx, "person-a")
		counted, err := f.store.LogonFailure(f.ctx, f.logon.UserKey("uid.person-a"))
		if err != nil {
			t.Fatal(err)
		}
		for i := counted.Failures + 1; i < logon.LockAfter; i++ {
			f.changeBegin(c).old("wrong").expectError(t, http.StatusUnauthorized, "logon_failed")
		}
		f.changeBegin(c).old("wrong").expectError(t, http.StatusForbidden, "logon_locked")
		now, _ := f.store.Person(f.ctx, "person-a")
		if !bytes.Equal(now.PasswordVerifier, person.PasswordVerifier) || !bytes.Equal(now.KDF.Salt, person.KDF.Salt) {
			t.Fatal("a wrong old password changed the password")
		}
		before := f.snapshot()
		c.post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: "uid.person-a"}).expectError(t, http.StatusForbidden, "logon_locked")
		c.post("/api/v1/mit/password/begin", map[string]any{}).expectError(t, http.StatusForbidden, "logon_locked")
		f.assertUnchanged(before)
		f.clock.Advance(logon.FirstLock)
	})
}

// TestMitBlock: a logged-on person blocks their chip; the session ends with it, as
// does every other session logged on with it; the chip then cannot log on, nor be
// activated again. Refusals change nothing.
func TestMitBlock(t *testing.T) {
	f := newFixture(t, withMit)
	m := f.chips[0]
	f.activate("person-a", f.virtualChip(m))
	c := f.loggedOn("uid.person-a", password, m)
	other := f.loggedOn("uid.person-a", password, m)

	for _, tc := range []struct {
		name   string
		res    func() response
		status int
		code   string
	}{
		{"no session", func() response {
			return f.newClient().post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: m.Serial})
		}, http.StatusUnauthorized, "not_logged_on"},
		{"a cross-site POST", func() response {
			o := *c
			o.origin = "https://evil.example"
			return o.post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: m.Serial})
		}, http.StatusForbidden, "origin_denied"},
		{"another chip than the active one", func() response {
			return c.post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: f.chips[1].Serial})
		}, http.StatusConflict, "chip_changed"},
		{"a serial of the wrong form", func() response {
			return c.post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: "with space"})
		}, http.StatusBadRequest, "bad_request"},
		{"activity with an unknown parameter", func() response { return c.get("/api/v1/mit/activity?page=2") }, http.StatusBadRequest, "bad_request"},
		{"activity without a session", func() response { return f.newClient().get("/api/v1/mit/activity") }, http.StatusUnauthorized, "not_logged_on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot()
			tc.res().expectError(t, tc.status, tc.code)
			f.assertUnchanged(before)
		})
	}

	var done api.MitBlocked
	res := c.post("/api/v1/mit/block", api.MitBlockRequest{ChipSerial: m.Serial})
	res.decodeOK(t, &done)
	if done.ChipSerial != m.Serial || done.BlockedAt != f.clock.Now().UTC().Format(time.RFC3339) {
		t.Fatalf("blocked: %+v", done)
	}
	c.get("/api/v1/mit").expectError(t, http.StatusUnauthorized, "not_logged_on")
	other.get("/api/v1/mit").expectError(t, http.StatusUnauthorized, "not_logged_on")
	blk, err := f.store.ChipBlock(f.ctx, m.Serial)
	if err != nil || blk.Reason != "requested" || blk.PersonID != "person-a" {
		t.Fatalf("block record: %+v, %v", blk, err)
	}

	// The chip can no longer log on, nor be activated again.
	l := f.logonBegin(f.newClient(), "uid.person-a").passed(password)
	before := f.snapshot()
	l.chip(m, l.tr).expectError(t, http.StatusConflict, "chip_blocked")
	f.assertUnchanged(before)

	vc := f.virtualChip(m)
	cm := f.begin("person-a", vc).through("password")
	before = f.snapshot()
	cm.c.post("/api/v1/chip/hello", api.HelloRequest{Hello: helloPayload(t, vc)}).expectError(t, http.StatusConflict, "chip_blocked")
	f.assertUnchanged(before)

	// The activity says it, from the next logon with another chip.
	f.activate("person-a", f.virtualChip(f.chips[1]))
	got := f.activityOf(f.loggedOn("uid.person-a", password, f.chips[1]))
	found := false
	for _, k := range got {
		found = found || k == "chip_blocked"
	}
	if !found {
		t.Fatalf("activity: %v", got)
	}
}

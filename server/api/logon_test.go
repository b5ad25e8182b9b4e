package api_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"net/http"
	"strconv"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/server/api"
	"mitidchip/server/logon"
	"mitidchip/server/store"
)

// logonOf is one browser logging on at MitID.dk, step by step, as the page does.
type logonOf struct {
	f     *fixture
	c     *client
	begun api.LogonBegun
	tr    api.LogonTranscript
}

func (f *fixture) logonBegin(c *client, uid string) *logonOf {
	f.t.Helper()
	l := &logonOf{f: f, c: c}
	c.post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: uid}).decodeOK(f.t, &l.begun)
	return l
}

// proof derives the password key from what begin answered and signs the challenge.
func (l *logonOf) proof(pw string) []byte {
	l.f.t.Helper()
	priv, err := kdf.Derive(pw, l.begun.Salt, kdf.Params{Time: l.begun.Time, MemoryKiB: l.begun.MemoryKiB, Threads: l.begun.Threads})
	if err != nil {
		l.f.t.Fatalf("derive: %v", err)
	}
	return kdf.Prove(priv, l.begun.Challenge)
}

func (l *logonOf) password(pw string) response {
	return l.c.post("/api/v1/logon/password", api.LogonPasswordRequest{ChallengeID: l.begun.ChallengeID, Proof: l.proof(pw)})
}

func (l *logonOf) passed(pw string) *logonOf {
	l.f.t.Helper()
	var p api.LogonPassed
	l.password(pw).decodeOK(l.f.t, &p)
	l.tr = p.Transcript
	return l
}

// signature is chip m's signature over tr, with its own serial and key in it.
func signLogon(t testing.TB, m manufacturer.Chip, tr api.LogonTranscript) []byte {
	t.Helper()
	pub, err := m.Key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := transcript.Logon{ChallengeID: tr.ChallengeID, Challenge: tr.Challenge, UserID: tr.UserID, ChipSerial: m.Serial,
		ChipPublicKey: pub, Origin: tr.Origin, Purpose: tr.Purpose, Nonce: tr.Nonce}.Hash()
	if err != nil {
		t.Fatalf("transcript: %v", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (l *logonOf) chip(m manufacturer.Chip, tr api.LogonTranscript) response {
	l.f.t.Helper()
	return l.c.post("/api/v1/logon/chip", api.LogonChipRequest{ChallengeID: l.begun.ChallengeID,
		Hello: helloPayload(l.f.t, l.f.virtualChip(m)), Signature: signLogon(l.f.t, m, tr)})
}

// TestLogonAPI: activation, then logon with user ID, password and the same chip; the
// session cookie is the logon's own, Mit MitID shows the chip, log off ends it.
func TestLogonAPI(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	f.activate("person-a", f.virtualChip(m))

	c := f.newClient()
	l := f.logonBegin(c, "UID.Person-A").passed(password)
	if l.tr.UserID != "uid.person-a" || l.tr.Origin != origin || l.tr.Purpose != transcript.PurposeMitID {
		t.Fatalf("transcript: %+v", l.tr)
	}
	f.clock.Advance(10 * time.Second)
	res := l.chip(m, l.tr)
	var done api.LogonDone
	res.decodeOK(t, &done)
	if done.Next != "/mit" {
		t.Fatalf("next: %q", done.Next)
	}
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: res.header}).Cookies() {
		if ck.Name == api.LogonCookieName(false) {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Value == "" {
		t.Fatalf("logon cookie: %+v", cookie)
	}
	if api.LogonCookieName(true) != "__Host-mitid" || api.LogonCookieName(true) == api.CookieName(true) {
		t.Fatal("the logon cookie must be its own, __Host- prefixed")
	}

	var mit api.Mit
	c.get("/api/v1/mit").decodeOK(t, &mit)
	if mit.UserID != "uid.person-a" || mit.Chip == nil || mit.Chip.Serial != m.Serial ||
		mit.Chip.LastUsedAt != f.clock.Now().UTC().Format(time.RFC3339) || mit.Chip.ActivatedAt != t0.Format(time.RFC3339) {
		t.Fatalf("mit: %+v %+v", mit, mit.Chip)
	}
	// Another browser is not logged on.
	f.newClient().get("/api/v1/mit").expectError(t, http.StatusUnauthorized, "not_logged_on")

	// The challenge is used once.
	before := f.snapshot()
	l.chip(m, l.tr).expectError(t, http.StatusConflict, "logon_used")
	f.assertUnchanged(before)

	c.post("/api/v1/logoff", map[string]any{}).decodeOK(t, &done)
	c.get("/api/v1/mit").expectError(t, http.StatusUnauthorized, "not_logged_on")
}

// TestLogonUnknownUserID: an unknown user ID and a wrong password get the same
// answer, with the same store work.
func TestLogonUnknownUserID(t *testing.T) {
	f := newFixture(t, nil)
	f.activate("person-a", f.virtualChip(f.chips[0]))
	c := f.newClient()
	try := func(uid string) (api.Error, map[string]int, api.LogonBegun) {
		l := f.logonBegin(c, uid)
		before := f.snapshot()
		e := l.password("wrong password").expectError(t, http.StatusUnauthorized, "logon_failed")
		return e, shape(before, f.snapshot()), l.begun
	}
	wrong, wrongWork, known := try("uid.person-a")
	unknown, unknownWork, nobody := try("nobody.here")
	if wrong != unknown {
		t.Fatalf("answers differ: %+v and %+v", wrong, unknown)
	}
	if len(wrongWork) == 0 || len(wrongWork) != len(unknownWork) {
		t.Fatalf("store work differs: %v and %v", wrongWork, unknownWork)
	}
	for k, v := range wrongWork {
		if unknownWork[k] != v {
			t.Fatalf("store work differs: %v and %v", wrongWork, unknownWork)
		}
	}
	if len(known.Salt) != len(nobody.Salt) || known.Time != testKDF.Time {
		t.Fatalf("salts: %+v, %+v", known, nobody)
	}
}

func shape(before, after map[string][]string) map[string]int {
	out := map[string]int{}
	for table, rows := range after {
		old := map[string]bool{}
		for _, r := range before[table] {
			old[r] = true
		}
		for _, r := range rows {
			if !old[r] {
				out[table]++
			}
		}
	}
	return out
}

// TestLogonRefusals: each refusal at the chip step has its code and changes nothing.
func TestLogonRefusals(t *testing.T) {
	f := newFixture(t, nil)
	mine, theirs := f.chips[0], f.chips[1]
	f.activate("person-a", f.virtualChip(mine))
	f.activate("person-b", f.virtualChip(theirs))
	c := f.newClient()
	l := f.logonBegin(c, "uid.person-a").passed(password)
	other := f.logonBegin(c, "uid.person-a").passed(password)

	for _, tc := range []struct {
		name   string
		res    func() response
		status int
		code   string
	}{
		{"another person's chip", func() response { return l.chip(theirs, l.tr) }, http.StatusForbidden, "chip_not_yours"},
		{"a signature over another logon's transcript", func() response { return l.chip(mine, other.tr) }, http.StatusBadRequest, "signature_invalid"},
		{"a proof of the wrong size", func() response {
			return c.post("/api/v1/logon/password", api.LogonPasswordRequest{ChallengeID: other.begun.ChallengeID, Proof: []byte{1}})
		}, http.StatusConflict, "logon_used"},
		{"an unknown member", func() response {
			return c.post("/api/v1/logon/begin", `{"user_id":"x","extra":1}`)
		}, http.StatusBadRequest, "bad_request"},
		{"another origin", func() response {
			o := f.newClient()
			o.origin = "https://evil.example"
			return o.post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: "uid.person-a"})
		}, http.StatusForbidden, "origin_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot()
			tc.res().expectError(t, tc.status, tc.code)
			f.assertUnchanged(before)
		})
	}
	t.Run("a revoked chip", func(t *testing.T) {
		if err := f.store.RevokeChip(f.ctx, mine.Serial); err != nil {
			t.Fatal(err)
		}
		before := f.snapshot()
		l.chip(mine, l.tr).expectError(t, http.StatusConflict, "chip_revoked")
		f.assertUnchanged(before)
	})
}

// TestLogonLock: wrong passwords lock logon for the user ID, told with when (the
// header and the body); the lock lifts at that time.
func TestLogonLock(t *testing.T) {
	f := newFixture(t, nil)
	f.activate("person-a", f.virtualChip(f.chips[0]))
	c := f.newClient()
	for i := 1; i < logon.LockAfter; i++ {
		f.logonBegin(c, "uid.person-a").password("wrong").expectError(t, http.StatusUnauthorized, "logon_failed")
	}
	res := f.logonBegin(c, "uid.person-a").password("wrong")
	e := res.expectError(t, http.StatusForbidden, "logon_locked")
	want := int(logon.FirstLock / time.Second)
	if e.RetryAfter == nil || *e.RetryAfter != want || res.header.Get("Retry-After") != strconv.Itoa(want) ||
		e.RetryAt != f.clock.Now().Add(logon.FirstLock).Format(time.RFC3339) {
		t.Fatalf("lock: %+v, Retry-After %q", e, res.header.Get("Retry-After"))
	}
	before := f.snapshot()
	c.post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: "UID.PERSON-A"}).expectError(t, http.StatusForbidden, "logon_locked")
	f.assertUnchanged(before)

	f.clock.Advance(logon.FirstLock)
	l := f.logonBegin(c, "uid.person-a").passed(password)
	var done api.LogonDone
	l.chip(f.chips[0], l.tr).decodeOK(t, &done)
	if fl, _ := f.store.LogonFailure(f.ctx, f.logon.UserKey("uid.person-a")); fl != (store.LogonFailure{UserKey: f.logon.UserKey("uid.person-a")}) {
		t.Fatalf("a logon resets the count: %+v", fl)
	}
}

// TestLogonAddressLimit: one address may check user IDs and passwords
// LogonsPerMinute times a minute, whoever's.
func TestLogonAddressLimit(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.API.LogonsPerMinute = 3 })
	c := f.newClient()
	for i := range 3 {
		f.logonBegin(c, "someone."+strconv.Itoa(i))
	}
	before := f.snapshot()
	c.post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: "someone.else"}).expectError(t, http.StatusTooManyRequests, "rate_limited")
	f.assertUnchanged(before)
	f.clock.Advance(time.Minute)
	f.logonBegin(c, "someone.else")
}

// TestHandoffWithoutUserID: activation needs a MitID user ID; a handoff without one
// is refused and changes nothing.
func TestHandoffWithoutUserID(t *testing.T) {
	f := newFixture(t, nil)
	tok, _, err := f.issuer.Issue("person-x", "")
	if err != nil {
		t.Fatal(err)
	}
	before := f.snapshot()
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).expectError(t, http.StatusUnauthorized, "user_id_missing")
	f.assertUnchanged(before)

	// A user ID is another person's: refused too.
	f.activate("person-a", f.virtualChip(f.chips[0]))
	before = f.snapshot()
	f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-y", "UID.person-a"))).expectError(t, http.StatusConflict, "user_id_taken")
	f.assertUnchanged(before)
}

// TestLogonSiteRefusals: without an OIDC provider, or with an auth_request of the
// wrong form, the logon page's site lookup and cancel are refused and change
// nothing; cancel is a same-origin POST like every logon step. (The provider's own
// answers are tested in server/oidc and, through the page, in e2e TestOIDCJourney.)
func TestLogonSiteRefusals(t *testing.T) {
	f := newFixture(t, nil)
	c := f.newClient()
	evil := f.newClient()
	evil.origin = "https://evil.example"
	const id = "AAAAAAAAAAAAAAAAAAAAAA"
	for _, tc := range []struct {
		name   string
		res    func() response
		status int
		code   string
	}{
		{"site, no provider", func() response { return c.get("/api/v1/logon/site?auth_request=" + id) }, http.StatusConflict, "auth_request_invalid"},
		{"site, none given", func() response { return c.get("/api/v1/logon/site") }, http.StatusBadRequest, "bad_request"},
		{"site, a space", func() response { return c.get("/api/v1/logon/site?auth_request=a+b") }, http.StatusBadRequest, "bad_request"},
		{"cancel, no provider", func() response {
			return c.post("/api/v1/logon/cancel", api.LogonCancelRequest{AuthRequest: id})
		}, http.StatusConflict, "auth_request_invalid"},
		{"cancel, empty", func() response { return c.post("/api/v1/logon/cancel", api.LogonCancelRequest{}) }, http.StatusBadRequest, "bad_request"},
		{"cancel, an unknown member", func() response {
			return c.post("/api/v1/logon/cancel", `{"auth_request":"x","extra":1}`)
		}, http.StatusBadRequest, "bad_request"},
		{"cancel, another origin", func() response {
			return evil.post("/api/v1/logon/cancel", api.LogonCancelRequest{AuthRequest: id})
		}, http.StatusForbidden, "origin_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot()
			tc.res().expectError(t, tc.status, tc.code)
			f.assertUnchanged(before)
		})
	}
}

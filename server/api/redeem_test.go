package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/handoff"
	"mitidchip/server/store"
)

// noCookie fails t if a refusal set a cookie.
func noCookie(t *testing.T, r response) {
	t.Helper()
	if c := r.header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("expected no cookie with a refusal, got %q", c)
	}
}

// TestOpenSessionsPerPerson: one person holds at most activation.OpenSessions open
// activations, from any number of addresses; the next handoff is refused, creates
// nothing and leaves its token unused, so it works once an earlier session has
// ended. Another person is not affected.
func TestOpenSessionsPerPerson(t *testing.T) {
	f := newFixture(t, func(c *setup) { c.Activation.SessionTTL = 2 * time.Minute })
	for range activation.OpenSessions {
		f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).state(t, "password")
	}
	tok := f.token("person-a", "")
	before := f.snapshot()
	res := f.newClient().post("/api/v1/handoff", redeemReq(tok))
	res.expectError(t, http.StatusTooManyRequests, "too_many_sessions")
	noCookie(t, res)
	f.assertUnchanged(before)

	f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-b", ""))).state(t, "password")

	f.clock.Advance(2 * time.Minute) // the sessions expire; the token (5 minutes) lives
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
}

// TestHandoffsPerPersonPerHour: one person redeems at most activation.HandoffsPerHour
// handoffs an hour, however short-lived their sessions; the next is refused and
// changes nothing, until the first is an hour old.
func TestHandoffsPerPersonPerHour(t *testing.T) {
	f := newFixture(t, func(c *setup) { c.Activation.SessionTTL = time.Minute })
	for range activation.HandoffsPerHour {
		f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).state(t, "password")
		f.clock.Advance(time.Minute) // so the open-session limit never counts
	}
	tok := f.token("person-a", "")
	before := f.snapshot()
	res := f.newClient().post("/api/v1/handoff", redeemReq(tok))
	res.expectError(t, http.StatusTooManyRequests, "too_many_handoffs")
	noCookie(t, res)
	f.assertUnchanged(before)

	f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-b", ""))).state(t, "password")

	// An hour after the first handoff, there is room for one more.
	f.clock.Advance(time.Hour - time.Duration(activation.HandoffsPerHour)*time.Minute)
	f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).state(t, "password")
	f.newClient().post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).expectError(t, http.StatusTooManyRequests, "too_many_handoffs")
}

// sessionCookie is the activation cookie a response set.
func sessionCookie(t *testing.T, r response) string {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == api.CookieName(false) && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("expected a session cookie, got %q", r.header.Values("Set-Cookie"))
	return ""
}

// TestRedeemRetry: the answer to a redemption is lost after the server committed it
// (no cookie reached the browser). The page tries again with the same request id and
// gets the same activation under a new cookie; the first cookie stops working. A
// second browser or tab, with a request id of its own, gets handoff_used and takes
// nothing, and once the activation has moved on no one can redeem the link again.
func TestRedeemRetry(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token("person-a", "")
	req := redeemReq(tok)

	lost := f.newClient() // the answer it got never reached the page
	first := lost.post("/api/v1/handoff", req)
	started := first.state(t, "password")
	firstCookie := sessionCookie(t, first)

	page := f.newClient()
	again := page.post("/api/v1/handoff", req)
	if s := again.state(t, "password"); s.ActivationID != started.ActivationID {
		t.Fatalf("retry: expected activation %s, got %s", started.ActivationID, s.ActivationID)
	}
	if c := sessionCookie(t, again); c == firstCookie {
		t.Fatal("retry: expected a new cookie, got the first one again")
	}
	lost.get("/api/v1/activation").expectError(t, http.StatusUnauthorized, "no_session")
	page.get("/api/v1/activation").state(t, "password")
	audit, err := f.store.AuditEntries(f.ctx, started.ActivationID)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range audit {
		events = append(events, e.Event)
	}
	if want := []string{"handoff_redeemed", "handoff_redeemed_again"}; !slices.Equal(events, want) {
		t.Errorf("audit: expected %q, got %q", want, events)
	}

	// Another tab or browser, with its own request id: refused, nothing taken.
	before := f.snapshot()
	other := f.newClient()
	res := other.post("/api/v1/handoff", redeemReq(tok))
	res.expectError(t, http.StatusConflict, "handoff_used")
	noCookie(t, res)
	other.get("/api/v1/activation").expectError(t, http.StatusUnauthorized, "no_session")
	f.assertUnchanged(before)
	page.get("/api/v1/activation").state(t, "password")

	// Bad request ids: refused before the token is looked at.
	for _, id := range []string{"", "short", req.RequestID + "!", req.RequestID[:21] + "=", string(make([]byte, 65))} {
		f.newClient().post("/api/v1/handoff", api.RedeemRequest{Token: tok, RequestID: id}).expectError(t, http.StatusBadRequest, "bad_request")
	}
	f.assertUnchanged(before)

	// The activation moves on: the same request id no longer gets it.
	cm := &ceremony{f: f, c: page, person: "person-a", token: tok}
	cm.setPassword()
	before = f.snapshot()
	res = f.newClient().post("/api/v1/handoff", req)
	res.expectError(t, http.StatusConflict, "handoff_used")
	noCookie(t, res)
	f.assertUnchanged(before)
	page.get("/api/v1/activation").state(t, "chip")
}

// TestRedeemWithoutRequestID: a redemption without a request id is refused and
// leaves the token unused.
func TestRedeemWithoutRequestID(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token("person-a", "")
	before := f.snapshot()
	f.newClient().post("/api/v1/handoff", `{"token":"`+tok+`"}`).expectError(t, http.StatusBadRequest, "bad_request")
	f.assertUnchanged(before)
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
}

// handoffSpy records the handoffs the ceremony asks the store to redeem.
type handoffSpy struct {
	store.Store
	last store.Handoff
}

func (s *handoffSpy) RedeemHandoff(ctx context.Context, h store.Handoff, sess store.Session, audit ...store.AuditEntry) (store.Session, error) {
	s.last = h
	return s.Store.RedeemHandoff(ctx, h, sess, audit...)
}

// TestUsedTokenOutlivesVerification: the record of a used token is kept at least as
// long as the token verifies (its expiry plus the verifier's leeway). A sweep by the
// server's clock a second before that keeps it, and the replay is refused. Today the
// record goes at the token's expiry, and a sweep in the leeway lets the link start a
// second activation.
func TestUsedTokenOutlivesVerification(t *testing.T) {
	spy := &handoffSpy{}
	f := newFixture(t, func(c *setup) {
		spy.Store = c.Activation.Store
		c.Activation.Store = spy
	})
	tok := f.token("person-a", "")
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
	expiry := t0.Add(5 * time.Minute) // the fixture's tokens live five minutes
	if min := expiry.Add(handoff.Leeway); spy.last.ExpiresAt.Before(min) {
		t.Fatalf("used-token record: expected kept until at least %v, got %v", min, spy.last.ExpiresAt)
	}

	f.clock.Advance(5*time.Minute + handoff.Leeway - time.Second)
	if _, err := f.store.DeleteExpired(f.ctx, f.clock.Now(), store.SweepBatch); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	before := f.snapshot()
	res := f.newClient().post("/api/v1/handoff", redeemReq(tok))
	res.expectError(t, http.StatusConflict, "handoff_used")
	noCookie(t, res)
	f.assertUnchanged(before)
}

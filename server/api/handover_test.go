package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/api"
)

// TestHandover: a browser at the password step makes a code; another browser
// redeems it and gets the same activation under its own cookie, finishes it, and the
// first browser's cookie is refused from then on. The code works once.
func TestHandover(t *testing.T) {
	f := newFixture(t, nil)
	vc := f.virtualChip(f.chips[0])
	first := f.begin("person-a", vc)

	var h api.Handover
	first.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	if len(h.Code) != 9 || h.Code[4] != '-' {
		t.Fatalf("handover code: expected ABCD-EFGH, got %q", h.Code)
	}
	if want := "http://127.0.0.1:8080/continue#c=" + strings.ReplaceAll(h.Code, "-", ""); h.URL != want {
		t.Errorf("handover URL: expected %q, got %q", want, h.URL)
	}
	if !strings.HasPrefix(h.QR, "data:image/svg+xml;base64,") || h.ExpiresIn != int(activation.HandoverTTL.Seconds()) {
		t.Errorf("handover: expected an SVG QR code and %v to live, got %.40q and %d s", activation.HandoverTTL, h.QR, h.ExpiresIn)
	}

	second := &ceremony{f: f, c: f.newClient(), person: "person-a", vc: vc}
	// As a person types it: lower case, a space.
	st := second.c.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: strings.ToLower(strings.ReplaceAll(h.Code, "-", " "))}).state(t, "password")
	if st.ActivationID != first.state.ActivationID {
		t.Fatalf("the other device's activation: expected %s, got %s", first.state.ActivationID, st.ActivationID)
	}
	first.c.get("/api/v1/activation").expectError(t, http.StatusUnauthorized, "no_session")
	second.state = st
	second.setPassword()
	second.presentChip()
	second.enterCode()
	second.finish()

	third := f.newClient()
	third.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).expectError(t, http.StatusConflict, "handover_used")

	var events []string
	entries, err := f.store.AuditEntries(t.Context(), st.ActivationID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		events = append(events, e.Event)
	}
	if got := strings.Join(events, " "); !strings.HasPrefix(got, "handoff_redeemed handover_created handover_redeemed password_set") || !strings.HasSuffix(got, "activation_completed") {
		t.Errorf("audit: expected handoff_redeemed handover_created handover_redeemed password_set … activation_completed, got %s", got)
	}
}

// TestHandoverRefusals: a code past its minutes, a wrong code (five void the
// handover), a code for an activation that moved on, a request from another origin
// and a browser without a session are each refused with their own code.
func TestHandoverRefusals(t *testing.T) {
	f := newFixture(t, nil)
	vc := f.virtualChip(f.chips[0])
	var h api.Handover

	a := f.begin("person-a", vc)
	a.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	f.clock.Advance(activation.HandoverTTL)
	f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).expectError(t, http.StatusGone, "handover_expired")

	b := f.begin("person-b", vc)
	b.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	wrong := h.Code[:5] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, h.Code[5:])
	for range activation.HandoverMaxWrong - 1 {
		f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: wrong}).expectError(t, http.StatusUnprocessableEntity, "handover_wrong")
	}
	f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: wrong}).expectError(t, http.StatusForbidden, "handover_void")
	f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).expectError(t, http.StatusForbidden, "handover_void")
	f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: "not a code"}).expectError(t, http.StatusUnprocessableEntity, "handover_wrong")

	c := f.begin("person-c", vc)
	c.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	c.setPassword()
	f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).expectError(t, http.StatusConflict, "handover_used")
	c.c.post("/api/v1/handover", map[string]any{}).expectError(t, http.StatusConflict, "out_of_order")

	f.newClient().post("/api/v1/handover", map[string]any{}).expectError(t, http.StatusUnauthorized, "no_session")
	other := f.newClient()
	other.origin = "https://evil.example"
	other.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).expectError(t, http.StatusForbidden, "origin_denied")
}

// TestHandoverAddressLimit: an address gets 10 tries a minute to redeem codes.
func TestHandoverAddressLimit(t *testing.T) {
	f := newFixture(t, nil)
	cl := f.newClient()
	for range 10 {
		cl.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: "2222-2222"}).expectError(t, http.StatusUnprocessableEntity, "handover_wrong")
	}
	cl.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: "2222-2222"}).expectError(t, http.StatusTooManyRequests, "rate_limited")
}

// TestHandoverWatched: the device that made a code sees it in its state, open with
// its seconds left, then expired when its minutes are up, or void after five wrong
// codes; a new code is open again. Another step, or the device that redeemed it,
// sees no handover.
func TestHandoverWatched(t *testing.T) {
	f := newFixture(t, nil)
	vc := f.virtualChip(f.chips[0])
	handover := func(c *ceremony) *api.HandoverState {
		t.Helper()
		return c.c.get("/api/v1/activation").state(t, "password").Handover
	}

	a := f.begin("person-a", vc)
	if h := handover(a); h != nil {
		t.Fatalf("before any code: expected no handover in the state, got %+v", h)
	}
	var h api.Handover
	a.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	if got := handover(a); got == nil || got.Status != "open" || got.ExpiresIn != int(activation.HandoverTTL.Seconds()) || got.ExpiresAt != h.ExpiresAt {
		t.Fatalf("a fresh code: expected open, %v left, until %s; got %+v", activation.HandoverTTL, h.ExpiresAt, got)
	}
	f.clock.Advance(activation.HandoverTTL - time.Second)
	if got := handover(a); got == nil || got.Status != "open" || got.ExpiresIn != 1 {
		t.Fatalf("a second before its end: expected open with 1 s left, got %+v", got)
	}
	f.clock.Advance(time.Second)
	if got := handover(a); got == nil || got.Status != "expired" || got.ExpiresIn != 0 {
		t.Fatalf("at its end: expected expired, got %+v", got)
	}
	a.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	if got := handover(a); got == nil || got.Status != "open" {
		t.Fatalf("a new code after the expired one: expected open, got %+v", got)
	}
	wrong := h.Code[:5] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, h.Code[5:])
	for range activation.HandoverMaxWrong {
		f.newClient().post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: wrong})
	}
	if got := handover(a); got == nil || got.Status != "void" {
		t.Fatalf("after %d wrong codes: expected void, got %+v", activation.HandoverMaxWrong, got)
	}

	b := f.begin("person-b", vc)
	b.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	other := f.newClient()
	if st := other.post("/api/v1/handover/redeem", api.HandoverRedeemRequest{Code: h.Code}).state(t, "password"); st.Handover != nil {
		t.Errorf("the device that redeemed the code: expected no handover in its state, got %+v", st.Handover)
	}
	b.c.get("/api/v1/activation").expectError(t, http.StatusUnauthorized, "no_session")

	c := f.begin("person-c", vc)
	c.c.post("/api/v1/handover", map[string]any{}).decodeOK(t, &h)
	c.setPassword()
	if st := c.c.get("/api/v1/activation").state(t, "chip"); st.Handover != nil {
		t.Errorf("past the password step: expected no handover in the state, got %+v", st.Handover)
	}
}

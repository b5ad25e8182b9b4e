package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/store"
)

// TestRateLimits: the 21st handoff or code request from one address within a minute
// is refused before it is read; other addresses are not affected, and the next minute
// starts afresh.
func TestRateLimits(t *testing.T) {
	cases := []struct {
		name   string
		path   string
		body   any // refused for its own reason while under the limit
		status int
		code   string
	}{
		{"handoff", "/api/v1/handoff", api.RedeemRequest{Token: "not-a-token"}, http.StatusUnauthorized, "handoff_invalid"},
		{"code", "/api/v1/chip/code", api.CodeRequest{Code: "123456"}, http.StatusUnauthorized, "no_session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			cl := f.newClient()
			for i := 0; i < 20; i++ {
				cl.post(c.path, c.body).expectError(t, c.status, c.code)
			}
			valid := f.token("person-a", "")
			before := f.snapshot()
			if c.name == "handoff" {
				// Even a good token waits: the limit comes before any work.
				cl.post(c.path, api.RedeemRequest{Token: valid}).expectError(t, http.StatusTooManyRequests, "rate_limited")
			} else {
				cl.post(c.path, c.body).expectError(t, http.StatusTooManyRequests, "rate_limited")
			}

			other := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(mustJSON(t, c.body)))
			other.RemoteAddr = "192.0.2.9:4321"
			other.Header.Set("Origin", origin)
			other.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, other)
			response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}.expectError(t, c.status, c.code)

			f.clock.Advance(time.Minute - time.Second)
			cl.post(c.path, c.body).expectError(t, http.StatusTooManyRequests, "rate_limited")
			f.assertUnchanged(before)
			f.clock.Advance(time.Second)
			cl.post(c.path, c.body).expectError(t, c.status, c.code)
			if c.name == "handoff" {
				cl.post(c.path, api.RedeemRequest{Token: valid}).state(t, "password")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// overtaken is a store where another request's wrong code for the same session
// always lands between a handler's read of the session and its own RejectCode.
type overtaken struct {
	store.Store
}

func (o overtaken) RejectCode(ctx context.Context, s store.Session, lim store.CodeLimits, at time.Time, audit ...store.AuditEntry) (store.Session, store.Chip, error) {
	if _, _, err := o.Store.RejectCode(ctx, s, lim, at, audit...); err != nil {
		return store.Session{}, store.Chip{}, err
	}
	return o.Store.RejectCode(ctx, s, lim, at, audit...)
}

// TestWrongCodeOvertaken: a wrong code whose session moved on under it (two tabs, a
// double submit) is a conflict for the client to retry after a reload, not a server
// fault, and it is counted once.
func TestWrongCodeOvertaken(t *testing.T) {
	f := newFixture(t, func(c *setup) { c.Activation.Store = overtaken{c.Activation.Store} })
	m := f.chips[0]
	cm := f.begin("person-a", f.virtualChip(m)).through("hello")
	cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)}).expectError(t, http.StatusConflict, "out_of_order")
	if s := cm.c.get("/api/v1/activation").state(t, "code"); s.TriesLeft != activation.BlockAfter-1 {
		t.Errorf("expected the overtaking wrong code alone counted (%d tries left), got %d", activation.BlockAfter-1, s.TriesLeft)
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/clientip"
	"mitidchip/server/observe"
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
		{"handoff", "/api/v1/handoff", redeemReq("not-a-token"), http.StatusUnauthorized, "handoff_invalid"},
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
				cl.post(c.path, redeemReq(valid)).expectError(t, http.StatusTooManyRequests, "rate_limited")
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
				cl.post(c.path, redeemReq(valid)).state(t, "password")
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

func (o overtaken) RejectCode(ctx context.Context, s store.Session, lim store.CodeLimits, at time.Time, audit ...store.AuditEntry) (store.Session, store.ChipFailure, error) {
	if _, _, err := o.Store.RejectCode(ctx, s, lim, at, audit...); err != nil {
		return store.Session{}, store.ChipFailure{}, err
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

// behindProxy is a client behind a TLS proxy that writes X-Forwarded-For: the
// client's own header, if any, then the address the proxy saw.
func behindProxy(f *fixture, own, seen string) *client {
	c := f.newClient()
	xff := seen
	if own != "" {
		xff = own + ", " + seen
	}
	c.header = http.Header{"X-Forwarded-For": {xff}}
	return c
}

// TestRateLimitsBehindProxy: with the proxy trusted (on the same host as the server,
// as the test's connections are), each client behind it has its own budget, keyed
// on the address the proxy saw; what the client writes into X-Forwarded-For itself
// changes nothing. Today's limiter keys on the TCP peer: every client shares the
// proxy's budget.
func TestRateLimitsBehindProxy(t *testing.T) {
	proxies, err := clientip.Parse("127.0.0.1/32,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *setup) { c.API.ClientAddr = proxies.Addr })
	junk := redeemReq("not-a-token")
	flooder := behindProxy(f, "", "198.51.100.1")
	for range 20 {
		flooder.post("/api/v1/handoff", junk).expectError(t, http.StatusUnauthorized, "handoff_invalid")
	}
	before := f.snapshot()
	flooder.post("/api/v1/handoff", redeemReq(f.token("person-x", ""))).expectError(t, http.StatusTooManyRequests, "rate_limited")
	// Spoofing a fresh address in its own header does not give it a new budget.
	for i := range 5 {
		behindProxy(f, "203.0.113."+strconv.Itoa(i), "198.51.100.1").post("/api/v1/handoff", junk).expectError(t, http.StatusTooManyRequests, "rate_limited")
	}
	f.assertUnchanged(before)

	// A citizen behind the same proxy is not held up.
	citizen := behindProxy(f, "", "198.51.100.2")
	citizen.post("/api/v1/handoff", junk).expectError(t, http.StatusUnauthorized, "handoff_invalid")
	citizen.post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).state(t, "password")
	// Neighbours in one IPv6 /64 share a budget, other /64s do not.
	v6 := behindProxy(f, "", "2001:db8:1:2::1")
	for range 20 {
		v6.post("/api/v1/handoff", junk).expectError(t, http.StatusUnauthorized, "handoff_invalid")
	}
	behindProxy(f, "", "2001:db8:1:2::ffff").post("/api/v1/handoff", junk).expectError(t, http.StatusTooManyRequests, "rate_limited")
	behindProxy(f, "", "2001:db8:1:3::1").post("/api/v1/handoff", junk).expectError(t, http.StatusUnauthorized, "handoff_invalid")
}

// TestForwardedForUntrusted: without TRUSTED_PROXIES, X-Forwarded-For is the
// client's word and is ignored; a client that writes a new address into it on every
// request is limited all the same.
func TestForwardedForUntrusted(t *testing.T) {
	f := newFixture(t, nil)
	junk := redeemReq("not-a-token")
	for i := range 20 {
		behindProxy(f, "", "203.0.113."+strconv.Itoa(i)).post("/api/v1/handoff", junk).expectError(t, http.StatusUnauthorized, "handoff_invalid")
	}
	before := f.snapshot()
	behindProxy(f, "", "203.0.113.99").post("/api/v1/handoff", redeemReq(f.token("person-a", ""))).expectError(t, http.StatusTooManyRequests, "rate_limited")
	f.assertUnchanged(before)
}

// TestRateLimitBeforeOrigin: a flood of POSTs with a junk Origin is cut off by the
// per-address request limit, which comes before the origin check, so each request
// past it costs no more than a short answer and a short log line. Another address is
// not affected.
func TestRateLimitBeforeOrigin(t *testing.T) {
	f := newFixture(t, func(c *setup) { c.API.RequestsPerMinute = 10 })
	tok := f.token("person-a", "")
	cl := f.newClient()
	cl.origin = "https://evil.example"
	before := f.snapshot()
	for range 10 {
		cl.post("/api/v1/handoff", redeemReq(tok)).expectError(t, http.StatusForbidden, "origin_denied")
	}
	for _, path := range []string{"/api/v1/handoff", "/api/v1/password", "/api/v1/chip/code"} {
		cl.post(path, redeemReq(tok)).expectError(t, http.StatusTooManyRequests, "rate_limited")
	}
	cl.get("/api/v1/activation").expectError(t, http.StatusTooManyRequests, "rate_limited")
	f.assertUnchanged(before)

	other := httptest.NewRequest(http.MethodPost, "/api/v1/handoff", strings.NewReader(mustJSON(t, redeemReq(tok))))
	other.RemoteAddr = "192.0.2.9:4321"
	other.Header.Set("Origin", "https://evil.example")
	other.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, other)
	response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}.expectError(t, http.StatusForbidden, "origin_denied")

	f.clock.Advance(time.Minute)
	cl.origin = origin
	cl.post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
}

// TestRefusalLogBounded: a refusal's log line carries a clipped, sanitised form of
// the client's Origin or Content-Type, never the header as sent: ten requests with a
// 512 KiB header grow the log by a few KiB, not 5 MiB.
func TestRefusalLogBounded(t *testing.T) {
	huge := "https://" + strings.Repeat("A", 512<<10)
	cases := []struct {
		name   string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"origin", func(r *http.Request) { r.Header.Set("Origin", huge) }, http.StatusForbidden, "origin_denied"},
		{"content type", func(r *http.Request) { r.Header.Set("Content-Type", "text/"+huge) }, http.StatusUnsupportedMediaType, "bad_request"},
		{"control characters", func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example\t\u202e"+strings.Repeat("\u00e6", 100))
		}, http.StatusForbidden, "origin_denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			before := f.snapshot()
			for range 10 {
				req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/handoff", strings.NewReader(mustJSON(t, redeemReq("x"))))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", origin)
				req.Header.Set("Content-Type", "application/json")
				c.edit(req)
				do(t, req).expectError(t, c.status, c.code)
			}
			f.assertUnchanged(before)
			logs := f.logs.String()
			if len(logs) > 10<<10 {
				t.Errorf("log after ten refusals: expected under 10 KiB, got %d bytes", len(logs))
			}
			refusals := 0
			for line := range strings.Lines(logs) {
				if len(line) > 1<<10 {
					t.Errorf("log line: expected under 1 KiB, got %d bytes: %.200s...", len(line), line)
				}
				if strings.Contains(line, strings.Repeat("A", observe.MaxHeaderLogged+1)) {
					t.Errorf("log line: expected at most %d bytes of the header, got more: %.200s...", observe.MaxHeaderLogged, line)
				}
				if strings.Contains(line, `\t`) || strings.Contains(line, "\u202e") || strings.Contains(line, `\u202e`) {
					t.Errorf("log line: expected control and format characters replaced, got %s", line)
				}
				if strings.Contains(line, `"request refused"`) {
					refusals++
					if !strings.Contains(line, "bytes)") && c.name != "control characters" {
						t.Errorf("refusal line: expected the header's length, got %s", line)
					}
				}
			}
			if refusals != 10 {
				t.Errorf("expected 10 refusal lines, got %d:\n%s", refusals, logs)
			}
		})
	}
}

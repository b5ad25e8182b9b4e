package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"mitidchip/server/api"
	"mitidchip/server/store"
)

// requestTypes are the bodies the API decodes, by index.
var requestTypes = []func() any{
	func() any { return new(api.RedeemRequest) },
	func() any { return new(api.PasswordRequest) },
	func() any { return new(api.HelloRequest) },
	func() any { return new(api.CodeRequest) },
	func() any { return new(api.SignatureRequest) },
}

// FuzzDecodeStrict: the request decoder never panics on any body for any request type,
// and what it accepts survives a round trip unchanged.
func FuzzDecodeStrict(f *testing.F) {
	seeds := []string{
		`{"token":"eyJhbGciOiJFZERTQSJ9.e30.c2ln","request_id":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"verifier":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`,
		`{"hello":"CVRTVC0wMDAwMDE="}`,
		`{"code":"123456"}`,
		`{"signature":"MEUCIQ=="}`,
		`{"token":"x","extra":1}`, `{"code":"1"}{"code":"2"}`, `{"code":"1"}]`, `null`, `{}`, ``,
		`{"verifier":"not base64"}`, `{"code":123456}`, `{"CODE":"123456"}`, `{"code":"1","code":"2"}`,
		`{"hello":"` + strings.Repeat("A", 4096) + `"}`, "\xef\xbb\xbf{}", `{"token":"\ud800"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i%len(requestTypes)), []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		newReq := requestTypes[int(kind)%len(requestTypes)]
		v := newReq()
		if err := api.DecodeStrict(bytes.NewReader(body), v); err != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode %T %+v: %v", v, v, err)
		}
		w := newReq()
		if err := api.DecodeStrict(bytes.NewReader(again), w); err != nil {
			t.Fatalf("%T accepted %q but not its own encoding %s: %v", v, body, again, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("%T round trip changed the value: %+v, then %+v", v, v, w)
		}
	})
}

// redeemCounter counts the activations the API starts. RedeemHandoff is the one
// Store method that creates a session, so counting it here keeps the fuzz loop off
// SQLite, whose cache and WAL state would make coverage differ between runs of one
// input (and the fuzzer then spends its time failing to minimize such inputs).
type redeemCounter struct {
	store.Store
	started atomic.Int64
}

func (c *redeemCounter) RedeemHandoff(ctx context.Context, h store.Handoff, s store.Session, audit ...store.AuditEntry) (store.Session, error) {
	out, err := c.Store.RedeemHandoff(ctx, h, s, audit...)
	if err == nil {
		c.started.Add(1)
	}
	return out, err
}

// requestIDForm is the request id's form, written out here rather than taken from
// the code under test.
var requestIDForm = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// FuzzRedeem posts any body to the handoff endpoint: no body makes the server fail,
// only the one valid token seeded here starts an activation, and after that only its
// first request id gets it again.
func FuzzRedeem(f *testing.F) {
	counter := &redeemCounter{}
	fx := newFixture(f, func(c *setup) {
		counter.Store = c.Activation.Store
		c.Activation.Store = counter
		// A fuzzer is one address sending fast.
		c.API.HandoffPerMinute, c.API.RequestsPerMinute = math.MaxInt, math.MaxInt
	})
	valid := fx.token("person-fuzz", "")
	parts := strings.Split(valid, ".")
	const id = "AAAAAAAAAAAAAAAAAAAAAA"
	for _, s := range []string{
		`{"token":"` + valid + `","request_id":"` + id + `"}`,
		`{"token":"` + valid + `","request_id":"` + id + `B"}`,
		`{"token":"` + valid + `"}`,
		`{"token":"` + valid + `","request_id":"` + id[:21] + `"}`,
		`{"token":"` + valid + `","request_id":"` + id[:21] + `="}`,
		`{"token":"` + valid + `","request_id":"` + id + `","extra":true}`,
		`{"token":"` + parts[0] + "." + parts[1] + `.","request_id":"` + id + `"}`,
		`{"token":"` + parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2]) + `","request_id":"` + id + `"}`,
		`{"token":"` + valid + `x","request_id":"` + id + `"}`,
		`{"token":""}`, `{"token":"a.b.c"}`, `{}`, `null`, `[]`, ``, `{"token":null}`,
		`{"token":"` + strings.Repeat("A", 5000) + `"}`,
	} {
		f.Add([]byte(s))
	}
	first := "" // the request id that redeemed the valid token; fuzz functions run one at a time in each process
	f.Fuzz(func(t *testing.T, body []byte) {
		before := counter.started.Load()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/handoff", bytes.NewReader(body))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: server error %d %s", body, rec.Code, rec.Body)
		}
		started := counter.started.Load() - before
		var r api.RedeemRequest
		isValid := api.DecodeStrict(bytes.NewReader(body), &r) == nil && r.Token == valid && requestIDForm.MatchString(r.RequestID)
		again := false
		if isValid {
			// The valid token starts one activation the first time; after that its
			// first request id gets that activation again, and any other is refused.
			want := http.StatusConflict
			switch {
			case first == "":
				want, first = http.StatusOK, r.RequestID
			case r.RequestID == first:
				want, again = http.StatusOK, true
			}
			if rec.Code != want {
				t.Fatalf("valid token with request id %q: expected %d, got %d %s", r.RequestID, want, rec.Code, rec.Body)
			}
		}
		switch {
		case started != 0 && (!isValid || again):
			t.Fatalf("body %q started an activation", body)
		case started > 1:
			t.Fatalf("body %q started %d activations", body, started)
		case rec.Code == http.StatusOK && started != 1 && !again:
			t.Fatalf("body %q answered 200 without starting an activation", body)
		case rec.Code != http.StatusOK && started != 0:
			t.Fatalf("body %q refused (%d) yet started an activation", body, rec.Code)
		}
	})
}

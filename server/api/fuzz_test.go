package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"mitidchip/server/store"
)

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
		// Before the valid body, so a loose decoder would redeem with them.
		`{"TOKEN":"` + valid + `","request_id":"` + id + `"}`, `{"Token":"` + valid + `","request_id":"` + id + `"}`,
		`{"token":"x","token":"` + valid + `","request_id":"` + id + `"}`,
		`{"token":"` + valid + `","token":"` + valid + `","request_id":"` + id + `"}`,
		`{"token":"` + valid + `","TOKEN":"x","request_id":"` + id + `"}`,
		`{"token":"` + valid + `","request_id":"` + id + `","REQUEST_ID":"` + id + `"}`,
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
		rid, isValid := carries(body, valid)
		again := false
		if isValid {
			// The valid token starts one activation the first time; after that its
			// first request id gets that activation again, and any other is refused.
			want := http.StatusConflict
			switch {
			case first == "":
				want, first = http.StatusOK, rid
			case rid == first:
				want, again = http.StatusOK, true
			}
			if rec.Code != want {
				t.Fatalf("valid token with request id %q: expected %d, got %d %s", rid, want, rec.Code, rec.Body)
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

// carries is FuzzRedeem's oracle, independent of the API's decoder (whose strictness
// it checks): body is exactly one object with the members "token" holding token and
// "request_id" of the request id's form, by those exact names, once each, in either
// order. It returns the request id. encoding/json judges the syntax and splits the
// tokens.
func carries(body []byte, token string) (string, bool) {
	if !json.Valid(body) {
		return "", false
	}
	var toks []json.Token
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false
		}
		toks = append(toks, tok)
	}
	if len(toks) != 6 || toks[0] != json.Delim('{') || toks[5] != json.Delim('}') {
		return "", false
	}
	members := map[json.Token]json.Token{toks[1]: toks[2], toks[3]: toks[4]}
	rid, ok := members["request_id"].(string)
	if len(members) != 2 || members["token"] != token || !ok || !requestIDForm.MatchString(rid) {
		return "", false
	}
	return rid, true
}

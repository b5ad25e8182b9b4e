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

// FuzzRedeem posts any body to the handoff endpoint: no body makes the server fail,
// and only the one valid token seeded here starts an activation.
func FuzzRedeem(f *testing.F) {
	counter := &redeemCounter{}
	fx := newFixture(f, func(c *setup) {
		counter.Store = c.Activation.Store
		c.Activation.Store = counter
		c.API.HandoffPerMinute = math.MaxInt // a fuzzer is one address sending fast
	})
	valid := fx.token("person-fuzz", "")
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		// Before the valid body, so a loose decoder would redeem with them.
		`{"TOKEN":"` + valid + `"}`, `{"Token":"` + valid + `"}`, `{"token":"x","token":"` + valid + `"}`,
		`{"token":"` + valid + `","token":"` + valid + `"}`, `{"token":"` + valid + `","TOKEN":"x"}`,
		`{"token":"` + valid + `"}`,
		`{"token":"` + valid + `","extra":true}`,
		`{"token":"` + parts[0] + "." + parts[1] + `."}`,
		`{"token":"` + parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2]) + `"}`,
		`{"token":"` + valid + `x"}`,
		`{"token":""}`, `{"token":"a.b.c"}`, `{}`, `null`, `[]`, ``, `{"token":null}`,
		`{"token":"` + strings.Repeat("A", 5000) + `"}`,
	} {
		f.Add([]byte(s))
	}
	redeemed := false // fuzz functions run one at a time in each process
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
		isValid := carries(body, valid)
		if isValid {
			// The valid token starts one activation the first time, and is refused as
			// used every time after.
			want := http.StatusConflict
			if !redeemed {
				want, redeemed = http.StatusOK, true
			}
			if rec.Code != want {
				t.Fatalf("valid token: expected %d, got %d %s", want, rec.Code, rec.Body)
			}
		}
		switch {
		case started != 0 && !isValid:
			t.Fatalf("body %q started an activation", body)
		case started > 1:
			t.Fatalf("body %q started %d activations", body, started)
		case rec.Code == http.StatusOK && started != 1:
			t.Fatalf("body %q answered 200 without starting an activation", body)
		case rec.Code != http.StatusOK && started != 0:
			t.Fatalf("body %q refused (%d) yet started an activation", body, rec.Code)
		}
	})
}

// carries is FuzzRedeem's oracle, independent of the API's decoder (whose strictness
// it checks): body is exactly one object with the one member "token", by that exact
// name, holding token. encoding/json judges the syntax and splits the tokens.
func carries(body []byte, token string) bool {
	if !json.Valid(body) {
		return false
	}
	var toks []json.Token
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		toks = append(toks, tok)
	}
	return len(toks) == 4 && toks[0] == json.Delim('{') && toks[1] == "token" && toks[2] == token && toks[3] == json.Delim('}')
}

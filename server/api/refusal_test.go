package api_test

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/handoff"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// craftToken signs claims the Issuer would never make, with the app backend's own key.
func craftToken(t *testing.T, f *fixture, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := f.clock.Now()
	c := jwt.MapClaims{
		"iss": issuerName, "sub": "person-a", "aud": []string{audience},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": "Y3JhZnRlZC10b2tlbi1pZC0x", "pur": handoff.Purpose,
	}
	edit(c)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["typ"] = handoff.TokenType
	s, err := tok.SignedString(f.signKey)
	if err != nil {
		t.Fatalf("sign crafted token: %v", err)
	}
	return s
}

// retouch rewrites one dot-separated part of a token, keeping the others.
func retouch(t *testing.T, token string, part int, edit func([]byte) []byte) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[part])
	if err != nil {
		t.Fatalf("token part %d: %v", part, err)
	}
	parts[part] = base64.RawURLEncoding.EncodeToString(edit(b))
	return strings.Join(parts, ".")
}

// TestHandoffRefused: each bad token gets its error and creates nothing.
func TestHandoffRefused(t *testing.T) {
	cases := []struct {
		name   string
		token  func(t *testing.T, f *fixture) string // may redeem or move the clock first
		status int
		code   string
	}{
		{"replayed", func(t *testing.T, f *fixture) string {
			tok := f.token("person-a", "")
			f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
			return tok
		}, http.StatusConflict, "handoff_used"},
		{"replayed after the session expired", func(t *testing.T, f *fixture) string {
			tok := f.token("person-a", "")
			f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
			f.clock.Advance(4 * time.Minute) // the token lives 5
			return tok
		}, http.StatusConflict, "handoff_used"},
		{"expired", func(t *testing.T, f *fixture) string {
			tok := f.token("person-a", "")
			f.clock.Advance(5*time.Minute + handoff.Leeway)
			return tok
		}, http.StatusUnauthorized, "handoff_expired"},
		{"tampered claims", func(t *testing.T, f *fixture) string {
			return retouch(t, f.token("person-a", ""), 1, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), "person-a", "person-b", 1))
			})
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"tampered signature", func(t *testing.T, f *fixture) string {
			return retouch(t, f.token("person-a", ""), 2, func(b []byte) []byte { b[0] ^= 1; return b })
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"alg none", func(t *testing.T, f *fixture) string {
			tok := retouch(t, f.token("person-a", ""), 0, func([]byte) []byte { return []byte(`{"alg":"none","typ":"mitid-handoff+jwt"}`) })
			return tok[:strings.LastIndex(tok, ".")+1]
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"wrong audience", func(t *testing.T, f *fixture) string {
			tok, _, err := handoff.NewIssuer(f.signKey, issuerName, "https://other-service.mitid.test", 5*time.Minute, f.clock.Now, nil).Issue("person-a", "")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"wrong purpose", func(t *testing.T, f *fixture) string {
			return craftToken(t, f, func(c jwt.MapClaims) { c["pur"] = "mitid-login" })
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"no purpose", func(t *testing.T, f *fixture) string {
			return craftToken(t, f, func(c jwt.MapClaims) { delete(c, "pur") })
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"wrong issuer", func(t *testing.T, f *fixture) string {
			return craftToken(t, f, func(c jwt.MapClaims) { c["iss"] = "https://someone-else.test" })
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"signed by another key", func(t *testing.T, f *fixture) string {
			_, other, err := handoff.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := handoff.NewIssuer(other, issuerName, audience, 5*time.Minute, f.clock.Now, nil).Issue("person-a", "")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.StatusUnauthorized, "handoff_invalid"},
		{"not a token", func(*testing.T, *fixture) string { return "hello" }, http.StatusUnauthorized, "handoff_invalid"},
		{"empty", func(*testing.T, *fixture) string { return "" }, http.StatusUnauthorized, "handoff_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tok := c.token(t, f)
			before := f.snapshot()
			cl := f.newClient()
			res := cl.post("/api/v1/handoff", redeemReq(tok))
			res.expectError(t, c.status, c.code)
			if len(res.header.Values("Set-Cookie")) != 0 {
				t.Errorf("expected no cookie with a refusal, got %q", res.header.Values("Set-Cookie"))
			}
			f.assertUnchanged(before)
			cl.get("/api/v1/activation").expectError(t, http.StatusUnauthorized, "no_session")
		})
	}
}

// TestStepsOutOfOrder: a step taken before its turn is refused and changes nothing.
func TestStepsOutOfOrder(t *testing.T) {
	cases := []struct {
		name   string
		upTo   string // the last step done first; "" is just redeemed
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"password params after the password", "password", http.MethodGet, "/api/v1/password/params", nil, http.StatusConflict, "out_of_order"},
		{"password twice", "password", http.MethodPost, "/api/v1/password", api.PasswordRequest{Verifier: make([]byte, 32)}, http.StatusConflict, "out_of_order"},
		{"hello before the password", "", http.MethodPost, "/api/v1/chip/hello", nil, http.StatusConflict, "out_of_order"},
		{"code before hello", "password", http.MethodPost, "/api/v1/chip/code", api.CodeRequest{Code: "123456"}, http.StatusConflict, "out_of_order"},
		{"signature before code", "hello", http.MethodPost, "/api/v1/chip/signature", api.SignatureRequest{Signature: []byte{0x30, 0}}, http.StatusConflict, "out_of_order"},
		{"hello after the code", "code", http.MethodPost, "/api/v1/chip/hello", nil, http.StatusConflict, "out_of_order"},
		{"code twice", "code", http.MethodPost, "/api/v1/chip/code", api.CodeRequest{Code: "123456"}, http.StatusConflict, "out_of_order"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			cm := f.begin("person-a", f.virtualChip(f.chips[0]))
			if c.upTo != "" {
				cm.through(c.upTo)
			}
			body := c.body
			if c.path == "/api/v1/chip/hello" {
				body = api.HelloRequest{Hello: helloPayload(t, cm.vc)}
			}
			before := f.snapshot()
			cm.c.do(c.method, c.path, body).expectError(t, c.status, c.code)
			f.assertUnchanged(before)
		})
	}

	t.Run("no session", func(t *testing.T) {
		f := newFixture(t, nil)
		f.begin("person-a", f.virtualChip(f.chips[0]))
		before := f.snapshot()
		f.newClient().post("/api/v1/password", api.PasswordRequest{Verifier: make([]byte, 32)}).expectError(t, http.StatusUnauthorized, "no_session")
		f.assertUnchanged(before)
	})
	t.Run("session expired", func(t *testing.T) {
		f := newFixture(t, nil)
		cm := f.begin("person-a", f.virtualChip(f.chips[0])).through("password")
		f.clock.Advance(30 * time.Minute)
		before := f.snapshot()
		cm.c.post("/api/v1/chip/hello", api.HelloRequest{Hello: helloPayload(t, cm.vc)}).expectError(t, http.StatusUnauthorized, "session_expired")
		f.assertUnchanged(before)
	})
}

// TestChipRefused: a chip that may not be bound is refused at hello, changing nothing.
func TestChipRefused(t *testing.T) {
	cases := []struct {
		name   string
		chip   func(t *testing.T, f *fixture) []byte // the hello payload; may change the store first
		status int
		code   string
	}{
		{"unknown chip", func(t *testing.T, f *fixture) []byte {
			return helloPayload(t, f.virtualChip(f.spare)) // same CA, never imported
		}, http.StatusConflict, "chip_unknown"},
		{"registered serial attested by another CA", func(t *testing.T, f *fixture) []byte {
			clone, err := f.other.Mint(f.chips[0].Serial, rand.Reader, t0)
			if err != nil {
				t.Fatal(err)
			}
			return helloPayload(t, f.virtualChip(clone))
		}, http.StatusConflict, "chip_not_attested"},
		{"registered serial, trusted CA, not the registered certificate", func(t *testing.T, f *fixture) []byte {
			clone, err := f.ca.Mint(f.chips[0].Serial, rand.Reader, t0)
			if err != nil {
				t.Fatal(err)
			}
			return helloPayload(t, f.virtualChip(clone))
		}, http.StatusConflict, "chip_not_attested"},
		{"chip of another CA", func(t *testing.T, f *fixture) []byte {
			m, err := f.other.Mint("OTHER-000001", rand.Reader, t0)
			if err != nil {
				t.Fatal(err)
			}
			return helloPayload(t, f.virtualChip(m))
		}, http.StatusConflict, "chip_unknown"},
		{"chip bound to another person", func(t *testing.T, f *fixture) []byte {
			vc := f.virtualChip(f.chips[0])
			f.activate("person-b", vc)
			return helloPayload(t, vc)
		}, http.StatusConflict, "chip_taken"},
		{"revoked chip", func(t *testing.T, f *fixture) []byte {
			if err := f.store.RevokeChip(f.ctx, f.chips[0].Serial); err != nil {
				t.Fatal(err)
			}
			return helloPayload(t, f.virtualChip(f.chips[0]))
		}, http.StatusConflict, "chip_revoked"},
		{"not a hello", func(*testing.T, *fixture) []byte { return []byte{3, 'A', 'B'} }, http.StatusBadRequest, "hello_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			cm := f.begin("person-a", nil).through("password")
			payload := c.chip(t, f)
			before := f.snapshot()
			cm.c.post("/api/v1/chip/hello", api.HelloRequest{Hello: payload}).expectError(t, c.status, c.code)
			f.assertUnchanged(before)
			cm.c.get("/api/v1/activation").state(t, "chip")
		})
	}
}

// wrongCode is a well-formed code that matches none of the steps the server tries.
func wrongCode(t testing.TB, f *fixture, seed []byte) string {
	t.Helper()
	taken := map[string]bool{}
	for d := -1; d <= 1; d++ {
		c, err := virtual.Code(seed, f.clock.Now().Add(time.Duration(d)*registry.Period), 6)
		if err != nil {
			t.Fatal(err)
		}
		taken[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !taken[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// TestWrongCodes: two wrong codes leave two tries and one; the third blocks the
// activation, and a right code after that is refused. A wrong code is not "nothing
// changed": it counts, on the session and on the chip, and is audited.
func TestWrongCodes(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	cm := f.begin("person-a", f.virtualChip(m)).through("hello")
	id := cm.state.ActivationID
	for i := 1; i <= activation.BlockAfter; i++ {
		f.clock.Advance(time.Second) // so updated_at visibly moves
		bad := wrongCode(t, f, m.Seed)
		before := f.snapshot()
		res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: bad})
		if i < activation.BlockAfter {
			e := res.expectError(t, http.StatusUnprocessableEntity, "code_wrong")
			if e.TriesLeft == nil || *e.TriesLeft != activation.BlockAfter-i {
				t.Errorf("wrong code %d: expected %d tries left, got %v", i, activation.BlockAfter-i, e.TriesLeft)
			}
		} else {
			res.expectError(t, http.StatusForbidden, "activation_blocked")
		}
		after := f.snapshot()
		session := rows(t, before["activation_sessions"])[id]
		chip := rows(t, before["chips"])[m.Serial]
		want := changes{
			"activation_sessions": {id: {"wrong_codes": plus1(t, session["wrong_codes"]), "version": plus1(t, session["version"]), "updated_at": nanos(f.clock.Now())}},
			"chips":               {m.Serial: {"attempts": plus1(t, chip["attempts"])}},
		}
		// The person's row of wrong codes on the chip (keyed by serial here: theirs is
		// the only one), added by the first.
		failures := map[string]string{"person_id": "person-a", "failed_codes": "1", "lock_count": "0", "locked_until": "NULL"}
		if i > 1 {
			failures = map[string]string{"failed_codes": plus1(t, rows(t, before["chip_failures"])[m.Serial]["failed_codes"])}
		}
		want["chip_failures"] = map[string]map[string]string{m.Serial: failures}
		if i == 1 { // the chip's attempt window begins
			want["chips"][m.Serial]["attempts_since"] = nanos(f.clock.Now())
		}
		if i == activation.BlockAfter {
			want["activation_sessions"][id]["state"] = string(store.StateBlocked)
		}
		assertChanged(t, before, after, want, "code_rejected")
		a := after["audit_log"]
		if _, entry := row(t, a[len(a)-1]); strings.Contains(entry["detail"], bad) {
			t.Errorf("audit entry holds the wrong code: %s", entry["detail"])
		}
	}

	before := f.snapshot()
	cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()}).expectError(t, http.StatusConflict, "activation_blocked")
	f.assertUnchanged(before)
	if s := cm.c.get("/api/v1/activation").state(t, "blocked"); s.TriesLeft != 0 {
		t.Errorf("expected 0 tries left when blocked, got %d", s.TriesLeft)
	}
}

// TestRightCodeResetsCounts: wrong codes in a row are counted until a right one.
func TestRightCodeResetsCounts(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	cm := f.begin("person-a", f.virtualChip(m)).through("hello")
	cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)}).expectError(t, http.StatusUnprocessableEntity, "code_wrong")
	cm.enterCode()
	if cm.state.TriesLeft != activation.BlockAfter {
		t.Errorf("expected %d tries left after a right code, got %d", activation.BlockAfter, cm.state.TriesLeft)
	}
	if fs, err := f.store.ChipFailures(f.ctx, m.Serial); err != nil || len(fs) != 0 {
		t.Errorf("expected the person's wrong codes on the chip forgotten, got %+v (%v)", fs, err)
	}
}

// TestChipLock: wrong codes on one chip are counted across sessions, so cycling
// sessions does not buy more guesses.
func TestChipLock(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	vc := f.virtualChip(m)
	for n := 0; n < activation.ChipLockAfter; {
		cm := f.begin("person-a", vc).through("hello")
		for i := 0; i < activation.BlockAfter && n < activation.ChipLockAfter; i, n = i+1, n+1 {
			cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)})
		}
	}
	cm := f.begin("person-a", vc).through("hello")
	before := f.snapshot()
	cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()}).expectError(t, http.StatusForbidden, "chip_locked")
	f.assertUnchanged(before)
}

// TestCodeReplayed: a code accepted once is refused in any other session.
func TestCodeReplayed(t *testing.T) {
	f := newFixture(t, nil)
	vc := f.virtualChip(f.chips[0])
	first := f.begin("person-a", vc).through("code")
	second := f.begin("person-b", vc).through("hello")
	before := f.snapshot()
	second.c.post("/api/v1/chip/code", api.CodeRequest{Code: first.code}).expectError(t, http.StatusConflict, "code_used")
	f.assertUnchanged(before)
}

// TestSignatureOverAnotherTranscript: the chip's signature over another session's
// transcript (same person, same chip, another nonce) does not complete this one.
func TestSignatureOverAnotherTranscript(t *testing.T) {
	f := newFixture(t, nil)
	vc := f.virtualChip(f.chips[0])
	mine := f.begin("person-a", vc).through("code")
	f.clock.Advance(registry.Period) // the second session needs a fresh code
	theirs := f.begin("person-a", vc).through("code")
	sig := theirs.sign()

	before := f.snapshot()
	mine.postSignature(sig).expectError(t, http.StatusBadRequest, "signature_invalid")
	f.assertUnchanged(before)
	for _, bad := range [][]byte{nil, {0x30, 0x00}, make([]byte, chip.MaxSignature)} {
		mine.postSignature(bad).expectError(t, http.StatusBadRequest, "signature_invalid")
	}
	f.assertUnchanged(before)
	mine.finish() // its own signature still works
}

// TestCrossOrigin: a state-changing request from anywhere but the page is refused
// before it is read.
func TestCrossOrigin(t *testing.T) {
	origins := []string{"https://evil.example", "", "null", origin + "/", "http://127.0.0.1:8081", "https://127.0.0.1:8080", "HTTP://127.0.0.1:8080"}
	f := newFixture(t, nil)
	tok := f.token("person-a", "")
	cm := f.begin("person-b", f.virtualChip(f.chips[0])).through("password")
	routes := map[string]any{
		"/api/v1/handoff":        redeemReq(tok),
		"/api/v1/password":       api.PasswordRequest{Verifier: cm.verifier},
		"/api/v1/chip/hello":     api.HelloRequest{Hello: helloPayload(t, cm.vc)},
		"/api/v1/chip/code":      api.CodeRequest{Code: cm.readCode()},
		"/api/v1/chip/signature": api.SignatureRequest{Signature: []byte{1}},
	}
	before := f.snapshot()
	for _, o := range origins {
		for path, body := range routes {
			cm.c.origin = o
			res := cm.c.post(path, body)
			cm.c.origin = origin
			t.Run(o+" "+path, func(t *testing.T) { res.expectError(t, http.StatusForbidden, "origin_denied") })
		}
	}
	f.assertUnchanged(before)
	// The token the refused requests carried is still good.
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
}

// TestBadBodies: oversized, unknown or duplicate names, names in another case, other
// malformed bodies and content types other than application/json are refused and
// change nothing; the token they carried stays unused.
func TestBadBodies(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token("person-a", "")
	big := strings.Repeat("A", api.MaxBody)
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"oversized value", `{"token":"` + big + `"}`, "", http.StatusRequestEntityTooLarge, "body_too_large"},
		{"oversized trailing space", `{"token":"` + tok + `"}` + strings.Repeat(" ", api.MaxBody), "", http.StatusRequestEntityTooLarge, "body_too_large"},
		{"unknown field", `{"token":"` + tok + `","admin":true}`, "", http.StatusBadRequest, "bad_request"},
		{"name in another case", `{"TOKEN":"` + tok + `"}`, "", http.StatusBadRequest, "bad_request"},
		{"duplicate name", `{"token":"x","token":"` + tok + `"}`, "", http.StatusBadRequest, "bad_request"},
		{"duplicate name, same value", `{"token":"` + tok + `","token":"` + tok + `"}`, "", http.StatusBadRequest, "bad_request"},
		{"null", `null`, "", http.StatusBadRequest, "bad_request"},
		{"two values", `{"token":"` + tok + `"}{"token":"x"}`, "", http.StatusBadRequest, "bad_request"},
		{"trailing garbage", `{"token":"` + tok + `"}]`, "", http.StatusBadRequest, "bad_request"},
		{"wrong type", `{"token":42}`, "", http.StatusBadRequest, "bad_request"},
		{"not JSON", `token=` + tok, "", http.StatusBadRequest, "bad_request"},
		{"empty", ``, "", http.StatusBadRequest, "bad_request"},
		{"form content type", `{"token":"` + tok + `"}`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "bad_request"},
		{"no content type", `{"token":"` + tok + `"}`, "-", http.StatusUnsupportedMediaType, "bad_request"},
		{"content type only starting with application/json", `{"token":"` + tok + `"}`, "application/jsonx", http.StatusUnsupportedMediaType, "bad_request"},
		{"content type with a parameter", `{"token":"` + tok + `"}`, "application/json; foo=bar", http.StatusUnsupportedMediaType, "bad_request"},
	}
	before := f.snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/handoff", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", origin)
			switch c.ctype {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", c.ctype)
			}
			res := do(t, req)
			res.expectError(t, c.status, c.code)
			f.assertUnchanged(before)
		})
	}
	// The same limits hold on a step inside a session.
	cm := f.begin("person-b", nil)
	before = f.snapshot()
	cm.c.post("/api/v1/password", `{"verifier":"`+big+`"}`).expectError(t, http.StatusRequestEntityTooLarge, "body_too_large")
	cm.c.post("/api/v1/password", `{"verifier":"AAAA","salt":"AAAA"}`).expectError(t, http.StatusBadRequest, "bad_request")
	f.assertUnchanged(before)
	f.newClient().post("/api/v1/handoff", redeemReq(tok)).state(t, "password")
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

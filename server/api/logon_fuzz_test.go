package api_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"mitidchip/credential/kdf"
	"mitidchip/server/api"
)

// FuzzLogonBodies posts any body to each logon endpoint: none makes the server fail,
// every answer is JSON with a known code, and only a begin whose body is a JSON
// object with a usable user ID (and nothing else) is answered 200: no body passes a
// password step or a chip step, which need the password key and the chip's key.
func FuzzLogonBodies(f *testing.F) {
	fx := newFixture(f, func(c *setup) {
		c.API.LogonsPerMinute, c.API.RequestsPerMinute = math.MaxInt, math.MaxInt
	})
	fx.activate("person-fuzz", fx.virtualChip(fx.chips[0]))
	var begun api.LogonBegun
	fx.newClient().post("/api/v1/logon/begin", api.LogonBeginRequest{UserID: "uid.person-fuzz"}).decodeOK(f, &begun)
	id := begun.ChallengeID
	for _, s := range []string{
		`{"user_id":"uid.person-fuzz"}`, `{"user_id":"UID.PERSON-FUZZ","auth_request":"r1"}`, `{"USER_ID":"x"}`,
		`{"user_id":""}`, `{"user_id":"a","user_id":"b"}`, `{"user_id":"\ud800"}`,
		`{"challenge_id":"` + id + `","proof":"` + string(bytes.Repeat([]byte("A"), 86)) + `=="}`,
		`{"challenge_id":"` + id + `","hello":"AAAA","signature":"AAAA"}`,
		`{"challenge_id":"` + id + `"}`, `{}`, `null`, `[]`, ``, `{"challenge_id":1}`,
	} {
		for _, path := range []byte{0, 1, 2} {
			f.Add(path, []byte(s))
		}
	}
	paths := []string{"/api/v1/logon/begin", "/api/v1/logon/password", "/api/v1/logon/chip"}
	f.Fuzz(func(t *testing.T, which byte, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var e struct {
				Error api.Error `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Message != "error."+e.Error.Code {
				t.Fatalf("%s %q: undecodable refusal %s", path, body, rec.Body)
			}
			return
		}
		if path != "/api/v1/logon/begin" {
			t.Fatalf("%s %q: answered 200 without the keys: %s", path, body, rec.Body)
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil || !utf8.Valid(body) {
			t.Fatalf("begin accepted a body that is not a JSON object: %q", body)
		}
		uid, ok := in["user_id"].(string)
		if !ok || uid == "" || len(in) > 2 {
			t.Fatalf("begin accepted %q", body)
		}
	})
}

// FuzzMitBodies posts any body, as a logged-on person, to each self-service
// endpoint: none makes the server fail, every refusal is JSON with a known code, and
// only these are answered 200: a begin whose body is {}, a new password whose
// verifier can serve (kdf.CheckVerifier) on the change whose old password passed,
// and a block naming the person's chip. No body passes the old password or the
// chip's press, which need the password key and the chip's key.
func FuzzMitBodies(f *testing.F) {
	fx := newFixture(f, func(c *setup) {
		withMit(c)
		c.API.LogonsPerMinute, c.API.RequestsPerMinute = math.MaxInt, math.MaxInt
	})
	m := fx.chips[0]
	fx.activate("person-fuzz", fx.virtualChip(m))
	c := fx.loggedOn("uid.person-fuzz", password, m)
	ch := fx.changeBegin(c)
	ch.old(password).decodeOK(f, &struct{}{})
	id := ch.begun.ChallengeID
	u, _ := url.Parse(fx.srv.URL)
	cookies := c.http.Jar.Cookies(u)
	for _, s := range []string{
		`{}`, `{"x":1}`, `null`, `[]`, ``,
		`{"challenge_id":"` + id + `","proof":"` + string(bytes.Repeat([]byte("A"), 86)) + `=="}`,
		`{"challenge_id":"` + id + `","verifier":"` + string(bytes.Repeat([]byte("A"), 43)) + `="}`,
		`{"challenge_id":"` + id + `","verifier":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
		`{"challenge_id":"` + id + `","hello":"AAAA","signature":"AAAA"}`,
		`{"chip_serial":"TST-000009"}`, `{"chip_serial":""}`, `{"chip_serial":"a b"}`,
	} {
		for _, path := range []byte{0, 1, 2, 3, 4} {
			f.Add(path, []byte(s))
		}
	}
	paths := []string{"/api/v1/mit/password/begin", "/api/v1/mit/password/old", "/api/v1/mit/password/new",
		"/api/v1/mit/password/chip", "/api/v1/mit/block"}
	f.Fuzz(func(t *testing.T, which byte, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var e struct {
				Error api.Error `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Message != "error."+e.Error.Code {
				t.Fatalf("%s %q: undecodable refusal %s", path, body, rec.Body)
			}
			return
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("%s accepted a body that is not a JSON object: %q", path, body)
		}
		switch path {
		case "/api/v1/mit/password/begin":
			if len(in) != 0 {
				t.Fatalf("begin accepted %q", body)
			}
		case "/api/v1/mit/password/new":
			var req api.PasswordChangeNewRequest
			if err := json.Unmarshal(body, &req); err != nil || req.ChallengeID != id || kdf.CheckVerifier(req.Verifier) != nil {
				t.Fatalf("new accepted %q", body)
			}
		case "/api/v1/mit/block":
			if in["chip_serial"] != m.Serial {
				t.Fatalf("block accepted %q", body)
			}
		default:
			t.Fatalf("%s %q: answered 200 without the keys: %s", path, body, rec.Body)
		}
	})
}

package api_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

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

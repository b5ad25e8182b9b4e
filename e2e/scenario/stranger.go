package scenario

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
)

// Answer is the API's refusal of a request: its error code and, for a refusal that
// lifts by itself (chip_locked, too_many_codes), when it lifts.
type Answer struct {
	Code       string
	RetryAfter int       // seconds; 0 when the answer says none
	RetryAt    time.Time // zero when the answer says none
}

// SendWrongCodes is someone at work without a browser: a person with activation
// links of their own and a chip's hello (a chip answers hello to any reader, without a
// press), talking to the API. It sends n wrong codes for vc from fresh activations of
// person and returns the answer to each. An activation takes wrong codes until it
// is blocked (the third) or refused otherwise, and the next code goes to a fresh one:
// a blocked activation is no longer open, so the person stays within
// activation.OpenSessions open at once; each activation is a link redeemed, and a
// person may redeem activation.HandoffsPerHour an hour.
func (s *Server) SendWrongCodes(t testing.TB, person string, vc *virtual.Chip, n int) []Answer {
	t.Helper()
	hello := helloOf(t, vc)
	var answers []Answer
	for len(answers) < n {
		a := s.apiClient(t)
		_, token, _ := strings.Cut(s.NewLink(t, person, ""), "#t=")
		rid := make([]byte, 16)
		if _, err := rand.Read(rid); err != nil {
			t.Fatal(err)
		}
		a.post(t, "/api/v1/handoff", map[string]any{"token": token, "request_id": base64.RawURLEncoding.EncodeToString(rid)}, "")
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		a.post(t, "/api/v1/password", map[string]any{"verifier": []byte(pub)}, "")
		a.post(t, "/api/v1/chip/hello", map[string]any{"hello": hello}, "")
		for len(answers) < n {
			answer := a.post(t, "/api/v1/chip/code", map[string]any{"code": s.WrongCode(t, vc)}, "any")
			answers = append(answers, answer)
			if answer.Code != "code_wrong" {
				break
			}
		}
	}
	return answers
}

// helloOf is vc's hello reply payload, as the page forwards it.
func helloOf(t testing.TB, vc *virtual.Chip) []byte {
	t.Helper()
	req, err := chip.Frame{Type: chip.TypeHello, RequestID: 0x0101}.Encode()
	if err != nil {
		t.Fatalf("scenario: encode hello: %v", err)
	}
	raw, err := vc.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("scenario: chip hello: %v", err)
	}
	fr, err := chip.Decode(raw)
	if err != nil || fr.Type != chip.TypeHelloReply {
		t.Fatalf("scenario: expected a hello reply, got %v (%v)", fr.Type, err)
	}
	return fr.Payload
}

// apiClient is one client of the API with its own cookies and the page's Origin.
type apiClient struct {
	s    *Server
	http *http.Client
}

func (s *Server) apiClient(t testing.TB) *apiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{s: s, http: &http.Client{Jar: jar}}
}

// post sends body as JSON. With refusal "" it expects a 200 and returns no answer;
// with "any" it returns whatever refusal comes.
func (a *apiClient) post(t testing.TB, path string, body any, refusal string) Answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, a.s.Origin+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", a.s.Origin)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("scenario: POST %s: %v", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("scenario: POST %s: %v", path, err)
	}
	var answer struct {
		Error struct {
			Code       string `json:"code"`
			RetryAfter int    `json:"retry_after"`
			RetryAt    string `json:"retry_at"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &answer)
	if refusal == "" && res.StatusCode != http.StatusOK {
		t.Fatalf("scenario: POST %s: expected 200, got %d %s", path, res.StatusCode, raw)
	}
	if refusal != "" && answer.Error.Code == "" {
		t.Fatalf("scenario: POST %s: expected a refusal, got %d %s", path, res.StatusCode, raw)
	}
	out := Answer{Code: answer.Error.Code, RetryAfter: answer.Error.RetryAfter}
	if answer.Error.RetryAt != "" {
		if out.RetryAt, err = time.Parse(time.RFC3339, answer.Error.RetryAt); err != nil {
			t.Fatalf("scenario: POST %s: retry_at %q: %v", path, answer.Error.RetryAt, err)
		}
	}
	return out
}

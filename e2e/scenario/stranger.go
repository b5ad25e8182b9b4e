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

	"mitidchip/chip"
	"mitidchip/chip/virtual"
)

// SendWrongCodes is a stranger at work: someone with activation links of their own
// and a chip's hello (a chip answers hello to any reader, without a press), talking to
// the API without a browser. It sends n wrong codes for vc from fresh activations of
// person, at most two each so none is blocked, and returns the error code of each
// answer.
func (s *Server) SendWrongCodes(t testing.TB, person string, vc *virtual.Chip, n int) []string {
	t.Helper()
	hello := helloOf(t, vc)
	var answers []string
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
		for i := 0; i < 2 && len(answers) < n; i++ {
			answers = append(answers, a.post(t, "/api/v1/chip/code", map[string]any{"code": s.WrongCode(t, vc)}, "any"))
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

// post sends body as JSON. With refusal "" it expects a 200 and returns ""; with
// "any" it returns the error code of whatever refusal comes.
func (a *apiClient) post(t testing.TB, path string, body any, refusal string) string {
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
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &answer)
	if refusal == "" && res.StatusCode != http.StatusOK {
		t.Fatalf("scenario: POST %s: expected 200, got %d %s", path, res.StatusCode, raw)
	}
	if refusal != "" && answer.Error.Code == "" {
		t.Fatalf("scenario: POST %s: expected a refusal, got %d %s", path, res.StatusCode, raw)
	}
	return answer.Error.Code
}

package dev

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/server/handoff"
)

func newServer(t *testing.T) (*Chips, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	chips, files, err := EnsureChips(dir, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(chips) != demoChips || len(files.RootsPEM) == 0 {
		t.Fatalf("EnsureChips made %d chips and %d bytes of roots", len(chips), len(files.RootsPEM))
	}
	again, _, err := EnsureChips(dir, rand.Reader, time.Now())
	if err != nil || again[0].Serial != chips[0].Serial || !bytes.Equal(again[0].Seed, chips[0].Seed) {
		t.Fatalf("second EnsureChips did not reuse the first batch (err %v)", err)
	}
	priv, err := EnsureHandoffKey(dir, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuer := handoff.NewIssuer(priv, "app", "http://x", time.Minute, time.Now, rand.Reader)
	c, err := NewChips(chips, issuer, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	if err := c.Register(mux, ts.URL); err != nil { // the page's origin is the test server's
		t.Fatal(err)
	}
	return c, ts
}

// post sends a POST as the page does: from its own origin.
func post(t *testing.T, ts *httptest.Server, path string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(body))
	req.Header.Set("Origin", ts.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestFrameAndButton(t *testing.T) {
	c, ts := newServer(t)
	req, _ := chip.Frame{Type: chip.TypeHello, RequestID: 7}.Encode()
	resp := post(t, ts, "/dev/chips/MC-000001/frame", req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f, err := chip.Decode(body)
	if err != nil || f.Type != chip.TypeHelloReply || f.RequestID != 7 {
		t.Fatalf("frame endpoint answered %v %v, want a hello reply to request 7", f, err)
	}

	// A long poll on the display returns when the button is pressed.
	got := make(chan chipView, 1)
	go func() {
		resp, err := http.Get(ts.URL + "/dev/chips/MC-000001?after=/false")
		if err != nil {
			close(got)
			return
		}
		defer resp.Body.Close()
		var v chipView
		json.NewDecoder(resp.Body).Decode(&v)
		got <- v
	}()
	post(t, ts, "/dev/chips/MC-000001/press", nil).Body.Close()
	v := <-got
	if len(v.Display) != 6 || v.Display != c.Chip("MC-000001").Display() {
		t.Errorf("long poll saw display %q, want the chip's 6-digit code %q", v.Display, c.Chip("MC-000001").Display())
	}

	for _, u := range []string{"/dev/chips/NOPE", "/dev/chips/NOPE/press"} {
		method := http.MethodGet
		if strings.HasSuffix(u, "press") {
			method = http.MethodPost
		}
		r, _ := http.NewRequest(method, ts.URL+u, nil)
		r.Header.Set("Origin", ts.URL)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", method, u, resp.StatusCode)
		}
	}
}

func TestLinkRedirect(t *testing.T) {
	_, ts := newServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ts.URL + "/dev/link")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, ts.URL+"/#t=") {
		t.Errorf("/dev/link = %d to %q, want 303 to a link with a token", resp.StatusCode, loc)
	}
}

// TestCrossSiteRefused: another site cannot press a virtual chip's button or talk to
// the chip (a POST without the page's Origin), nor reach the dev endpoints under
// another host name (DNS rebinding), and the chip is left as it was.
func TestCrossSiteRefused(t *testing.T) {
	c, ts := newServer(t)
	vc := c.Chip("MC-000001")
	hello, _ := chip.Frame{Type: chip.TypeHello, RequestID: 1}.Encode()
	sign, _ := chip.SignRequest{Wait: time.Second}.Marshal() // short, should a broken check let it through
	signFrame, _ := chip.Frame{Type: chip.TypeSign, RequestID: 2, Payload: sign}.Encode()
	host := strings.TrimPrefix(ts.URL, "http://")
	tests := []struct {
		name, method, path, origin, host string
		body                             []byte
	}{
		{"press from another site", http.MethodPost, "/dev/chips/MC-000001/press", "https://evil.example", host, nil},
		{"press without an Origin", http.MethodPost, "/dev/chips/MC-000001/press", "", host, nil},
		{"press from a sibling port", http.MethodPost, "/dev/chips/MC-000001/press", "http://127.0.0.1:1", host, nil},
		{"press through a rebound name", http.MethodPost, "/dev/chips/MC-000001/press", "http://evil.example:80", "evil.example:80", nil},
		{"press with the page's Origin but another Host", http.MethodPost, "/dev/chips/MC-000001/press", ts.URL, "evil.example", nil},
		{"a sign frame from another site", http.MethodPost, "/dev/chips/MC-000001/frame", "https://evil.example", host, signFrame},
		{"a hello frame from another site", http.MethodPost, "/dev/chips/MC-000001/frame", "https://evil.example", host, hello},
		{"the chips' codes through a rebound name", http.MethodGet, "/dev/chips", "", "evil.example", nil},
		{"a chip's code through a rebound name", http.MethodGet, "/dev/chips/MC-000001", "", "evil.example", nil},
		{"a link through a rebound name", http.MethodGet, "/dev/link", "", "evil.example", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed := vc.Changed()
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, bytes.NewReader(tc.body))
			req.Host = tc.host
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s %s: expected 403, got %d %q", tc.method, tc.path, resp.StatusCode, body)
			}
			select {
			case <-changed:
				t.Errorf("expected the chip untouched, its display or waiting state changed (display %q, waiting %v)", vc.Display(), vc.Waiting())
			default:
			}
		})
	}
	if vc.Display() != "" {
		t.Errorf("expected no code on the display after refused presses, got %q", vc.Display())
	}
	// The page itself still can.
	post(t, ts, "/dev/chips/MC-000001/press", nil).Body.Close()
	if len(vc.Display()) != 6 {
		t.Errorf("a press from the page: expected a 6-digit code on the display, got %q", vc.Display())
	}
}

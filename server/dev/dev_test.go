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
	c.Register(mux, "http://x")
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return c, ts
}

func TestFrameAndButton(t *testing.T) {
	c, ts := newServer(t)
	req, _ := chip.Frame{Type: chip.TypeHello, RequestID: 7}.Encode()
	resp, err := http.Post(ts.URL+"/dev/chips/MC-000001/frame", "application/octet-stream", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
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
	resp, err = http.Post(ts.URL+"/dev/chips/MC-000001/press", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
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
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "http://x/#t=") {
		t.Errorf("/dev/link = %d to %q, want 303 to a link with a token", resp.StatusCode, loc)
	}
}

package dev

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mitidchip/server/handoff"
)

// The dev app's "Block my chip (lost)" link opens the block page with a token whose
// purpose is blocking, which an activation's verifier refuses.
func TestBlockLinkRedirect(t *testing.T) {
	pub, priv, err := handoff.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChips(nil, handoff.NewIssuer(priv, "app", "http://x", time.Minute, time.Now, rand.Reader), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	if err := c.Register(mux, ts.URL); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ts.URL + "/dev/block-link")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	tok, ok := strings.CutPrefix(loc, ts.URL+"/block#t=")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("/dev/block-link = %d to %q, want 303 to the block page with a token", resp.StatusCode, loc)
	}
	v := handoff.NewVerifier(pub, "app", "http://x", time.Now)
	if got, err := v.For(handoff.PurposeBlockChip).Verify(tok); err != nil || got.PersonID != DemoPerson || got.Purpose != handoff.PurposeBlockChip {
		t.Fatalf("the block link's token: got %+v (%v), want a block token for %s", got, err, DemoPerson)
	}
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("the block link's token verified for activation")
	}
}

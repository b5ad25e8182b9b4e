package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mitidchip/server/dev"
	"mitidchip/server/dev/demosite"

	"mitidchip/server/store"
	"mitidchip/server/web"
)

// TestOIDCMounted: the assembled server serves the provider beside the activation
// API, with the security headers, and its sweep removes expired OIDC rows.
func TestOIDCMounted(t *testing.T) {
	c, _ := productionConfig(t)
	s, ts := start(t, c)
	resp, err := http.Get(ts.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Issuer  string   `json:"issuer"`
		JWKS    string   `json:"jwks_uri"`
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || d.Issuer != origin || d.JWKS != origin+"/oidc/keys" || len(d.Methods) != 1 || d.Methods[0] != "S256" {
		t.Errorf("discovery: expected issuer %s, got %d %+v", origin, resp.StatusCode, d)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("discovery's CSP: got %q", got)
	}
	keys, err := http.Get(ts.URL + "/oidc/keys")
	if err != nil {
		t.Fatal(err)
	}
	keys.Body.Close()
	if keys.StatusCode != 200 {
		t.Errorf("JWKS: expected 200, got %d", keys.StatusCode)
	}

	ctx := context.Background()
	now := time.Now()
	if err := s.Store.AddClient(ctx, store.OIDCClient{ID: "site", Name: "S", RedirectURIs: []string{"https://s.example/cb"}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.CreateAuthRequest(ctx, store.OIDCAuthRequest{ID: "r1", ClientID: "site", RedirectURI: "https://s.example/cb",
		Nonce: "n", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("sweep: expected the expired request, got %d (%v)", n, err)
	}
}

// TestDemoSiteMounted: dev mode with the demo site starts it on its own port and
// registers it as a client of the provider.
func TestDemoSiteMounted(t *testing.T) {
	c := testConfig(t, true)
	m := dev.New(dev.WithDemoSite("127.0.0.1:0"))
	c.Dev = m
	s := newServer(t, c)
	if m.DemoSite() == "" {
		t.Fatal("no demo site address")
	}
	cl, err := s.Store.OIDCClient(context.Background(), demosite.ClientID)
	if err != nil || len(cl.RedirectURIs) != 1 || cl.RedirectURIs[0] != m.DemoSite()+"/callback" || cl.SecretHash == nil {
		t.Errorf("demo client: %+v (%v)", cl, err)
	}
	resp, err := http.Get(m.DemoSite() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Log på med MitID") {
		t.Errorf("demo site: %d\n%s", resp.StatusCode, b)
	}
}

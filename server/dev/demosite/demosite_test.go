package demosite

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/server/oidc"
	"mitidchip/server/seal"
	"mitidchip/server/store"
)

// env is the real provider and the demo site, each on an httptest server.
type env struct {
	t        *testing.T
	provider *oidc.Provider
	site     *Site
	siteURL  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := seal.GenerateKey(rand.Reader)
	ps := httptest.NewUnstartedServer(nil)
	p, err := oidc.New(ctx, oidc.Config{Store: st, Origin: "http://" + ps.Listener.Addr().String(),
		Sealer: seal.NewSealer(key, rand.Reader), SealKey: key, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	ps.Config.Handler = mux
	ps.Start()
	t.Cleanup(ps.Close)

	ss := httptest.NewUnstartedServer(nil)
	siteURL := "http://" + ss.Listener.Addr().String()
	c, secret, err := oidc.NewClient(ClientID, Name, []string{RedirectURI(siteURL)}, false, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	site := New(Config{Issuer: ps.URL, ClientSecret: secret, Origin: siteURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ss.Config.Handler = site
	ss.Start()
	t.Cleanup(ss.Close)
	return &env{t: t, provider: p, site: site, siteURL: siteURL}
}

// browser is a cookie-keeping client that stops at every redirect.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// follow goes from u through the redirects until the logon page, and returns the
// auth_request id.
func (e *env) toLogon(b *http.Client, u string) string {
	e.t.Helper()
	for range 5 {
		resp, _ := get(e.t, b, u)
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			e.t.Fatalf("expected a redirect from %s, got %d", u, resp.StatusCode)
		}
		if loc.Path == oidc.LogonPath {
			return loc.Query().Get("auth_request")
		}
		u = loc.String()
	}
	e.t.Fatal("no logon page after 5 redirects")
	return ""
}

// back finishes the logon as the logon page would and returns the demo site's
// callback URL the provider redirects to.
func (e *env) back(b *http.Client, id, person string) string {
	e.t.Helper()
	next, err := e.provider.Finish(context.Background(), id, person, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	resp, _ := get(e.t, b, next)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, RedirectURI(e.siteURL)+"?") {
		e.t.Fatalf("expected a redirect to the demo site's callback, got %d %q", resp.StatusCode, loc)
	}
	return loc
}

// TestJourney: "Log på med MitID", the logon, and back at the site logged on as the
// person, with acr and amr shown; then log off.
func TestJourney(t *testing.T) {
	e := newEnv(t)
	b := browser(t)
	_, home := get(t, b, e.siteURL+"/")
	if !strings.Contains(home, `lang="da"`) || !strings.Contains(home, "Log på med MitID") {
		t.Fatalf("home: expected the Danish page with the button, got\n%s", home)
	}
	if _, en := get(t, b, e.siteURL+"/?lang=en"); !strings.Contains(en, "Log on with MitID") {
		t.Errorf("English home: got\n%s", en)
	}
	cb := e.back(b, e.toLogon(b, e.siteURL+"/login"), "person-1")
	resp, _ := get(t, b, cb)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: expected 303 home, got %d", resp.StatusCode)
	}
	_, page := get(t, b, e.siteURL+"/")
	for _, want := range []string{`<dd id="sub">person-1</dd>`, `<dd id="acr">` + oidc.ACR + `</dd>`, `<dd id="amr">pwd hwk mfa</dd>`, "Log af"} {
		if !strings.Contains(page, want) {
			t.Errorf("logged on: expected %q in\n%s", want, page)
		}
	}
	// The same answer again is refused: its state was used.
	if resp, _ := get(t, b, cb); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback replayed: expected 400, got %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.siteURL+"/logout", nil)
	if resp, err := b.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log off: %v %v", resp, err)
	}
	if _, page := get(t, b, e.siteURL+"/"); strings.Contains(page, "person-1") || !strings.Contains(page, "Log på med MitID") {
		t.Errorf("after log off: got\n%s", page)
	}
}

// TestStateMismatch: an answer for another browser's logon is refused, and nobody
// is logged on by it.
func TestStateMismatch(t *testing.T) {
	e := newEnv(t)
	victim, attacker := browser(t), browser(t)
	e.toLogon(victim, e.siteURL+"/login") // the victim's own logon in progress
	cb := e.back(attacker, e.toLogon(attacker, e.siteURL+"/login"), "attacker")
	resp, body := get(t, victim, cb)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "hører ikke til") {
		t.Errorf("another browser's answer: expected 400 with the state message, got %d\n%s", resp.StatusCode, body)
	}
	if _, page := get(t, victim, e.siteURL+"/"); strings.Contains(page, "attacker") {
		t.Error("the victim is logged on as the attacker")
	}
	// With no session at all, too.
	if resp, _ := get(t, browser(t), cb); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an answer without a session: expected 400, got %d", resp.StatusCode)
	}
	// A tampered state in the browser's own session.
	u, _ := url.Parse(e.back(victim, e.toLogon(victim, e.siteURL+"/login"), "person-1"))
	q := u.Query()
	q.Set("state", "x"+q.Get("state"))
	u.RawQuery = q.Encode()
	if resp, _ := get(t, victim, u.String()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a changed state: expected 400, got %d", resp.StatusCode)
	}
}

// TestNonceMismatch: an ID token whose nonce is not this logon's is refused.
func TestNonceMismatch(t *testing.T) {
	e := newEnv(t)
	b := browser(t)
	id := e.toLogon(b, e.siteURL+"/login")
	u, _ := url.Parse(e.siteURL)
	var sessionID string
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == cookieName {
			sessionID = c.Value
		}
	}
	e.site.mu.Lock()
	e.site.sessions[sessionID].nonce = "another-logons-nonce"
	e.site.mu.Unlock()
	resp, body := get(t, b, e.back(b, id, "person-1"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "kunne ikke godkendes") {
		t.Errorf("nonce mismatch: expected 400 with the refusal, got %d\n%s", resp.StatusCode, body)
	}
	if _, page := get(t, b, e.siteURL+"/"); strings.Contains(page, "person-1") {
		t.Error("logged on despite the nonce")
	}
}

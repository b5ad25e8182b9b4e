package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"mitidchip/server/oidc"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

const redirectURI = "https://site.example/callback"

// clock is the provider's injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a provider on an httptest server with one confidential and one
// public client, and a relying party made of independent libraries
// (coreos/go-oidc and golang.org/x/oauth2).
type fixture struct {
	t      *testing.T
	ctx    context.Context
	st     *store.SQLite
	p      *oidc.Provider
	srv    *httptest.Server
	clock  *clock
	secret string
	rp     *gooidc.Provider
	http   *http.Client // does not follow redirects
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	c := &clock{t: time.Now()}
	p, err := oidc.New(ctx, oidc.Config{Store: st, Origin: origin, Sealer: seal.NewSealer(key, rand.Reader),
		SealKey: key, Now: c.now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	conf, secret, err := oidc.NewClient("site", "Site", []string{redirectURI}, false, rand.Reader, c.now())
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := oidc.NewClient("spa", "A page", []string{"http://127.0.0.1:4000/cb"}, true, rand.Reader, c.now())
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range []store.OIDCClient{conf, pub} {
		if err := st.AddClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	rp, err := gooidc.NewProvider(ctx, origin)
	if err != nil {
		t.Fatalf("discovery by an independent client: %v", err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &fixture{t: t, ctx: ctx, st: st, p: p, srv: srv, clock: c, secret: secret, rp: rp, http: noFollow}
}

func (f *fixture) oauth(clientID, secret, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect,
		Endpoint: f.rp.Endpoint(), Scopes: []string{gooidc.ScopeOpenID}}
}

func (f *fixture) site() *oauth2.Config { return f.oauth("site", f.secret, redirectURI) }

// get fetches u without following redirects.
func (f *fixture) get(u string) *http.Response {
	f.t.Helper()
	resp, err := f.http.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// authorize opens the authorize URL and returns the logon page's auth_request id.
func (f *fixture) authorize(u string) string {
	f.t.Helper()
	resp := f.get(u)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != oidc.LogonPath {
		f.t.Fatalf("authorize: expected a redirect to %s, got %d %q", oidc.LogonPath, resp.StatusCode, resp.Header.Get("Location"))
	}
	id := loc.Query().Get("auth_request")
	if err := oidc.ParseAuthRequestID(id); err != nil {
		f.t.Fatalf("authorize: %v", err)
	}
	return id
}

// redirected checks resp redirects to want's redirect URI and returns its query.
func redirected(t *testing.T, resp *http.Response, want string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, want+"?") && !strings.HasPrefix(loc, want+"#") {
		t.Fatalf("expected a redirect to %s, got %d %q", want, resp.StatusCode, loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if u.Fragment != "" { // an implicit response type is answered in the fragment
		q, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	return u.Query()
}

// logon runs the flow up to the code: authorize, Finish as the logon would, callback.
func (f *fixture) logon(cfg *oauth2.Config, person, state, nonce, verifier string) (code string, authTime time.Time) {
	f.t.Helper()
	id := f.authorize(cfg.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	authTime = f.clock.now().Truncate(time.Second)
	next, err := f.p.Finish(f.ctx, id, person, authTime)
	if err != nil {
		f.t.Fatalf("finish: %v", err)
	}
	q := redirected(f.t, f.get(next), cfg.RedirectURL)
	if q.Get("state") != state || q.Get("code") == "" {
		f.t.Fatalf("callback: expected a code and state %q, got %v", state, q)
	}
	return q.Get("code"), authTime
}

// tokenError posts a token request and returns its status and OAuth error code.
func (f *fixture) tokenError(form url.Values, user, pass string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.rp.Endpoint().TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		f.t.Fatalf("token endpoint answer %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, e.Error
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
}

// TestCodeFlow: the whole flow, and the ID token checked by an independent library:
// signature against the JWKS, issuer, audience, nonce, expiry; then sub, acr, amr,
// auth_time; and userinfo with the access token.
func TestCodeFlow(t *testing.T) {
	f := newFixture(t)
	cfg := f.site()
	verifier := oauth2.GenerateVerifier()
	code, authTime := f.logon(cfg, "person-1", "state-1", "nonce-1", verifier)

	tok, err := cfg.Exchange(f.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("no id_token in the token response")
	}
	idt, err := f.rp.Verifier(&gooidc.Config{ClientID: "site"}).Verify(f.ctx, raw)
	if err != nil {
		t.Fatalf("verify the ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" || idt.Subject != "person-1" || idt.Issuer != f.srv.URL || !slices.Equal(idt.Audience, []string{"site"}) {
		t.Errorf("ID token: expected nonce-1, person-1, %s, [site]; got %q %q %q %v", f.srv.URL, idt.Nonce, idt.Subject, idt.Issuer, idt.Audience)
	}
	var claims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.ACR != oidc.ACR || !slices.Equal(claims.AMR, []string{"pwd", "hwk", "mfa"}) || claims.AuthTime != authTime.Unix() {
		t.Errorf("claims: expected %s [pwd hwk mfa] %d, got %+v", oidc.ACR, authTime.Unix(), claims)
	}
	if ttl := time.Until(idt.Expiry); ttl <= 0 || ttl > oidc.IDTokenLifetime {
		t.Errorf("ID token expiry: expected within %v, got %v", oidc.IDTokenLifetime, ttl)
	}
	// The ID token is signed by the key the JWKS publishes, with ES256.
	if !strings.HasPrefix(raw, "eyJhbGciOiJFUzI1NiI") {
		t.Errorf("ID token header: expected alg ES256, got %.30s", raw)
	}
	ui, err := f.rp.UserInfo(f.ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != "person-1" {
		t.Errorf("userinfo: expected person-1, got %+v (%v)", ui, err)
	}
	// A forged ID token (last byte of the signature changed) does not verify.
	forged := raw[:len(raw)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(raw, "AA")]
	if _, err := f.rp.Verifier(&gooidc.Config{ClientID: "site"}).Verify(f.ctx, forged); err == nil {
		t.Error("a forged ID token verified")
	}
	// Another site cannot take it as its own.
	if _, err := f.rp.Verifier(&gooidc.Config{ClientID: "spa"}).Verify(f.ctx, raw); err == nil {
		t.Error("the ID token verified for another audience")
	}
}

// TestPublicClient: a public client logs on with PKCE alone.
func TestPublicClient(t *testing.T) {
	f := newFixture(t)
	cfg := f.oauth("spa", "", "http://127.0.0.1:4000/cb")
	verifier := oauth2.GenerateVerifier()
	code, _ := f.logon(cfg, "person-2", "s", "n-pub", verifier)
	tok, err := cfg.Exchange(f.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := f.rp.Verifier(&gooidc.Config{ClientID: "spa"}).Verify(f.ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "person-2" {
		t.Fatalf("ID token: expected person-2, got %v (%v)", idt, err)
	}
}

// TestDiscovery: what the provider says it offers, and nothing it does not.
func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	var d map[string]any
	if err := f.rp.Claims(&d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"issuer": f.srv.URL, "code_challenge_methods_supported": []any{"S256"},
		"response_types_supported": []any{"code"}, "grant_types_supported": []any{"authorization_code"},
		"id_token_signing_alg_values_supported": []any{"ES256"}, "acr_values_supported": []any{oidc.ACR},
		"jwks_uri": f.srv.URL + oidc.KeysPath, "token_endpoint": f.srv.URL + oidc.TokenPath,
	} {
		got, _ := json.Marshal(d[k])
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Errorf("discovery %s: expected %s, got %s", k, exp, got)
		}
	}
	for _, k := range []string{"end_session_endpoint", "revocation_endpoint", "introspection_endpoint", "device_authorization_endpoint"} {
		if _, ok := d[k]; ok {
			t.Errorf("discovery offers %s, which is not served", k)
		}
	}
}

// TestAuthorizeRefusals: requests refused at the authorize endpoint. A redirect URI
// or client that does not match is answered on the provider's own page, never by a
// redirect; the rest go back to the registered redirect URI with the error and the
// state. None writes anything.
func TestAuthorizeRefusals(t *testing.T) {
	f := newFixture(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := func(mod func(url.Values)) string {
		q := url.Values{"client_id": {"site"}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"st"}, "nonce": {"n-" + rand.Text()}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		mod(q)
		return f.srv.URL + oidc.AuthorizePath + "?" + q.Encode()
	}
	before := storetest.Snapshot(t, f.st)
	for _, c := range []struct {
		name string
		mod  func(url.Values)
	}{
		{"wrong redirect URI", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }},
		{"redirect URI with an extra path", func(q url.Values) { q.Set("redirect_uri", redirectURI+"/x") }},
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }},
		{"no client", func(q url.Values) { q.Del("client_id") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.get(base(c.mod))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("expected 400 without a redirect, got %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	for _, c := range []struct {
		name, want string
		mod        func(url.Values)
	}{
		{"missing PKCE", "invalid_request", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
		{"plain PKCE", "invalid_request", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"PKCE method without a challenge", "invalid_request", func(q url.Values) { q.Del("code_challenge") }},
		{"challenge not a SHA-256", "invalid_request", func(q url.Values) { q.Set("code_challenge", "short") }},
		{"no nonce", "invalid_request", func(q url.Values) { q.Del("nonce") }},
		{"no openid scope", "invalid_scope", func(q url.Values) { q.Set("scope", "profile") }},
		{"form_post", "invalid_request", func(q url.Values) { q.Set("response_mode", "form_post") }},
		{"prompt=none", "login_required", func(q url.Values) { q.Set("prompt", "none") }},
		{"implicit", "unauthorized_client", func(q url.Values) { q.Set("response_type", "id_token") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := redirected(t, f.get(base(c.mod)), redirectURI)
			if q.Get("error") != c.want || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("expected error %s with state st, got %v", c.want, q)
			}
		})
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestNonceReplay: the same authorization request twice (a replayed URL) is refused
// the second time: a nonce names one request of its client while it is kept.
func TestNonceReplay(t *testing.T) {
	f := newFixture(t)
	u := f.site().AuthCodeURL("st", gooidc.Nonce("n-replayed"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	f.authorize(u)
	before := storetest.Snapshot(t, f.st)
	q := redirected(t, f.get(u), redirectURI)
	if q.Get("error") != "invalid_request" || q.Get("state") != "st" {
		t.Errorf("replayed request: expected invalid_request with state st, got %v", q)
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestTokenRefusals: the token endpoint's refusals, each with its RFC 6749 code, and
// the store unchanged; the code still works afterwards.
func TestTokenRefusals(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	code, _ := f.logon(f.site(), "person-1", "st", "n-1", verifier)
	before := storetest.Snapshot(t, f.st)
	for _, c := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		want       string
	}{
		{"wrong PKCE verifier", codeForm(code, oauth2.GenerateVerifier()), "site", f.secret, 400, "invalid_grant"},
		{"no PKCE verifier", codeForm(code, ""), "site", f.secret, 400, "invalid_request"},
		{"wrong client secret", codeForm(code, verifier), "site", "not-the-secret", 401, "invalid_client"},
		{"no client authentication", codeForm(code, verifier), "", "", 401, "invalid_client"},
		{"unknown client", codeForm(code, verifier), "nobody", "x", 401, "invalid_client"},
		{"another client's code", codeForm(code, verifier), "spa", "", 400, "invalid_grant"},
		{"unknown code", codeForm("not-a-code", verifier), "site", f.secret, 400, "invalid_grant"},
		{"other redirect URI", func() url.Values {
			v := codeForm(code, verifier)
			v.Set("redirect_uri", "https://site.example/other")
			return v
		}(), "site", f.secret, 400, "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, got := f.tokenError(c.form, c.user, c.pass)
			if status != c.status || got != c.want {
				t.Errorf("expected %d %s, got %d %s", c.status, c.want, status, got)
			}
		})
	}
	storetest.AssertUnchanged(t, f.st, before)
	if _, err := f.site().Exchange(f.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the code after the refusals: %v", err)
	}
}

// TestCodeUsedTwice: the second exchange is refused and revokes the access token
// the first gave (RFC 6749 section 4.1.2).
func TestCodeUsedTwice(t *testing.T) {
	f := newFixture(t)
	cfg := f.site()
	verifier := oauth2.GenerateVerifier()
	code, _ := f.logon(cfg, "person-1", "st", "n-1", verifier)
	tok, err := cfg.Exchange(f.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if status, got := f.tokenError(codeForm(code, verifier), "site", f.secret); status != 400 || got != "invalid_grant" {
		t.Errorf("second exchange: expected 400 invalid_grant, got %d %s", status, got)
	}
	if rows := storetest.Snapshot(t, f.st)["oidc_tokens"]; len(rows) != 0 {
		t.Errorf("the first exchange's token after the reuse: expected revoked, got %v", rows)
	}
	if _, err := f.rp.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo with a revoked access token answered")
	}
}

// TestCodeExpired: a code is refused from CodeLifetime after its issue.
func TestCodeExpired(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	code, _ := f.logon(f.site(), "person-1", "st", "n-1", verifier)
	f.clock.add(oidc.CodeLifetime)
	before := storetest.Snapshot(t, f.st)
	if status, got := f.tokenError(codeForm(code, verifier), "site", f.secret); status != 400 || got != "invalid_grant" {
		t.Errorf("expired code: expected 400 invalid_grant, got %d %s", status, got)
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestCallback: the callback issues one code; a reload, a made-up handle and the
// request's id in place of the handle get none.
func TestCallback(t *testing.T) {
	f := newFixture(t)
	id := f.authorize(f.site().AuthCodeURL("st", gooidc.Nonce("n-cb"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp := f.get(f.srv.URL + oidc.CallbackPath + "?id=" + id); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback with the request's id before the logon: expected 400, got %d", resp.StatusCode)
	}
	next, err := f.p.Finish(f.ctx, id, "person-1", f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if resp := f.get(f.srv.URL + oidc.CallbackPath + "?id=" + id); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback with the request's id: expected 400, got %d", resp.StatusCode)
	}
	if q := redirected(t, f.get(next), redirectURI); q.Get("code") == "" {
		t.Fatalf("first callback: expected a code, got %v", q)
	}
	before := storetest.Snapshot(t, f.st)
	if q := redirected(t, f.get(next), redirectURI); q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Errorf("reloaded callback: expected invalid_request and no code, got %v", q)
	}
	if resp := f.get(f.srv.URL + oidc.CallbackPath + "?id=" + rand.Text()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("made-up handle: expected 400, got %d", resp.StatusCode)
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestFinishRefusals: Finish with an id that is malformed, unknown, expired or
// finished is a clear error and changes nothing.
func TestFinishRefusals(t *testing.T) {
	f := newFixture(t)
	cfg := f.site()
	done := f.authorize(cfg.AuthCodeURL("st", gooidc.Nonce("n-done"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if _, err := f.p.Finish(f.ctx, done, "person-1", f.clock.now()); err != nil {
		t.Fatal(err)
	}
	late := f.authorize(cfg.AuthCodeURL("st", gooidc.Nonce("n-late"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	f.clock.add(oidc.AuthRequestLifetime)
	before := storetest.Snapshot(t, f.st)
	for _, c := range []struct {
		name, id string
		want     error
	}{
		{"malformed", "../etc/passwd", oidc.ErrAuthRequestUnknown},
		{"empty", "", oidc.ErrAuthRequestUnknown},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAA", oidc.ErrAuthRequestUnknown},
		{"expired", late, oidc.ErrAuthRequestExpired},
		{"finished", done, oidc.ErrAuthRequestFinished},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, err := f.p.Finish(f.ctx, c.id, "person-2", f.clock.now())
			if !errors.Is(err, c.want) || next != "" {
				t.Errorf("expected %v and no URL, got %q, %v", c.want, next, err)
			}
		})
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestKeysPersist: a second provider on the same store (a restart, or another
// instance) signs with the same key.
func TestKeysPersist(t *testing.T) {
	f := newFixture(t)
	keys, err := f.st.SigningKeys(f.ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("expected one key, got %v (%v)", keys, err)
	}
	key, _ := seal.GenerateKey(rand.Reader)
	if _, err := oidc.New(f.ctx, oidc.Config{Store: f.st, Origin: f.srv.URL, Sealer: seal.NewSealer(key, rand.Reader),
		SealKey: key, Now: f.clock.now, Rand: rand.Reader}); err != nil {
		t.Fatal(err)
	}
	again, err := f.st.SigningKeys(f.ctx)
	if err != nil || len(again) != 1 || again[0].KID != keys[0].KID {
		t.Errorf("after a second start: expected key %s alone, got %v (%v)", keys[0].KID, again, err)
	}
}

// TestCancel: the person cancels the logon: the site gets access_denied with its
// state at its registered redirect URI, and the request can no longer be finished;
// Site names the site until then, and says when the time ran out. Unknown and
// finished requests are refused and change nothing.
func TestCancel(t *testing.T) {
	f := newFixture(t)
	cfg := f.site()
	id := f.authorize(cfg.AuthCodeURL("st-cancel", gooidc.Nonce("n-cancel"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if name, err := f.p.Site(f.ctx, id); err != nil || name == "" {
		t.Fatalf("Site: expected the client's name, got %q (%v)", name, err)
	}
	next, err := f.p.Cancel(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != redirectURI {
		t.Fatalf("cancel: expected the redirect URI %s, got %q (%v)", redirectURI, next, err)
	}
	if q := u.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-cancel" || q.Get("code") != "" {
		t.Errorf("cancel: expected access_denied with the state, got %v", q)
	}
	if _, err := f.p.Finish(f.ctx, id, "person-1", f.clock.now()); !errors.Is(err, oidc.ErrAuthRequestExpired) {
		t.Errorf("finish a cancelled request: expected %v, got %v", oidc.ErrAuthRequestExpired, err)
	}
	if _, err := f.p.Site(f.ctx, id); !errors.Is(err, oidc.ErrAuthRequestExpired) {
		t.Errorf("Site of a cancelled request: expected %v, got %v", oidc.ErrAuthRequestExpired, err)
	}
	if again, err := f.p.Cancel(f.ctx, id); err != nil || again != next {
		t.Errorf("cancel twice: expected the same answer, got %q (%v)", again, err)
	}

	done := f.authorize(cfg.AuthCodeURL("st", gooidc.Nonce("n-done2"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if _, err := f.p.Finish(f.ctx, done, "person-1", f.clock.now()); err != nil {
		t.Fatal(err)
	}
	late := f.authorize(cfg.AuthCodeURL("st-late", gooidc.Nonce("n-late2"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	f.clock.add(oidc.AuthRequestLifetime)
	if name, err := f.p.Site(f.ctx, late); !errors.Is(err, oidc.ErrAuthRequestExpired) || name == "" {
		t.Errorf("Site of an expired request: expected its name and %v, got %q (%v)", oidc.ErrAuthRequestExpired, name, err)
	}
	before := storetest.Snapshot(t, f.st)
	if next, err := f.p.Cancel(f.ctx, late); err != nil || !strings.Contains(next, "state=st-late") {
		t.Errorf("cancel an expired request: expected the way back with its state, got %q (%v)", next, err)
	}
	for _, c := range []struct {
		name, id string
		want     error
	}{
		{"malformed", "../etc/passwd", oidc.ErrAuthRequestUnknown},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAA", oidc.ErrAuthRequestUnknown},
		{"finished", done, oidc.ErrAuthRequestFinished},
	} {
		if next, err := f.p.Cancel(f.ctx, c.id); !errors.Is(err, c.want) || next != "" {
			t.Errorf("cancel %s: expected %v and no URL, got %q, %v", c.name, c.want, next, err)
		}
		if _, err := f.p.Site(f.ctx, c.id); !errors.Is(err, c.want) {
			t.Errorf("Site %s: expected %v, got %v", c.name, c.want, err)
		}
	}
	storetest.AssertUnchanged(t, f.st, before)
}

package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/dev/demosite"
	"mitidchip/server/oidc"
	"mitidchip/server/store"
)

// tokenTap passes the demo site's back-channel requests to the provider on and keeps
// the ID tokens the token endpoint answers, so the test checks them itself.
type tokenTap struct {
	mu     sync.Mutex
	tokens []string
}

func (c *tokenTap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Path != oidc.TokenPath || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var v struct {
		IDToken string `json:"id_token"`
	}
	if json.Unmarshal(body, &v) == nil && v.IDToken != "" {
		c.mu.Lock()
		c.tokens = append(c.tokens, v.IDToken)
		c.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (c *tokenTap) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tokens...)
}

// startDemoSite runs the demo site as `make run` does (server/dev's startDemoSite):
// on a listener of its own, registered with the provider as a confidential client,
// talking to it over HTTP; its back-channel goes through tap.
func startDemoSite(t *testing.T, s *scenario.Server, tap *tokenTap) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	c, secret, err := oidc.NewClient(demosite.ClientID, demosite.Name, []string{demosite.RedirectURI(origin)}, false, rand.Reader, s.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.AddClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: demosite.New(demosite.Config{Issuer: s.Origin, ClientSecret: secret, Origin: origin,
		HTTP: &http.Client{Transport: tap, Timeout: time.Minute}}), ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return origin
}

// TestOIDCJourney: a person logs on at a site with the chip. The demo site's "Log på
// med MitID" sends the browser to the provider's logon page, which names the site;
// the person logs on with user ID, password and the chip over Bluetooth and is back
// at the demo site, logged on as themselves (sub, acr, amr shown). The test checks
// the ID token the site got with its own go-oidc verifier (signature against the
// JWKS, issuer, audience, expiry) and the nonce against the authorization request
// the browser made. A logon for a site leaves no MitID.dk session. Then what a person
// meets when it goes wrong: an unknown auth_request, a blocked chip (refused; cancel
// takes the person back to the site, told access_denied), and a request whose time
// ran out (the way back to the site). Every state is axe-clean in both languages.
func TestOIDCJourney(t *testing.T) {
	clock := &scenario.Clock{}
	s := scenario.Start(t, scenario.WithClock(clock))
	axe := scenario.LoadAxe(t)
	vc := devChip(t, s, "MC-000004")
	const person, userID, password = "e2e-person-oidc", "E2E.Oidc", "Solsikke-Cykel-58!"
	ctx := context.Background()

	b := harness.New(t)
	b.EmulateChip(vc)
	act := scenario.Open(t, b, s, s.NewLink(t, person, userID))
	act.CreatePassword(password)
	act.ChooseTransport("bluetooth")
	act.Connect()
	act.EnterCode(act.ReadCode(vc))
	act.ConfirmOnChip(vc)
	act.ExpectCompleted()

	tap := &tokenTap{}
	site := startDemoSite(t, s, tap)
	b = harness.New(t)
	b.EmulateChip(vc)
	p := scenario.Open(t, b, s, site+"/")
	checkAxe := func(state string, langs func(func(lang string))) {
		t.Helper()
		langs(func(lang string) {
			r := p.Axe(axe)
			if r.Passes == 0 {
				t.Errorf("%s, %s: axe-core passed no rules: did it run?", state, lang)
			}
			for _, v := range r.Violations {
				t.Errorf("%s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
			}
		})
	}
	// The demo site's languages are links (?lang=), not the MitID page's switch.
	demoLangs := func(path string) func(func(string)) {
		return func(fn func(string)) {
			for _, lang := range scenario.Languages {
				b.Navigate(site + path + "?lang=" + lang)
				p.WaitJS("the demo site in "+lang, "document.documentElement.lang === '"+lang+"'")
				fn(lang)
			}
		}
	}
	logonLangs := func(fn func(string)) { p.InEachLanguage(fn) }
	// toLogon presses "Log på med MitID" and waits for the provider's logon page; it
	// returns the authorization request's id from the page's address.
	toLogon := func() string {
		t.Helper()
		p.WaitJS("the demo site's logon button", "document.getElementById('login') !== null")
		p.Click("#login")
		p.WaitJS("the provider's logon page", "location.origin === '"+s.Origin+"' && location.pathname === '/logon' && document.body.dataset.step !== 'start'")
		q, err := url.ParseQuery(strings.TrimPrefix(scenario.Eval[string](p, "location.search"), "?"))
		if err != nil || q.Get("auth_request") == "" {
			t.Fatalf("logon page: expected ?auth_request=, got %v (%v)", q, err)
		}
		return q.Get("auth_request")
	}
	// backAtSite waits for the demo site's error page after the provider answered
	// with an error, and checks it says access_denied.
	backAtSite := func(what string) {
		t.Helper()
		// WaitView, not WaitJS: the logon page behind may show an error (the blocked chip).
		probe := "location.origin === '" + site + "' && document.querySelector('.error') !== null"
		p.WaitView("the demo site's error page", scenario.StepTimeout, func(scenario.View) bool {
			ok, err := harness.EvalErr[bool](b, probe)
			return err == nil && ok
		})
		if got := scenario.Eval[string](p, "document.querySelector('.error').textContent"); !strings.Contains(got, "(access_denied)") {
			t.Fatalf("%s: the demo site: expected access_denied, got %q", what, got)
		}
		if scenario.Eval[bool](p, "document.getElementById('sub') !== null") {
			t.Fatalf("%s: the demo site shows someone logged on", what)
		}
	}

	checkAxe("demo site, not logged on", demoLangs("/"))
	id := toLogon()
	p.WaitStep("credentials")
	// The form is there at once (decision 96); the site's name comes with the server's answer.
	p.WaitJS("the site's name", "document.getElementById('site-cancel').checkVisibility()")
	if got, want := p.Text("logon-for-site"), p.Message("logon.for_site_named", map[string]string{"site": demosite.Name}); got != want {
		t.Fatalf("logon page: expected %q, got %q", want, got)
	}
	if got, want := p.Text("logon-cancel"), p.Message("logon.cancel", map[string]string{"site": demosite.Name}); got != want {
		t.Fatalf("logon page: the cancel button: expected %q, got %q", want, got)
	}
	checkAxe("logon for a site", logonLangs)
	p.LogOnWith(userID, password)
	checkAxe("logon for a site, chip", logonLangs)
	p.ChooseTransport("bluetooth")
	p.WaitStep("connect")
	p.Click("#connect-next")
	p.PressWhenAsked(vc)
	p.WaitJS("logged on at the demo site", "location.origin === '"+site+"' && document.getElementById('sub') !== null")
	for field, want := range map[string]string{"sub": person, "acr": oidc.ACR, "amr": strings.Join(oidc.AMR, " ")} {
		if got := p.Text(field); got != want {
			t.Errorf("the demo site's %s: expected %q, got %q", field, want, got)
		}
	}
	checkAxe("demo site, logged on", demoLangs("/"))

	// The ID token, checked by the test's own client library, not the site's.
	tokens := tap.all()
	if len(tokens) != 1 {
		t.Fatalf("expected one ID token at the demo site, got %d", len(tokens))
	}
	vctx := gooidc.ClientContext(ctx, &http.Client{Timeout: time.Minute})
	provider, err := gooidc.NewProvider(vctx, s.Origin)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: demosite.ClientID, Now: s.Now})
	idt, err := verifier.Verify(vctx, tokens[0])
	if err != nil {
		t.Fatalf("the ID token does not verify: %v", err)
	}
	req, err := s.Store.AuthRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
		AZP string   `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	switch {
	case idt.Issuer != s.Origin || idt.Subject != person || len(idt.Audience) != 1 || idt.Audience[0] != demosite.ClientID:
		t.Errorf("ID token: expected iss %s, sub %s, aud [%s], got %s, %s, %v", s.Origin, person, demosite.ClientID, idt.Issuer, idt.Subject, idt.Audience)
	case req.Nonce == "" || idt.Nonce != req.Nonce:
		t.Errorf("ID token: expected the nonce of the browser's authorization request %q, got %q", req.Nonce, idt.Nonce)
	case idt.Expiry.Sub(idt.IssuedAt) != oidc.IDTokenLifetime:
		t.Errorf("ID token: expected a lifetime of %v, got %v", oidc.IDTokenLifetime, idt.Expiry.Sub(idt.IssuedAt))
	case claims.ACR != oidc.ACR || strings.Join(claims.AMR, " ") != strings.Join(oidc.AMR, " ") || claims.AZP != demosite.ClientID:
		t.Errorf("ID token: expected acr %s, amr %v, azp %s, got %+v", oidc.ACR, oidc.AMR, demosite.ClientID, claims)
	}
	// The same verifier refuses the token for another audience, altered, or late.
	if _, err := provider.Verifier(&gooidc.Config{ClientID: "another-site", Now: s.Now}).Verify(vctx, tokens[0]); err == nil {
		t.Error("ID token: expected another audience's verifier to refuse it")
	}
	parts := strings.Split(tokens[0], ".")
	forged := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	if _, err := verifier.Verify(vctx, forged); err == nil {
		t.Error("ID token: expected an altered token to fail its signature")
	}
	late := func() time.Time { return idt.Expiry.Add(time.Second) }
	if _, err := provider.Verifier(&gooidc.Config{ClientID: demosite.ClientID, Now: late}).Verify(vctx, tokens[0]); err == nil {
		t.Error("ID token: expected it refused after its expiry")
	}
	// A logon for a site is not a logon at MitID.dk.
	b.Navigate(s.Origin + "/mit")
	p.WaitStep("credentials")

	// An auth_request the provider does not know: said at once, with a way on.
	b.Navigate(s.Origin + "/logon?auth_request=AAAAAAAAAAAAAAAAAAAAAA")
	p.WaitView("the unknown request's message", scenario.StepTimeout, func(v scenario.View) bool {
		return v.Step == "error" && v.Code == "auth_request_invalid"
	})
	expectShown := func(state string, shown map[string]bool) {
		t.Helper()
		for el, want := range shown {
			if got := p.Visible(el); got != want {
				t.Errorf("%s: #%s shown: expected %v, got %v", state, el, want, got)
			}
		}
	}
	expectShown("unknown request", map[string]bool{"error-mitid": true, "error-retry": false, "error-back": false, "site-cancel": false})
	if got, want := p.Text("error-body"), p.Message("error.auth_request_invalid", nil); got != want {
		t.Errorf("unknown request: expected %q, got %q", want, got)
	}
	checkAxe("logon, unknown request", logonLangs)

	// A blocked chip: the password passes, the chip is refused, nothing goes to the
	// site; cancel takes the person back to it.
	if _, err := s.Store.BlockChip(ctx, store.BlockRequest{Serial: vc.Serial(), PersonID: person, Reason: "lost", At: s.Now(),
		TokenID: "e2e-oidc-block", TokenExpiresAt: s.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A browser of its own: Chromium's Bluetooth emulation serves one connection per
	// browser as TestLogon does it.
	b = harness.New(t)
	b.EmulateChip(vc)
	p = scenario.Open(t, b, s, site+"/")
	id = toLogon()
	p.LogOnWith(userID, password)
	p.ChooseTransport("bluetooth")
	p.WaitStep("connect")
	p.Click("#connect-next")
	p.PressWhenAsked(vc)
	p.ExpectError("press", p.Message("error.chip_blocked", nil))
	if r, err := s.Store.AuthRequest(ctx, id); err != nil || r.Finished() {
		t.Fatalf("blocked chip: expected the request unfinished, got %+v (%v)", r, err)
	}
	checkAxe("logon for a site, blocked chip", logonLangs)
	p.Click("#logon-cancel")
	backAtSite("cancel")
	if n := len(tap.all()); n != 1 {
		t.Fatalf("blocked chip: expected no second ID token, got %d in all", n)
	}
	checkAxe("demo site, access denied", func(fn func(string)) { fn(scenario.Eval[string](p, "document.documentElement.lang")) })

	// The site's request's time runs out on the logon page: the page says so and takes
	// the person back to the site.
	toLogon()
	clock.Advance(oidc.AuthRequestLifetime)
	p.Reload()
	p.WaitView("the expired request's message", scenario.StepTimeout, func(v scenario.View) bool {
		return v.Step == "error" && v.Code == "auth_request_expired"
	})
	expectShown("expired request", map[string]bool{"error-back": true, "error-retry": false, "error-mitid": false, "site-cancel": false})
	if got, want := p.Text("error-back"), p.Message("logon.back_to_site", map[string]string{"site": demosite.Name}); got != want {
		t.Errorf("expired request: the way back: expected %q, got %q", want, got)
	}
	checkAxe("logon, expired request", logonLangs)
	p.Click("#error-back")
	backAtSite("expired")
}

// Package demosite is "Demo Kommune – selvbetjening", a relying party for trying the
// OpenID Connect provider in dev mode: a "Log på med MitID" button, then who logged
// on and how. It is a real OIDC client (coreos/go-oidc and golang.org/x/oauth2, with
// PKCE, state and nonce checked), talking to the provider over HTTP like any site.
// Only mitid-chip-dev links it.
package demosite

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ClientID is the demo site's client id at the provider.
const ClientID = "demo-kommune"

// Name is the demo site's name.
const Name = "Demo Kommune – selvbetjening"

// Config configures New.
type Config struct {
	Issuer       string // the provider's origin
	ClientSecret string
	Origin       string // the demo site's own origin; its redirect URI is Origin + "/callback"
	// HTTP talks to the provider (discovery, JWKS, token); http.DefaultClient if nil.
	HTTP *http.Client
	Log  *slog.Logger
}

// flowLifetime bounds a logon in progress and a session.
const flowLifetime = 30 * time.Minute

// session is one browser's state at the demo site, found by its cookie.
type session struct {
	created              time.Time
	state, nonce, verify string // the logon in progress; empty when none
	user                 *user
}

// user is what the ID token said.
type user struct {
	Subject  string
	ACR      string
	AMR      []string
	AuthTime time.Time
	Expiry   time.Time
}

// Site is the demo site's handler.
type Site struct {
	cfg      Config
	mu       sync.Mutex
	provider *gooidc.Provider // discovered at the first logon
	sessions map[string]*session
	mux      *http.ServeMux
}

// RedirectURI is the demo site's redirect URI for a site at origin.
func RedirectURI(origin string) string { return strings.TrimSuffix(origin, "/") + "/callback" }

// New makes the demo site. The provider is discovered when the first person logs on,
// so the site may start before the provider listens.
func New(cfg Config) *Site {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Site{cfg: cfg, sessions: map[string]*session{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /login", s.login)
	s.mux.HandleFunc("GET /callback", s.callback)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(styleCSS)
	})
	return s
}

const cookieName = "demo_session"

func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func (s *Site) oauth(ctx context.Context) (*oauth2.Config, *gooidc.Provider, error) {
	s.mu.Lock()
	p := s.provider
	s.mu.Unlock()
	if p == nil {
		var err error
		if p, err = gooidc.NewProvider(gooidc.ClientContext(ctx, s.cfg.HTTP), s.cfg.Issuer); err != nil {
			return nil, nil, fmt.Errorf("discover %s: %w", s.cfg.Issuer, err)
		}
		s.mu.Lock()
		s.provider = p
		s.mu.Unlock()
	}
	return &oauth2.Config{ClientID: ClientID, ClientSecret: s.cfg.ClientSecret, RedirectURL: RedirectURI(s.cfg.Origin),
		Endpoint: p.Endpoint(), Scopes: []string{gooidc.ScopeOpenID}}, p, nil
}

// current is the browser's session, or nil.
func (s *Site) current(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess != nil && time.Since(sess.created) > flowLifetime {
		delete(s.sessions, c.Value)
		return nil
	}
	return sess
}

// newSession gives the browser a fresh session (a new cookie: no fixation), and
// drops expired ones.
func (s *Site) newSession(w http.ResponseWriter, r *http.Request, sess *session) {
	if old, err := r.Cookie(cookieName); err == nil {
		s.forget(old.Value)
	}
	id := rand.Text()
	s.mu.Lock()
	for k, v := range s.sessions {
		if time.Since(v.created) > flowLifetime {
			delete(s.sessions, k)
		}
	}
	s.sessions[id] = sess
	s.mu.Unlock()
	// SameSite=Lax: the provider's redirect back is a top-level GET from another site.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.cfg.Origin, "https://"), MaxAge: int(flowLifetime / time.Second)})
}

func (s *Site) forget(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

func (s *Site) login(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	cfg, _, err := s.oauth(r.Context())
	if err != nil {
		s.cfg.Log.Warn("demo site: provider", "error", err.Error())
		s.render(w, http.StatusBadGateway, lang, pageData{Error: text[lang]["error.provider"]})
		return
	}
	sess := &session{created: time.Now(), state: rand.Text(), nonce: rand.Text(), verify: oauth2.GenerateVerifier()}
	s.newSession(w, r, sess)
	// A link, not a form: CSP form-action would also bind the redirect to the provider.
	u := cfg.AuthCodeURL(sess.state, gooidc.Nonce(sess.nonce), oauth2.S256ChallengeOption(sess.verify),
		oauth2.SetAuthURLParam("ui_locales", lang))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// errRefused is a return the demo site does not accept.
var errRefused = errors.New("refused")

// callback takes the provider's answer: the state must be this browser's logon's,
// the code is exchanged with the PKCE verifier, and the ID token must verify (issuer,
// audience, signature, expiry) and carry this logon's nonce.
func (s *Site) callback(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	sess := s.current(r)
	q := r.URL.Query()
	if sess == nil || sess.state == "" || q.Get("state") != sess.state {
		s.render(w, http.StatusBadRequest, lang, pageData{Error: text[lang]["error.state"]})
		return
	}
	state := sess.state
	s.mu.Lock()
	sess.state = "" // one answer per logon
	s.mu.Unlock()
	if e := q.Get("error"); e != "" {
		s.render(w, http.StatusBadRequest, lang, pageData{Error: text[lang]["error.provider"] + " (" + e + ")"})
		return
	}
	u, err := s.exchange(r.Context(), q.Get("code"), sess)
	if err != nil {
		s.cfg.Log.Warn("demo site: logon refused", "error", err.Error(), "state_ok", state != "")
		s.render(w, http.StatusBadRequest, lang, pageData{Error: text[lang]["error.token"]})
		return
	}
	s.mu.Lock()
	sess.user, sess.nonce, sess.verify = u, "", ""
	s.mu.Unlock()
	http.Redirect(w, r, "/?lang="+lang, http.StatusSeeOther)
}

func (s *Site) exchange(ctx context.Context, code string, sess *session) (*user, error) {
	cfg, p, err := s.oauth(ctx)
	if err != nil {
		return nil, err
	}
	ctx = gooidc.ClientContext(ctx, s.cfg.HTTP)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(sess.verify))
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, fmt.Errorf("no id_token: %w", errRefused)
	}
	idt, err := p.Verifier(&gooidc.Config{ClientID: ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != sess.nonce {
		return nil, fmt.Errorf("ID token nonce is not this logon's: %w", errRefused)
	}
	var c struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, err
	}
	return &user{Subject: idt.Subject, ACR: c.ACR, AMR: c.AMR, AuthTime: time.Unix(c.AuthTime, 0), Expiry: idt.Expiry}, nil
}

func (s *Site) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.forget(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/?lang="+language(r), http.StatusSeeOther)
}

func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	d := pageData{}
	if sess := s.current(r); sess != nil && sess.user != nil {
		d.User = sess.user
	}
	s.render(w, http.StatusOK, lang, d)
}

//go:embed page.html
var pageHTML string

//go:embed style.css
var styleCSS []byte

var page = template.Must(template.New("page").Parse(pageHTML))

type pageData struct {
	Lang, Other, OtherName string
	T                      map[string]string
	User                   *user
	Error                  string
	AuthTime               string
}

func (s *Site) render(w http.ResponseWriter, status int, lang string, d pageData) {
	d.Lang, d.T = lang, text[lang]
	d.Other, d.OtherName = "en", "English"
	if lang == "en" {
		d.Other, d.OtherName = "da", "Dansk"
	}
	if d.User != nil {
		d.AuthTime = d.User.AuthTime.Local().Format("2006-01-02 15:04:05 MST")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.Execute(w, d); err != nil {
		s.cfg.Log.Warn("demo site: render", "error", err.Error())
	}
}

// language is Danish unless the request asks for English (?lang=en, kept by the
// forms).
func language(r *http.Request) string {
	if r.URL.Query().Get("lang") == "en" || r.FormValue("lang") == "en" {
		return "en"
	}
	return "da"
}

// text is the demo site's own words: it is another site, not the MitID page, so its
// text is not in web/i18n.
var text = map[string]map[string]string{
	"da": {
		"title": Name, "lead": "Log på for at se dine sager hos kommunen.", "login": "Log på med MitID",
		"logged_on": "Du er logget på", "sub": "Person (sub)", "acr": "Sikringsniveau (acr)", "amr": "Metoder (amr)",
		"auth_time": "Logget på (auth_time)", "logout": "Log af", "language": "Sprog",
		"error.state":    "Svaret fra MitID hører ikke til et logon, du har startet her. Prøv igen.",
		"error.provider": "MitID kunne ikke logge dig på.", "error.token": "Svaret fra MitID kunne ikke godkendes. Prøv igen.",
		"demo": "Dette er et demo-site til lokal afprøvning af MitID-chippen.",
	},
	"en": {
		"title": "Demo Municipality – self-service", "lead": "Log on to see your cases with the municipality.", "login": "Log on with MitID",
		"logged_on": "You are logged on", "sub": "Person (sub)", "acr": "Assurance (acr)", "amr": "Methods (amr)",
		"auth_time": "Logged on at (auth_time)", "logout": "Log off", "language": "Language",
		"error.state":    "The answer from MitID does not belong to a logon you started here. Try again.",
		"error.provider": "MitID could not log you on.", "error.token": "The answer from MitID could not be accepted. Try again.",
		"demo": "This is a demo site for trying the MitID chip locally.",
	},
}

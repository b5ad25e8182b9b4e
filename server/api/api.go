// Package api is the activation ceremony over HTTP: redeem the app's handoff, set the
// password verifier, present the chip, check its code, and bind it with its signature.
// All state between requests lives in the store, so any server instance can answer.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
	"mitidchip/server/store"
	"mitidchip/server/strictjson"
)

// MaxBody bounds every request body; the largest (a chip hello) is under 2 KiB.
const MaxBody = 8 << 10

// Config is what the API needs; its log lines go to the request's logger (observe.Logger),
// so wrap it in observe.AccessLog.
type Config struct {
	Ceremony *activation.Ceremony
	Handoff  *handoff.Verifier
	Metrics  *observe.Metrics
	Now      func() time.Time // for the rate limits
	// Origin is the page's origin (scheme://host[:port]); state-changing requests
	// from any other origin are refused.
	Origin string
	// SecureCookie sets the cookie's Secure attribute and __Host- prefix. Off only
	// for http on loopback, where browsers would drop a Secure cookie.
	SecureCookie bool
	// Limits per client address: handoff redemptions and code attempts per minute.
	HandoffPerMinute, CodesPerMinute int
}

// API serves the ceremony over HTTP.
type API struct {
	cfg      Config
	handoffs *limiter
	codes    *limiter
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Ceremony == nil || cfg.Handoff == nil || cfg.Metrics == nil || cfg.Now == nil {
		return nil, errors.New("api: config needs Ceremony, Handoff, Metrics and Now")
	}
	if cfg.Origin == "" {
		return nil, errors.New("api: config needs the page's Origin")
	}
	if cfg.HandoffPerMinute <= 0 {
		cfg.HandoffPerMinute = 20
	}
	if cfg.CodesPerMinute <= 0 {
		cfg.CodesPerMinute = 20
	}
	return &API{
		cfg:      cfg,
		handoffs: newLimiter(cfg.HandoffPerMinute, time.Minute, cfg.Now),
		codes:    newLimiter(cfg.CodesPerMinute, time.Minute, cfg.Now),
	}, nil
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/handoff", a.redeem)
	mux.HandleFunc("GET /api/v1/activation", a.state)
	mux.HandleFunc("GET /api/v1/password/params", a.passwordParams)
	mux.HandleFunc("POST /api/v1/password", a.setPassword)
	mux.HandleFunc("POST /api/v1/chip/hello", a.hello)
	mux.HandleFunc("POST /api/v1/chip/code", a.code)
	mux.HandleFunc("POST /api/v1/chip/signature", a.signature)
}

// CookieName is the session cookie's name for the given security setting.
func CookieName(secure bool) string {
	if secure {
		return "__Host-activation"
	}
	return "activation"
}

// Error is the body of every failed request: a stable machine code, the message key
// the page shows, for wrong codes how many tries are left, and for a refusal that
// lifts by itself (chip_locked, too_many_codes) when.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	TriesLeft *int   `json:"tries_left,omitempty"`
	// RetryAfter is in whole seconds from the answer, RetryAt the same moment in
	// RFC 3339 (UTC).
	RetryAfter *int   `json:"retry_after,omitempty"`
	RetryAt    string `json:"retry_at,omitempty"`
}

type errorBody struct {
	Error Error `json:"error"`
}

// fail answers with code and logs the precise reason, which the client never sees.
func (a *API) fail(w http.ResponseWriter, r *http.Request, status int, code string, reason error, extra ...func(*Error)) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	observe.Logger(r.Context()).LogAttrs(r.Context(), level, "request refused",
		slog.String("code", code), slog.String("route", r.Pattern),
		slog.String("reason", errString(reason)))
	if code != "bad_request" && code != "origin_denied" && code != "rate_limited" && code != "no_session" {
		a.cfg.Metrics.Failed(code)
	}
	e := Error{Code: code, Message: "error." + code}
	for _, f := range extra {
		f(&e)
	}
	writeJSON(w, status, errorBody{Error: e})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly (see strictjson.Decode) within a size limit. It
// answers the client itself on failure and reports whether to go on.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := strictjson.CheckContentType(r.Header.Get("Content-Type")); err != nil {
		a.fail(w, r, http.StatusUnsupportedMediaType, "bad_request", err)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	err := DecodeStrict(r.Body, v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		a.fail(w, r, http.StatusRequestEntityTooLarge, "body_too_large", err)
		return false
	case err != nil:
		a.fail(w, r, http.StatusBadRequest, "bad_request", err)
		return false
	}
	return true
}

// DecodeStrict decodes exactly one JSON object, member names exact and once each, no
// unknown members: strictjson.Decode, under the name the API's callers know.
func DecodeStrict(r io.Reader, v any) error { return strictjson.Decode(r, v) }

// sameOrigin refuses state-changing requests that do not come from the page.
// Browsers send Origin on every POST; a request without one is not from the page.
func (a *API) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != a.cfg.Origin {
		a.fail(w, r, http.StatusForbidden, "origin_denied", errors.New("origin "+o))
		return false
	}
	return true
}

// session finds the request's activation session by its cookie.
func (a *API) session(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	var cookie string
	if c, err := r.Cookie(CookieName(a.cfg.SecureCookie)); err == nil {
		cookie = c.Value
	}
	s, err := a.cfg.Ceremony.Resume(r.Context(), cookie)
	if s.ID != "" {
		observe.SetActivation(r.Context(), s.ID)
	}
	if err != nil {
		a.refuse(w, r, err)
		return store.Session{}, false
	}
	return s, true
}

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
	"net/netip"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/activity"
	"mitidchip/server/block"
	"mitidchip/server/clientip"
	"mitidchip/server/counter"
	"mitidchip/server/handoff"
	"mitidchip/server/logon"
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
	// ClientAddr is the client's address, behind any trusted proxy (a
	// clientip.Resolver's Addr); nil means the TCP peer, trusting no forwarded header.
	ClientAddr func(*http.Request) netip.Addr
	// Limits per client address (its IPv4 address or IPv6 /64, clientip.Bucket), per
	// minute: requests to the API of any kind, handoff redemptions and code attempts.
	// Zero means the default (120, 20, 20).
	RequestsPerMinute, HandoffPerMinute, CodesPerMinute int
	// Block blocks a person's chip from the MitID app's block handoff, verified by
	// BlockHandoff (a Verifier for handoff.PurposeBlockChip). Both nil: the API has
	// no block endpoints.
	Block        *block.Service
	BlockHandoff *handoff.Verifier
	// HandoversPerMinute bounds tries to redeem a handover code per address (default
	// 10); each handover also takes at most activation.HandoverMaxWrong wrong codes.
	HandoversPerMinute int

	// Logon is the logon ceremony at MitID.dk (logon.go); nil serves no logon API.
	Logon *logon.Ceremony
	// Counter is Borgerservice's console (counter.go); nil, or no Logon, serves none.
	Counter *counter.Service
	// Activity serves a logged-on person's activity at GET /api/v1/mit/activity;
	// nil serves none.
	Activity *activity.Handler
	// LogonsPerMinute bounds logon steps that check a user ID or a password, per
	// address (default 20); the store counts per user ID (logon.LockAfter).
	LogonsPerMinute int
}

// API serves the ceremony over HTTP.
type API struct {
	cfg       Config
	requests  *limiter
	handoffs  *limiter
	codes     *limiter
	handovers *limiter
	logons    *limiter
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Ceremony == nil || cfg.Handoff == nil || cfg.Metrics == nil || cfg.Now == nil {
		return nil, errors.New("api: config needs Ceremony, Handoff, Metrics and Now")
	}
	if cfg.Origin == "" {
		return nil, errors.New("api: config needs the page's Origin")
	}
	if (cfg.Block == nil) != (cfg.BlockHandoff == nil) {
		return nil, errors.New("api: config needs Block and BlockHandoff together")
	}
	if cfg.BlockHandoff != nil && cfg.BlockHandoff.Purpose() != handoff.PurposeBlockChip {
		return nil, errors.New("api: BlockHandoff must verify block tokens (handoff.PurposeBlockChip)")
	}
	if cfg.Handoff.Purpose() != handoff.Purpose {
		return nil, errors.New("api: Handoff must verify activation tokens (handoff.Purpose)")
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = clientip.Peer
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = 120
	}
	if cfg.HandoffPerMinute <= 0 {
		cfg.HandoffPerMinute = 20
	}
	if cfg.CodesPerMinute <= 0 {
		cfg.CodesPerMinute = 20
	}
	if cfg.HandoversPerMinute <= 0 {
		cfg.HandoversPerMinute = 10
	}
	if cfg.LogonsPerMinute <= 0 {
		cfg.LogonsPerMinute = 20
	}
	return &API{
		cfg:       cfg,
		requests:  newLimiter(cfg.RequestsPerMinute, time.Minute, cfg.Now),
		handoffs:  newLimiter(cfg.HandoffPerMinute, time.Minute, cfg.Now),
		codes:     newLimiter(cfg.CodesPerMinute, time.Minute, cfg.Now),
		handovers: newLimiter(cfg.HandoversPerMinute, time.Minute, cfg.Now),
		logons:    newLimiter(cfg.LogonsPerMinute, time.Minute, cfg.Now),
	}, nil
}

// Register adds the API's routes to mux, each behind the per-address request limit.
func (a *API) Register(mux *http.ServeMux) {
	for pattern, h := range map[string]http.HandlerFunc{
		"POST /api/v1/handoff":         a.redeem,
		"GET /api/v1/activation":       a.state,
		"GET /api/v1/password/params":  a.passwordParams,
		"POST /api/v1/password":        a.setPassword,
		"POST /api/v1/chip/hello":      a.hello,
		"POST /api/v1/chip/code":       a.code,
		"POST /api/v1/chip/signature":  a.signature,
		"POST /api/v1/handover":        a.beginHandover,
		"POST /api/v1/handover/redeem": a.redeemHandover,
	} {
		mux.HandleFunc(pattern, a.limited(h))
	}
	a.registerBlock(mux)
	if a.cfg.Logon != nil {
		a.registerLogon(mux)
	}
	a.registerCounter(mux)
}

// limited puts the per-address request limit before everything else a handler does,
// the origin check included, so that a flood of requests that would be refused
// anyway costs a map lookup each and a short log line, whatever its headers hold.
func (a *API) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		bucket := clientip.Bucket(a.cfg.ClientAddr(r))
		observe.SetClient(r.Context(), bucket)
		if !a.requests.allow(bucket) {
			a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("request rate limit"))
			return
		}
		next(w, r)
	}
}

// allow counts a request of r's client against l.
func (a *API) allow(l *limiter, r *http.Request) bool {
	return l.allow(clientip.Bucket(a.cfg.ClientAddr(r)))
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
// The reason can quote the request, so it is clipped like any text a client chose.
func (a *API) fail(w http.ResponseWriter, r *http.Request, status int, code string, reason error, extra ...func(*Error)) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	observe.Logger(r.Context()).LogAttrs(r.Context(), level, "request refused",
		slog.String("code", code), slog.String("route", r.Pattern),
		slog.String("reason", observe.Clip(errString(reason), observe.MaxReasonLogged)))
	if code != "bad_request" && code != "origin_denied" && code != "rate_limited" && code != "no_session" && code != "not_logged_on" {
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
	if ct := r.Header.Get("Content-Type"); strictjson.CheckContentType(ct) != nil {
		// The header is logged through Clip, as every header is, not through the
		// checker's own message.
		a.fail(w, r, http.StatusUnsupportedMediaType, "bad_request", errors.New("content type "+observe.Clip(ct, observe.MaxHeaderLogged)+" is not application/json"))
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
		a.fail(w, r, http.StatusForbidden, "origin_denied", errors.New("origin "+observe.Clip(o, observe.MaxHeaderLogged)))
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

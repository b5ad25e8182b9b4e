package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"mitidchip/server/logon"
	"mitidchip/server/observe"
	"mitidchip/server/store"
)

// The logon API at MitID.dk (docs/api.md, "Logon"): a thin adapter over
// server/logon, which holds every rule.

// LogonBeginRequest starts a logon: the user ID as typed, and the OIDC authorization
// request the logon is for, if any (the page's ?auth_request=, passed through).
type LogonBeginRequest struct {
	UserID      string `json:"user_id"`
	AuthRequest string `json:"auth_request,omitempty"`
}

// LogonBegun is the challenge the password key signs, and how to derive that key.
type LogonBegun struct {
	ChallengeID string `json:"challenge_id"`
	Challenge   []byte `json:"challenge"`
	Salt        []byte `json:"salt"`
	Time        uint32 `json:"time"`
	MemoryKiB   uint32 `json:"memory_kib"`
	Threads     uint8  `json:"threads"`
}

// LogonPasswordRequest carries the password proof: the password key's Ed25519
// signature over the challenge (credential/kdf.Prove).
type LogonPasswordRequest struct {
	ChallengeID string `json:"challenge_id"`
	Proof       []byte `json:"proof"`
}

// LogonTranscript is the logon transcript without the chip's fields, which the
// chip's hello gives: what the page needs to have the chip sign it.
type LogonTranscript struct {
	ChallengeID string `json:"challenge_id"`
	Challenge   []byte `json:"challenge"`
	UserID      string `json:"user_id"` // normalized
	Origin      string `json:"origin"`
	Purpose     string `json:"purpose"`
	Nonce       []byte `json:"nonce"`
}

// LogonPassed answers a right password.
type LogonPassed struct {
	Transcript LogonTranscript `json:"transcript"`
}

// LogonChipRequest carries the chip's hello reply payload, exactly as the chip sent
// it, and its signature over the logon transcript.
type LogonChipRequest struct {
	ChallengeID string `json:"challenge_id"`
	Hello       []byte `json:"hello"`
	Signature   []byte `json:"signature"`
}

// LogonDone answers a completed logon: where the browser goes next.
type LogonDone struct {
	Next string `json:"next"`
}

// LogonSite names the site a logon for an OIDC authorization request is for; Expired
// says its time ran out (the page then offers only the way back, cancel).
type LogonSite struct {
	Site    string `json:"site"`
	Expired bool   `json:"expired,omitempty"`
}

// LogonCancelRequest cancels the logon for an OIDC authorization request.
type LogonCancelRequest struct {
	AuthRequest string `json:"auth_request"`
}

// MitChip is the person's active chip as the self-service page shows it.
type MitChip struct {
	Serial      string `json:"serial"`
	ActivatedAt string `json:"activated_at"`           // RFC 3339
	LastUsedAt  string `json:"last_used_at,omitempty"` // RFC 3339; absent if never
}

// Mit is what GET /api/v1/mit answers a logged-on person.
type Mit struct {
	UserID      string   `json:"user_id"`
	Chip        *MitChip `json:"chip,omitempty"`
	SessionEnds string   `json:"session_ends"` // RFC 3339: the idle end, unless used before
}

// LogonCookieName is the MitID.dk session cookie's name for the given security
// setting: its own, never the activation's.
func LogonCookieName(secure bool) string {
	if secure {
		return "__Host-mitid"
	}
	return "mitid"
}

func (a *API) registerLogon(mux *http.ServeMux) {
	for pattern, h := range map[string]http.HandlerFunc{
		"POST /api/v1/logon/begin":    a.logonBegin,
		"POST /api/v1/logon/password": a.logonPassword,
		"POST /api/v1/logon/chip":     a.logonChip,
		"GET /api/v1/mit":             a.mit,
		"POST /api/v1/logoff":         a.logoff,
		"GET /api/v1/logon/site":      a.logonSite,
		"POST /api/v1/logon/cancel":   a.logonCancel,
	} {
		mux.HandleFunc(pattern, a.limited(h))
	}
	a.registerMit(mux)
}

// logonStatus is the HTTP status each logon refusal answers with.
var logonStatus = map[logon.Code]int{
	logon.CodeBadRequest:         http.StatusBadRequest,
	logon.CodeLogonFailed:        http.StatusUnauthorized,
	logon.CodeLogonLocked:        http.StatusForbidden,
	logon.CodeLogonExpired:       http.StatusGone,
	logon.CodeLogonUsed:          http.StatusConflict,
	logon.CodeOutOfOrder:         http.StatusConflict,
	logon.CodeHelloInvalid:       http.StatusBadRequest,
	logon.CodeChipUnknown:        http.StatusConflict,
	logon.CodeChipNotAttested:    http.StatusConflict,
	logon.CodeChipRevoked:        http.StatusConflict,
	logon.CodeChipBlocked:        http.StatusConflict,
	logon.CodeChipNotYours:       http.StatusForbidden,
	logon.CodeVerifierInvalid:    http.StatusBadRequest,
	logon.CodeSignatureInvalid:   http.StatusBadRequest,
	logon.CodeAuthRequestInvalid: http.StatusConflict,
	logon.CodeAuthRequestExpired: http.StatusGone,
	logon.CodeNotLoggedOn:        http.StatusUnauthorized,
	logon.CodeInternal:           http.StatusInternalServerError,
}

// refuseLogon answers a logon refusal with its code and status, and when a lock
// lifts.
func (a *API) refuseLogon(w http.ResponseWriter, r *http.Request, err error) {
	var e *logon.Error
	if !errors.As(err, &e) {
		e = &logon.Error{Code: logon.CodeInternal, Err: err}
	}
	st, ok := logonStatus[e.Code]
	if !ok {
		st = http.StatusInternalServerError
	}
	var extra []func(*Error)
	if !e.RetryAt.IsZero() {
		after := max(1, int(math.Ceil(e.RetryAt.Sub(a.cfg.Now()).Seconds())))
		at := e.RetryAt.UTC().Format(time.RFC3339)
		w.Header().Set("Retry-After", strconv.Itoa(after))
		extra = append(extra, func(b *Error) { b.RetryAfter, b.RetryAt = &after, at })
	}
	a.fail(w, r, st, string(e.Code), e.Err, extra...)
}

// logonStep is the common start of a logon POST: the origin, the per-address limit
// (when limited) and the body, in that order.
func (a *API) logonStep(w http.ResponseWriter, r *http.Request, limited bool, req any) bool {
	if !a.sameOrigin(w, r) {
		return false
	}
	if limited && !a.allow(a.logons, r) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("logon rate limit"))
		return false
	}
	return a.decode(w, r, req)
}

func (a *API) logonBegin(w http.ResponseWriter, r *http.Request) {
	var req LogonBeginRequest
	if !a.logonStep(w, r, true, &req) {
		return
	}
	b, err := a.cfg.Logon.Begin(r.Context(), req.UserID, req.AuthRequest)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LogonBegun{ChallengeID: b.ChallengeID, Challenge: b.Challenge, Salt: b.KDF.Salt,
		Time: b.KDF.Time, MemoryKiB: b.KDF.MemoryKiB, Threads: b.KDF.Threads})
}

func (a *API) logonPassword(w http.ResponseWriter, r *http.Request) {
	var req LogonPasswordRequest
	if !a.logonStep(w, r, true, &req) {
		return
	}
	t, err := a.cfg.Logon.Password(r.Context(), req.ChallengeID, req.Proof)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LogonPassed{Transcript: LogonTranscript{ChallengeID: t.ChallengeID, Challenge: t.Challenge,
		UserID: t.UserID, Origin: t.Origin, Purpose: t.Purpose, Nonce: t.Nonce}})
}

func (a *API) logonChip(w http.ResponseWriter, r *http.Request) {
	var req LogonChipRequest
	if !a.logonStep(w, r, false, &req) {
		return
	}
	done, err := a.cfg.Logon.Chip(r.Context(), req.ChallengeID, req.Hello, req.Signature)
	if done.Cookie != "" {
		// A logon for a site has none (decision 72).
		http.SetCookie(w, &http.Cookie{
			Name: LogonCookieName(a.cfg.SecureCookie), Value: done.Cookie, Path: "/",
			MaxAge: int(logon.AbsoluteTTL.Seconds()), Secure: a.cfg.SecureCookie, HttpOnly: true,
			SameSite: http.SameSiteStrictMode,
		})
	}
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LogonDone{Next: done.Next})
}

// logonSite answers GET /api/v1/logon/site?auth_request=ID: the site's name, so the
// logon page can say where the person logs on, and whether the request can still be
// finished (auth_request_invalid when not; expired when only its time ran out).
func (a *API) logonSite(w http.ResponseWriter, r *http.Request) {
	name, err := a.cfg.Logon.Site(r.Context(), r.URL.Query().Get("auth_request"))
	if logon.CodeOf(err) == logon.CodeAuthRequestExpired {
		writeJSON(w, http.StatusOK, LogonSite{Site: name, Expired: true})
		return
	}
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LogonSite{Site: name})
}

// logonCancel ends the logon for an OIDC authorization request without one, as the
// person chose: the answer's next is the site's redirect URI with
// error=access_denied and its state.
func (a *API) logonCancel(w http.ResponseWriter, r *http.Request) {
	var req LogonCancelRequest
	if !a.logonStep(w, r, false, &req) {
		return
	}
	next, err := a.cfg.Logon.Cancel(r.Context(), req.AuthRequest)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	observe.Logger(r.Context()).Info("logon cancelled")
	writeJSON(w, http.StatusOK, LogonDone{Next: next})
}

// LoggedOn is the MitID.dk session of the request, if its cookie names one that has
// not ended; its use is recorded (moving its idle end on). Other handlers (the
// self-service pages, the OIDC provider) use it to learn who is logged on:
// s.PersonID. The error is a *logon.Error with logon.CodeNotLoggedOn when no one is.
func (a *API) LoggedOn(r *http.Request) (store.LogonSession, error) {
	if a.cfg.Logon == nil {
		return store.LogonSession{}, &logon.Error{Code: logon.CodeNotLoggedOn, Err: errors.New("no logon configured")}
	}
	var cookie string
	if c, err := r.Cookie(LogonCookieName(a.cfg.SecureCookie)); err == nil {
		cookie = c.Value
	}
	return a.cfg.Logon.Session(r.Context(), cookie)
}

// RequireLogon serves next to a logged-on person and sends anyone else to the logon
// page (303), which brings them back after the logon.
func (a *API) RequireLogon(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.LoggedOn(r); err != nil {
			if logon.CodeOf(err) != logon.CodeNotLoggedOn {
				a.refuseLogon(w, r, err)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, "/logon", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (a *API) mit(w http.ResponseWriter, r *http.Request) {
	s, err := a.LoggedOn(r)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	m, err := a.cfg.Logon.Mine(r.Context(), s)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	out := Mit{UserID: m.UserID, SessionEnds: m.SessionEnds.UTC().Format(time.RFC3339)}
	if m.Chip.Serial != "" {
		out.Chip = &MitChip{Serial: m.Chip.Serial, ActivatedAt: m.Chip.BoundAt.UTC().Format(time.RFC3339)}
		if !m.Chip.LastUsedAt.IsZero() {
			out.Chip.LastUsedAt = m.Chip.LastUsedAt.UTC().Format(time.RFC3339)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) logoff(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !a.logonStep(w, r, false, &req) {
		return
	}
	s, err := a.LoggedOn(r)
	if err == nil {
		err = a.cfg.Logon.LogOff(r.Context(), s)
	}
	// The cookie goes whatever the store said: the browser is logged off.
	http.SetCookie(w, &http.Cookie{Name: LogonCookieName(a.cfg.SecureCookie), Value: "", Path: "/", MaxAge: -1,
		Secure: a.cfg.SecureCookie, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	observe.Logger(r.Context()).Info("logged off")
	writeJSON(w, http.StatusOK, LogonDone{Next: "/logon"})
}

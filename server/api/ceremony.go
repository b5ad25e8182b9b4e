package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
	"mitidchip/server/store"
)

// Request bodies. Byte fields are standard base64 (encoding/json's []byte form).

// RedeemRequest carries the handoff token the page read from its URL fragment, and
// the request id the page chose for redeeming it (16 random bytes, unpadded
// base64url; see activation.ValidRequestID): the page sends the same id when it tries
// again, so that a redemption whose answer was lost can be repeated by that page
// alone.
type RedeemRequest struct {
	Token     string `json:"token"`
	RequestID string `json:"request_id"`
}

// PasswordRequest carries the password verifier (an Ed25519 public key).
type PasswordRequest struct {
	Verifier []byte `json:"verifier"`
}

// HelloRequest carries the chip's hello reply payload exactly as the chip sent it,
// so the server parses it with the same decoder the page uses.
type HelloRequest struct {
	Hello []byte `json:"hello"`
}

// CodeRequest carries the 6 digits the person read off the chip's display.
type CodeRequest struct {
	Code string `json:"code"`
}

// SignatureRequest carries the chip's ASN.1 ECDSA signature over the transcript.
type SignatureRequest struct {
	Signature []byte `json:"signature"`
}

// State is the answer to every successful step: where the activation is, so the
// page can render (or, after a reload, resume) the right step.
type State struct {
	ActivationID string `json:"activation_id"`
	Step         string `json:"step"` // password, chip, code, sign, completed, blocked
	UserID       string `json:"user_id,omitempty"`
	TriesLeft    int    `json:"tries_left"`
	ChipSerial   string `json:"chip_serial,omitempty"`
	// Binding is what the page needs to build the transcript the chip signs; present
	// from the code step on.
	Binding *Binding `json:"binding,omitempty"`
	// AssistedOffice is the Borgerservice office where a caseworker started the
	// activation; absent for one the MitID app started.
	AssistedOffice string `json:"assisted_office,omitempty"`
	// Handover is the newest unused code to continue on another device, at the
	// password step, for the device that made it to watch (docs/api.md).
	Handover *HandoverState `json:"handover,omitempty"`
}

// HandoverState is how the newest unused handover code stands: open (ExpiresIn
// whole seconds left), expired, or void after too many wrong codes.
type HandoverState struct {
	Status    string `json:"status"` // open, expired, void
	ExpiresAt string `json:"expires_at"`
	ExpiresIn int    `json:"expires_in"`
}

// Binding holds the transcript fields the page does not already know for sure.
type Binding struct {
	UserID           string `json:"user_id"` // the transcript's user field: the person id
	ChipSerial       string `json:"chip_serial"`
	ChipPublicKey    []byte `json:"chip_public_key"`
	PasswordVerifier []byte `json:"password_verifier"`
	Nonce            []byte `json:"nonce"`
}

// PasswordParams is the Argon2id salt and cost for this person's password.
type PasswordParams struct {
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	UserID    string `json:"user_id,omitempty"` // the password must not contain it
}

// status is the HTTP status each refusal answers with.
var status = map[activation.Code]int{
	activation.CodeNoSession:         http.StatusUnauthorized,
	activation.CodeSessionExpired:    http.StatusUnauthorized,
	activation.CodeHandoffInvalid:    http.StatusUnauthorized,
	activation.CodeHandoffExpired:    http.StatusUnauthorized,
	activation.CodeOutOfOrder:        http.StatusConflict,
	activation.CodeAlreadyCompleted:  http.StatusConflict,
	activation.CodeHandoffUsed:       http.StatusConflict,
	activation.CodeUserIDMissing:     http.StatusUnauthorized,
	activation.CodeUserIDTaken:       http.StatusConflict,
	activation.CodeTooManyHandoffs:   http.StatusTooManyRequests,
	activation.CodeTooManySessions:   http.StatusTooManyRequests,
	activation.CodeChipUnknown:       http.StatusConflict,
	activation.CodeChipNotAttested:   http.StatusConflict,
	activation.CodeChipRevoked:       http.StatusConflict,
	activation.CodeChipBlocked:       http.StatusConflict,
	activation.CodeChipTaken:         http.StatusConflict,
	activation.CodeCodeUsed:          http.StatusConflict,
	activation.CodeActivationBlocked: http.StatusForbidden,
	activation.CodeChipLocked:        http.StatusForbidden,
	activation.CodeTooManyCodes:      http.StatusTooManyRequests,
	activation.CodeVerifierInvalid:   http.StatusBadRequest,
	activation.CodeHelloInvalid:      http.StatusBadRequest,
	activation.CodeCodeFormat:        http.StatusBadRequest,
	activation.CodeSignatureInvalid:  http.StatusBadRequest,
	activation.CodeCodeWrong:         http.StatusUnprocessableEntity,
	activation.CodeHandoverWrong:     http.StatusUnprocessableEntity,
	activation.CodeHandoverExpired:   http.StatusGone,
	activation.CodeHandoverUsed:      http.StatusConflict,
	activation.CodeHandoverVoid:      http.StatusForbidden,
	activation.CodeInternal:          http.StatusInternalServerError,
}

// refuse answers a ceremony error with its code and status.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var e *activation.Error
	if !errors.As(err, &e) {
		e = &activation.Error{Code: activation.CodeInternal, Err: err}
	}
	st, ok := status[e.Code]
	switch {
	case e.Conflict:
		st = http.StatusConflict
	case !ok:
		st = http.StatusInternalServerError
	}
	var extra []func(*Error)
	if e.Code == activation.CodeCodeWrong {
		left := e.TriesLeft
		extra = append(extra, func(b *Error) { b.TriesLeft = &left })
	}
	if !e.RetryAt.IsZero() {
		// Whole seconds, rounded up: a client that waits this long is not refused
		// again. The page counts from its own clock, which may be wrong.
		after := max(1, int(math.Ceil(e.RetryAt.Sub(a.cfg.Now()).Seconds())))
		at := e.RetryAt.UTC().Format(time.RFC3339)
		w.Header().Set("Retry-After", strconv.Itoa(after))
		extra = append(extra, func(b *Error) { b.RetryAfter, b.RetryAt = &after, at })
	}
	a.fail(w, r, st, string(e.Code), e.Err, extra...)
}

// answer writes where the activation is now.
func (a *API) answer(w http.ResponseWriter, r *http.Request, s store.Session) {
	v, err := a.cfg.Ceremony.View(r.Context(), s)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	st := State{ActivationID: v.ActivationID, Step: string(v.Step), UserID: v.UserID, TriesLeft: v.TriesLeft, ChipSerial: v.ChipSerial,
		AssistedOffice: v.Office}
	if b := v.Binding; b != nil {
		st.Binding = &Binding{UserID: b.UserID, ChipSerial: b.ChipSerial, ChipPublicKey: b.ChipPublicKey, PasswordVerifier: b.PasswordVerifier, Nonce: b.Nonce}
	}
	if h := v.Handover; h != nil {
		st.Handover = &HandoverState{
			Status:    string(h.State),
			ExpiresAt: h.ExpiresAt.UTC().Format(time.RFC3339),
			ExpiresIn: max(0, int(math.Floor(h.ExpiresAt.Sub(a.cfg.Now()).Seconds()))),
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// step answers the outcome of a ceremony call that moved the session.
func (a *API) step(w http.ResponseWriter, r *http.Request, s store.Session, err error) {
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	a.answer(w, r, s)
}

func (a *API) redeem(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	if !a.allow(a.handoffs, r) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("handoff rate limit"))
		return
	}
	var req RedeemRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !activation.ValidRequestID(req.RequestID) {
		a.fail(w, r, http.StatusBadRequest, "bad_request", errors.New("request_id missing or not 22 to 64 base64url characters"))
		return
	}
	claims, err := a.cfg.Handoff.Verify(req.Token)
	if err != nil {
		code := activation.CodeHandoffInvalid
		if errors.Is(err, handoff.ErrExpired) {
			code = activation.CodeHandoffExpired
		}
		a.refuse(w, r, &activation.Error{Code: code, Err: err})
		return
	}
	started, err := a.cfg.Ceremony.Redeem(r.Context(), claims, req.RequestID)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	observe.SetActivation(r.Context(), started.Session.ID)
	if !started.Again {
		a.cfg.Metrics.Started()
	}
	a.setCookie(w, started.Cookie)
	a.answer(w, r, started.Session)
}

// setCookie gives the browser the session cookie.
func (a *API) setCookie(w http.ResponseWriter, cookie string) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(a.cfg.SecureCookie), Value: cookie, Path: "/", MaxAge: int(a.cfg.Ceremony.SessionTTL().Seconds()),
		Secure: a.cfg.SecureCookie, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func (a *API) state(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.session(w, r); ok {
		a.answer(w, r, s)
	}
}

func (a *API) passwordParams(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	p, err := a.cfg.Ceremony.PasswordParams(r.Context(), s)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PasswordParams{Salt: p.KDF.Salt, Time: p.KDF.Time, MemoryKiB: p.KDF.MemoryKiB, Threads: p.KDF.Threads, UserID: p.UserID})
}

func (a *API) setPassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordRequest
	if s, ok := a.begin(w, r, &req); ok {
		s, err := a.cfg.Ceremony.SetPassword(r.Context(), s, req.Verifier)
		a.step(w, r, s, err)
	}
}

func (a *API) hello(w http.ResponseWriter, r *http.Request) {
	var req HelloRequest
	if s, ok := a.begin(w, r, &req); ok {
		s, err := a.cfg.Ceremony.PresentChip(r.Context(), s, req.Hello)
		a.step(w, r, s, err)
	}
}

func (a *API) code(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	if !a.allow(a.codes, r) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("code rate limit"))
		return
	}
	var req CodeRequest
	if s, ok := a.begin(w, r, &req); ok {
		s, err := a.cfg.Ceremony.CheckCode(r.Context(), s, req.Code)
		a.step(w, r, s, err)
	}
}

func (a *API) signature(w http.ResponseWriter, r *http.Request) {
	var req SignatureRequest
	if s, ok := a.begin(w, r, &req); ok {
		s, err := a.cfg.Ceremony.Finish(r.Context(), s, req.Signature)
		if err == nil {
			a.cfg.Metrics.Completed()
		}
		a.step(w, r, s, err)
	}
}

// begin is the common start of a state-changing step: the origin check, the session
// and the body, in that order. It answers the client itself on failure.
func (a *API) begin(w http.ResponseWriter, r *http.Request, req any) (store.Session, bool) {
	if !a.sameOrigin(w, r) {
		return store.Session{}, false
	}
	s, ok := a.session(w, r)
	if !ok || !a.decode(w, r, req) {
		return store.Session{}, false
	}
	return s, true
}

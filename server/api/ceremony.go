package api

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"mitidchip/chip"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
	"mitidchip/server/registry"
	"mitidchip/server/store"
	"mitidchip/wasm/kdf"
	"mitidchip/wasm/transcript"
)

// Request bodies. Byte fields are standard base64 (encoding/json's []byte form).

// RedeemRequest carries the handoff token the page read from its URL fragment.
type RedeemRequest struct {
	Token string `json:"token"`
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

var steps = map[store.State]string{
	store.StateRedeemed:      "password",
	store.StatePasswordSet:   "chip",
	store.StateChipPresented: "code",
	store.StateCodeVerified:  "sign",
	store.StateCompleted:     "completed",
	store.StateBlocked:       "blocked",
}

func (a *API) stateOf(r *http.Request, s store.Session) (State, error) {
	p, err := a.cfg.Store.Person(r.Context(), s.PersonID)
	if err != nil {
		return State{}, err
	}
	st := State{ActivationID: s.ID, Step: steps[s.State], UserID: p.UserID, TriesLeft: max(0, BlockAfter-s.WrongCodes), ChipSerial: s.ChipSerial}
	if s.State == store.StateChipPresented || s.State == store.StateCodeVerified {
		st.Binding = &Binding{UserID: s.PersonID, ChipSerial: s.ChipSerial, ChipPublicKey: s.ChipPublicKey, PasswordVerifier: s.PasswordVerifier, Nonce: s.Nonce}
	}
	return st, nil
}

func (a *API) answer(w http.ResponseWriter, r *http.Request, s store.Session) {
	st, err := a.stateOf(r, s)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// expect refuses a step taken out of order.
func (a *API) expect(w http.ResponseWriter, r *http.Request, s store.Session, allowed ...store.State) bool {
	for _, st := range allowed {
		if s.State == st {
			return true
		}
	}
	code := "out_of_order"
	if s.State == store.StateBlocked {
		code = "activation_blocked"
	} else if s.State == store.StateCompleted {
		code = "already_completed"
	}
	a.fail(w, r, http.StatusConflict, code, errors.New("step not allowed in state "+string(s.State)))
	return false
}

func (a *API) redeem(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	if !a.handoffs.allow(clientAddr(r)) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("handoff rate limit"))
		return
	}
	var req RedeemRequest
	if !a.decode(w, r, &req) {
		return
	}
	claims, err := a.cfg.Handoff.Verify(req.Token)
	if err != nil {
		code := "handoff_invalid"
		if errors.Is(err, handoff.ErrExpired) {
			code = "handoff_expired"
		}
		a.fail(w, r, http.StatusUnauthorized, code, err)
		return
	}
	cookie, err := a.random(cookieSize)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	id, err := a.random(16)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	salt, err := kdf.NewSalt(a.cfg.Rand)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	now := a.cfg.Now()
	hash := sha256.Sum256([]byte(cookie))
	s := store.Session{
		ID: id, PersonID: claims.PersonID, CookieHash: hash[:], CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(a.cfg.SessionTTL),
		KDF:       store.KDF{Salt: salt, Time: a.cfg.KDF.Time, MemoryKiB: a.cfg.KDF.MemoryKiB, Threads: a.cfg.KDF.Threads},
	}
	observe.SetActivation(r.Context(), id)
	s, err = a.cfg.Store.RedeemHandoff(r.Context(),
		store.Handoff{TokenID: claims.TokenID, PersonID: claims.PersonID, UserID: claims.UserID, UsedAt: now, ExpiresAt: claims.Expiry}, s,
		a.audit(s, "handoff_redeemed", map[string]any{"token_id": claims.TokenID}))
	switch {
	case errors.Is(err, store.ErrHandoffUsed):
		a.fail(w, r, http.StatusConflict, "handoff_used", err)
		return
	case errors.Is(err, store.ErrUserIDTaken):
		a.fail(w, r, http.StatusConflict, "handoff_invalid", err)
		return
	case err != nil:
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	a.cfg.Metrics.Started()
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(a.cfg.SecureCookie), Value: cookie, Path: "/", MaxAge: int(a.cfg.SessionTTL.Seconds()),
		Secure: a.cfg.SecureCookie, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	a.answer(w, r, s)
}

func (a *API) state(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.session(w, r); ok {
		a.answer(w, r, s)
	}
}

func (a *API) passwordParams(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok || !a.expect(w, r, s, store.StateRedeemed) {
		return
	}
	p, err := a.cfg.Store.Person(r.Context(), s.PersonID)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	writeJSON(w, http.StatusOK, PasswordParams{Salt: s.KDF.Salt, Time: s.KDF.Time, MemoryKiB: s.KDF.MemoryKiB, Threads: s.KDF.Threads, UserID: p.UserID})
}

func (a *API) setPassword(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	s, ok := a.session(w, r)
	if !ok || !a.expect(w, r, s, store.StateRedeemed) {
		return
	}
	var req PasswordRequest
	if !a.decode(w, r, &req) {
		return
	}
	if err := kdf.CheckVerifier(req.Verifier); err != nil {
		a.fail(w, r, http.StatusBadRequest, "verifier_invalid", err)
		return
	}
	s.PasswordVerifier, s.State, s.UpdatedAt = req.Verifier, store.StatePasswordSet, a.cfg.Now()
	a.update(w, r, s, a.audit(s, "password_set", nil))
}

func (a *API) update(w http.ResponseWriter, r *http.Request, s store.Session, audit ...store.AuditEntry) {
	s, err := a.cfg.Store.UpdateSession(r.Context(), s, audit...)
	if errors.Is(err, store.ErrConflict) {
		a.fail(w, r, http.StatusConflict, "out_of_order", err)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	a.answer(w, r, s)
}

func (a *API) hello(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	s, ok := a.session(w, r)
	// A person may present the chip again (another chip, or after a lost link).
	if !ok || !a.expect(w, r, s, store.StatePasswordSet, store.StateChipPresented) {
		return
	}
	var req HelloRequest
	if !a.decode(w, r, &req) {
		return
	}
	h, err := chip.ParseHello(req.Hello)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "hello_invalid", err)
		return
	}
	c, err := a.cfg.Registry.Attest(r.Context(), h, a.cfg.Now())
	if err != nil {
		a.chipRefused(w, r, err)
		return
	}
	if c.Status == store.ChipBound && c.PersonID != s.PersonID {
		a.fail(w, r, http.StatusConflict, "chip_taken", errors.New("chip "+c.Serial+" bound to another person"))
		return
	}
	nonce, err := a.randomBytes(nonceSize)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	s.ChipSerial, s.ChipPublicKey, s.Nonce = h.Serial, h.PublicKey, nonce
	s.State, s.UpdatedAt = store.StateChipPresented, a.cfg.Now()
	a.update(w, r, s, a.audit(s, "chip_presented", map[string]any{"serial": h.Serial, "firmware": h.Firmware}))
}

func (a *API) chipRefused(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, registry.ErrUnknownChip):
		a.fail(w, r, http.StatusConflict, "chip_unknown", err)
	case errors.Is(err, registry.ErrRevoked), errors.Is(err, registry.ErrRetired):
		a.fail(w, r, http.StatusConflict, "chip_revoked", err)
	case errors.Is(err, registry.ErrUntrustedCA), errors.Is(err, registry.ErrNotAttested):
		a.fail(w, r, http.StatusConflict, "chip_not_attested", err)
	default:
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
	}
}

func (a *API) code(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	if !a.codes.allow(clientAddr(r)) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("code rate limit"))
		return
	}
	s, ok := a.session(w, r)
	if !ok || !a.expect(w, r, s, store.StateChipPresented) {
		return
	}
	var req CodeRequest
	if !a.decode(w, r, &req) {
		return
	}
	c, err := a.cfg.Store.Chip(r.Context(), s.ChipSerial)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	if c.FailedCodes >= ChipLockAfter {
		a.fail(w, r, http.StatusForbidden, "chip_locked", errors.New("chip "+c.Serial+" has "+strconv.Itoa(c.FailedCodes)+" wrong codes in a row"))
		return
	}
	now := a.cfg.Now()
	step, err := a.cfg.Registry.CheckCode(c, req.Code, now)
	switch {
	case errors.Is(err, registry.ErrCodeFormat):
		a.fail(w, r, http.StatusBadRequest, "code_format", err)
		return
	case errors.Is(err, registry.ErrStepReplayed):
		a.fail(w, r, http.StatusConflict, "code_used", err)
		return
	case errors.Is(err, registry.ErrWrongCode):
		a.wrongCode(w, r, s, err)
		return
	case err != nil:
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	s, err = a.cfg.Store.AcceptCode(r.Context(), s, step, now, a.audit(s, "code_accepted", map[string]any{"serial": c.Serial}))
	switch {
	case errors.Is(err, store.ErrStepUsed):
		a.fail(w, r, http.StatusConflict, "code_used", err)
		return
	case errors.Is(err, store.ErrConflict):
		a.fail(w, r, http.StatusConflict, "out_of_order", err)
		return
	case err != nil:
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	a.answer(w, r, s)
}

func (a *API) wrongCode(w http.ResponseWriter, r *http.Request, s store.Session, reason error) {
	s, err := a.cfg.Store.RejectCode(r.Context(), s, BlockAfter, a.cfg.Now(), a.audit(s, "code_rejected", map[string]any{"serial": s.ChipSerial, "wrong_in_a_row": s.WrongCodes + 1}))
	if errors.Is(err, store.ErrConflict) {
		// Another request for this session (a second tab, a double submit) changed it
		// first; the page reloads the state rather than report a server fault.
		a.fail(w, r, http.StatusConflict, "out_of_order", err)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	if s.State == store.StateBlocked {
		a.fail(w, r, http.StatusForbidden, "activation_blocked", reason)
		return
	}
	left := BlockAfter - s.WrongCodes
	a.fail(w, r, http.StatusUnprocessableEntity, "code_wrong", reason, func(e *Error) { e.TriesLeft = &left })
}

func (a *API) signature(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	s, ok := a.session(w, r)
	if !ok || !a.expect(w, r, s, store.StateCodeVerified) {
		return
	}
	var req SignatureRequest
	if !a.decode(w, r, &req) {
		return
	}
	hash, err := transcript.Binding{
		ActivationID: s.ID, UserID: s.PersonID, ChipSerial: s.ChipSerial, ChipPublicKey: s.ChipPublicKey,
		PasswordVerifier: s.PasswordVerifier, Nonce: s.Nonce,
	}.Hash()
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	if err := registry.VerifySignature(s.ChipPublicKey, hash, req.Signature); err != nil {
		a.fail(w, r, http.StatusBadRequest, "signature_invalid", err)
		return
	}
	s, err = a.cfg.Store.Complete(r.Context(), s, a.cfg.Now(), a.audit(s, "activation_completed", map[string]any{"serial": s.ChipSerial}))
	switch {
	case errors.Is(err, store.ErrChipTaken):
		a.fail(w, r, http.StatusConflict, "chip_taken", err)
		return
	case errors.Is(err, store.ErrConflict):
		a.fail(w, r, http.StatusConflict, "out_of_order", err)
		return
	case err != nil:
		a.fail(w, r, http.StatusInternalServerError, "internal", err)
		return
	}
	a.cfg.Metrics.Completed()
	a.answer(w, r, s)
}

func (a *API) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.cfg.Rand, b); err != nil {
		return nil, err
	}
	return b, nil
}

// random returns n random bytes as unpadded base64url: cookie values and ids.
func (a *API) random(n int) (string, error) {
	b, err := a.randomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// clientAddr is the peer's IP. The server is meant to sit behind a proxy that the
// deployment configures; forwarded headers are not trusted here.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

package api

import (
	"errors"
	"net/http"
	"time"

	"mitidchip/server/block"
	"mitidchip/server/observe"
	"mitidchip/server/store"
)

// Self-service at MitID.dk (docs/selfservice.md, docs/api.md "Mit MitID"): the
// person's activity, changing the password, and blocking the chip, each behind the
// MitID.dk session (LoggedOn); a thin adapter over server/logon, server/block and
// server/activity.

// KDFParams is how the page derives a key from a password.
type KDFParams struct {
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// PasswordChangeBegun is the challenge the old password's key signs and how to
// derive it (the stored salt and cost, at the top level as in LogonBegun), and how
// to derive the new password's verifier (NewKDF: a new salt).
type PasswordChangeBegun struct {
	ChallengeID string    `json:"challenge_id"`
	Challenge   []byte    `json:"challenge"`
	Salt        []byte    `json:"salt"`
	Time        uint32    `json:"time"`
	MemoryKiB   uint32    `json:"memory_kib"`
	Threads     uint8     `json:"threads"`
	NewKDF      KDFParams `json:"new_kdf"`
}

// PasswordChangeOldRequest carries the old password's proof over the challenge.
type PasswordChangeOldRequest struct {
	ChallengeID string `json:"challenge_id"`
	Proof       []byte `json:"proof"`
}

// PasswordChangeNewRequest carries the new password's verifier.
type PasswordChangeNewRequest struct {
	ChallengeID string `json:"challenge_id"`
	Verifier    []byte `json:"verifier"`
}

// PasswordChangeChipRequest carries the chip's hello and its signature over the
// change's transcript (as LogonChipRequest).
type PasswordChangeChipRequest = LogonChipRequest

// PasswordChanged answers a completed change.
type PasswordChanged struct {
	EndedSessions int `json:"ended_sessions"`
}

// MitBlockRequest names the chip the person was shown and confirmed to block.
type MitBlockRequest struct {
	ChipSerial string `json:"chip_serial"`
}

// MitBlocked answers a chip blocked from MitID.dk; the session has ended.
type MitBlocked struct {
	ChipSerial string `json:"chip_serial"`
	BlockedAt  string `json:"blocked_at"` // RFC 3339, UTC
}

func (a *API) registerMit(mux *http.ServeMux) {
	routes := map[string]http.HandlerFunc{
		"POST /api/v1/mit/password/begin": a.changeBegin,
		"POST /api/v1/mit/password/old":   a.changeOld,
		"POST /api/v1/mit/password/new":   a.changeNew,
		"POST /api/v1/mit/password/chip":  a.changeChip,
	}
	if a.cfg.Activity != nil {
		routes["GET /api/v1/mit/activity"] = a.mitActivity
	}
	if a.cfg.Block != nil {
		routes["POST /api/v1/mit/block"] = a.mitBlock
	}
	for pattern, h := range routes {
		mux.HandleFunc(pattern, a.limited(h))
	}
}

// mitStep is the common start of a self-service POST: the origin, the per-address
// logon limit (when limited), the body, then the session, in that order.
func (a *API) mitStep(w http.ResponseWriter, r *http.Request, limited bool, req any) (store.LogonSession, bool) {
	if !a.logonStep(w, r, limited, req) {
		return store.LogonSession{}, false
	}
	s, err := a.LoggedOn(r)
	if err != nil {
		a.refuseLogon(w, r, err)
		return store.LogonSession{}, false
	}
	return s, true
}

func (a *API) mitActivity(w http.ResponseWriter, r *http.Request) {
	s, err := a.LoggedOn(r)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	a.cfg.Activity.For(s.PersonID).ServeHTTP(w, r)
}

func (a *API) changeBegin(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	s, ok := a.mitStep(w, r, true, &req)
	if !ok {
		return
	}
	c, err := a.cfg.Logon.BeginChange(r.Context(), s)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PasswordChangeBegun{ChallengeID: c.ChallengeID, Challenge: c.Challenge,
		Salt: c.KDF.Salt, Time: c.KDF.Time, MemoryKiB: c.KDF.MemoryKiB, Threads: c.KDF.Threads,
		NewKDF: KDFParams{Salt: c.NewKDF.Salt, Time: c.NewKDF.Time, MemoryKiB: c.NewKDF.MemoryKiB, Threads: c.NewKDF.Threads}})
}

func (a *API) changeOld(w http.ResponseWriter, r *http.Request) {
	var req PasswordChangeOldRequest
	s, ok := a.mitStep(w, r, true, &req)
	if !ok {
		return
	}
	if err := a.cfg.Logon.ChangeOld(r.Context(), s, req.ChallengeID, req.Proof); err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (a *API) changeNew(w http.ResponseWriter, r *http.Request) {
	var req PasswordChangeNewRequest
	s, ok := a.mitStep(w, r, false, &req)
	if !ok {
		return
	}
	t, err := a.cfg.Logon.ChangeNew(r.Context(), s, req.ChallengeID, req.Verifier)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LogonPassed{Transcript: LogonTranscript{ChallengeID: t.ChallengeID, Challenge: t.Challenge,
		UserID: t.UserID, Origin: t.Origin, Purpose: t.Purpose, Nonce: t.Nonce}})
}

func (a *API) changeChip(w http.ResponseWriter, r *http.Request) {
	var req PasswordChangeChipRequest
	s, ok := a.mitStep(w, r, false, &req)
	if !ok {
		return
	}
	done, err := a.cfg.Logon.ChangeChip(r.Context(), s, req.ChallengeID, req.Hello, req.Signature)
	if err != nil {
		a.refuseLogon(w, r, err)
		return
	}
	observe.Logger(r.Context()).Info("password changed", "ended_sessions", done.EndedSessions)
	writeJSON(w, http.StatusOK, PasswordChanged{EndedSessions: done.EndedSessions})
}

func (a *API) mitBlock(w http.ResponseWriter, r *http.Request) {
	var req MitBlockRequest
	s, ok := a.mitStep(w, r, false, &req)
	if !ok {
		return
	}
	if !block.ValidSerial(req.ChipSerial) {
		a.fail(w, r, http.StatusBadRequest, "bad_request", errors.New("chip_serial missing or not 1 to 64 printable ASCII characters"))
		return
	}
	done, err := a.cfg.Block.BlockOwn(r.Context(), s, req.ChipSerial)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	// The session ended with the block: the cookie goes too.
	http.SetCookie(w, &http.Cookie{Name: LogonCookieName(a.cfg.SecureCookie), Value: "", Path: "/", MaxAge: -1,
		Secure: a.cfg.SecureCookie, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	observe.Logger(r.Context()).Info("chip blocked by its holder at MitID.dk", "serial", done.Serial)
	writeJSON(w, http.StatusOK, MitBlocked{ChipSerial: done.Serial, BlockedAt: done.BlockedAt.UTC().Format(time.RFC3339)})
}

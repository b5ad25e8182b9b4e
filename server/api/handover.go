package api

import (
	"errors"
	"math"
	"net/http"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/observe"
	"mitidchip/server/qrsvg"
)

// HandoverRequest asks for a code that moves this activation to another device; it
// has no members.
type HandoverRequest struct{}

// HandoverRedeemRequest carries the code as the person typed it (or as the QR
// code's link carried it).
type HandoverRedeemRequest struct {
	Code string `json:"code"`
}

// Handover is the code for the other device, the link the QR code holds, and the
// QR code itself as a data: URI of an SVG.
type Handover struct {
	Code      string `json:"code"` // as shown: ABCD-EFGH
	URL       string `json:"url"`  // <origin>/continue#c=ABCDEFGH
	QR        string `json:"qr"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, UTC
	// ExpiresIn is in whole seconds from the answer, for a page whose clock is wrong.
	ExpiresIn int `json:"expires_in"`
}

// ContinuePath is the page's address on the other device.
const ContinuePath = "/continue"

func (a *API) beginHandover(w http.ResponseWriter, r *http.Request) {
	var req HandoverRequest
	s, ok := a.begin(w, r, &req)
	if !ok {
		return
	}
	h, err := a.cfg.Ceremony.BeginHandover(r.Context(), s)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	// The code sits in the fragment, which browsers never send to a server.
	url := a.cfg.Origin + ContinuePath + "#c=" + h.Code
	qr, err := qrsvg.DataURI(url)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Handover{
		Code: activation.FormatHandoverCode(h.Code), URL: url, QR: qr,
		ExpiresAt: h.ExpiresAt.UTC().Format(time.RFC3339),
		ExpiresIn: max(0, int(math.Floor(h.ExpiresAt.Sub(a.cfg.Now()).Seconds()))),
	})
}

func (a *API) redeemHandover(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(w, r) {
		return
	}
	if !a.allow(a.handovers, r) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("handover rate limit"))
		return
	}
	var req HandoverRedeemRequest
	if !a.decode(w, r, &req) {
		return
	}
	started, err := a.cfg.Ceremony.FinishHandover(r.Context(), req.Code)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	observe.SetActivation(r.Context(), started.Session.ID)
	a.setCookie(w, started.Cookie)
	a.answer(w, r, started.Session)
}

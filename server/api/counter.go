package api

import (
	"math"
	"net/http"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/counter"
	"mitidchip/server/logon"
	"mitidchip/server/observe"
	"mitidchip/server/qrsvg"
)

// Borgerservice's console API (docs/borgerservice.md): a thin adapter over
// server/counter. Every request needs the MitID.dk session of a person holding the
// caseworker role now (checked on each request) and a console used within its idle
// time; every POST the page's Origin.

// CounterPath is the console's page.
const CounterPath = "/borgerservice"

// CounterCitizenRequest names the citizen at the counter.
type CounterCitizenRequest struct {
	PersonID string `json:"person_id"`
}

// CounterChipRequest names the citizen and one of their chips.
type CounterChipRequest struct {
	PersonID   string `json:"person_id"`
	ChipSerial string `json:"chip_serial"`
}

// CounterActivationRequest is the caseworker's ID check.
type CounterActivationRequest struct {
	PersonID       string `json:"person_id"`
	UserID         string `json:"user_id,omitempty"`
	DocumentType   string `json:"document_type"`
	DocumentNumber string `json:"document_number"`
	DocumentExpiry string `json:"document_expiry"` // YYYY-MM-DD
	ChipSerial     string `json:"chip_serial,omitempty"`
}

// CounterMe is the caseworker as the console shows them.
type CounterMe struct {
	PersonID   string `json:"person_id"`
	Office     string `json:"office"`
	PressedAt  string `json:"pressed_at"`  // RFC 3339: their logon's chip press
	FreshUntil string `json:"fresh_until"` // RFC 3339: sensitive acts need a new press after
	// FreshIn is in whole seconds from the answer, for a page whose clock is wrong.
	FreshIn     int `json:"fresh_in"`
	IdleMinutes int `json:"idle_minutes"`
}

// CounterCitizen is the citizen as the console shows them.
type CounterCitizen struct {
	PersonID       string              `json:"person_id"`
	Name           string              `json:"name,omitempty"`
	UserID         string              `json:"user_id,omitempty"`
	Known          bool                `json:"known"`
	Chip           *CounterChip        `json:"chip,omitempty"`
	Locks          []CounterLock       `json:"locks"`
	OpenActivation bool                `json:"open_activation"`
	Activity       []CounterEventEntry `json:"activity"`
}

// CounterChip is the citizen's active chip.
type CounterChip struct {
	Serial      string `json:"serial"`
	ActivatedAt string `json:"activated_at"`
}

// CounterLock is a chip the citizen is locked out of by wrong codes.
type CounterLock struct {
	Serial string `json:"serial"`
	Until  string `json:"until"`
}

// CounterEventEntry is one line of the citizen's activity.
type CounterEventEntry struct {
	At      string `json:"at"`
	Message string `json:"message"`
	Serial  string `json:"chip_serial,omitempty"`
	Office  string `json:"office,omitempty"`
}

// CounterStarted is an assisted activation begun: the handover's code, link and QR
// code, as for a handover (Handover).
type CounterStarted = Handover

// CounterEnded says how many activations ended.
type CounterEnded struct {
	Ended int `json:"ended"`
}

// CounterDone is a block or an unlock done.
type CounterDone struct {
	ChipSerial string `json:"chip_serial"`
	At         string `json:"at"`
}

// counterStatus is the HTTP status of each console refusal.
var counterStatus = map[counter.Code]int{
	counter.CodeNotCaseworker:      http.StatusForbidden,
	counter.CodeConsoleIdle:        http.StatusUnauthorized,
	counter.CodePressStale:         http.StatusUnauthorized,
	counter.CodeOwnActivation:      http.StatusForbidden,
	counter.CodeFieldsInvalid:      http.StatusBadRequest,
	counter.CodeDocumentExpired:    http.StatusUnprocessableEntity,
	counter.CodeCitizenUnknown:     http.StatusNotFound,
	counter.CodeUserIDNeeded:       http.StatusUnprocessableEntity,
	counter.CodeUserIDTaken:        http.StatusConflict,
	counter.CodeActivationUnderWay: http.StatusConflict,
	counter.CodeTooManyAssisted:    http.StatusTooManyRequests,
	counter.CodeTooManyHandoffs:    http.StatusTooManyRequests,
	counter.CodeNoActiveChip:       http.StatusConflict,
	counter.CodeChipChanged:        http.StatusConflict,
	counter.CodeChipNotLocked:      http.StatusConflict,
	counter.CodeInternal:           http.StatusInternalServerError,
}

func (a *API) registerCounter(mux *http.ServeMux) {
	if a.cfg.Counter == nil || a.cfg.Logon == nil {
		return
	}
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /api/v1/counter":                 a.counterMe,
		"POST /api/v1/counter/citizen":        a.counterCitizen,
		"POST /api/v1/counter/activation":     a.counterActivate,
		"POST /api/v1/counter/activation/end": a.counterEnd,
		"POST /api/v1/counter/block":          a.counterBlock,
		"POST /api/v1/counter/unlock":         a.counterUnlock,
	} {
		mux.HandleFunc(pattern, a.limited(h))
	}
}

func (a *API) refuseCounter(w http.ResponseWriter, r *http.Request, err error) {
	code := counter.CodeOf(err)
	st, ok := counterStatus[code]
	if !ok {
		st = http.StatusInternalServerError
	}
	a.fail(w, r, st, string(code), err)
}

// caseworker is the common start of every console request: the Origin (POST), the
// logged-on person, their role now and the console's idle time, then the body.
func (a *API) caseworker(w http.ResponseWriter, r *http.Request, req any) (counter.Caseworker, bool) {
	if r.Method != http.MethodGet && !a.sameOrigin(w, r) {
		return counter.Caseworker{}, false
	}
	ls, err := a.LoggedOn(r)
	if err != nil {
		a.refuseLogon(w, r, err)
		return counter.Caseworker{}, false
	}
	cw, err := a.cfg.Counter.Admit(r.Context(), ls)
	if err != nil {
		a.refuseCounter(w, r, err)
		return counter.Caseworker{}, false
	}
	if req != nil && !a.decode(w, r, req) {
		return counter.Caseworker{}, false
	}
	return cw, true
}

func (a *API) counterMe(w http.ResponseWriter, r *http.Request) {
	cw, ok := a.caseworker(w, r, nil)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, CounterMe{
		PersonID: cw.PersonID, Office: cw.Office, PressedAt: rfc3339(cw.PressedAt), FreshUntil: rfc3339(cw.FreshUntil),
		FreshIn: max(0, int(math.Floor(cw.FreshUntil.Sub(a.cfg.Now()).Seconds()))), IdleMinutes: int(counter.IdleTTL / time.Minute),
	})
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *API) counterCitizen(w http.ResponseWriter, r *http.Request) {
	var req CounterCitizenRequest
	cw, ok := a.caseworker(w, r, &req)
	if !ok {
		return
	}
	c, err := a.cfg.Counter.Look(r.Context(), cw, req.PersonID)
	if err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	out := CounterCitizen{PersonID: c.PersonID, Name: c.Name, UserID: c.UserID, Known: c.Known, OpenActivation: c.OpenActivation,
		Locks: []CounterLock{}, Activity: []CounterEventEntry{}}
	if c.Chip != nil {
		out.Chip = &CounterChip{Serial: c.Chip.Serial, ActivatedAt: rfc3339(c.Chip.BoundAt)}
	}
	for _, l := range c.Locks {
		out.Locks = append(out.Locks, CounterLock{Serial: l.Serial, Until: rfc3339(l.LockedUntil)})
	}
	for _, e := range c.Activity {
		out.Activity = append(out.Activity, CounterEventEntry{At: rfc3339(e.At), Message: e.Message, Serial: e.Serial, Office: e.Office})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) counterActivate(w http.ResponseWriter, r *http.Request) {
	var req CounterActivationRequest
	cw, ok := a.caseworker(w, r, &req)
	if !ok {
		return
	}
	started, err := a.cfg.Counter.Activate(r.Context(), cw, counter.IDCheck{
		PersonID: req.PersonID, UserID: req.UserID, DocumentType: req.DocumentType, DocumentNumber: req.DocumentNumber,
		DocumentExpiry: req.DocumentExpiry, ChipSerial: req.ChipSerial,
	})
	if err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	observe.SetActivation(r.Context(), started.ActivationID)
	// The code sits in the fragment, which browsers never send to a server.
	url := a.cfg.Origin + ContinuePath + "#c=" + started.Code
	qr, err := qrsvg.DataURI(url)
	if err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CounterStarted{
		Code: activation.FormatHandoverCode(started.Code), URL: url, QR: qr, ExpiresAt: rfc3339(started.ExpiresAt),
		ExpiresIn: max(0, int(math.Floor(started.ExpiresAt.Sub(a.cfg.Now()).Seconds()))),
	})
}

func (a *API) counterEnd(w http.ResponseWriter, r *http.Request) {
	var req CounterCitizenRequest
	cw, ok := a.caseworker(w, r, &req)
	if !ok {
		return
	}
	n, err := a.cfg.Counter.EndActivations(r.Context(), cw, req.PersonID)
	if err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CounterEnded{Ended: n})
}

func (a *API) counterBlock(w http.ResponseWriter, r *http.Request) {
	var req CounterChipRequest
	cw, ok := a.caseworker(w, r, &req)
	if !ok {
		return
	}
	at, err := a.cfg.Counter.Block(r.Context(), cw, req.PersonID, req.ChipSerial)
	if err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CounterDone{ChipSerial: req.ChipSerial, At: rfc3339(at)})
}

func (a *API) counterUnlock(w http.ResponseWriter, r *http.Request) {
	var req CounterChipRequest
	cw, ok := a.caseworker(w, r, &req)
	if !ok {
		return
	}
	if err := a.cfg.Counter.Unlock(r.Context(), cw, req.PersonID, req.ChipSerial); err != nil {
		a.refuseCounter(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CounterDone{ChipSerial: req.ChipSerial, At: rfc3339(a.cfg.Now())})
}

// RequireLogonFor is RequireLogon for a page the logon returns to: anyone not
// logged on goes to /logon?next=back (the logon page follows only local paths it
// knows: web/logon.js).
func (a *API) RequireLogonFor(back string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.LoggedOn(r); err != nil {
			if logon.CodeOf(err) != logon.CodeNotLoggedOn {
				a.refuseLogon(w, r, err)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, "/logon?next="+back, http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

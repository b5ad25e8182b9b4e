package activity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"mitidchip/server/observe"
)

// Answer is the JSON the handler answers with: the events newest first, and where
// the next page starts (absent on the last page).
type Answer struct {
	Events []EventJSON `json:"events"`
	Before int64       `json:"before,omitempty"`
}

// EventJSON is one event on the wire.
type EventJSON struct {
	ID      int64  `json:"id"`
	At      string `json:"at"` // RFC 3339, UTC
	Kind    string `json:"kind"`
	Message string `json:"message"` // the catalogue key the page shows
	Serial  string `json:"chip_serial,omitempty"`
	Office  string `json:"office,omitempty"` // Borgerservice's office, for its events
}

// Handler serves a person's activity. The session lookup that says whose it is
// belongs to the caller (the self-service page's logon session): For takes the
// person it found.
type Handler struct {
	src Source
}

// NewHandler serves activity from src.
func NewHandler(src Source) *Handler { return &Handler{src: src} }

// For is the handler for personID's activity: GET with an optional query
// ?before=<id>&limit=<n> (ParseQuery), answering Answer as JSON; a query of the
// wrong form is 400, another method 405.
func (h *Handler) For(personID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody("bad_request"))
			return
		}
		before, limit, err := ParseQuery(r.URL.RawQuery)
		if err != nil {
			observe.Logger(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "activity query refused",
				slog.String("reason", observe.Clip(err.Error(), observe.MaxReasonLogged)))
			writeJSON(w, http.StatusBadRequest, errorBody("bad_request"))
			return
		}
		p, err := Of(r.Context(), h.src, personID, before, limit)
		if err != nil {
			observe.Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "activity", slog.String("error", err.Error()))
			writeJSON(w, http.StatusInternalServerError, errorBody("internal"))
			return
		}
		out := Answer{Events: make([]EventJSON, 0, len(p.Events)), Before: p.Before}
		for _, e := range p.Events {
			out.Events = append(out.Events, EventJSON{ID: e.ID, At: e.At.UTC().Format(time.RFC3339), Kind: string(e.Kind), Message: e.Message, Serial: e.Serial, Office: e.Office})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// ParseQuery reads the page's query: before, a positive id (absent: the newest),
// and limit, 1 to MaxLimit (absent: DefaultLimit). Nothing else may be in it, and
// each at most once.
func ParseQuery(raw string) (before int64, limit int, err error) {
	if len(raw) > 256 {
		return 0, 0, errors.New("query too long")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return 0, 0, fmt.Errorf("query: %w", err)
	}
	limit = DefaultLimit
	for name, vals := range q {
		if len(vals) != 1 {
			return 0, 0, fmt.Errorf("%q given %d times", name, len(vals))
		}
		switch name {
		case "before":
			if before, err = positive(vals[0], 1<<62); err != nil {
				return 0, 0, fmt.Errorf("before: %w", err)
			}
		case "limit":
			n, err := positive(vals[0], MaxLimit)
			if err != nil {
				return 0, 0, fmt.Errorf("limit: %w", err)
			}
			limit = int(n)
		default:
			return 0, 0, fmt.Errorf("unknown parameter %q", name)
		}
	}
	return before, limit, nil
}

// positive parses 1 to max written in plain decimal digits (no sign, no leading 0).
func positive(s string, max int64) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, errors.New("not a positive number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a positive number")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("not between 1 and %d", max)
	}
	return n, nil
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorBody(code string) errorJSON {
	var e errorJSON
	e.Error.Code, e.Error.Message = code, "error."+code
	return e
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Package activity turns a person's audit trail into the events their self-service
// page shows ("Activation completed", "Chip blocked", "Wrong one-time code"): each
// event is a message key in the page's catalogues (web/i18n, "activity.<kind>"),
// a time, and at most a chip's serial. Nothing else of an entry reaches the page:
// its detail is JSON the server wrote, but it is read here as untrusted input, and
// no secret, token id or raw detail is ever passed on.
package activity

import (
	"context"
	"encoding/json"
	"time"
	"unicode/utf8"

	"mitidchip/server/store"
)

// Kind is what happened, as the person reads it; the page shows the catalogue's
// "activity.<kind>".
type Kind string

// The kinds of events.
const (
	ActivationStarted   Kind = "activation_started"
	PasswordCreated     Kind = "password_created"
	ChipConnected       Kind = "chip_connected"
	CodeAccepted        Kind = "code_accepted"
	CodeWrong           Kind = "code_wrong"
	ChipLocked          Kind = "chip_locked"
	ActivationCompleted Kind = "activation_completed"
	HandoverCreated     Kind = "handover_created"
	HandoverRedeemed    Kind = "handover_redeemed"
	HandoverWrong       Kind = "handover_wrong"
	ChipBlocked         Kind = "chip_blocked"
	SupportViewed       Kind = "support_viewed"
	SupportUnlocked     Kind = "support_unlocked"
	SupportRevoked      Kind = "support_revoked"
	LoggedOn            Kind = "logged_on"
	LogonFailed         Kind = "logon_failed"
	LogonLocked         Kind = "logon_locked"
	PasswordChanged     Kind = "password_changed"
	// Borgerservice (server/counter): each names the office (Event.Office).
	AssistedStarted Kind = "assisted_started"
	CounterViewed   Kind = "counter_viewed"
	CounterEnded    Kind = "counter_ended"
	CounterBlocked  Kind = "counter_blocked"
	CounterUnlocked Kind = "counter_unlocked"
	StaffGranted    Kind = "staff_granted"
	StaffRevoked    Kind = "staff_revoked"
	PasswordWrong   Kind = "password_change_failed"
	// Other is any event this package does not know (a newer server wrote it):
	// shown as a generic line, never by its name or detail.
	Other Kind = "other"
)

// kinds maps audit events to what the person reads. An event mapped to "" is not
// shown: it is the server's bookkeeping, not something the person did (a page that
// retried a redemption whose answer it lost).
var kinds = map[string]Kind{
	"handoff_redeemed":       ActivationStarted,
	"handoff_redeemed_again": "",
	"password_set":           PasswordCreated,
	"chip_presented":         ChipConnected,
	"code_accepted":          CodeAccepted,
	"code_rejected":          CodeWrong,
	"chip_locked":            ChipLocked,
	"activation_completed":   ActivationCompleted,
	"handover_created":       HandoverCreated,
	"handover_redeemed":      HandoverRedeemed,
	"handover_rejected":      HandoverWrong,
	"chip_blocked":           ChipBlocked,
	"operator_chip_shown":    SupportViewed,
	"operator_chip_unlocked": SupportUnlocked,
	"operator_chip_revoked":  SupportRevoked,
	// The logon ceremony's events (server/logon, server/store/logon.go). A right
	// password before the chip's press is a step of a logon, not one of its own; a
	// log off is the person's own click.
	"logon":          LoggedOn,
	"logon_password": "",
	"logon_failed":   LogonFailed,
	"logon_locked":   LogonLocked,
	"logoff":         "",
	// Changing the password at MitID.dk (server/logon/password.go).
	"password_change_password": "",
	"password_change_failed":   PasswordWrong,
	"password_changed":         PasswordChanged,
	// Borgerservice's events (server/counter, `mitid-chip staff`).
	"assisted_activation_started": AssistedStarted,
	"counter_citizen_viewed":      CounterViewed,
	"counter_activations_ended":   CounterEnded,
	"counter_chip_blocked":        CounterBlocked,
	"counter_chip_unlocked":       CounterUnlocked,
	"staff_granted":               StaffGranted,
	"staff_revoked":               StaffRevoked,
}

// Kinds lists every kind an event can have, for the catalogue check.
func Kinds() []Kind {
	seen := map[Kind]bool{Other: true}
	out := []Kind{Other}
	for _, k := range kinds {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Event is one line of the person's activity.
type Event struct {
	ID      int64     // the audit entry's id: the next page starts before the last one
	At      time.Time // when
	Kind    Kind
	Message string // the catalogue key: "activity.<kind>"
	// Serial is the chip the event was about, when its detail names one of the
	// right form; empty otherwise.
	Serial string
	// Office is the Borgerservice office where it happened, when its detail names
	// one of the right form (letters, digits, spaces, "-", "."); empty otherwise.
	Office string
}

// MaxDetail bounds the detail that is read at all; the server's are under 200 bytes.
const MaxDetail = 4 << 10

// Describe is the event an audit entry shows as, and false for an entry that is not
// shown. It never fails: an unknown event is Other, and a detail that is not JSON,
// too long, or without a well-formed serial gives no serial.
func Describe(e store.AuditEntry) (Event, bool) {
	k, known := kinds[e.Event]
	if !known {
		k = Other
	}
	if k == "" {
		return Event{}, false
	}
	serial, office := fieldsOf(e.Detail)
	return Event{ID: e.ID, At: e.At, Kind: k, Message: "activity." + string(k), Serial: serial, Office: office}, true
}

// fieldsOf is the "serial" and "office" members of detail, if detail is a small
// JSON object and each member a string of its form.
func fieldsOf(detail string) (serial, office string) {
	if detail == "" || len(detail) > MaxDetail {
		return "", ""
	}
	var d struct {
		Serial any `json:"serial"`
		Office any `json:"office"`
	}
	if json.Unmarshal([]byte(detail), &d) != nil {
		return "", ""
	}
	if s, ok := d.Serial.(string); ok && validSerial(s) {
		serial = s
	}
	if o, ok := d.Office.(string); ok && validOffice(o) {
		office = o
	}
	return serial, office
}

// validOffice: 1 to 64 bytes of letters (Latin, with Danish and other accented
// letters), digits, spaces, "-" and "."; anything else is not shown.
func validOffice(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == ' ' || r == '-' || r == '.' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' ||
			r >= 0xC0 && r <= 0x24F && r != 0xD7 && r != 0xF7) {
			return false
		}
	}
	return true
}

// validSerial: 1 to 32 characters of A-Z, a-z, 0-9 and "-", as chip serials are
// written (MC-000001); anything else is not shown.
func validSerial(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Source is where the audit trail comes from: store.Store is one.
type Source interface {
	PersonAudit(ctx context.Context, personID string, beforeID int64, limit int) ([]store.AuditEntry, error)
}

// Page is one page of a person's activity, newest first.
type Page struct {
	Events []Event
	// Before is the id the next (older) page starts before; 0 when there is none.
	Before int64
}

// DefaultLimit and MaxLimit bound a page, in audit entries read.
const (
	DefaultLimit = 20
	MaxLimit     = 50
)

// Of reads one page of personID's activity: up to limit audit entries (1 to
// MaxLimit; anything else means DefaultLimit) older than the entry with id before
// (none when before is 0), as events. Entries that are not shown still count
// toward the limit, so a page may hold fewer events than limit and still have a
// next one.
func Of(ctx context.Context, src Source, personID string, before int64, limit int) (Page, error) {
	if limit < 1 || limit > MaxLimit {
		limit = DefaultLimit
	}
	entries, err := src.PersonAudit(ctx, personID, before, limit)
	if err != nil {
		return Page{}, err
	}
	p := Page{Events: []Event{}}
	for _, e := range entries {
		if ev, ok := Describe(e); ok {
			p.Events = append(p.Events, ev)
		}
	}
	if len(entries) == limit {
		p.Before = entries[len(entries)-1].ID
	}
	return p, nil
}

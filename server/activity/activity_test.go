package activity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mitidchip/server/activity"
	"mitidchip/server/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func entry(event, detail string) store.AuditEntry {
	return store.AuditEntry{ID: 7, At: t0, ActivationID: "act-1", PersonID: "p1", Event: event, Detail: detail}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name   string
		e      store.AuditEntry
		kind   activity.Kind // "" means not shown
		serial string
	}{
		{"activation completed", entry("activation_completed", `{"serial":"MC-000001"}`), activity.ActivationCompleted, "MC-000001"},
		{"chip blocked, token id left out", entry("chip_blocked", `{"serial":"MC-000002","reason":"lost","token_id":"secret-ish-token-id"}`), activity.ChipBlocked, "MC-000002"},
		{"wrong code", entry("code_rejected", `{"serial":"MC-000001","wrong_in_a_row":2}`), activity.CodeWrong, "MC-000001"},
		{"chip locked", entry("chip_locked", `{"serial":"MC-000001","until":"2026-03-01T12:15:00Z"}`), activity.ChipLocked, "MC-000001"},
		{"started", entry("handoff_redeemed", `{"token_id":"abc"}`), activity.ActivationStarted, ""},
		{"password set", entry("password_set", `{}`), activity.PasswordCreated, ""},
		{"operator revoked", entry("operator_chip_revoked", `{"serial":"MC-000003","status":"bound"}`), activity.SupportRevoked, "MC-000003"},
		{"logged on", entry("logon", `{"logon":"x","serial":"MC-000001","for":"mitid.dk"}`), activity.LoggedOn, "MC-000001"},
		{"right password before the chip is not shown", entry("logon_password", `{"logon":"x"}`), "", ""},
		{"log off is not shown", entry("logoff", `{"session":"x"}`), "", ""},
		{"locked", entry("logon_locked", `{"until":"2026-03-01T12:15:00Z","lock":1}`), activity.LogonLocked, ""},
		{"password changed", entry("password_changed", `{"serial":"MC-000001","session":"s"}`), activity.PasswordChanged, "MC-000001"},
		{"wrong old password", entry("password_change_failed", `{"reason":"password"}`), activity.PasswordWrong, ""},
		{"right old password is not shown", entry("password_change_password", `{}`), "", ""},
		{"guessed names are gone", entry("logon_completed", `{}`), activity.Other, ""},
		{"failed logon", entry("logon_failed", `{}`), activity.LogonFailed, ""},
		{"retry bookkeeping is not shown", entry("handoff_redeemed_again", `{}`), "", ""},
		{"unknown event", entry("some_future_event", `{"serial":"MC-000001"}`), activity.Other, "MC-000001"},
		{"unknown event with markup in its name", entry("<b>evil</b>", `{}`), activity.Other, ""},
		{"serial with markup", entry("activation_completed", `{"serial":"<img src=x onerror=alert(1)>"}`), activity.ActivationCompleted, ""},
		{"serial a number", entry("activation_completed", `{"serial":42}`), activity.ActivationCompleted, ""},
		{"serial an object", entry("activation_completed", `{"serial":{"a":1}}`), activity.ActivationCompleted, ""},
		{"serial too long", entry("activation_completed", `{"serial":"`+strings.Repeat("A", 33)+`"}`), activity.ActivationCompleted, ""},
		{"detail not JSON", entry("activation_completed", `serial=MC-000001`), activity.ActivationCompleted, ""},
		{"detail an array", entry("activation_completed", `["MC-000001"]`), activity.ActivationCompleted, ""},
		{"detail empty", entry("activation_completed", ``), activity.ActivationCompleted, ""},
		{"detail huge", entry("activation_completed", `{"serial":"MC-1","pad":"`+strings.Repeat("x", activity.MaxDetail)+`"}`), activity.ActivationCompleted, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, shown := activity.Describe(tc.e)
			if tc.kind == "" {
				if shown {
					t.Fatalf("expected not shown, got %+v", ev)
				}
				return
			}
			want := activity.Event{ID: 7, At: t0, Kind: tc.kind, Message: "activity." + string(tc.kind), Serial: tc.serial}
			if !shown || ev != want {
				t.Fatalf("expected %+v, got %+v (shown %v)", want, ev, shown)
			}
		})
	}
}

// Every kind has its words in both catalogues of the page.
func TestCatalogue(t *testing.T) {
	for _, lang := range []string{"da", "en"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "web", "i18n", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatal(err)
		}
		for _, k := range activity.Kinds() {
			if strings.TrimSpace(cat["activity."+string(k)]) == "" {
				t.Errorf("i18n/%s.json: expected a message for activity.%s, got none", lang, k)
			}
		}
	}
}

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func get(t *testing.T, h http.Handler, method, query string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/mit/activity?"+query, nil))
	return rec
}

// The handler answers the person's events newest first, a page at a time, and
// nothing of anyone else's or of any detail but a serial.
func TestHandler(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	events := []string{"handoff_redeemed", "password_set", "chip_presented", "code_rejected", "code_accepted", "handoff_redeemed_again", "activation_completed", "chip_blocked"}
	for i, ev := range events {
		for _, p := range []string{"p1", "p2"} {
			if err := st.Audit(ctx, store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), PersonID: p, Event: ev,
				Detail: `{"serial":"MC-00000` + p[1:] + `","token_id":"TOKEN-ID-` + p + `"}`}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := activity.NewHandler(st).For("p1")
	var kinds []string
	before := ""
	for page := 0; ; page++ {
		q := "limit=3"
		if before != "" {
			q += "&before=" + before
		}
		rec := get(t, h, http.MethodGet, q)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("page %d: expected 200 no-store, got %d %q", page, rec.Code, rec.Header().Get("Cache-Control"))
		}
		if strings.Contains(rec.Body.String(), "TOKEN-ID") || strings.Contains(rec.Body.String(), "MC-000002") {
			t.Fatalf("page %d: expected only p1's events and no detail but the serial, got %s", page, rec.Body)
		}
		var a activity.Answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		for _, e := range a.Events {
			kinds = append(kinds, e.Kind)
			if e.Serial != "MC-000001" || e.Message != "activity."+e.Kind {
				t.Errorf("event %+v: expected chip MC-000001 and its message key", e)
			}
		}
		if a.Before == 0 {
			break
		}
		before = strconv.FormatInt(a.Before, 10)
		if page > 5 {
			t.Fatal("expected the pages to end")
		}
	}
	want := []string{"chip_blocked", "activation_completed", "code_accepted", "code_wrong", "chip_connected", "password_created", "activation_started"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events over the pages: expected %v, got %v", want, kinds)
	}

	for _, q := range []string{"before=0", "before=-1", "before=01", "limit=0", "limit=51", "limit=x", "limit=1&limit=2", "person=p2", "before=99999999999999999999", "%zz"} {
		if rec := get(t, h, http.MethodGet, q); rec.Code != http.StatusBadRequest {
			t.Errorf("query %q: expected 400, got %d", q, rec.Code)
		}
	}
	if rec := get(t, h, http.MethodPost, ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: expected 405, got %d", rec.Code)
	}
	var none activity.Answer
	rec := get(t, activity.NewHandler(st).For("nobody"), http.MethodGet, "")
	if err := json.Unmarshal(rec.Body.Bytes(), &none); err != nil || rec.Code != 200 || none.Events == nil || len(none.Events) != 0 {
		t.Errorf("a person without activity: expected 200 and an empty list, got %d %s", rec.Code, rec.Body)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "before=12&limit=3", "limit=50", "before=0", "before=1&before=2", "x=1", "%", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		before, limit, err := activity.ParseQuery(raw)
		if err != nil {
			return
		}
		if before < 0 || limit < 1 || limit > activity.MaxLimit {
			t.Fatalf("query %q: accepted before %d, limit %d", raw, before, limit)
		}
	})
}

// FuzzDescribe: whatever an entry holds, its event names a known kind, a catalogue
// key, and at most a serial of the serial's form, never other text of the detail.
func FuzzDescribe(f *testing.F) {
	f.Add("activation_completed", `{"serial":"MC-000001"}`)
	f.Add("chip_blocked", `{"serial":"MC-1","token_id":"x"}`)
	f.Add("unknown", `{"serial":"<b>"}`)
	f.Add("", ``)
	known := map[activity.Kind]bool{}
	for _, k := range activity.Kinds() {
		known[k] = true
	}
	f.Fuzz(func(t *testing.T, event, detail string) {
		ev, shown := activity.Describe(store.AuditEntry{ID: 1, At: t0, PersonID: "p", Event: event, Detail: detail})
		if !shown {
			return
		}
		if !known[ev.Kind] || ev.Message != "activity."+string(ev.Kind) {
			t.Fatalf("event %q: kind %q, message %q", event, ev.Kind, ev.Message)
		}
		if ev.Serial != "" && (len(ev.Serial) > 32 || !utf8.ValidString(ev.Serial) || strings.ContainsAny(ev.Serial, "<>\"'& ") || !strings.Contains(detail, ev.Serial)) {
			t.Fatalf("detail %q: serial %q", detail, ev.Serial)
		}
	})
}

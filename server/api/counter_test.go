package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/activity"
	"mitidchip/server/api"
	"mitidchip/server/counter"
	"mitidchip/server/store"
)

// Borgerservice's console over HTTP (docs/borgerservice.md): a caseworker logged on
// with their own chip, the role read on every request, and each refusal a person
// meets answered with its code and nothing written.

const (
	caseworkerID = "caseworker-1"
	office       = "Aarhus"
	docNumber    = "AB1234567" // must never reach the store or a log
)

// testRegister is a national register of three persons.
type testRegister map[string]counter.Person

func (r testRegister) Person(id string) (counter.Person, bool) {
	p, ok := r[id]
	return p, ok
}

var register = testRegister{
	"citizen-1": {ID: "citizen-1", Name: "Mette Hansen", UserID: "mette.hansen"},
	"citizen-2": {ID: "citizen-2", Name: "Lars Nielsen", UserID: "lars.n"},
}

func withCounter(c *setup) { c.Counter = &counter.Config{Register: register} }

// grant gives person the caseworker role at office, as `mitid-chip staff grant` does.
func (f *fixture) grant(person string) {
	f.t.Helper()
	if err := f.store.GrantStaff(f.ctx, store.StaffRole{PersonID: person, Office: office, GrantedAt: f.clock.Now()}); err != nil {
		f.t.Fatalf("grant %s: %v", person, err)
	}
}

// logOn logs person (activated with f.chips[i]) on at MitID.dk in a client of its
// own: their user ID, the password and a chip signature.
func (f *fixture) logOn(person string, i int) *client {
	f.t.Helper()
	c := f.newClient()
	l := f.logonBegin(c, "uid."+person).passed(password)
	var done api.LogonDone
	l.chip(f.chips[i], l.tr).decodeOK(f.t, &done)
	return c
}

// newConsole is a fixture with the console, a caseworker (chip 0) holding the role
// and logged on, and their console opened once.
func newConsole(t *testing.T, edits ...func(*setup)) (*fixture, *client) {
	t.Helper()
	f := newFixture(t, func(c *setup) {
		withCounter(c)
		for _, e := range edits {
			e(c)
		}
	})
	f.activate(caseworkerID, f.virtualChip(f.chips[0]))
	f.grant(caseworkerID)
	c := f.logOn(caseworkerID, 0)
	var me api.CounterMe
	c.get("/api/v1/counter").decodeOK(t, &me)
	if me.PersonID != caseworkerID || me.Office != office || me.IdleMinutes != 10 || me.FreshIn != int(counter.PressTTL.Seconds()) {
		t.Fatalf("console: expected %s at %s, 10 idle minutes and a fresh press, got %+v", caseworkerID, office, me)
	}
	return f, c
}

// check is a valid ID check for person.
func check(person string) api.CounterActivationRequest {
	return api.CounterActivationRequest{PersonID: person, DocumentType: "passport", DocumentNumber: docNumber,
		DocumentExpiry: t0.AddDate(3, 0, 0).Format(time.DateOnly)}
}

// refused expects the refusal and a store as it was.
func (f *fixture) refused(r response, status int, code string, before map[string][]string) {
	f.t.Helper()
	r.expectError(f.t, status, code)
	f.assertUnchanged(before)
}

// The happy path over HTTP: the citizen looked up, an activation started with a
// handover link and QR code, its ID check stored as a hash and audited with the
// caseworker and the office; nothing of the document number in the store or the log.
func TestCounterActivationAPI(t *testing.T) {
	f, c := newConsole(t)
	var cit api.CounterCitizen
	c.post("/api/v1/counter/citizen", api.CounterCitizenRequest{PersonID: "citizen-1"}).decodeOK(t, &cit)
	if cit.Name != "Mette Hansen" || cit.UserID != "mette.hansen" || cit.Chip != nil || cit.OpenActivation {
		t.Fatalf("citizen: %+v", cit)
	}
	var started api.CounterStarted
	c.post("/api/v1/counter/activation", check("citizen-1")).decodeOK(t, &started)
	if !strings.HasPrefix(started.URL, origin+api.ContinuePath+"#c=") || !strings.HasPrefix(started.QR, "data:image/svg+xml") || len(started.Code) != 9 {
		t.Fatalf("started: %+v", started)
	}
	dump, err := f.store.Dump(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprint(dump), docNumber) || strings.Contains(f.logs.String(), docNumber) {
		t.Fatal("the document number reached the store or the log")
	}
	var entries []store.AuditEntry
	entries, err = f.store.PersonAudit(f.ctx, "citizen-1", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]string
	for _, e := range entries {
		if e.Event == activation.EventAssistedStarted {
			if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil {
				t.Fatal(err)
			}
		}
	}
	if detail["caseworker"] != caseworkerID || detail["office"] != office || detail["document_type"] != "passport" {
		t.Fatalf("audit: expected the caseworker, office and document type, got %v", detail)
	}
	c.post("/api/v1/counter/citizen", api.CounterCitizenRequest{PersonID: "citizen-1"}).decodeOK(t, &cit)
	if !cit.OpenActivation {
		t.Fatalf("citizen after the start: expected an open activation, got %+v", cit)
	}
}

// Each refusal a person meets at the console: its answer, and the store unchanged.
func TestCounterRefusals(t *testing.T) {
	t.Run("not logged on", func(t *testing.T) {
		f, _ := newConsole(t)
		before := f.snapshot()
		f.refused(f.newClient().post("/api/v1/counter/activation", check("citizen-1")), http.StatusUnauthorized, "not_logged_on", before)
	})
	t.Run("no role", func(t *testing.T) {
		f, _ := newConsole(t)
		f.activate("person-b", f.virtualChip(f.chips[1]))
		other := f.logOn("person-b", 1)
		before := f.snapshot()
		f.refused(other.get("/api/v1/counter"), http.StatusForbidden, "not_caseworker", before)
		f.refused(other.post("/api/v1/counter/citizen", api.CounterCitizenRequest{PersonID: "citizen-1"}), http.StatusForbidden, "not_caseworker", before)
		f.refused(other.post("/api/v1/counter/activation", check("citizen-1")), http.StatusForbidden, "not_caseworker", before)
	})
	t.Run("withdrawn role", func(t *testing.T) {
		f, c := newConsole(t)
		if err := f.store.RevokeStaff(f.ctx, caseworkerID); err != nil {
			t.Fatal(err)
		}
		before := f.snapshot()
		// The next request, on the same logon.
		f.refused(c.post("/api/v1/counter/activation", check("citizen-1")), http.StatusForbidden, "not_caseworker", before)
		f.refused(c.get("/api/v1/counter"), http.StatusForbidden, "not_caseworker", before)
	})
	t.Run("self-activation", func(t *testing.T) {
		f, c := newConsole(t)
		before := f.snapshot()
		f.refused(c.post("/api/v1/counter/activation", check(caseworkerID)), http.StatusForbidden, "own_activation", before)
	})
	t.Run("expired document", func(t *testing.T) {
		f, c := newConsole(t)
		before := f.snapshot()
		req := check("citizen-1")
		req.DocumentExpiry = t0.AddDate(0, 0, -1).Format(time.DateOnly)
		f.refused(c.post("/api/v1/counter/activation", req), http.StatusUnprocessableEntity, "document_expired", before)
	})
	t.Run("missing fields", func(t *testing.T) {
		f, c := newConsole(t)
		before := f.snapshot()
		for name, edit := range map[string]func(*api.CounterActivationRequest){
			"no person":           func(r *api.CounterActivationRequest) { r.PersonID = "" },
			"no document type":    func(r *api.CounterActivationRequest) { r.DocumentType = "" },
			"unknown type":        func(r *api.CounterActivationRequest) { r.DocumentType = "library_card" },
			"no number":           func(r *api.CounterActivationRequest) { r.DocumentNumber = "" },
			"short number":        func(r *api.CounterActivationRequest) { r.DocumentNumber = "A1" },
			"no expiry":           func(r *api.CounterActivationRequest) { r.DocumentExpiry = "" },
			"expiry not a date":   func(r *api.CounterActivationRequest) { r.DocumentExpiry = "31/12/2030" },
			"impossible expiry":   func(r *api.CounterActivationRequest) { r.DocumentExpiry = "2030-02-30" },
			"serial not a chip's": func(r *api.CounterActivationRequest) { r.ChipSerial = "MC 000001\n" },
		} {
			req := check("citizen-1")
			edit(&req)
			r := c.post("/api/v1/counter/activation", req)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: expected 400, got %d %s", name, r.status, r.body)
				continue
			}
			r.expectError(t, http.StatusBadRequest, "fields_invalid")
		}
		f.assertUnchanged(before)
	})
	t.Run("second activation", func(t *testing.T) {
		f, c := newConsole(t)
		var started api.CounterStarted
		c.post("/api/v1/counter/activation", check("citizen-2")).decodeOK(t, &started)
		before := f.snapshot()
		f.refused(c.post("/api/v1/counter/activation", check("citizen-2")), http.StatusConflict, "activation_under_way", before)
		// The caseworker may end it; then a new one starts.
		var ended api.CounterEnded
		c.post("/api/v1/counter/activation/end", api.CounterCitizenRequest{PersonID: "citizen-2"}).decodeOK(t, &ended)
		if ended.Ended != 1 {
			t.Fatalf("end: expected 1 activation ended, got %d", ended.Ended)
		}
		c.post("/api/v1/counter/activation", check("citizen-2")).decodeOK(t, &started)
	})
	t.Run("cross-site POST", func(t *testing.T) {
		f, c := newConsole(t)
		before := f.snapshot()
		for _, o := range []string{"https://evil.example", "", "null"} {
			c.origin = o
			f.refused(c.post("/api/v1/counter/activation", check("citizen-1")), http.StatusForbidden, "origin_denied", before)
			f.refused(c.post("/api/v1/counter/block", api.CounterChipRequest{PersonID: "citizen-1", ChipSerial: f.chips[1].Serial}), http.StatusForbidden, "origin_denied", before)
		}
	})
	t.Run("stale press", func(t *testing.T) {
		f, c := newConsole(t)
		f.clock.Advance(counter.PressTTL + time.Second)
		// The console may still be read (and its use recorded); the act is refused.
		c.get("/api/v1/counter").decodeOK(t, &api.CounterMe{})
		before := f.snapshot()
		f.refused(c.post("/api/v1/counter/activation", check("citizen-1")), http.StatusUnauthorized, "press_stale", before)
	})
}

// kindsAt are the citizen's activity events at the office, as their self-service
// shows them (server/activity).
func (f *fixture) kindsAt(person string) []activity.Kind {
	f.t.Helper()
	page, err := activity.Of(f.ctx, f.store, person, 0, 50)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []activity.Kind
	for _, e := range page.Events {
		if e.Office == office {
			out = append(out, e.Kind)
		}
	}
	return out
}

// Block and unlock at the counter: a lost chip blocked for good, a chip the citizen
// locked themselves out of by wrong codes unlocked, so they can enter codes again;
// each in the citizen's activity with the office. Neither works on a chip that is
// not the citizen's active (block) or locked (unlock) one, and the store stays.
func TestCounterBlockUnlockAPI(t *testing.T) {
	f, c := newConsole(t, generous)
	lost := f.chips[1]
	f.activate("citizen-1", f.virtualChip(lost))

	before := f.snapshot()
	f.refused(c.post("/api/v1/counter/block", api.CounterChipRequest{PersonID: "citizen-1", ChipSerial: f.chips[2].Serial}), http.StatusConflict, "chip_changed", before)
	var done api.CounterDone
	c.post("/api/v1/counter/block", api.CounterChipRequest{PersonID: "citizen-1", ChipSerial: lost.Serial}).decodeOK(t, &done)
	if got := f.chipRow(lost.Serial); got.Status != store.ChipRevoked {
		t.Fatalf("blocked chip: expected revoked, got %s", got.Status)
	}
	if kinds := f.kindsAt("citizen-1"); !slices.Contains(kinds, activity.CounterBlocked) {
		t.Fatalf("citizen's activity: expected %s at %s, got %v", activity.CounterBlocked, office, kinds)
	}

	m := f.chips[2]
	vc := f.virtualChip(m)
	f.lockOut("citizen-2", vc, m.Seed)
	var cit api.CounterCitizen
	c.post("/api/v1/counter/citizen", api.CounterCitizenRequest{PersonID: "citizen-2"}).decodeOK(t, &cit)
	if len(cit.Locks) != 1 || cit.Locks[0].Serial != m.Serial {
		t.Fatalf("console: expected citizen-2 locked out of %s, got %+v", m.Serial, cit.Locks)
	}
	before = f.snapshot()
	f.refused(c.post("/api/v1/counter/unlock", api.CounterChipRequest{PersonID: "citizen-2", ChipSerial: lost.Serial}), http.StatusConflict, "chip_not_locked", before)
	c.post("/api/v1/counter/unlock", api.CounterChipRequest{PersonID: "citizen-2", ChipSerial: m.Serial}).decodeOK(t, &done)
	if got := f.failure(m.Serial, "citizen-2"); got.LockedAt(f.clock.Now()) {
		t.Fatalf("after the unlock: expected no lock, got until %v", got.LockedUntil)
	}
	if kinds := f.kindsAt("citizen-2"); !slices.Contains(kinds, activity.CounterUnlocked) {
		t.Fatalf("citizen's activity: expected %s at %s, got %v", activity.CounterUnlocked, office, kinds)
	}
	// The citizen enters codes again, at once.
	f.begin("citizen-2", vc).through("signature")
}

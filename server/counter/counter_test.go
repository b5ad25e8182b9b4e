package counter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/credential/kdf"
	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/counter"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
	"mitidchip/server/strictjson"
)

type register map[string]counter.Person

func (r register) Person(id string) (counter.Person, bool) { p, ok := r[id]; return p, ok }

type fixture struct {
	st  *store.SQLite
	cer *activation.Ceremony
	svc *counter.Service
	now time.Time
	ctx context.Context
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ctx: context.Background()}
	key, _ := seal.GenerateKey(rand.Reader)
	reg := registry.New(st, x509.NewCertPool(), seal.NewSealer(key, rand.Reader))
	clock := func() time.Time { return f.now }
	f.cer, err = activation.New(activation.Config{Store: st, Registry: reg, Now: clock, Rand: rand.Reader, KDF: kdf.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = counter.New(counter.Config{Store: st, Ceremony: f.cer, Now: clock, DocumentKey: counter.DocumentKey(key[:]),
		Register: register{
			"cw1": {ID: "cw1", Name: "Karen", UserID: "karen.sb"},
			"c1":  {ID: "c1", Name: "Mette", UserID: "mette.hansen"},
			"c2":  {ID: "c2", Name: "Lars"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The caseworker has a MitID of their own, and the role.
	if _, err := st.RedeemHandoff(f.ctx, store.Handoff{TokenID: "t-cw", PersonID: "cw1", UserID: "karen.sb", UsedAt: f.now, ExpiresAt: f.now.Add(time.Minute)},
		store.Session{ID: "s-cw", CookieHash: []byte("x"), CreatedAt: f.now, ExpiresAt: f.now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := st.GrantStaff(f.ctx, store.StaffRole{PersonID: "cw1", Office: "Aarhus", GrantedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) logon() store.LogonSession {
	return store.LogonSession{ID: "ls-" + f.now.Format("150405"), PersonID: "cw1", CreatedAt: f.now, SeenAt: f.now, ExpiresAt: f.now.Add(15 * time.Minute)}
}

func (f *fixture) check(person string) counter.IDCheck {
	return counter.IDCheck{PersonID: person, DocumentType: counter.DocPassport, DocumentNumber: "AB 123-4567", DocumentExpiry: "2030-01-31"}
}

// TestAssistedActivation: the caseworker's check starts the citizen's activation
// as a handoff would, reachable once by its handover code; the store keeps only a
// keyed hash of the document number; the audit names caseworker and office.
func TestAssistedActivation(t *testing.T) {
	f := newFixture(t)
	cw, err := f.svc.Admit(f.ctx, f.logon())
	if err != nil || cw.Office != "Aarhus" {
		t.Fatalf("admit: %+v %v", cw, err)
	}
	started, err := f.svc.Activate(f.ctx, cw, f.check("c1"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.st.AssistedActivation(f.ctx, started.ActivationID)
	if err != nil || a.CaseworkerID != "cw1" || a.Office != "Aarhus" || a.DocumentType != "passport" || len(a.DocumentHash) != 32 {
		t.Fatalf("assisted record: %+v %v", a, err)
	}
	rows := storetest.Snapshot(t, f.st)
	for table, lines := range rows {
		if s := strings.Join(lines, " "); strings.Contains(s, "AB1234567") || strings.Contains(s, "AB 123-4567") {
			t.Errorf("the document number is in %s", table)
		}
	}
	entries, _ := f.st.AuditEntries(f.ctx, started.ActivationID)
	if len(entries) == 0 || entries[0].Event != activation.EventAssistedStarted ||
		!strings.Contains(entries[0].Detail, `"caseworker":"cw1"`) || !strings.Contains(entries[0].Detail, `"office":"Aarhus"`) {
		t.Fatalf("audit: %+v", entries)
	}
	s, err := f.cer.FinishHandover(f.ctx, started.Code)
	if err != nil || s.Session.ID != started.ActivationID || s.Session.PersonID != "c1" {
		t.Fatalf("finish handover: %+v %v", s, err)
	}
	v, err := f.cer.View(f.ctx, s.Session)
	if err != nil || v.Office != "Aarhus" || v.UserID != "mette.hansen" || v.Step != activation.StepPassword {
		t.Fatalf("view: %+v %v", v, err)
	}
	if _, err := f.cer.FinishHandover(f.ctx, started.Code); activation.CodeOf(err) != activation.CodeHandoverUsed {
		t.Fatalf("code used twice: %v", err)
	}
}

// TestRefusals: each refusal answers its code and changes nothing.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	cw, err := f.svc.Admit(f.ctx, f.logon())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Activate(f.ctx, cw, f.check("c1")); err != nil {
		t.Fatal(err)
	}
	expired := f.check("c2")
	expired.DocumentExpiry = "2026-02-28"
	missing := f.check("c2")
	missing.DocumentNumber = ""
	badType := f.check("c2")
	badType.DocumentType = "library_card"
	withUID := f.check("c2")
	withUID.UserID = "lars.n"
	stale := cw
	stale.FreshUntil = f.now
	for _, c := range []struct {
		name string
		call func() error
		want counter.Code
	}{
		{"not a caseworker", func() error {
			ls := f.logon()
			ls.PersonID, ls.ID = "c1", "ls-c1"
			_, err := f.svc.Admit(f.ctx, ls)
			return err
		}, counter.CodeNotCaseworker},
		{"own activation", func() error { _, err := f.svc.Activate(f.ctx, cw, f.check("cw1")); return err }, counter.CodeOwnActivation},
		{"expired document", func() error { _, err := f.svc.Activate(f.ctx, cw, expired); return err }, counter.CodeDocumentExpired},
		{"missing document number", func() error { _, err := f.svc.Activate(f.ctx, cw, missing); return err }, counter.CodeFieldsInvalid},
		{"unknown document type", func() error { _, err := f.svc.Activate(f.ctx, cw, badType); return err }, counter.CodeFieldsInvalid},
		{"missing person", func() error { _, err := f.svc.Activate(f.ctx, cw, f.check("")); return err }, counter.CodeFieldsInvalid},
		{"not in the register", func() error { _, err := f.svc.Activate(f.ctx, cw, f.check("nobody")); return err }, counter.CodeCitizenUnknown},
		{"no user ID", func() error { _, err := f.svc.Activate(f.ctx, cw, f.check("c2")); return err }, counter.CodeUserIDNeeded},
		{"activation under way", func() error { _, err := f.svc.Activate(f.ctx, cw, f.check("c1")); return err }, counter.CodeActivationUnderWay},
		{"stale press", func() error { _, err := f.svc.Activate(f.ctx, stale, withUID); return err }, counter.CodePressStale},
		{"block without a chip", func() error { _, err := f.svc.Block(f.ctx, cw, "c1", "MC-000001"); return err }, counter.CodeNoActiveChip},
		{"unlock of a chip not locked", func() error { return f.svc.Unlock(f.ctx, cw, "c1", "MC-000001") }, counter.CodeChipNotLocked},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := storetest.Snapshot(t, f.st)
			err := c.call()
			if got := counter.CodeOf(err); got != c.want {
				t.Fatalf("expected %s, got %s (%v)", c.want, got, err)
			}
			storetest.AssertUnchanged(t, f.st, before)
		})
	}

	// The caseworker may end the activation under way; then a new one starts.
	if n, err := f.svc.EndActivations(f.ctx, cw, "c1"); err != nil || n != 1 {
		t.Fatalf("end: %d %v", n, err)
	}
	if _, err := f.svc.Activate(f.ctx, cw, f.check("c1")); err != nil {
		t.Fatalf("after ending: %v", err)
	}
	// A citizen without a user ID gets the one the caseworker typed.
	if _, err := f.svc.Activate(f.ctx, cw, withUID); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.st.Person(f.ctx, "c2"); p.UserID != "lars.n" {
		t.Fatalf("user ID: %q", p.UserID)
	}

	// A withdrawn role: the next request is refused, not the next logon.
	if err := f.st.RevokeStaff(f.ctx, "cw1"); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, f.st)
	if _, err := f.svc.Admit(f.ctx, f.logon()); counter.CodeOf(err) != counter.CodeNotCaseworker {
		t.Fatalf("withdrawn role: %v", err)
	}
	storetest.AssertUnchanged(t, f.st, before)
}

// TestIdle: the console's own idle timeout ends it for the logon session.
func TestIdle(t *testing.T) {
	f := newFixture(t)
	ls := f.logon()
	if _, err := f.svc.Admit(f.ctx, ls); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(counter.IdleTTL)
	if _, err := f.svc.Admit(f.ctx, ls); counter.CodeOf(err) != counter.CodeConsoleIdle {
		t.Fatalf("idle: %v", err)
	}
}

// FuzzNormalizeDocumentNumber: whatever is typed, a number accepted is 4 to 32
// upper-case letters and digits, and normalizing it again changes nothing.
func FuzzNormalizeDocumentNumber(f *testing.F) {
	for _, s := range []string{"AB 123-4567", "", "ab12", "ÆØÅ1234", strings.Repeat("9", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := counter.NormalizeDocumentNumber(s)
		if !ok {
			return
		}
		if len(n) < 4 || len(n) > counter.MaxDocumentNumber || strings.ToUpper(n) != n || bytes.ContainsAny([]byte(n), " -") {
			t.Fatalf("%q normalized to %q", s, n)
		}
		if again, ok := counter.NormalizeDocumentNumber(n); !ok || again != n {
			t.Fatalf("not stable: %q -> %q", n, again)
		}
	})
}

// FuzzActivationBody: the console's activation body, decoded as the API decodes
// it, is either refused with a code other than internal and changes nothing, or
// starts an activation.
func FuzzActivationBody(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{
		`{"person_id":"c1","document_type":"passport","document_number":"AB1234","document_expiry":"2030-01-01"}`,
		`{"person_id":"c2","user_id":"lars.n","document_type":"foreign_id","document_number":"x","document_expiry":"2026-02-30"}`,
		`{"person_id":"cw1","document_type":"passport","document_number":"AB1234","document_expiry":"2030-01-01","chip_serial":"MC-1"}`,
		`{"PERSON_ID":"c1"}`, `{"person_id":"c1","person_id":"c2"}`, `{}`, `[]`, `{"person_id":"\ud800"}`,
	} {
		f.Add(s)
	}
	cw, err := fx.svc.Admit(fx.ctx, fx.logon())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req api.CounterActivationRequest
		if strictjson.Decode(strings.NewReader(body), &req) != nil {
			return
		}
		before := storetest.Snapshot(t, fx.st)
		_, err := fx.svc.Activate(fx.ctx, cw, counter.IDCheck{PersonID: req.PersonID, UserID: req.UserID, DocumentType: req.DocumentType,
			DocumentNumber: req.DocumentNumber, DocumentExpiry: req.DocumentExpiry, ChipSerial: req.ChipSerial})
		if err == nil {
			_, _ = fx.svc.EndActivations(fx.ctx, cw, req.PersonID) // room for the next input
			return
		}
		if counter.CodeOf(err) == counter.CodeInternal {
			t.Fatalf("%q: internal: %v", body, err)
		}
		storetest.AssertUnchanged(t, fx.st, before)
	})
}

package api_test

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// TestFullActivation runs the whole ceremony against the real handler, from the
// handoff to completed, and then finds the binding in the store.
func TestFullActivation(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	cm := &ceremony{f: f, c: f.newClient(), person: "person-a", vc: f.virtualChip(m), token: f.token("person-a", "Alice.Example")}

	res := cm.c.post("/api/v1/handoff", redeemReq(cm.token))
	redeemed := res.state(t, "password")
	cookies := (&http.Response{Header: res.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("expected one session cookie, got %v", cookies)
	}
	cookie := cookies[0]
	if cookie.Name != api.CookieName(false) || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode ||
		cookie.Secure || cookie.Path != "/" || len(cookie.Value) < 43 {
		t.Errorf("expected an HttpOnly, SameSite=Strict, path / cookie %q of 32 random bytes (not Secure on loopback http), got %+v",
			api.CookieName(false), cookie)
	}

	// Each step survives a reload: the state is read back from the server.
	resume := func(step string) api.State {
		t.Helper()
		return cm.c.get("/api/v1/activation").state(t, step)
	}
	if s := resume("password"); s.ActivationID != redeemed.ActivationID || s.UserID != "alice.example" || s.TriesLeft != activation.BlockAfter {
		t.Errorf("expected activation %s for user alice.example with %d tries, got %+v", redeemed.ActivationID, activation.BlockAfter, s)
	}
	cm.setPassword()
	resume("chip")
	cm.presentChip()
	if s := resume("code"); s.ChipSerial != m.Serial || s.Binding == nil {
		t.Errorf("expected chip %s and a binding on reload, got %+v", m.Serial, s)
	}
	cm.enterCode()
	resume("sign")
	cm.finish()
	done := resume("completed")
	if done.Binding != nil {
		t.Errorf("expected no binding once completed, got %+v", done.Binding)
	}

	// The binding, as stored.
	now := f.clock.Now()
	active, err := f.store.ActiveChip(f.ctx, cm.person)
	if err != nil || active.Serial != m.Serial || active.Status != store.ChipBound || active.PersonID != cm.person ||
		!active.BoundAt.Equal(now) || active.LastStep != now.Unix()/int64(registry.Period.Seconds()) {
		t.Errorf("expected chip %s bound to %s at %v with the current step used, got %+v (%v)", m.Serial, cm.person, now, active, err)
	}
	p, err := f.store.Person(f.ctx, cm.person)
	if err != nil {
		t.Fatalf("person: %v", err)
	}
	s, err := f.store.Session(f.ctx, done.ActivationID)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	if !bytes.Equal(p.PasswordVerifier, cm.verifier) || p.KDF.Time != testKDF.Time || p.KDF.MemoryKiB != testKDF.MemoryKiB ||
		p.KDF.Threads != testKDF.Threads || !bytes.Equal(p.KDF.Salt, s.KDF.Salt) || p.UserID != "alice.example" {
		t.Errorf("expected person with the ceremony's verifier %x and KDF %+v salt %x, got %+v", cm.verifier, testKDF, s.KDF.Salt, p)
	}
	if s.State != store.StateCompleted {
		t.Errorf("expected session completed, got %s", s.State)
	}

	// The audit trail: one entry per step, none holding a secret.
	entries, err := f.store.AuditEntries(f.ctx, done.ActivationID)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var events []string
	for _, e := range entries {
		events = append(events, e.Event)
		if e.PersonID != cm.person || e.ActivationID != done.ActivationID {
			t.Errorf("audit %s: expected person %s and activation %s, got %+v", e.Event, cm.person, done.ActivationID, e)
		}
	}
	want := []string{"handoff_redeemed", "password_set", "chip_presented", "code_accepted", "activation_completed"}
	if !slices.Equal(events, want) {
		t.Errorf("expected audit events %q, got %q", want, events)
	}
	secrets := secretsOf(cm, cookie.Value)
	for _, e := range entries {
		for name, v := range secrets {
			if strings.Contains(e.Detail, v) {
				t.Errorf("audit %s holds the %s: %s", e.Event, name, e.Detail)
			}
		}
	}
	// Nowhere else in the store either (the code is left out: six digits can occur
	// inside any number).
	dump := strings.Join(slices.Concat(mapsValues(f.snapshot())...), "\n")
	for name, v := range secrets {
		if name != "code" && strings.Contains(dump, v) {
			t.Errorf("the store holds the %s", name)
		}
	}
	assertLogClean(t, f.logs.String(), secrets)

	// A finished activation takes no more steps.
	cm.c.post("/api/v1/password", api.PasswordRequest{Verifier: cm.verifier}).expectError(t, http.StatusConflict, "already_completed")
}

// secretsOf lists the values of a ceremony that must never be stored or logged.
func secretsOf(cm *ceremony, cookie string) map[string]string {
	var seed []byte
	for _, m := range cm.f.chips {
		if m.Serial == cm.vc.Serial() {
			seed = m.Seed
		}
	}
	return map[string]string{
		"handoff token":     cm.token,
		"token signature":   cm.token[strings.LastIndex(cm.token, ".")+1:],
		"session cookie":    cookie,
		"password":          password,
		"code":              cm.code,
		"seed (hex)":        hex.EncodeToString(seed),
		"seed (base32)":     base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed),
		"seed (base64)":     base64.StdEncoding.EncodeToString(seed),
		"seed (raw base64)": base64.RawStdEncoding.EncodeToString(seed),
	}
}

func mapsValues(m map[string][]string) [][]string {
	var out [][]string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// assertLogClean checks every JSON log line for the secrets, leaving out the time,
// whose nanoseconds could hold any six digits.
func assertLogClean(t *testing.T, logs string, secrets map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		delete(rec, "time")
		b, _ := json.Marshal(rec)
		for name, v := range secrets {
			if v != "" && strings.Contains(string(b), v) {
				t.Errorf("log line holds the %s: %s", name, l)
			}
		}
	}
}

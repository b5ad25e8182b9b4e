package activation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/credential/kdf"
	"mitidchip/server/activation"
	"mitidchip/server/handoff"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// t0 is ten seconds into a TOTP step, so whole-step moves never land on a boundary.
var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

// bench is the ceremony on a real SQLite store and registry, with a fixed clock and
// chips minted by a trusted CA: no HTTP anywhere.
type bench struct {
	t     *testing.T
	ctx   context.Context
	now   time.Time
	st    *store.SQLite
	c     *activation.Ceremony
	chips []manufacturer.Chip
	n     int // handoffs issued
}

func newBench(t *testing.T) *bench {
	t.Helper()
	b := &bench{t: t, ctx: context.Background(), now: t0}
	st, err := store.Open(filepath.Join(t.TempDir(), "activation.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	b.st = st
	ca, err := manufacturer.NewCA("Trusted Chips A/S", rand.Reader, t0)
	if err != nil {
		t.Fatalf("CA: %v", err)
	}
	if b.chips, err = ca.Batch("TST", 2, rand.Reader, t0); err != nil {
		t.Fatalf("mint: %v", err)
	}
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("seal key: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	reg := registry.New(st, roots, seal.NewSealer(key, rand.Reader))
	var file bytes.Buffer
	if err := manufacturer.WriteDelivery(&file, "Trusted Chips A/S", b.chips); err != nil {
		t.Fatalf("delivery: %v", err)
	}
	if _, _, err := reg.Import(b.ctx, &file, t0); err != nil {
		t.Fatalf("import: %v", err)
	}
	b.c, err = activation.New(activation.Config{
		Store: st, Registry: reg, Now: func() time.Time { return b.now }, Rand: rand.Reader,
		KDF: kdf.Params{Time: 1, MemoryKiB: 8192, Threads: 1},
	})
	if err != nil {
		t.Fatalf("activation.New: %v", err)
	}
	return b
}

// redeem starts an activation for person as a verified handoff would.
func (b *bench) redeem(person string) activation.Started {
	b.t.Helper()
	b.n++
	st, err := b.c.Redeem(b.ctx, handoff.Claims{TokenID: "tok-" + person + "-" + strconv.Itoa(b.n), PersonID: person, UserID: "uid." + person, Expiry: b.now.Add(10 * time.Minute), IssuedAt: b.now}, "request-"+strconv.Itoa(b.n)+"-AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		b.t.Fatalf("Redeem: %v", err)
	}
	return st
}

// hello is the chip's hello reply payload, as the page forwards it.
func hello(t *testing.T, m manufacturer.Chip, now time.Time) []byte {
	t.Helper()
	vc, err := virtual.New(m.Config(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("virtual chip: %v", err)
	}
	req, _ := chip.Frame{Type: chip.TypeHello, RequestID: 7}.Encode()
	raw, err := vc.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("hello: %v", err)
	}
	f, err := chip.Decode(raw)
	if err != nil {
		t.Fatalf("hello reply: %v", err)
	}
	return f.Payload
}

func code(t *testing.T, m manufacturer.Chip, at time.Time) string {
	t.Helper()
	c, err := virtual.Code(m.Seed, at, 6)
	if err != nil {
		t.Fatalf("code: %v", err)
	}
	return c
}

func verifier(t *testing.T) []byte {
	t.Helper()
	priv, err := kdf.Derive("Blåbærgrød og 7 små ænder", make([]byte, 16), kdf.Params{Time: 1, MemoryKiB: 8192, Threads: 1})
	if err != nil {
		t.Fatalf("derive: %v", err)
	}
	return kdf.Verifier(priv)
}

func wantCode(t *testing.T, err error, want activation.Code) {
	t.Helper()
	if got := activation.CodeOf(err); got != want {
		t.Fatalf("expected refusal %s, got %s (%v)", want, got, err)
	}
}

// TestCeremony walks one activation from handoff to binding through the Go calls,
// checking the view at every step, and that the chip ends bound to the person.
func TestCeremony(t *testing.T) {
	b := newBench(t)
	m := b.chips[0]
	started := b.redeem("person-1")
	s, err := b.c.Resume(b.ctx, started.Cookie)
	if err != nil || s.ID != started.Session.ID {
		t.Fatalf("Resume: expected session %s, got %s (%v)", started.Session.ID, s.ID, err)
	}
	step := func(s store.Session, want activation.Step) {
		t.Helper()
		v, err := b.c.View(b.ctx, s)
		if err != nil || v.Step != want {
			t.Fatalf("view: expected step %s, got %s (%v)", want, v.Step, err)
		}
	}
	step(s, activation.StepPassword)
	if s, err = b.c.SetPassword(b.ctx, s, verifier(t)); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	step(s, activation.StepChip)
	if s, err = b.c.PresentChip(b.ctx, s, hello(t, m, b.now)); err != nil {
		t.Fatalf("PresentChip: %v", err)
	}
	step(s, activation.StepCode)
	v, _ := b.c.View(b.ctx, s)
	if v.Binding == nil || v.Binding.ChipSerial != m.Serial || v.Binding.UserID != "person-1" {
		t.Fatalf("binding: expected chip %s for person-1, got %+v", m.Serial, v.Binding)
	}
	if s, err = b.c.CheckCode(b.ctx, s, code(t, m, b.now)); err != nil {
		t.Fatalf("CheckCode: %v", err)
	}
	step(s, activation.StepSign)
	hash, err := v.Binding.Hash()
	if err != nil {
		t.Fatalf("transcript: %v", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if s, err = b.c.Finish(b.ctx, s, sig); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	step(s, activation.StepCompleted)
	c, err := b.st.ActiveChip(b.ctx, "person-1")
	if err != nil || c.Serial != m.Serial {
		t.Fatalf("active chip of person-1: expected %s, got %q (%v)", m.Serial, c.Serial, err)
	}
	// A completed activation is final.
	_, err = b.c.SetPassword(b.ctx, s, verifier(t))
	wantCode(t, err, activation.CodeAlreadyCompleted)
}

// TestCeremonyRefusals: each refusal has its code, and a refusal caused by the
// session's state is marked as a conflict.
func TestCeremonyRefusals(t *testing.T) {
	b := newBench(t)
	m := b.chips[1]

	// A handoff must carry a MitID user ID that keeps the rules; one that does not
	// is refused before anything is written.
	before := storetest.Snapshot(t, b.st)
	for _, uid := range []string{"", "abc", "0123456789xyz"} {
		_, err := b.c.Redeem(b.ctx, handoff.Claims{TokenID: "tok-no-uid-" + uid, PersonID: "person-no-uid", UserID: uid,
			Expiry: b.now.Add(10 * time.Minute), IssuedAt: b.now}, "request-no-uid-AAAAAAAAAAAAAAAAAAAAAA")
		wantCode(t, err, activation.CodeUserIDMissing)
	}
	storetest.AssertUnchanged(t, b.st, before)

	_, err := b.c.Resume(b.ctx, "")
	wantCode(t, err, activation.CodeNoSession)
	_, err = b.c.Resume(b.ctx, "no-such-cookie")
	wantCode(t, err, activation.CodeNoSession)

	started := b.redeem("person-2")
	s := started.Session
	_, err = b.c.PresentChip(b.ctx, s, hello(t, m, b.now))
	wantCode(t, err, activation.CodeOutOfOrder)
	var e *activation.Error
	if !errors.As(err, &e) || !e.Conflict {
		t.Fatalf("out of order: expected a conflict, got %#v", err)
	}
	_, err = b.c.SetPassword(b.ctx, s, make([]byte, 32)) // the all-zero key has small order
	wantCode(t, err, activation.CodeVerifierInvalid)

	s, err = b.c.SetPassword(b.ctx, s, verifier(t))
	if err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	_, err = b.c.PresentChip(b.ctx, s, []byte("not a hello"))
	wantCode(t, err, activation.CodeHelloInvalid)
	if s, err = b.c.PresentChip(b.ctx, s, hello(t, m, b.now)); err != nil {
		t.Fatalf("PresentChip: %v", err)
	}
	_, err = b.c.CheckCode(b.ctx, s, "12345")
	wantCode(t, err, activation.CodeCodeFormat)

	right := code(t, m, b.now)
	wrong := "000000"
	if wrong == right {
		wrong = "000001"
	}
	for i := 1; i <= activation.BlockAfter; i++ {
		s, err = b.c.CheckCode(b.ctx, s, wrong)
		if i < activation.BlockAfter {
			wantCode(t, err, activation.CodeCodeWrong)
			if !errors.As(err, &e) || e.TriesLeft != activation.BlockAfter-i {
				t.Fatalf("wrong code %d: expected %d tries left, got %#v", i, activation.BlockAfter-i, err)
			}
			continue
		}
		wantCode(t, err, activation.CodeActivationBlocked)
	}
	_, err = b.c.CheckCode(b.ctx, s, right)
	wantCode(t, err, activation.CodeActivationBlocked)

	// An expired session is refused; its cookie names it, but it is over.
	other := b.redeem("person-3")
	b.now = b.now.Add(b.c.SessionTTL())
	_, err = b.c.Resume(b.ctx, other.Cookie)
	wantCode(t, err, activation.CodeSessionExpired)
}

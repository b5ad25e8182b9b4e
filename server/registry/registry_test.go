package registry_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/delivery"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// t0 is ten seconds into a TOTP step, so one step back and one ahead are both whole
// steps away from any boundary.
var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

// rfcSeed is the RFC 6238 test secret: fixed, so code collisions between steps in the
// CheckCode cases are fixed too, not a one-in-a-million flake.
var rfcSeed = []byte("12345678901234567890")

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.SQLite
	sealer *seal.Sealer
	reg    *registry.Registry
	ca     *manufacturer.CA // trusted
	other  *manufacturer.CA // not trusted
	chips  []manufacturer.Chip
}

// newEnv is an empty store and a registry trusting one CA, with three chips minted by
// it and not yet imported.
func newEnv(t *testing.T) env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("seal key: %v", err)
	}
	ca, err := manufacturer.NewCA("Trusted Chips A/S", rand.Reader, t0)
	if err != nil {
		t.Fatalf("CA: %v", err)
	}
	other, err := manufacturer.NewCA("Other Chips Ltd", rand.Reader, t0)
	if err != nil {
		t.Fatalf("other CA: %v", err)
	}
	chips, err := ca.Batch("TST", 3, rand.Reader, t0)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	sealer := seal.NewSealer(key, rand.Reader)
	return env{t: t, ctx: context.Background(), st: st, sealer: sealer,
		reg: registry.New(st, roots, sealer), ca: ca, other: other, chips: chips}
}

func deliveryFile(t *testing.T, chips ...manufacturer.Chip) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := manufacturer.WriteDelivery(&b, "Trusted Chips A/S", chips); err != nil {
		t.Fatalf("write delivery: %v", err)
	}
	return b.Bytes()
}

func (e env) mustImport(chips ...manufacturer.Chip) {
	e.t.Helper()
	if _, _, err := e.reg.Import(e.ctx, bytes.NewReader(deliveryFile(e.t, chips...)), t0); err != nil {
		e.t.Fatalf("import: %v", err)
	}
}

func (e env) mint(ca *manufacturer.CA, serial string) manufacturer.Chip {
	e.t.Helper()
	c, err := ca.Mint(serial, rand.Reader, t0)
	if err != nil {
		e.t.Fatalf("mint %s: %v", serial, err)
	}
	return c
}

func (e env) chip(serial string) store.Chip {
	e.t.Helper()
	c, err := e.st.Chip(e.ctx, serial)
	if err != nil {
		e.t.Fatalf("chip %s: %v", serial, err)
	}
	return c
}

// bind takes serial through a whole activation for person in the store, as the API
// would, so the chip ends bound (and the person's earlier chip retired).
func (e env) bind(person, serial, token string, step int64) {
	e.t.Helper()
	cookie := sha256.Sum256([]byte(token))
	s, err := e.st.RedeemHandoff(e.ctx,
		store.Handoff{TokenID: token, PersonID: person, UsedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)},
		store.Session{ID: "act-" + token, CookieHash: cookie[:], CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)})
	if err != nil {
		e.t.Fatalf("redeem %s: %v", token, err)
	}
	s.State, s.PasswordVerifier = store.StatePasswordSet, bytes.Repeat([]byte{7}, 32)
	if s, err = e.st.UpdateSession(e.ctx, s); err != nil {
		e.t.Fatalf("set password: %v", err)
	}
	s.State, s.ChipSerial, s.ChipPublicKey, s.Nonce = store.StateChipPresented, serial, []byte("pub"), []byte("nonce")
	if s, err = e.st.UpdateSession(e.ctx, s); err != nil {
		e.t.Fatalf("present %s: %v", serial, err)
	}
	if s, err = e.st.AcceptCode(e.ctx, s, step, step, codeLimits, t0); err != nil {
		e.t.Fatalf("accept code: %v", err)
	}
	if _, err = e.st.Complete(e.ctx, s, t0); err != nil {
		e.t.Fatalf("complete: %v", err)
	}
}

var codeLimits = store.CodeLimits{BlockAfter: 3, LockAfter: 10, FirstLock: time.Minute, MaxLock: time.Hour, Attempts: 10, AttemptWindow: time.Minute}

func TestImport(t *testing.T) {
	e := newEnv(t)
	file := deliveryFile(t, e.chips...)
	added, total, err := e.reg.Import(e.ctx, bytes.NewReader(file), t0)
	if err != nil || added != 3 || total != 3 {
		t.Fatalf("first import: expected 3 added of 3, got %d of %d (%v)", added, total, err)
	}
	for _, m := range e.chips {
		c := e.chip(m.Serial)
		if c.Status != store.ChipAvailable || !bytes.Equal(c.CertDER, m.Certificate) || !c.ImportedAt.Equal(t0) {
			t.Errorf("chip %s: expected available with its certificate imported at %v, got %+v", m.Serial, t0, c)
		}
		if bytes.Contains(c.SealedSeed, m.Seed) {
			t.Errorf("chip %s: seed stored in the clear", m.Serial)
		}
		seed, err := e.sealer.Open(c.SealedSeed, []byte(m.Serial))
		if err != nil || !bytes.Equal(seed, m.Seed) {
			t.Errorf("chip %s: sealed seed expected to open to the delivered seed, got %x (%v)", m.Serial, seed, err)
		}
		// Sealed to its serial: moving a sealed seed to another chip's row is useless.
		if _, err := e.sealer.Open(c.SealedSeed, []byte("OTHER-SERIAL")); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("chip %s: expected the seed not to open under another serial, got %v", m.Serial, err)
		}
	}

	before := storetest.Snapshot(t, e.st)
	added, total, err = e.reg.Import(e.ctx, bytes.NewReader(file), t0.Add(time.Hour))
	if err != nil || added != 0 || total != 3 {
		t.Fatalf("re-import: expected 0 added of 3, got %d of %d (%v)", added, total, err)
	}
	storetest.AssertUnchanged(t, e.st, before)
}

// TestImportAllOrNone: every bad file leaves the registry as it was, with an error
// that says what and where.
func TestImportAllOrNone(t *testing.T) {
	e := newEnv(t)
	e.mustImport(e.chips[0])
	good := e.chips[1:]
	foreign := e.mint(e.other, "FOREIGN-1")
	clone := e.mint(e.ca, e.chips[0].Serial) // registered serial, another certificate

	malformed := strings.SplitAfter(string(deliveryFile(t, good...)), "\n")
	malformed[2] = `{"serial": "TST-000003", "seed":` + "\n" // line 3
	badSeed := strings.SplitAfter(string(deliveryFile(t, good...)), "\n")
	badSeed[1] = strings.Replace(badSeed[1], `"seed":"`, `"seed":"!`, 1) // line 2

	cases := []struct {
		name   string
		file   []byte
		at     time.Time
		want   error  // errors.Is target, if any
		line   int    // the *delivery.LineError line, if any
		naming string // the error message must contain it
	}{
		{"chip of an untrusted CA among good ones", deliveryFile(t, good[0], foreign, good[1]), t0, registry.ErrUntrustedCA, 0, "FOREIGN-1"},
		{"malformed JSON on line 3", []byte(strings.Join(malformed, "")), t0, nil, 3, "line 3"},
		{"undecodable seed on line 2", []byte(strings.Join(badSeed, "")), t0, nil, 2, "line 2"},
		{"header only", deliveryFile(t), t0, nil, 1, "line 1"},
		{"empty file", nil, t0, nil, 1, "line 1"},
		{"certificates expired at import", deliveryFile(t, good...), t0.AddDate(11, 0, 0), registry.ErrUntrustedCA, 0, good[0].Serial},
		{"registered serial with another certificate", deliveryFile(t, good[0], clone), t0, store.ErrImportConflict, 0, clone.Serial},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := storetest.Snapshot(t, e.st)
			added, total, err := e.reg.Import(e.ctx, bytes.NewReader(c.file), c.at)
			if err == nil {
				t.Fatalf("expected an error, got %d added of %d", added, total)
			}
			if added != 0 || total != 0 {
				t.Errorf("expected 0 added of 0 with the error, got %d of %d", added, total)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("expected an error matching %v, got %v", c.want, err)
			}
			if c.line != 0 {
				var le *delivery.LineError
				if !errors.As(err, &le) || le.Line != c.line {
					t.Errorf("expected a LineError for line %d, got %#v", c.line, err)
				}
			}
			if !strings.Contains(err.Error(), c.naming) {
				t.Errorf("expected the error to name %q, got %q", c.naming, err)
			}
			storetest.AssertUnchanged(t, e.st, before)
		})
	}
}

func hello(t *testing.T, serial string, key *ecdsa.PrivateKey, cert []byte) chip.Hello {
	t.Helper()
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	return chip.Hello{Serial: serial, Firmware: "1.0.0", PublicKey: pub, Certificate: cert}
}

func TestAttest(t *testing.T) {
	e := newEnv(t)
	c0, c1, c2 := e.chips[0], e.chips[1], e.chips[2]
	boundC := e.mint(e.ca, "TST-BOUND")
	retired := e.mint(e.ca, "TST-RETIRED")
	revoked := e.mint(e.ca, "TST-REVOKED")
	e.mustImport(c0, c1, boundC, retired, revoked)
	e.bind("person-r", retired.Serial, "token-retired-0001", 1)
	e.bind("person-r", boundC.Serial, "token-retired-0002", 2) // retires the first
	if err := e.st.RevokeChip(e.ctx, revoked.Serial); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	foreignClone := e.mint(e.other, c0.Serial)
	trustedClone := e.mint(e.ca, c0.Serial)

	cases := []struct {
		name   string
		hello  chip.Hello
		at     time.Time
		want   error
		status store.ChipStatus // when want is nil
	}{
		{"registered chip", hello(t, c0.Serial, c0.Key, c0.Certificate), t0, nil, store.ChipAvailable},
		{"bound chip is the caller's to judge", hello(t, boundC.Serial, boundC.Key, boundC.Certificate), t0, nil, store.ChipBound},
		{"unknown serial", hello(t, c2.Serial, c2.Key, c2.Certificate), t0, registry.ErrUnknownChip, ""},
		{"registered serial, certificate of another CA", hello(t, c0.Serial, foreignClone.Key, foreignClone.Certificate), t0, registry.ErrUntrustedCA, ""},
		{"registered serial, trusted CA but not the registered certificate", hello(t, c0.Serial, trustedClone.Key, trustedClone.Certificate), t0, registry.ErrNotAttested, ""},
		{"key differs from the certificate's", hello(t, c0.Serial, c1.Key, c0.Certificate), t0, registry.ErrNotAttested, ""},
		{"certificate of another chip", hello(t, c0.Serial, c1.Key, c1.Certificate), t0, registry.ErrNotAttested, ""},
		{"certificate not DER", hello(t, c0.Serial, c0.Key, []byte("not a certificate")), t0, registry.ErrNotAttested, ""},
		{"certificate expired", hello(t, c0.Serial, c0.Key, c0.Certificate), t0.AddDate(11, 0, 0), registry.ErrUntrustedCA, ""},
		{"revoked", hello(t, revoked.Serial, revoked.Key, revoked.Certificate), t0, registry.ErrRevoked, ""},
		{"retired", hello(t, retired.Serial, retired.Key, retired.Certificate), t0, registry.ErrRetired, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.reg.Attest(e.ctx, c.hello, c.at)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("expected %v, got %v (chip %+v)", c.want, err, got)
				}
				if got.Serial != "" {
					t.Errorf("expected no chip with the error, got %s", got.Serial)
				}
				return
			}
			if err != nil {
				t.Fatalf("expected the chip, got %v", err)
			}
			if got.Serial != c.hello.Serial || got.Status != c.status {
				t.Errorf("expected chip %s %s, got %s %s", c.hello.Serial, c.status, got.Serial, got.Status)
			}
		})
	}
}

// codeAt is the chip's code for the step holding t.
func codeAt(t testing.TB, seed []byte, at time.Time) string {
	t.Helper()
	c, err := virtual.Code(seed, at, 6)
	if err != nil {
		t.Fatalf("code: %v", err)
	}
	return c
}

func stepOf(at time.Time) int64 { return at.Unix() / 30 }

func (e env) sealedChip(serial string, seed []byte, lastStep int64) store.Chip {
	e.t.Helper()
	sealed, err := e.sealer.Seal(seed, []byte(serial))
	if err != nil {
		e.t.Fatalf("seal: %v", err)
	}
	return store.Chip{Serial: serial, SealedSeed: sealed, LastStep: lastStep, Status: store.ChipAvailable}
}

// wrongCode is a well-formed code that matches none of the steps CheckCode tries at t.
func wrongCode(t testing.TB, seed []byte, at time.Time) string {
	t.Helper()
	taken := map[string]bool{}
	for d := -1; d <= 1; d++ {
		taken[codeAt(t, seed, at.Add(time.Duration(d)*registry.Period))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !taken[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestCheckCode(t *testing.T) {
	e := newEnv(t)
	now := t0
	cur := stepOf(now)
	fresh := e.sealedChip("TST-CODE", rfcSeed, cur-5)
	code := func(d time.Duration) string { return codeAt(t, rfcSeed, now.Add(d)) }

	cases := []struct {
		name     string
		chip     store.Chip
		code     string
		want     error
		wantStep int64
	}{
		{"current step", fresh, code(0), nil, cur},
		{"one step behind", fresh, code(-registry.Period), nil, cur - 1},
		{"one step ahead", fresh, code(registry.Period), nil, cur + 1},
		{"two steps behind", fresh, code(-2 * registry.Period), registry.ErrWrongCode, 0},
		{"two steps ahead", fresh, code(2 * registry.Period), registry.ErrWrongCode, 0},
		{"wrong digits", fresh, wrongCode(t, rfcSeed, now), registry.ErrWrongCode, 0},
		{"another chip's code", e.sealedChip("TST-OTHER", bytes.Repeat([]byte{9}, 20), cur-5), code(0), registry.ErrWrongCode, 0},
		{"replay: the step already used", e.sealedChip("TST-CODE", rfcSeed, cur), code(0), registry.ErrStepReplayed, cur},
		{"replay: a step before the one used", e.sealedChip("TST-CODE", rfcSeed, cur), code(-registry.Period), registry.ErrStepReplayed, cur - 1},
		{"replay: behind a step used ahead", e.sealedChip("TST-CODE", rfcSeed, cur+1), code(0), registry.ErrStepReplayed, cur},
		// A step recorded beyond the window came from a clock that was ahead: once
		// the clock is right, it holds back none of the chip's codes.
		{"last step used beyond the window", e.sealedChip("TST-CODE", rfcSeed, cur+4), code(0), nil, cur},
		{"last step used beyond the window, code ahead", e.sealedChip("TST-CODE", rfcSeed, cur+2), code(registry.Period), nil, cur + 1},
		{"the step after the one used", e.sealedChip("TST-CODE", rfcSeed, cur-1), code(0), nil, cur},
		{"ahead of the step used", e.sealedChip("TST-CODE", rfcSeed, cur), code(registry.Period), nil, cur + 1},
		{"empty", fresh, "", registry.ErrCodeFormat, 0},
		{"five digits", fresh, code(0)[:5], registry.ErrCodeFormat, 0},
		{"seven digits", fresh, code(0) + "0", registry.ErrCodeFormat, 0},
		{"letter", fresh, "12345a", registry.ErrCodeFormat, 0},
		{"space", fresh, " " + code(0)[:5], registry.ErrCodeFormat, 0},
		{"trailing newline", fresh, code(0)[:5] + "\n", registry.ErrCodeFormat, 0},
		{"sign", fresh, "+12345", registry.ErrCodeFormat, 0},
		{"non-ASCII digits", fresh, "١٢٣٤٥٦", registry.ErrCodeFormat, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			step, err := e.reg.CheckCode(c.chip, c.code, now)
			if c.want != nil {
				if !errors.Is(err, c.want) || step != c.wantStep {
					t.Fatalf("expected step %d and %v, got step %d and %v", c.wantStep, c.want, step, err)
				}
				return
			}
			if err != nil || step != c.wantStep {
				t.Fatalf("expected step %d, got %d (%v)", c.wantStep, step, err)
			}
		})
	}
}

// TestCheckCodeSealedSeed: a seed that does not open is a server fault, not a wrong
// code the person is charged for.
func TestCheckCodeSealedSeed(t *testing.T) {
	e := newEnv(t)
	c := e.sealedChip("TST-A", rfcSeed, 0)
	c.Serial = "TST-B" // sealed to TST-A
	_, err := e.reg.CheckCode(c, codeAt(t, rfcSeed, t0), t0)
	if err == nil || errors.Is(err, registry.ErrWrongCode) || errors.Is(err, registry.ErrCodeFormat) {
		t.Fatalf("expected an error that is not a wrong or malformed code, got %v", err)
	}
}

func TestVerifySignature(t *testing.T) {
	e := newEnv(t)
	m := e.chips[0]
	pub, err := m.Key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte("transcript"))
	sig, err := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _ := e.chips[1].Key.PublicKey.Bytes()
	otherHash := sha256.Sum256([]byte("another transcript"))
	cases := []struct {
		name string
		pub  []byte
		hash [32]byte
		sig  []byte
		ok   bool
	}{
		{"good", pub, hash, sig, true},
		{"other transcript", pub, otherHash, sig, false},
		{"other key", otherPub, hash, sig, false},
		{"truncated signature", pub, hash, sig[:len(sig)-1], false},
		{"empty signature", pub, hash, nil, false},
		{"key not a point", []byte{4, 1, 2, 3}, hash, sig, false},
		{"no key", nil, hash, sig, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := registry.VerifySignature(c.pub, c.hash, c.sig)
			if (err == nil) != c.ok {
				t.Fatalf("expected ok=%v, got %v", c.ok, err)
			}
		})
	}
}

// FuzzCheckCode: the code is what a person typed, so CheckCode must classify anything
// and accept only the chip's own code for a step within the skew and after the last
// one used.
func FuzzCheckCode(f *testing.F) {
	for _, d := range []time.Duration{0, -registry.Period, registry.Period, 2 * registry.Period} {
		f.Add(codeAt(f, rfcSeed, t0.Add(d)), int64(0), int64(5))
	}
	f.Add(codeAt(f, rfcSeed, t0), int64(0), int64(0))
	f.Add("", int64(0), int64(1))
	f.Add("12345", int64(30), int64(1))
	f.Add("1234567", int64(-30), int64(1))
	f.Add("١٢٣٤٥٦", int64(0), int64(1))
	f.Add("\x00\x00\x00\x00\x00\x00", int64(1<<40), int64(-1))

	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sealer := seal.NewSealer(key, rand.Reader)
	reg := registry.New(nil, x509.NewCertPool(), sealer) // CheckCode needs no store
	sealed, err := sealer.Seal(rfcSeed, []byte("TST-FUZZ"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code string, offset, behind int64) {
		// Keep times where Unix seconds and steps stay far from overflow.
		now := t0.Add(time.Duration(offset%(1<<32)) * time.Second)
		cur := stepOf(now)
		last := max(0, cur-behind%4)
		c := store.Chip{Serial: "TST-FUZZ", SealedSeed: sealed, LastStep: last}
		step, err := reg.CheckCode(c, code, now)
		wellFormed := len(code) == 6 && strings.Trim(code, "0123456789") == ""
		if !wellFormed {
			if !errors.Is(err, registry.ErrCodeFormat) {
				t.Fatalf("code %q: expected ErrCodeFormat, got step %d, %v", code, step, err)
			}
			return
		}
		// A last step beyond the window (a clock that was ahead) holds nothing back.
		holds := last
		if last > cur+registry.Skew {
			holds = 0
		}
		switch {
		case errors.Is(err, registry.ErrWrongCode):
			return
		case errors.Is(err, registry.ErrStepReplayed):
			if step < cur-registry.Skew || step > holds {
				t.Fatalf("code %q replayed at step %d; current %d, last used %d", code, step, cur, last)
			}
		case err != nil:
			t.Fatalf("code %q: unexpected error %v", code, err)
		case step < cur-registry.Skew || step > registry.MaxStep(now) || step <= holds:
			t.Fatalf("code %q accepted at step %d; current %d, last used %d", code, step, cur, last)
		}
		if want := codeAt(t, rfcSeed, time.Unix(step*30, 0)); want != code {
			t.Fatalf("code %q accepted at step %d, whose code is %s", code, step, want)
		}
	})
}

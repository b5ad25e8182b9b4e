package logon_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/server/activation"
	"mitidchip/server/handoff"
	"mitidchip/server/logon"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// t0 is ten seconds into a TOTP step, so whole-step moves never land on a boundary.
var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

const (
	testOrigin = "https://mitid.test"
	password   = "Blåbærgrød og 7 små ænder"
)

var testKDF = kdf.Params{Time: 1, MemoryKiB: 8192, Threads: 1}

// bench is both ceremonies on a real SQLite store and registry, with a clock the
// test moves and chips minted by a trusted CA: no HTTP anywhere.
type bench struct {
	t     testing.TB
	ctx   context.Context
	now   time.Time
	st    *store.SQLite
	reg   *registry.Registry
	act   *activation.Ceremony
	c     *logon.Ceremony
	chips []manufacturer.Chip
	n     int
}

func newBench(t testing.TB, auth logon.AuthRequests) *bench {
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
	if b.chips, err = ca.Batch("TST", 4, rand.Reader, t0); err != nil {
		t.Fatalf("mint: %v", err)
	}
	sealKey, _ := seal.GenerateKey(rand.Reader)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	b.reg = registry.New(st, roots, seal.NewSealer(sealKey, rand.Reader))
	var file bytes.Buffer
	if err := manufacturer.WriteDelivery(&file, "Trusted Chips A/S", b.chips); err != nil {
		t.Fatalf("delivery: %v", err)
	}
	if _, _, err := b.reg.Import(b.ctx, &file, t0); err != nil {
		t.Fatalf("import: %v", err)
	}
	now := func() time.Time { return b.now }
	if b.act, err = activation.New(activation.Config{Store: st, Registry: b.reg, Now: now, Rand: rand.Reader, KDF: testKDF}); err != nil {
		t.Fatalf("activation.New: %v", err)
	}
	key, _ := seal.GenerateKey(rand.Reader)
	b.c, err = logon.New(logon.Config{Store: st, Registry: b.reg, Key: key, Origin: testOrigin, Now: now, Rand: rand.Reader,
		KDF: kdf.DefaultParams(), AuthRequests: auth})
	if err != nil {
		t.Fatalf("logon.New: %v", err)
	}
	return b
}

func (b *bench) hello(m manufacturer.Chip) []byte {
	b.t.Helper()
	vc, err := virtual.New(m.Config(func() time.Time { return b.now }))
	if err != nil {
		b.t.Fatalf("virtual chip: %v", err)
	}
	req, _ := chip.Frame{Type: chip.TypeHello, RequestID: 1}.Encode()
	raw, err := vc.Handle(context.Background(), req)
	if err != nil {
		b.t.Fatalf("hello: %v", err)
	}
	f, err := chip.Decode(raw)
	if err != nil {
		b.t.Fatalf("hello reply: %v", err)
	}
	return f.Payload
}

// activate binds chip m to person, with user ID uid and password pw, through the
// activation ceremony.
func (b *bench) activate(person, uid, pw string, m manufacturer.Chip) {
	b.t.Helper()
	b.n++
	started, err := b.act.Redeem(b.ctx, handoff.Claims{TokenID: "tok-" + strconv.Itoa(b.n), PersonID: person, UserID: uid,
		Expiry: b.now.Add(10 * time.Minute), IssuedAt: b.now}, "request-"+strconv.Itoa(b.n)+"-AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		b.t.Fatalf("Redeem: %v", err)
	}
	s := started.Session
	params, err := b.act.PasswordParams(b.ctx, s)
	if err != nil {
		b.t.Fatal(err)
	}
	priv, err := kdf.Derive(pw, params.KDF.Salt, testKDF)
	if err != nil {
		b.t.Fatal(err)
	}
	if s, err = b.act.SetPassword(b.ctx, s, kdf.Verifier(priv)); err != nil {
		b.t.Fatal(err)
	}
	if s, err = b.act.PresentChip(b.ctx, s, b.hello(m)); err != nil {
		b.t.Fatal(err)
	}
	code, _ := virtual.Code(m.Seed, b.now, 6)
	if s, err = b.act.CheckCode(b.ctx, s, code); err != nil {
		b.t.Fatal(err)
	}
	v, _ := b.act.View(b.ctx, s)
	hash, _ := v.Binding.Hash()
	sig, _ := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	if _, err = b.act.Finish(b.ctx, s, sig); err != nil {
		b.t.Fatal(err)
	}
}

// prove derives the password key from what Begin answered and signs its challenge,
// as the page's module does.
func (b *bench) prove(pw string, begun logon.Begun) []byte {
	b.t.Helper()
	priv, err := kdf.Derive(pw, begun.KDF.Salt, kdf.Params{Time: begun.KDF.Time, MemoryKiB: begun.KDF.MemoryKiB, Threads: begun.KDF.Threads})
	if err != nil {
		b.t.Fatalf("derive: %v", err)
	}
	return kdf.Prove(priv, begun.Challenge)
}

func (b *bench) begin(uid string) logon.Begun {
	b.t.Helper()
	begun, err := b.c.Begin(b.ctx, uid, "")
	if err != nil {
		b.t.Fatalf("Begin %s: %v", uid, err)
	}
	return begun
}

// passed begins a logon for uid and passes its password step with pw.
func (b *bench) passed(uid, pw string) transcript.Logon {
	b.t.Helper()
	begun := b.begin(uid)
	tr, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove(pw, begun))
	if err != nil {
		b.t.Fatalf("Password: %v", err)
	}
	return tr
}

// sign is chip m's signature over the logon transcript tr (its chip fields filled
// in), as the chip makes it once its button is pressed.
func (b *bench) sign(m manufacturer.Chip, tr transcript.Logon) []byte {
	b.t.Helper()
	tr.ChipSerial = m.Serial
	pub, err := m.Key.PublicKey.Bytes()
	if err != nil {
		b.t.Fatal(err)
	}
	tr.ChipPublicKey = pub
	hash, err := tr.Hash()
	if err != nil {
		b.t.Fatalf("transcript: %v", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	if err != nil {
		b.t.Fatal(err)
	}
	return sig
}

func wantCode(t *testing.T, err error, want logon.Code) *logon.Error {
	t.Helper()
	var e *logon.Error
	if !errors.As(err, &e) || e.Code != want {
		t.Fatalf("expected refusal %s, got %v", want, err)
	}
	return e
}

// TestLogon: user ID (in any case), password and chip give a session that reads
// back, records the chip's use, and ends at log off.
func TestLogon(t *testing.T) {
	b := newBench(t, nil)
	m := b.chips[0]
	b.activate("person-1", "Anna.Hansen", password, m)
	p, _ := b.st.Person(b.ctx, "person-1")

	begun := b.begin("ANNA.hansen")
	if !bytes.Equal(begun.KDF.Salt, p.KDF.Salt) || begun.KDF.Time != testKDF.Time {
		t.Fatalf("Begin: expected the person's KDF %+v, got %+v", p.KDF, begun.KDF)
	}
	tr, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove(password, begun))
	if err != nil {
		t.Fatalf("Password: %v", err)
	}
	if tr.UserID != "anna.hansen" || tr.Origin != testOrigin || tr.Purpose != transcript.PurposeMitID ||
		!bytes.Equal(tr.Challenge, begun.Challenge) || len(tr.Nonce) < transcript.MinNonceSize {
		t.Fatalf("transcript: %+v", tr)
	}
	b.now = b.now.Add(20 * time.Second)
	done, err := b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
	if err != nil {
		t.Fatalf("Chip: %v", err)
	}
	if done.Next != logon.MitPath || len(done.Cookie) < 40 || done.Session.PersonID != "person-1" {
		t.Fatalf("done: %+v", done)
	}
	s, err := b.c.Session(b.ctx, done.Cookie)
	if err != nil || s.ID != done.Session.ID {
		t.Fatalf("Session: %+v (%v)", s, err)
	}
	mine, err := b.c.Mine(b.ctx, s)
	if err != nil || mine.UserID != "anna.hansen" || mine.Chip.Serial != m.Serial || !mine.Chip.LastUsedAt.Equal(b.now) {
		t.Fatalf("Mine: %+v (%v)", mine, err)
	}
	if f, _ := b.st.LogonFailure(b.ctx, b.c.UserKey("anna.hansen")); f.Failures != 0 || f.Locks != 0 {
		t.Errorf("a logon leaves no count: %+v", f)
	}
	// The challenge is used once.
	_, err = b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
	wantCode(t, err, logon.CodeLogonUsed)

	if err := b.c.LogOff(b.ctx, s); err != nil {
		t.Fatalf("LogOff: %v", err)
	}
	_, err = b.c.Session(b.ctx, done.Cookie)
	wantCode(t, err, logon.CodeNotLoggedOn)
}

// TestSessionLifetimes: a session ends IdleTTL after its last use, and AbsoluteTTL
// after the logon however much it is used.
func TestSessionLifetimes(t *testing.T) {
	b := newBench(t, nil)
	m := b.chips[0]
	b.activate("person-1", "anna.hansen", password, m)
	logOn := func() string {
		begun := b.begin("anna.hansen")
		tr, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove(password, begun))
		if err != nil {
			t.Fatal(err)
		}
		done, err := b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
		if err != nil {
			t.Fatal(err)
		}
		return done.Cookie
	}
	idle := logOn()
	b.now = b.now.Add(logon.IdleTTL)
	_, err := b.c.Session(b.ctx, idle)
	wantCode(t, err, logon.CodeNotLoggedOn)

	busy := logOn()
	start := b.now
	for b.now.Sub(start) < logon.AbsoluteTTL-logon.IdleTTL {
		b.now = b.now.Add(logon.IdleTTL - time.Minute)
		if _, err := b.c.Session(b.ctx, busy); err != nil {
			t.Fatalf("session used every %v, at %v: %v", logon.IdleTTL-time.Minute, b.now.Sub(start), err)
		}
	}
	b.now = start.Add(logon.AbsoluteTTL)
	_, err = b.c.Session(b.ctx, busy)
	wantCode(t, err, logon.CodeNotLoggedOn)
}

// TestUnknownUserID: a user ID no one has is answered like one someone has (a salt
// of the same size, the default cost, the same salt every time, whatever the case)
// and fails the password step with the same code as a wrong password, with the same
// store work.
func TestUnknownUserID(t *testing.T) {
	b := newBench(t, nil)
	b.activate("person-1", "anna.hansen", password, b.chips[0])

	unknown := b.begin("Nobody.Here")
	again := b.begin("nobody.HERE")
	other := b.begin("someone.else")
	if len(unknown.KDF.Salt) != kdf.SaltSize || !bytes.Equal(unknown.KDF.Salt, again.KDF.Salt) || bytes.Equal(unknown.KDF.Salt, other.KDF.Salt) {
		t.Fatalf("salts for unknown user IDs: %x, %x (same ID), %x (other ID)", unknown.KDF.Salt, again.KDF.Salt, other.KDF.Salt)
	}
	d := kdf.DefaultParams()
	if unknown.KDF.Time != d.Time || unknown.KDF.MemoryKiB != d.MemoryKiB || unknown.KDF.Threads != d.Threads {
		t.Fatalf("unknown user ID: expected the default cost %+v, got %+v", d, unknown.KDF)
	}
	if unknown.ChallengeID == again.ChallengeID || bytes.Equal(unknown.Challenge, again.Challenge) {
		t.Fatal("two begins gave the same challenge")
	}

	// The same work and answer for a wrong password and an unknown user ID.
	work := func(uid, pw string) (logon.Code, map[string]int) {
		begun, err := b.c.Begin(b.ctx, uid, "")
		if err != nil {
			t.Fatal(err)
		}
		before := storetest.Snapshot(t, b.st)
		_, err = b.c.Password(b.ctx, begun.ChallengeID, b.prove(pw, begun))
		after := storetest.Snapshot(t, b.st)
		return logon.CodeOf(err), diffShape(before, after)
	}
	wrongCode, wrongShape := work("anna.hansen", "not the password")
	unknownCode, unknownShape := work("nobody.here", "not the password")
	if wrongCode != logon.CodeLogonFailed || unknownCode != wrongCode {
		t.Fatalf("expected %s for both, got %s (wrong password) and %s (unknown user ID)", logon.CodeLogonFailed, wrongCode, unknownCode)
	}
	if len(wrongShape) == 0 || !equalShape(wrongShape, unknownShape) {
		t.Fatalf("store work differs: wrong password %v, unknown user ID %v", wrongShape, unknownShape)
	}
}

// diffShape counts, per table, the rows that changed or appeared.
func diffShape(before, after map[string][]string) map[string]int {
	out := map[string]int{}
	for table, rows := range after {
		old := map[string]bool{}
		for _, r := range before[table] {
			old[r] = true
		}
		for _, r := range rows {
			if !old[r] {
				out[table]++
			}
		}
	}
	return out
}

func equalShape(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRefusals: every refusal at the chip step changes nothing in the store.
func TestRefusals(t *testing.T) {
	b := newBench(t, nil)
	mine, theirs, spare := b.chips[0], b.chips[1], b.chips[2]
	b.activate("person-1", "anna.hansen", password, mine)
	b.activate("person-2", "bo.jensen", password, theirs)

	tr := b.passed("anna.hansen", password)
	other := b.passed("anna.hansen", password)
	cases := []struct {
		name string
		call func() error
		want logon.Code
	}{
		{"another person's chip", func() error {
			_, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(theirs), b.sign(theirs, tr))
			return err
		}, logon.CodeChipNotYours},
		{"a chip bound to no one", func() error {
			_, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(spare), b.sign(spare, tr))
			return err
		}, logon.CodeChipNotYours},
		{"a signature over another logon's transcript", func() error {
			_, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(mine), b.sign(mine, other))
			return err
		}, logon.CodeSignatureInvalid},
		{"a transcript for another origin", func() error {
			phished := tr
			phished.Origin = "https://mitid.example.com"
			_, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(mine), b.sign(mine, phished))
			return err
		}, logon.CodeSignatureInvalid},
		{"a hello that does not parse", func() error {
			_, err := b.c.Chip(b.ctx, tr.ChallengeID, []byte{1, 2, 3}, b.sign(mine, tr))
			return err
		}, logon.CodeHelloInvalid},
		{"no such challenge", func() error {
			_, err := b.c.Chip(b.ctx, "AAAAAAAAAAAAAAAAAAAAAA", b.hello(mine), b.sign(mine, tr))
			return err
		}, logon.CodeLogonExpired},
		{"a malformed challenge id", func() error {
			_, err := b.c.Password(b.ctx, "not an id", nil)
			return err
		}, logon.CodeBadRequest},
		{"the password step twice", func() error {
			_, err := b.c.Password(b.ctx, tr.ChallengeID, nil)
			return err
		}, logon.CodeLogonUsed},
		{"an empty user ID", func() error {
			_, err := b.c.Begin(b.ctx, "", "")
			return err
		}, logon.CodeBadRequest},
		{"an authorization request without a provider", func() error {
			_, err := b.c.Begin(b.ctx, "anna.hansen", "req-1")
			return err
		}, logon.CodeAuthRequestInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := storetest.Snapshot(t, b.st)
			wantCode(t, c.call(), c.want)
			storetest.AssertUnchanged(t, b.st, before)
		})
	}

	t.Run("the chip step before the password", func(t *testing.T) {
		begun := b.begin("anna.hansen")
		before := storetest.Snapshot(t, b.st)
		_, err := b.c.Chip(b.ctx, begun.ChallengeID, b.hello(mine), b.sign(mine, tr))
		wantCode(t, err, logon.CodeOutOfOrder)
		storetest.AssertUnchanged(t, b.st, before)
	})
	t.Run("a password proof over another challenge", func(t *testing.T) {
		first, second := b.begin("anna.hansen"), b.begin("anna.hansen")
		_, err := b.c.Password(b.ctx, second.ChallengeID, b.prove(password, first))
		wantCode(t, err, logon.CodeLogonFailed)
	})
	t.Run("a revoked chip", func(t *testing.T) {
		if err := b.st.RevokeChip(b.ctx, mine.Serial); err != nil {
			t.Fatal(err)
		}
		before := storetest.Snapshot(t, b.st)
		_, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(mine), b.sign(mine, tr))
		wantCode(t, err, logon.CodeChipRevoked)
		storetest.AssertUnchanged(t, b.st, before)
	})
	t.Run("an expired challenge", func(t *testing.T) {
		b.now = b.now.Add(logon.ChallengeTTL)
		before := storetest.Snapshot(t, b.st)
		_, err := b.c.Chip(b.ctx, other.ChallengeID, b.hello(mine), b.sign(mine, other))
		wantCode(t, err, logon.CodeLogonExpired)
		storetest.AssertUnchanged(t, b.st, before)
	})
}

// TestLock: LockAfter logons begun and not completed lock logon for the user ID,
// told with when; Begin is refused (changing nothing) until then; the next lock is
// twice as long; a logon resets the count. An unknown user ID locks the same way.
func TestLock(t *testing.T) {
	b := newBench(t, nil)
	m := b.chips[0]
	b.activate("person-1", "anna.hansen", password, m)

	fail := func(uid string) error {
		begun := b.begin(uid)
		_, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove("wrong password", begun))
		return err
	}
	for _, uid := range []string{"anna.hansen", "nobody.here"} {
		for i := 1; i < logon.LockAfter; i++ {
			wantCode(t, fail(uid), logon.CodeLogonFailed)
		}
		e := wantCode(t, fail(uid), logon.CodeLogonLocked)
		if !e.RetryAt.Equal(b.now.Add(logon.FirstLock)) {
			t.Fatalf("%s: expected the lock until %v, got %v", uid, b.now.Add(logon.FirstLock), e.RetryAt)
		}
		before := storetest.Snapshot(t, b.st)
		_, err := b.c.Begin(b.ctx, uid, "")
		wantCode(t, err, logon.CodeLogonLocked)
		storetest.AssertUnchanged(t, b.st, before)
	}
	// Another user ID is not locked.
	b.begin("bo.jensen.unknown")

	b.now = b.now.Add(logon.FirstLock)
	for i := 1; i < logon.LockAfter; i++ {
		wantCode(t, fail("anna.hansen"), logon.CodeLogonFailed)
	}
	e := wantCode(t, fail("anna.hansen"), logon.CodeLogonLocked)
	if !e.RetryAt.Equal(b.now.Add(2 * logon.FirstLock)) {
		t.Fatalf("second lock: expected until %v, got %v", b.now.Add(2*logon.FirstLock), e.RetryAt)
	}
	// Right passwords without the chip's press count too.
	b.now = b.now.Add(2 * logon.FirstLock)
	for i := 1; i < logon.LockAfter; i++ {
		b.passed("anna.hansen", password)
	}
	tr := b.passed("anna.hansen", password) // the fifth: it locks further begins, not this logon
	if _, err := b.c.Begin(b.ctx, "anna.hansen", ""); logon.CodeOf(err) != logon.CodeLogonLocked {
		t.Fatalf("after %d logons without the chip: expected %s, got %v", logon.LockAfter, logon.CodeLogonLocked, err)
	}
	if _, err := b.c.Chip(b.ctx, tr.ChallengeID, b.hello(m), b.sign(m, tr)); err != nil {
		t.Fatalf("Chip: %v", err)
	}
	if f, _ := b.st.LogonFailure(b.ctx, b.c.UserKey("anna.hansen")); f != (store.LogonFailure{UserKey: b.c.UserKey("anna.hansen")}) {
		t.Fatalf("a logon resets the count and the lock: %+v", f)
	}
	b.begin("anna.hansen")
}

// TestLockCapped: however many locks, none lasts longer than MaxLock.
func TestLockCapped(t *testing.T) {
	b := newBench(t, nil)
	var last time.Duration
	for range 8 {
		for i := 1; i <= logon.LockAfter; i++ {
			begun := b.begin("nobody.here")
			_, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove("x", begun))
			if i == logon.LockAfter {
				e := wantCode(t, err, logon.CodeLogonLocked)
				last = e.RetryAt.Sub(b.now)
				b.now = e.RetryAt
			}
		}
	}
	if last != logon.MaxLock {
		t.Fatalf("expected locks capped at %v, got %v", logon.MaxLock, last)
	}
}

type authRequests struct {
	calls []string
	err   error
}

// expired is an authorization request whose time ran out, as the provider says it.
type expired struct{}

func (expired) Error() string            { return "expired" }
func (expired) AuthRequestExpired() bool { return true }

func (a *authRequests) Site(_ context.Context, id string) (string, error) {
	a.calls = append(a.calls, "site "+id)
	return "Site", a.err
}

func (a *authRequests) Cancel(_ context.Context, id string) (string, error) {
	a.calls = append(a.calls, "cancel "+id)
	return "https://site.example/cb?error=access_denied", a.err
}

func (a *authRequests) Finish(_ context.Context, id, personID string, at time.Time) (string, error) {
	a.calls = append(a.calls, id+" "+personID+" "+at.Format(time.RFC3339))
	return "https://site.example/cb?code=" + id, a.err
}

// TestAuthRequest: a logon for an OIDC authorization request carries its id into the
// transcript and ends in the provider's Finish, whose URL is where the browser goes.
func TestAuthRequest(t *testing.T) {
	auth := &authRequests{}
	b := newBench(t, auth)
	m := b.chips[0]
	b.activate("person-1", "anna.hansen", password, m)

	begun, err := b.c.Begin(b.ctx, "anna.hansen", "req-42")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove(password, begun))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Purpose != "oidc:req-42" {
		t.Fatalf("purpose: %q", tr.Purpose)
	}
	// A signature over the MitID.dk transcript does not finish the request.
	mitid := tr
	mitid.Purpose = transcript.PurposeMitID
	_, err = b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, mitid))
	wantCode(t, err, logon.CodeSignatureInvalid)
	done, err := b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
	if err != nil || done.Next != "https://site.example/cb?code=req-42" {
		t.Fatalf("Chip: %+v (%v)", done, err)
	}
	if len(auth.calls) != 1 || auth.calls[0] != "req-42 person-1 "+b.now.Format(time.RFC3339) {
		t.Fatalf("Finish calls: %q", auth.calls)
	}

	if done.Cookie != "" || done.Session.ID != "" {
		t.Fatalf("a logon for a site gave a MitID.dk session: %+v", done)
	}
	if n := b.count("logon_sessions"); n != 0 {
		t.Fatalf("a logon for a site stored %d MitID.dk sessions", n)
	}

	for _, c := range []struct {
		err  error
		want logon.Code
	}{
		{errors.New("unknown authorization request"), logon.CodeAuthRequestInvalid},
		{fmt.Errorf("late: %w", expired{}), logon.CodeAuthRequestExpired},
	} {
		auth.err = c.err
		begun, _ = b.c.Begin(b.ctx, "anna.hansen", "req-gone")
		tr, _ = b.c.Password(b.ctx, begun.ChallengeID, b.prove(password, begun))
		done, err = b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
		wantCode(t, err, c.want)
		if done.Cookie != "" || b.count("logon_sessions") != 0 {
			t.Fatalf("%v: a failed logon for a site left a MitID.dk session: %+v", c.err, done)
		}
		if _, err := b.c.Site(b.ctx, "req-gone"); logon.CodeOf(err) != c.want {
			t.Errorf("Site %v: expected %s, got %v", c.err, c.want, err)
		}
		if _, err := b.c.Cancel(b.ctx, "req-gone"); logon.CodeOf(err) != logon.CodeAuthRequestInvalid {
			t.Errorf("Cancel %v: expected %s, got %v", c.err, logon.CodeAuthRequestInvalid, err)
		}
	}
	auth.err = nil
	if name, err := b.c.Site(b.ctx, "req-43"); err != nil || name != "Site" {
		t.Errorf("Site: %q (%v)", name, err)
	}
	if next, err := b.c.Cancel(b.ctx, "req-43"); err != nil || next != "https://site.example/cb?error=access_denied" {
		t.Errorf("Cancel: %q (%v)", next, err)
	}
	for _, bad := range []string{"", "a b", strings.Repeat("x", logon.MaxAuthRequest+1)} {
		if _, err := b.c.Site(b.ctx, bad); logon.CodeOf(err) != logon.CodeBadRequest {
			t.Errorf("Site %q: expected bad_request, got %v", bad, err)
		}
		if _, err := b.c.Cancel(b.ctx, bad); logon.CodeOf(err) != logon.CodeBadRequest {
			t.Errorf("Cancel %q: expected bad_request, got %v", bad, err)
		}
	}
}

// count is how many rows the store's table holds.
func (b *bench) count(table string) int {
	b.t.Helper()
	return len(storetest.Snapshot(b.t, b.st)[table])
}

// TestBlockedChip: a chip its holder blocked is refused at the chip step with
// chip_blocked (not an internal error), and the refusal changes nothing.
func TestBlockedChip(t *testing.T) {
	b := newBench(t, nil)
	m := b.chips[0]
	b.activate("person-1", "anna.hansen", password, m)
	if _, err := b.st.BlockChip(b.ctx, store.BlockRequest{Serial: m.Serial, PersonID: "person-1", Reason: "lost", At: b.now,
		TokenID: "block-1", TokenExpiresAt: b.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	begun, err := b.c.Begin(b.ctx, "anna.hansen", "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.c.Password(b.ctx, begun.ChallengeID, b.prove(password, begun))
	if err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, b.st)
	_, err = b.c.Chip(b.ctx, begun.ChallengeID, b.hello(m), b.sign(m, tr))
	wantCode(t, err, logon.CodeChipBlocked)
	storetest.AssertUnchanged(t, b.st, before)
}

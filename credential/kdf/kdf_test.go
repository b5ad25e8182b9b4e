package kdf

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/argon2"
)

// testParams are the cheapest parameters Validate accepts, to keep tests quick.
var testParams = Params{Time: 1, MemoryKiB: MinMemoryKiB, Threads: 1}

var (
	testSalt      = []byte("0123456789abcdef")
	testChallenge = []byte("server-challenge-0001")
)

func mustDerive(t testing.TB, password string, salt []byte) ed25519.PrivateKey {
	t.Helper()
	priv, err := Derive(password, salt, testParams)
	if err != nil {
		t.Fatalf("Derive(%q): %v", password, err)
	}
	return priv
}

func TestDeriveKnownAnswer(t *testing.T) {
	const password = "korrekt hest batteri hæfteklamme"
	// Pinned once; a change here means every stored verifier stops matching.
	const wantVerifier = "89f0db64fcc521d429957435167dbdf34ee1976dcab24b05bb4271e4c5796b47"

	priv := mustDerive(t, password, testSalt)
	if got := hex.EncodeToString(Verifier(priv)); got != wantVerifier {
		t.Errorf("verifier: expected %s, got %s", wantVerifier, got)
	}

	// Cross-check against Argon2id directly, with the context spelled out here so
	// that a silent change to the label fails this test too.
	seed := argon2.IDKey([]byte(password), append([]byte("mitid-chip/password-key/v1\x00"), testSalt...),
		testParams.Time, testParams.MemoryKiB, testParams.Threads, ed25519.SeedSize)
	want := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv, want) {
		t.Errorf("private key: expected the Argon2id seed %x, got seed %x", want.Seed(), priv.Seed())
	}
}

func TestDeriveSeparatesInputs(t *testing.T) {
	base := Verifier(mustDerive(t, "password one", testSalt))
	otherSalt := bytes.Clone(testSalt)
	otherSalt[0] ^= 1
	cases := []struct {
		name     string
		password string
		salt     []byte
		params   Params
	}{
		{"other password", "password two", testSalt, testParams},
		{"other salt", "password one", otherSalt, testParams},
		{"other time", "password one", testSalt, Params{Time: 2, MemoryKiB: MinMemoryKiB, Threads: 1}},
		{"NFD instead of NFC", "password one\u0065\u0301", testSalt, testParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			priv, err := Derive(tc.password, tc.salt, tc.params)
			if err != nil {
				t.Fatalf("Derive: %v", err)
			}
			if bytes.Equal(Verifier(priv), base) {
				t.Errorf("expected a verifier different from the base, got the same %x", base)
			}
		})
	}
	t.Run("context differs from raw Argon2id", func(t *testing.T) {
		raw := argon2.IDKey([]byte("password one"), testSalt, testParams.Time, testParams.MemoryKiB, testParams.Threads, ed25519.SeedSize)
		if got := Verifier(ed25519.NewKeyFromSeed(raw)); bytes.Equal(got, base) {
			t.Errorf("expected the context label to change the key, got the raw Argon2id key %x", got)
		}
	})
}

func TestDeriveRejects(t *testing.T) {
	cases := []struct {
		name     string
		password string
		salt     []byte
		params   Params
		want     error
	}{
		{"empty password", "", testSalt, testParams, ErrEmptyPassword},
		{"nil salt", "pw", nil, testParams, ErrSalt},
		{"short salt", "pw", make([]byte, MinSaltSize-1), testParams, ErrSalt},
		{"long salt", "pw", make([]byte, MaxSaltSize+1), testParams, ErrSalt},
		{"bad params", "pw", testSalt, Params{Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1}, ErrParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			priv, err := Derive(tc.password, tc.salt, tc.params)
			if !errors.Is(err, tc.want) {
				t.Errorf("expected error %v, got %v", tc.want, err)
			}
			if priv != nil {
				t.Errorf("expected no key, got %d bytes", len(priv))
			}
		})
	}
}

func TestDeriveAcceptsSaltBounds(t *testing.T) {
	for _, n := range []int{MinSaltSize, MaxSaltSize} {
		if _, err := Derive("pw", make([]byte, n), testParams); err != nil {
			t.Errorf("salt of %d bytes: expected no error, got %v", n, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := testParams
	with := func(f func(*Params)) Params { p := ok; f(&p); return p }
	cases := []struct {
		name    string
		p       Params
		wantErr string // substring; "" means valid
	}{
		{"default", DefaultParams(), ""},
		{"minimum", Params{Time: MinTime, MemoryKiB: MinMemoryKiB, Threads: MinThreads}, ""},
		{"maximum", Params{Time: MaxTime, MemoryKiB: MaxMemoryKiB, Threads: MaxThreads}, ""},
		{"zero value", Params{}, "time 0, want 1..10"},
		{"time 0", with(func(p *Params) { p.Time = 0 }), "time 0"},
		{"time 11", with(func(p *Params) { p.Time = 11 }), "time 11, want 1..10"},
		{"time max uint32", with(func(p *Params) { p.Time = 1<<32 - 1 }), "time 4294967295"},
		{"memory below", with(func(p *Params) { p.MemoryKiB = MinMemoryKiB - 1 }), "memory KiB 8191, want 8192..262144"},
		{"memory above", with(func(p *Params) { p.MemoryKiB = MaxMemoryKiB + 1 }), "memory KiB 262145"},
		{"memory max uint32", with(func(p *Params) { p.MemoryKiB = 1<<32 - 1 }), "memory KiB 4294967295"},
		{"threads 0", with(func(p *Params) { p.Threads = 0 }), "threads 0, want 1..4"},
		{"threads 5", with(func(p *Params) { p.Threads = 5 }), "threads 5"},
		{"threads 255", with(func(p *Params) { p.Threads = 255 }), "threads 255"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("expected valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrParams) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("expected ErrParams containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestDefaultParamsFollowOWASP(t *testing.T) {
	want := Params{Time: 2, MemoryKiB: 19456, Threads: 1}
	if got := DefaultParams(); got != want {
		t.Errorf("expected %+v, got %+v", want, got)
	}
}

func TestNewSalt(t *testing.T) {
	src := bytes.NewReader(bytes.Repeat([]byte{7}, 64))
	salt, err := NewSalt(src)
	if err != nil {
		t.Fatalf("NewSalt: %v", err)
	}
	if want := bytes.Repeat([]byte{7}, SaltSize); !bytes.Equal(salt, want) {
		t.Errorf("expected %x, got %x", want, salt)
	}

	_, err = NewSalt(bytes.NewReader(make([]byte, SaltSize-1)))
	if err == nil || !strings.Contains(err.Error(), "reading salt") {
		t.Errorf("short source: expected a reading-salt error, got %v", err)
	}
	boom := errors.New("boom")
	if _, err := NewSalt(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("failing source: expected the source's error wrapped, got %v", err)
	}
}

func TestProofRoundTrip(t *testing.T) {
	priv := mustDerive(t, "password one", testSalt)
	verifier := Verifier(priv)
	if len(verifier) != VerifierSize {
		t.Fatalf("verifier: expected %d bytes, got %d", VerifierSize, len(verifier))
	}
	proof := Prove(priv, testChallenge)
	if err := Check(verifier, testChallenge, proof); err != nil {
		t.Fatalf("Check of a genuine proof: expected nil, got %v", err)
	}

	// The same password typed at login gives the same key.
	again := Verifier(mustDerive(t, "password one", testSalt))
	if !bytes.Equal(again, verifier) {
		t.Errorf("re-derived verifier: expected %x, got %x", verifier, again)
	}
	// The proof is a signature over the framed challenge, not the bare challenge.
	if ed25519.Verify(verifier, testChallenge, proof) {
		t.Error("expected the proof not to verify over the bare challenge, but it did")
	}
}

func TestCheckRejects(t *testing.T) {
	priv := mustDerive(t, "password one", testSalt)
	verifier := Verifier(priv)
	proof := Prove(priv, testChallenge)
	otherVerifier := Verifier(mustDerive(t, "password two", testSalt))

	otherChallenge := bytes.Clone(testChallenge)
	otherChallenge[len(otherChallenge)-1] ^= 1
	tampered := func(i int) []byte { p := bytes.Clone(proof); p[i] ^= 0x80; return p }

	cases := []struct {
		name      string
		verifier  []byte
		challenge []byte
		proof     []byte
		want      error
		wantMsg   string
	}{
		{"wrong challenge", verifier, otherChallenge, proof, ErrBadProof, ""},
		{"wrong verifier", otherVerifier, testChallenge, proof, ErrBadProof, ""},
		{"tampered R", verifier, testChallenge, tampered(0), ErrBadProof, ""},
		{"tampered S", verifier, testChallenge, tampered(40), ErrBadProof, ""},
		{"S not reduced", verifier, testChallenge, append(bytes.Clone(proof[:32]), bytes.Repeat([]byte{0xff}, 32)...), ErrBadProof, ""},
		{"nil verifier", nil, testChallenge, proof, ErrVerifier, "verifier length 0, want 32"},
		{"short verifier", verifier[:31], testChallenge, proof, ErrVerifier, "verifier length 31"},
		{"long verifier", append(bytes.Clone(verifier), 0), testChallenge, proof, ErrVerifier, "verifier length 33"},
		{"identity verifier", append([]byte{1}, make([]byte, 31)...), testChallenge, proof, ErrWeakVerifier, ""},
		{"empty challenge", verifier, nil, proof, ErrChallenge, "challenge length 0, want 16..1024"},
		{"short challenge", verifier, testChallenge[:MinChallengeSize-1], proof, ErrChallenge, "challenge length 15"},
		{"long challenge", verifier, make([]byte, MaxChallengeSize+1), proof, ErrChallenge, "challenge length 1025"},
		{"nil proof", verifier, testChallenge, nil, ErrProof, "proof length 0, want 64"},
		{"short proof", verifier, testChallenge, proof[:63], ErrProof, "proof length 63"},
		{"long proof", verifier, testChallenge, append(bytes.Clone(proof), 0), ErrProof, "proof length 65"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.verifier, tc.challenge, tc.proof)
			if !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("expected message containing %q, got %q", tc.wantMsg, err)
			}
		})
	}
}

func TestMalformedKeyDoesNotPanic(t *testing.T) {
	for _, n := range []int{0, 32, 63, 65} {
		priv := ed25519.PrivateKey(make([]byte, n))
		if v := Verifier(priv); v != nil {
			t.Errorf("%d-byte key: expected nil verifier, got %x", n, v)
		}
		if p := Prove(priv, testChallenge); p != nil {
			t.Errorf("%d-byte key: expected nil proof, got %x", n, p)
		}
	}
}

// TestSmallOrderBlocklist shows that each blocklisted encoding really is a weak key:
// with R the identity and S zero, a "signature" verifies for any message whose
// hash scalar is a multiple of the point's order, so one turns up within a few tries.
func TestSmallOrderBlocklist(t *testing.T) {
	identityR := append([]byte{1}, make([]byte, 63)...) // R = identity, S = 0
	for i, entry := range smallOrder {
		for _, sign := range []byte{0, 0x80} {
			key := entry
			key[31] |= sign
			name := hex.EncodeToString(key[:])
			t.Run(name, func(t *testing.T) {
				if err := CheckVerifier(key[:]); !errors.Is(err, ErrWeakVerifier) {
					t.Errorf("expected ErrWeakVerifier, got %v", err)
				}
				if sign != 0 && (i == 1 || i == 4 || i == 6) {
					return // x = 0 with the sign bit set is not a valid encoding: nothing to forge
				}
				for n := range 256 {
					if ed25519.Verify(key[:], []byte("msg "+strconv.Itoa(n)), identityR) {
						return
					}
				}
				t.Errorf("expected a forgery within 256 messages for a small-order key, found none")
			})
		}
	}
}

func BenchmarkDerive(b *testing.B) {
	p := DefaultParams()
	salt := bytes.Repeat([]byte{1}, SaltSize)
	for b.Loop() {
		if _, err := Derive("korrekt hest batteri hæfteklamme", salt, p); err != nil {
			b.Fatal(err)
		}
	}
}

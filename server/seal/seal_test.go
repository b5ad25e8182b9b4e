package seal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func seededRand(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

func testKey(t testing.TB, seed byte) Key {
	t.Helper()
	k, err := GenerateKey(seededRand(seed))
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

var (
	seed   = []byte("12345678901234567890") // an RFC 6238 test seed
	serial = []byte("MITID-CHIP-000123")
)

func TestSealOpenRoundTrip(t *testing.T) {
	s := NewSealer(testKey(t, 1), seededRand(2))
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{name: "seed bound to serial", plaintext: seed, ad: serial},
		{name: "empty plaintext", plaintext: []byte{}, ad: serial},
		{name: "no additional data", plaintext: seed, ad: nil},
		{name: "large plaintext", plaintext: bytes.Repeat([]byte{0xa5}, 64<<10), ad: serial},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal(tc.plaintext, tc.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), len(tc.plaintext)+Overhead; got != want {
				t.Fatalf("sealed length: got %d, want %d", got, want)
			}
			if sealed[0] != version1 {
				t.Fatalf("version byte: got %d, want %d", sealed[0], version1)
			}
			if len(tc.plaintext) >= 8 && bytes.Contains(sealed, tc.plaintext[:8]) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := s.Open(sealed, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Fatalf("Open: got %x, want %x", got, tc.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	s := NewSealer(testKey(t, 1), nil) // nil: crypto/rand
	a, err := s.Seal(seed, serial)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	b, err := s.Seal(seed, serial)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if bytes.Equal(a[1:1+nonceSize], b[1:1+nonceSize]) || bytes.Equal(a, b) {
		t.Fatal("two Seal calls gave the same nonce, want fresh random nonces")
	}
}

func TestSealRandomFailure(t *testing.T) {
	s := NewSealer(testKey(t, 1), iotest.ErrReader(errors.New("no entropy")))
	if got, err := s.Seal(seed, serial); err == nil {
		t.Fatalf("Seal with a failing random source: got %x, want an error", got)
	}
}

func TestOpenRefuses(t *testing.T) {
	k := testKey(t, 1)
	s := NewSealer(k, seededRand(2))
	sealed, err := s.Seal(seed, serial)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		ad     []byte
	}{
		{name: "wrong key", sealer: NewSealer(testKey(t, 3), nil), sealed: sealed, ad: serial},
		{name: "wrong additional data (another chip's row)", sealer: s, sealed: sealed, ad: []byte("MITID-CHIP-000124")},
		{name: "missing additional data", sealer: s, sealed: sealed, ad: nil},
		{name: "tampered version", sealer: s, sealed: flip(0), ad: serial},
		{name: "tampered nonce", sealer: s, sealed: flip(1), ad: serial},
		{name: "tampered ciphertext", sealer: s, sealed: flip(1 + nonceSize), ad: serial},
		{name: "tampered tag", sealer: s, sealed: flip(len(sealed) - 1), ad: serial},
		{name: "truncated by one byte", sealer: s, sealed: sealed[:len(sealed)-1], ad: serial},
		{name: "truncated to overhead", sealer: s, sealed: sealed[:Overhead], ad: serial},
		{name: "shorter than overhead", sealer: s, sealed: sealed[:Overhead-1], ad: serial},
		{name: "extended by one byte", sealer: s, sealed: append(bytes.Clone(sealed), 0), ad: serial},
		{name: "empty", sealer: s, sealed: nil, ad: serial},
		{name: "unknown version", sealer: s, sealed: append([]byte{2}, sealed[1:]...), ad: serial},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.ad)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open: got %x, error %v; want ErrOpen", got, err)
			}
			if got != nil {
				t.Fatalf("Open returned %x with an error, want nil", got)
			}
		})
	}

	// Every single-bit change and every truncation fails, not just the ones above.
	for i := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[i/8] ^= 1 << (i % 8)
		if _, err := s.Open(b, serial); !errors.Is(err, ErrOpen) {
			t.Fatalf("Open with bit %d flipped: got error %v, want ErrOpen", i, err)
		}
	}
	for n := range len(sealed) {
		if _, err := s.Open(sealed[:n], serial); !errors.Is(err, ErrOpen) {
			t.Fatalf("Open of the first %d bytes: got error %v, want ErrOpen", n, err)
		}
	}
}

// FuzzOpen checks that Open never panics, fails only with ErrOpen, and opens nothing but
// the values Seal made.
func FuzzOpen(f *testing.F) {
	s := NewSealer(testKey(f, 1), seededRand(2))
	valid := map[string][]byte{}
	for _, p := range [][]byte{seed, {}, []byte("another seed value")} {
		sealed, err := s.Seal(p, serial)
		if err != nil {
			f.Fatalf("Seal: %v", err)
		}
		valid[string(sealed)] = p
		f.Add(sealed, serial)
		f.Add(sealed[:len(sealed)-1], serial)
		f.Add(sealed, []byte("MITID-CHIP-000124"))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{version1}, serial)
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		got, err := s.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open: got error %v, want ErrOpen", err)
			}
			return
		}
		want, ok := valid[string(sealed)]
		if !ok || !bytes.Equal(ad, serial) {
			t.Fatalf("Open accepted %x with additional data %q, which Seal never made", sealed, ad)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Open: got %x, want %x", got, want)
		}
	})
}

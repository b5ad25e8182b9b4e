package transcript

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func example() Binding {
	pub := make([]byte, PublicKeySize)
	pub[0] = 0x04
	for i := 1; i < len(pub); i++ {
		pub[i] = byte(i)
	}
	return Binding{
		ActivationID:     "act-0001",
		UserID:           "søren.k",
		ChipSerial:       "MC-000123",
		ChipPublicKey:    pub,
		PasswordVerifier: bytes.Repeat([]byte{0xaa}, VerifierSize),
		Nonce:            bytes.Repeat([]byte{0x55}, MinNonceSize),
	}
}

func mustEncode(t testing.TB, b Binding) []byte {
	t.Helper()
	enc, err := b.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return enc
}

// Pinned once: a change here means browser and server of different builds disagree,
// and every chip signature made in between fails.
const (
	wantExampleHex = "6d697469642d636869702f62696e64696e67" + "01" + // label, version
		"0008" + "6163742d30303031" + // ActivationID
		"0008" + "73c3b872656e2e6b" + // UserID
		"0009" + "4d432d303030313233" + // ChipSerial
		"0041" + "04" + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" +
		"2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40" + // ChipPublicKey
		"0020" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + // PasswordVerifier
		"0010" + "55555555555555555555555555555555" // Nonce
	wantHashHex = "c367f4b1a68014844a6919609d199a0647d39d992dff01c6e7bbb3574664cc2e"
)

func TestEncodeStable(t *testing.T) {
	enc := mustEncode(t, example())
	if got := hex.EncodeToString(enc); got != wantExampleHex {
		t.Errorf("encoding:\nexpected %s\n     got %s", wantExampleHex, got)
	}
	h, err := example().Hash()
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if got := hex.EncodeToString(h[:]); got != wantHashHex {
		t.Errorf("hash: expected %s, got %s", wantHashHex, got)
	}
	if !bytes.HasPrefix(enc, []byte(Label+"\x01")) {
		t.Errorf("expected the encoding to start with %q and version 1, got %q", Label, enc[:len(Label)+1])
	}
}

func TestEncodeLayout(t *testing.T) {
	b := example()
	fields, err := decode(mustEncode(t, b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := [][]byte{[]byte(b.ActivationID), []byte(b.UserID), []byte(b.ChipSerial), b.ChipPublicKey, b.PasswordVerifier, b.Nonce}
	for i := range want {
		if !bytes.Equal(fields[i], want[i]) {
			t.Errorf("field %d: expected %x, got %x", i, want[i], fields[i])
		}
	}
}

func TestEveryFieldChangesHash(t *testing.T) {
	base, err := example().Hash()
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	flip := func(p []byte, i int) []byte { p = bytes.Clone(p); p[i] ^= 1; return p }
	cases := []struct {
		name   string
		change func(*Binding)
	}{
		{"ActivationID", func(b *Binding) { b.ActivationID = "act-0002" }},
		{"UserID", func(b *Binding) { b.UserID = "soren.k" }},
		{"UserID case", func(b *Binding) { b.UserID = "Søren.k" }},
		{"ChipSerial", func(b *Binding) { b.ChipSerial = "MC-000124" }},
		{"ChipPublicKey", func(b *Binding) { b.ChipPublicKey = flip(b.ChipPublicKey, 64) }},
		{"PasswordVerifier", func(b *Binding) { b.PasswordVerifier = flip(b.PasswordVerifier, 0) }},
		{"Nonce", func(b *Binding) { b.Nonce = flip(b.Nonce, 15) }},
		{"Nonce longer", func(b *Binding) { b.Nonce = append(bytes.Clone(b.Nonce), 0x55) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := example()
			tc.change(&b)
			h, err := b.Hash()
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if h == base {
				t.Errorf("expected a hash different from %x, got the same", base)
			}
		})
	}
}

// TestUnambiguous moves a byte across each boundary between variable-length text
// fields; the concatenation stays the same, the encoding must not.
func TestUnambiguous(t *testing.T) {
	cases := []struct {
		name string
		a, b func(*Binding)
	}{
		{"ActivationID|UserID",
			func(b *Binding) { b.ActivationID, b.UserID = "abc", "def" },
			func(b *Binding) { b.ActivationID, b.UserID = "ab", "cdef" }},
		{"UserID|ChipSerial",
			func(b *Binding) { b.UserID, b.ChipSerial = "abc", "def" },
			func(b *Binding) { b.UserID, b.ChipSerial = "abcd", "ef" }},
		{"ActivationID|UserID|ChipSerial shifted",
			func(b *Binding) { b.ActivationID, b.UserID, b.ChipSerial = "a", "bc", "d" },
			func(b *Binding) { b.ActivationID, b.UserID, b.ChipSerial = "ab", "c", "d" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, y := example(), example()
			tc.a(&x)
			tc.b(&y)
			ex, ey := mustEncode(t, x), mustEncode(t, y)
			if bytes.Equal(ex, ey) {
				t.Errorf("expected different encodings, got the same %x", ex)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	long := strings.Repeat("x", MaxFieldSize+1)
	pub := func(n int, prefix byte) []byte { p := make([]byte, n); p[0] = prefix; return p }
	cases := []struct {
		name    string
		change  func(*Binding)
		want    error
		wantMsg string
	}{
		{"empty ActivationID", func(b *Binding) { b.ActivationID = "" }, ErrEmpty, "transcript: ActivationID: empty"},
		{"empty UserID", func(b *Binding) { b.UserID = "" }, ErrEmpty, "UserID: empty"},
		{"empty ChipSerial", func(b *Binding) { b.ChipSerial = "" }, ErrEmpty, "ChipSerial: empty"},
		{"nil ChipPublicKey", func(b *Binding) { b.ChipPublicKey = nil }, ErrEmpty, "ChipPublicKey: empty"},
		{"nil PasswordVerifier", func(b *Binding) { b.PasswordVerifier = nil }, ErrEmpty, "PasswordVerifier: empty"},
		{"nil Nonce", func(b *Binding) { b.Nonce = nil }, ErrEmpty, "Nonce: empty"},
		{"long ActivationID", func(b *Binding) { b.ActivationID = long }, ErrTooLong, "ActivationID: longer than 1024 bytes (got 1025)"},
		{"long UserID", func(b *Binding) { b.UserID = long }, ErrTooLong, "UserID: longer"},
		{"long ChipSerial", func(b *Binding) { b.ChipSerial = long }, ErrTooLong, "ChipSerial: longer"},
		{"long Nonce", func(b *Binding) { b.Nonce = []byte(long) }, ErrTooLong, "Nonce: longer"},
		{"compressed key", func(b *Binding) { b.ChipPublicKey = pub(33, 0x02) }, ErrPublicKey, "got 33 bytes starting 0x02, want 65 bytes starting 0x04"},
		{"65 bytes wrong prefix", func(b *Binding) { b.ChipPublicKey = pub(65, 0x03) }, ErrPublicKey, "starting 0x03"},
		{"66-byte key", func(b *Binding) { b.ChipPublicKey = pub(66, 0x04) }, ErrPublicKey, "got 66 bytes"},
		{"short verifier", func(b *Binding) { b.PasswordVerifier = make([]byte, 31) }, ErrVerifier, "PasswordVerifier: not a 32-byte verifier (got 31 bytes)"},
		{"long verifier", func(b *Binding) { b.PasswordVerifier = make([]byte, 33) }, ErrVerifier, "got 33 bytes"},
		{"short nonce", func(b *Binding) { b.Nonce = make([]byte, 15) }, ErrNonce, "Nonce: too short (got 15 bytes, want at least 16)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := example()
			tc.change(&b)
			enc, err := b.Encode()
			if !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("expected message containing %q, got %q", tc.wantMsg, err)
			}
			if enc != nil {
				t.Errorf("expected no encoding, got %d bytes", len(enc))
			}
			if h, err := b.Hash(); err == nil || h != [32]byte{} {
				t.Errorf("Hash: expected an error and zero hash, got %x, %v", h, err)
			}
		})
	}
}

func TestEncodeAcceptsLimits(t *testing.T) {
	b := example()
	b.ActivationID = strings.Repeat("a", MaxFieldSize)
	b.Nonce = make([]byte, MaxFieldSize)
	if _, err := b.Encode(); err != nil {
		t.Errorf("fields at the %d-byte limit: expected no error, got %v", MaxFieldSize, err)
	}
}

// decode is the inverse of Encode, for tests only: the server never parses a
// transcript, it rebuilds one from its own records.
func decode(enc []byte) ([][]byte, error) {
	prefix := Label + string(rune(Version))
	if !bytes.HasPrefix(enc, []byte(prefix)) {
		return nil, errors.New("missing label and version")
	}
	rest := enc[len(prefix):]
	var fields [][]byte
	for len(rest) > 0 {
		if len(rest) < 2 {
			return nil, errors.New("truncated length")
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if len(rest) < n {
			return nil, errors.New("truncated field")
		}
		fields = append(fields, rest[:n])
		rest = rest[n:]
	}
	if len(fields) != 6 {
		return nil, errors.New("expected 6 fields")
	}
	return fields, nil
}

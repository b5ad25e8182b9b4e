package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// KeySize is the length of a Key in bytes.
const KeySize = 32

// Key is a sealing key. Every way of printing or logging it gives
// "seal.Key(redacted)"; EncodeKey is the one way to write it out.
type Key [KeySize]byte

const redacted = "seal.Key(redacted)"

// GenerateKey makes a new key from rand (crypto/rand.Reader if nil).
func GenerateKey(random io.Reader) (Key, error) {
	if random == nil {
		random = rand.Reader
	}
	var k Key
	if _, err := io.ReadFull(random, k[:]); err != nil {
		return Key{}, fmt.Errorf("seal: generate key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key written as 64 hex digits or as standard base64 (44 characters
// with padding), ignoring surrounding white space. Errors never echo the input, since
// a nearly right key is still mostly secret.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var (
		b   []byte
		err error
	)
	switch {
	case s == "":
		return Key{}, errors.New("seal: parse key: empty")
	case len(s) == hex.EncodedLen(KeySize):
		b, err = hex.DecodeString(s)
		if err != nil {
			return Key{}, errors.New("seal: parse key: 64 characters but not hex digits")
		}
	default:
		b, err = base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return Key{}, fmt.Errorf("seal: parse key: neither 64 hex digits nor standard base64 (%d characters)", len(s))
		}
	}
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("seal: parse key: %d bytes, want %d", len(b), KeySize)
	}
	var k Key
	copy(k[:], b)
	if k == (Key{}) {
		// An all-zero key is a placeholder left in a config file, not a key.
		return Key{}, errors.New("seal: parse key: key is all zeros")
	}
	return k, nil
}

// EncodeKey writes k as standard base64 for a config file; ParseKey reads it back.
func EncodeKey(k Key) string { return base64.StdEncoding.EncodeToString(k[:]) }

// String keeps the key out of logs and error messages.
func (Key) String() string { return redacted }

// GoString keeps the key out of %#v.
func (Key) GoString() string { return redacted }

// Format keeps the key out of every fmt verb (%x and %d would otherwise print bytes).
func (Key) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue keeps the key out of slog output, including the JSON handler.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps the key out of encoding/json and the like; use EncodeKey to write a
// key on purpose.
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Package seal encrypts secrets at rest, such as chip TOTP seeds, with XChaCha20-Poly1305
// under a key from configuration, binding each ciphertext to the row it belongs to.
package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed layout:
//
//	0       version (1)
//	1..24   nonce, random
//	25..    ciphertext and 16-byte Poly1305 tag
//
// The version byte names the algorithm and the key generation. Today only version 1
// exists: XChaCha20-Poly1305 under the one configured key. To rotate, a later Sealer
// holds keys by version, seals with the newest and opens any it holds; rows are
// re-sealed in the background and the old key retired. The version byte is part of
// the authenticated data, so it cannot be altered to pick another key.
const (
	version1  = 1
	nonceSize = chacha20poly1305.NonceSizeX
	// Overhead is how much longer a sealed value is than its plaintext.
	Overhead = 1 + nonceSize + chacha20poly1305.Overhead
)

// ErrOpen is the error from Open for any sealed value that does not open: wrong key,
// wrong additional data, tampered, truncated or of an unknown version.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens values under one key. It is safe for concurrent use if its
// random source is.
type Sealer struct {
	aead cipher.AEAD
	err  error // from building the AEAD, reported by every call
	rand io.Reader
}

// NewSealer returns a Sealer for k that draws nonces from rand (crypto/rand.Reader if
// nil).
func NewSealer(k Key, rand io.Reader) *Sealer {
	// NewX fails only on a wrong key length, impossible with Key, or in FIPS
	// 140-only mode; keep the error for Seal and Open rather than panic.
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		err = fmt.Errorf("seal: build XChaCha20-Poly1305: %w", err)
	}
	return &Sealer{aead: aead, err: err, rand: rand}
}

// Seal encrypts plaintext and binds it to additionalData (for a TOTP seed, the chip
// serial), which Open must be given again.
func (s *Sealer) Seal(plaintext, additionalData []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	r := s.rand
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = version1
	if _, err := io.ReadFull(r, out[1:]); err != nil {
		return nil, fmt.Errorf("seal: read random nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], plaintext, associated(out[0], additionalData)), nil
}

// Open decrypts a value made by Seal with the same key and additionalData. Every
// failure matches ErrOpen.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte minimum", ErrOpen, len(sealed), Overhead)
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	nonce, box := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plain, err := s.aead.Open(nil, nonce, box, associated(sealed[0], additionalData))
	if err != nil {
		// The AEAD does not say why; with the version known it is a wrong key, wrong
		// additional data or a changed byte.
		return nil, fmt.Errorf("%w: authentication failed (wrong key, wrong additional data or tampered)", ErrOpen)
	}
	return plain, nil
}

// associated is what the AEAD authenticates besides the ciphertext. The version is a
// fixed single byte in front, so no two (version, data) pairs give the same bytes.
func associated(version byte, additionalData []byte) []byte {
	ad := make([]byte, 0, 1+len(additionalData))
	ad = append(ad, version)
	return append(ad, additionalData...)
}

package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Sizes of the random names the provider makes: an authorization request's id (in
// the logon page's address, so not a secret) and the one-time handle the browser
// brings back to the callback after the logon (a secret: only its hash is kept).
const (
	idBytes     = 16
	handleBytes = 32
)

var b64 = base64.RawURLEncoding

// newRandom is n random bytes from r, base64url without padding.
func newRandom(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("oidc: random: %w", err)
	}
	return b64.EncodeToString(b), nil
}

var errMalformed = errors.New("malformed")

// parseRandom checks that s is exactly what newRandom(_, n) makes: base64url without
// padding, in its one canonical spelling, of n bytes.
func parseRandom(s string, n int) error {
	if len(s) != b64.EncodedLen(n) {
		return errMalformed
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil || len(b) != n {
		return errMalformed
	}
	return nil
}

// ParseAuthRequestID checks an authorization request id as the logon page passes it
// on (the auth_request parameter), before any store is asked.
func ParseAuthRequestID(s string) error {
	if err := parseRandom(s, idBytes); err != nil {
		return fmt.Errorf("authorization request id: %w", err)
	}
	return nil
}

// parseHandle checks a callback handle.
func parseHandle(s string) error { return parseRandom(s, handleBytes) }

// hash is the SHA-256 the store keeps of a secret: a client secret, a code, a
// callback handle. All are 32 random bytes or more, so a fast hash is enough.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Package transcript builds the binding transcript: the bytes whose hash the chip signs
// on the final button press. The browser builds it to ask; the server rebuilds it to verify.
package transcript

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strconv"
)

// Label and Version open every transcript. The label is printable ASCII and the
// version byte is below 0x20, so the version byte also ends the label: no other
// printable label can share this prefix.
const (
	Label   = "mitid-chip/binding"
	Version = 1
)

// Field limits.
const (
	MaxFieldSize  = 1024
	PublicKeySize = 65 // uncompressed P-256 point: 0x04 || X || Y
	VerifierSize  = 32 // Ed25519 public key from package kdf
	MinNonceSize  = 16
)

// Errors callers can test for with errors.Is; the message also names the field.
var (
	ErrEmpty     = errors.New("empty")
	ErrTooLong   = errors.New("longer than " + strconv.Itoa(MaxFieldSize) + " bytes")
	ErrPublicKey = errors.New("not an uncompressed P-256 point")
	ErrVerifier  = errors.New("not a 32-byte verifier")
	ErrNonce     = errors.New("too short")
)

// Binding is what the chip's signature ties together. Strings are used as their
// bytes: callers must pass the canonical forms the server stores (for example the
// user ID in lower case), or browser and server will hash different transcripts.
type Binding struct {
	ActivationID     string
	UserID           string
	ChipSerial       string
	ChipPublicKey    []byte
	PasswordVerifier []byte
	Nonce            []byte
}

// Encode returns the canonical transcript: Label, the Version byte, then each field
// as a big-endian uint16 length and its bytes, in the order of the struct.
func (b Binding) Encode() ([]byte, error) {
	fields := [...]struct {
		name string
		v    []byte
	}{
		{"ActivationID", []byte(b.ActivationID)},
		{"UserID", []byte(b.UserID)},
		{"ChipSerial", []byte(b.ChipSerial)},
		{"ChipPublicKey", b.ChipPublicKey},
		{"PasswordVerifier", b.PasswordVerifier},
		{"Nonce", b.Nonce},
	}
	size := len(Label) + 1
	for _, f := range fields {
		if len(f.v) == 0 {
			return nil, fieldError(f.name, ErrEmpty, "")
		}
		if len(f.v) > MaxFieldSize {
			return nil, fieldError(f.name, ErrTooLong, "got "+strconv.Itoa(len(f.v)))
		}
		size += 2 + len(f.v)
	}
	// Only the format is checked here; whether the point is on the curve is settled
	// by the ECDSA verifier on the server, which keeps crypto/elliptic out of the module.
	if len(b.ChipPublicKey) != PublicKeySize || b.ChipPublicKey[0] != 0x04 {
		return nil, fieldError("ChipPublicKey", ErrPublicKey,
			"got "+strconv.Itoa(len(b.ChipPublicKey))+" bytes starting 0x"+hexByte(b.ChipPublicKey[0])+
				", want 65 bytes starting 0x04")
	}
	if len(b.PasswordVerifier) != VerifierSize {
		return nil, fieldError("PasswordVerifier", ErrVerifier, "got "+strconv.Itoa(len(b.PasswordVerifier))+" bytes")
	}
	if len(b.Nonce) < MinNonceSize {
		return nil, fieldError("Nonce", ErrNonce,
			"got "+strconv.Itoa(len(b.Nonce))+" bytes, want at least "+strconv.Itoa(MinNonceSize))
	}

	out := make([]byte, 0, size)
	out = append(out, Label...)
	out = append(out, Version)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f.v)))
		out = append(out, f.v...)
	}
	return out, nil
}

// Hash returns SHA-256 of the transcript. The chip signs these 32 bytes as the
// ECDSA P-256 digest (ASN.1 signature); the verifier must not hash them again.
func (b Binding) Hash() ([32]byte, error) {
	enc, err := b.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(enc), nil
}

// fieldErr lets errors.Is find the sentinel while the message names the field;
// fmt is kept out of the browser module for size.
type fieldErr struct {
	msg string
	err error
}

func (e *fieldErr) Error() string { return e.msg }
func (e *fieldErr) Unwrap() error { return e.err }

func fieldError(field string, sentinel error, detail string) error {
	msg := "transcript: " + field + ": " + sentinel.Error()
	if detail != "" {
		msg += " (" + detail + ")"
	}
	return &fieldErr{msg: msg, err: sentinel}
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0x0f]})
}

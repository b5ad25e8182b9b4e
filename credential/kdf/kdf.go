// Package kdf derives the password key: Argon2id turns a password and a per-user salt
// into an Ed25519 key pair whose public half is the only thing the server ever stores.
package kdf

import (
	"crypto/ed25519"
	"errors"
	"io"
	"strconv"

	"golang.org/x/crypto/argon2"
)

// Salt sizes. The server makes SaltSize-byte salts; Derive accepts the range so that
// a record made with a longer salt stays usable.
const (
	SaltSize    = 16
	MinSaltSize = 16
	MaxSaltSize = 64
)

// Bounds enforced by Params.Validate. The parameters come from the server, so the
// browser must not trust them blindly: these keep a hostile server or a corrupted
// record from making a phone allocate absurd memory or spin for minutes.
const (
	MinTime      = 1
	MaxTime      = 10
	MinMemoryKiB = 8 * 1024
	MaxMemoryKiB = 256 * 1024
	MinThreads   = 1
	MaxThreads   = 4
)

// Sizes of what travels between browser and server.
const (
	VerifierSize     = ed25519.PublicKeySize
	ProofSize        = ed25519.SignatureSize
	MinChallengeSize = 16
	MaxChallengeSize = 1024
)

// keyContext is prefixed to the salt so that the same password and salt used by any
// other Argon2id consumer gives a different key. x/crypto/argon2 does not expose
// Argon2's associated-data input, and the salt is length-framed inside Argon2's H0,
// so a fixed, NUL-terminated prefix is an unambiguous context: no other label
// (printable ASCII, no NUL) can be a prefix of it.
const keyContext = "mitid-chip/password-key/v1\x00"

// proofContext frames what the password key signs, for the same reason: a server
// challenge can never make the key sign something meaningful elsewhere.
const proofContext = "mitid-chip/password-proof/v1\x00"

// Errors callers can test for with errors.Is.
var (
	ErrParams        = errors.New("kdf: Argon2id parameters out of bounds")
	ErrSalt          = errors.New("kdf: bad salt")
	ErrEmptyPassword = errors.New("kdf: empty password")
	ErrVerifier      = errors.New("kdf: bad verifier")
	ErrWeakVerifier  = errors.New("kdf: verifier is a small-order point")
	ErrChallenge     = errors.New("kdf: bad challenge")
	ErrProof         = errors.New("kdf: bad proof length")
	ErrBadProof      = errors.New("kdf: proof does not verify")
)

// Params are the Argon2id cost parameters, stored with the user's record.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8 // lanes; on wasm they run one after another
}

// DefaultParams follows OWASP's first Argon2id recommendation (m=19 MiB, t=2, p=1).
// One lane, because the browser module runs in a single-threaded Web Worker, where
// more lanes add time but no parallelism.
func DefaultParams() Params {
	return Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}
}

// Validate reports whether p is within the bounds the browser agrees to compute.
func (p Params) Validate() error {
	switch {
	case p.Time < MinTime || p.Time > MaxTime:
		return outOfRange(ErrParams, "time", uint64(p.Time), MinTime, MaxTime)
	case p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB:
		return outOfRange(ErrParams, "memory KiB", uint64(p.MemoryKiB), MinMemoryKiB, MaxMemoryKiB)
	case p.Threads < MinThreads || p.Threads > MaxThreads:
		return outOfRange(ErrParams, "threads", uint64(p.Threads), MinThreads, MaxThreads)
	}
	return nil
}

// NewSalt reads a fresh SaltSize-byte salt from r (crypto/rand.Reader in production).
func NewSalt(r io.Reader) ([]byte, error) {
	salt := make([]byte, SaltSize)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, &wrapError{msg: "kdf: reading salt: " + err.Error(), err: err}
	}
	return salt, nil
}

// Derive computes the password key. The password goes into Argon2id as typed (its
// UTF-8 bytes, no Unicode normalization; see docs/protocol.md). It takes as long as
// p says, so in the browser it must run in a Web Worker, never on the page's thread.
func Derive(password string, salt []byte, p Params) (ed25519.PrivateKey, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(salt) < MinSaltSize || len(salt) > MaxSaltSize {
		return nil, outOfRange(ErrSalt, "salt length", uint64(len(salt)), MinSaltSize, MaxSaltSize)
	}
	if password == "" {
		return nil, ErrEmptyPassword
	}
	framed := make([]byte, 0, len(keyContext)+len(salt))
	framed = append(framed, keyContext...)
	framed = append(framed, salt...)
	pw := []byte(password)
	seed := argon2.IDKey(pw, framed, p.Time, p.MemoryKiB, p.Threads, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	// Best effort: the copies we own should not outlive the call.
	clear(pw)
	clear(seed)
	return priv, nil
}

// Verifier returns the public key the server stores in place of the password.
// It returns nil for a malformed key rather than panic.
func Verifier(priv ed25519.PrivateKey) []byte {
	if len(priv) != ed25519.PrivateKeySize {
		return nil
	}
	return append([]byte(nil), priv[ed25519.SeedSize:]...)
}

// Prove signs the server's challenge. It returns nil for a malformed key rather than
// panic; Check rejects a nil proof.
func Prove(priv ed25519.PrivateKey, challenge []byte) []byte {
	if len(priv) != ed25519.PrivateKeySize {
		return nil
	}
	return ed25519.Sign(priv, proofMessage(challenge))
}

// Check verifies on the server that proof is the stored verifier's signature over the
// challenge the server issued. All three come from outside, so every length is checked
// before any cryptography runs.
func Check(verifier, challenge, proof []byte) error {
	if err := CheckVerifier(verifier); err != nil {
		return err
	}
	if len(challenge) < MinChallengeSize || len(challenge) > MaxChallengeSize {
		return outOfRange(ErrChallenge, "challenge length", uint64(len(challenge)), MinChallengeSize, MaxChallengeSize)
	}
	if len(proof) != ProofSize {
		return exactSize(ErrProof, "proof length", len(proof), ProofSize)
	}
	if !ed25519.Verify(ed25519.PublicKey(verifier), proofMessage(challenge), proof) {
		return ErrBadProof
	}
	return nil
}

// CheckVerifier reports whether v can serve as a verifier. The server should call it
// when a verifier is registered, not only at login: a small-order public key lets
// anyone forge a proof, so whoever registered it would have an account with no
// password at all.
func CheckVerifier(v []byte) error {
	if len(v) != VerifierSize {
		return exactSize(ErrVerifier, "verifier length", len(v), VerifierSize)
	}
	if hasSmallOrder(v) {
		return ErrWeakVerifier
	}
	return nil
}

func proofMessage(challenge []byte) []byte {
	msg := make([]byte, 0, len(proofContext)+len(challenge))
	msg = append(msg, proofContext...)
	return append(msg, challenge...)
}

// smallOrder lists the encodings of the Ed25519 points of order 1, 2, 4 and 8,
// canonical and not, with the sign bit cleared (libsodium's blocklist). Comparing
// with the input's sign bit cleared covers both signs.
var smallOrder = [7][32]byte{
	// 0 (order 4)
	{},
	// 1 (order 1)
	{0x01},
	// order 8
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	// order 8
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	// p-1 (order 2)
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p, a non-canonical 0 (order 4)
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p+1, a non-canonical 1 (order 1)
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

func hasSmallOrder(v []byte) bool {
	for i := range smallOrder {
		bad := &smallOrder[i]
		if string(v[:31]) == string(bad[:31]) && v[31]&0x7f == bad[31] {
			return true
		}
	}
	return false
}

// wrapError lets errors.Is find the sentinel while the message names what failed;
// fmt is kept out of the browser module for size.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

func outOfRange(sentinel error, what string, got, lo, hi uint64) error {
	return &wrapError{
		msg: sentinel.Error() + ": " + what + " " + strconv.FormatUint(got, 10) +
			", want " + strconv.FormatUint(lo, 10) + ".." + strconv.FormatUint(hi, 10),
		err: sentinel,
	}
}

func exactSize(sentinel error, what string, got, want int) error {
	return &wrapError{
		msg: sentinel.Error() + ": " + what + " " + strconv.Itoa(got) + ", want " + strconv.Itoa(want),
		err: sentinel,
	}
}

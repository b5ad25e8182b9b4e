package transcript

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// LogonLabel opens every logon transcript, followed by LogonVersion. It differs from
// Label, and each label is ended by its version byte (below 0x20), so a chip's
// signature over one kind can never verify as the other.
const (
	LogonLabel   = "mitid-chip/logon"
	LogonVersion = 1
)

// Purposes of a logon: MitID.dk itself, or the OIDC authorization request whose id
// follows PurposeAuthRequest; or not a logon at all, but a logged-on person's change
// of password, approved by the chip's press: PurposePasswordChange followed by
// PasswordChangeDigest of the new password's verifier, so the chip approves that
// password and no other (docs/selfservice.md).
const (
	PurposeMitID          = "mitid.dk"
	PurposeAuthRequest    = "oidc:"
	PurposePasswordChange = "mitid.dk/password:"
)

// PasswordChangeDigest is the text that follows PurposePasswordChange: SHA-256 of
// the new verifier, hex.
func PasswordChangeDigest(verifier []byte) string {
	d := sha256.Sum256(verifier)
	return hex.EncodeToString(d[:])
}

// ChallengeSize is the server's password challenge (and MinNonceSize the nonce).
const MinChallengeSize = 16

// Logon is what the chip's signature ties together when its person logs on: the
// server's challenge (which the password proof also signed), the person's normalized
// user ID, the chip, the page's origin and what the logon is for, and a nonce the
// server gave once the password passed.
type Logon struct {
	ChallengeID   string
	Challenge     []byte
	UserID        string // normalized (credential/userid.Normalize), as the server keeps it
	ChipSerial    string
	ChipPublicKey []byte
	Origin        string // scheme://host[:port] of the page, as the server is configured
	Purpose       string // PurposeMitID, PurposeAuthRequest + the request's id, or PurposePasswordChange + digest
	Nonce         []byte
}

// Encode returns the canonical logon transcript: LogonLabel, the LogonVersion byte,
// then each field as a big-endian uint16 length and its bytes, in the order of the
// struct. Every field must be non-empty and at most MaxFieldSize bytes.
func (l Logon) Encode() ([]byte, error) {
	fields := [...]field{
		{"ChallengeID", []byte(l.ChallengeID)},
		{"Challenge", l.Challenge},
		{"UserID", []byte(l.UserID)},
		{"ChipSerial", []byte(l.ChipSerial)},
		{"ChipPublicKey", l.ChipPublicKey},
		{"Origin", []byte(l.Origin)},
		{"Purpose", []byte(l.Purpose)},
		{"Nonce", l.Nonce},
	}
	if err := checkFields(fields[:]); err != nil {
		return nil, err
	}
	if len(l.ChipPublicKey) != PublicKeySize || l.ChipPublicKey[0] != 0x04 {
		return nil, fieldError("ChipPublicKey", ErrPublicKey, "got "+strconv.Itoa(len(l.ChipPublicKey))+" bytes, want 65 starting 0x04")
	}
	if len(l.Challenge) < MinChallengeSize {
		return nil, fieldError("Challenge", ErrNonce, "got "+strconv.Itoa(len(l.Challenge))+" bytes, want at least "+strconv.Itoa(MinChallengeSize))
	}
	if len(l.Nonce) < MinNonceSize {
		return nil, fieldError("Nonce", ErrNonce, "got "+strconv.Itoa(len(l.Nonce))+" bytes, want at least "+strconv.Itoa(MinNonceSize))
	}
	return appendFields([]byte(LogonLabel), LogonVersion, fields[:]), nil
}

// Hash returns SHA-256 of the logon transcript: the digest the chip signs.
func (l Logon) Hash() ([32]byte, error) {
	enc, err := l.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(enc), nil
}

type field struct {
	name string
	v    []byte
}

func checkFields(fields []field) error {
	for _, f := range fields {
		if len(f.v) == 0 {
			return fieldError(f.name, ErrEmpty, "")
		}
		if len(f.v) > MaxFieldSize {
			return fieldError(f.name, ErrTooLong, "got "+strconv.Itoa(len(f.v)))
		}
	}
	return nil
}

func appendFields(label []byte, version byte, fields []field) []byte {
	out := append(label, version)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f.v)))
		out = append(out, f.v...)
	}
	return out
}

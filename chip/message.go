package chip

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// PublicKeySize is the length of an uncompressed P-256 point (0x04 || X || Y).
const PublicKeySize = 65

// Limits on hello fields. They keep a hostile or broken chip from making the page or
// the server hold more than a sane certificate's worth of bytes.
const (
	MaxSerial      = 32
	MaxFirmware    = 16
	MaxCertificate = 1500
	MaxSignature   = 80 // ASN.1 ECDSA P-256 is at most 72
	MaxSignWait    = 2 * time.Minute
)

// ErrMessage reports a payload that does not hold the message its type promises.
var ErrMessage = errors.New("chip: malformed message")

// Hello is the chip's answer to TypeHello.
type Hello struct {
	Serial      string // printed on the chip, [A-Z0-9-]
	Firmware    string // e.g. "1.4.2"
	PublicKey   []byte // the device key, uncompressed P-256
	Certificate []byte // X.509 DER, issued to PublicKey by the manufacturer's CA
}

// Payload layout: u8 len, serial; u8 len, firmware; u8 len (65), key; u16 len, cert.
func (h Hello) Marshal() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 5+len(h.Serial)+len(h.Firmware)+len(h.PublicKey)+len(h.Certificate))
	b = append(append(b, byte(len(h.Serial))), h.Serial...)
	b = append(append(b, byte(len(h.Firmware))), h.Firmware...)
	b = append(append(b, byte(len(h.PublicKey))), h.PublicKey...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Certificate)))
	return append(b, h.Certificate...), nil
}

// ParseHello reads a TypeHelloReply payload.
func ParseHello(p []byte) (Hello, error) {
	r := reader{b: p}
	h := Hello{
		Serial:      string(r.bytes(int(r.u8()))),
		Firmware:    string(r.bytes(int(r.u8()))),
		PublicKey:   r.bytes(int(r.u8())),
		Certificate: r.bytes(int(r.u16())),
	}
	if err := r.done(); err != nil {
		return Hello{}, err
	}
	if err := h.validate(); err != nil {
		return Hello{}, err
	}
	return h, nil
}

func (h Hello) validate() error {
	switch {
	case !ValidSerial(h.Serial):
		return errors.Join(ErrMessage, errors.New("chip: serial must be 1 to 32 of A-Z 0-9 -"))
	case len(h.Firmware) == 0 || len(h.Firmware) > MaxFirmware || !printable(h.Firmware):
		return errors.Join(ErrMessage, errors.New("chip: firmware version must be 1 to 16 printable characters"))
	case len(h.PublicKey) != PublicKeySize || h.PublicKey[0] != 0x04:
		return errors.Join(ErrMessage, errors.New("chip: public key must be an uncompressed P-256 point"))
	case len(h.Certificate) == 0 || len(h.Certificate) > MaxCertificate:
		return errors.Join(ErrMessage, errors.New("chip: certificate must be 1 to 1500 bytes"))
	}
	return nil
}

// ValidSerial reports whether s has the form of a chip serial.
func ValidSerial(s string) bool {
	if len(s) == 0 || len(s) > MaxSerial {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// SignRequest asks the chip to sign Hash once its button is pressed, waiting at
// most Wait. Payload: 32-byte hash, u32 wait in milliseconds.
type SignRequest struct {
	Hash [32]byte
	Wait time.Duration
}

// Marshal writes the payload. The wait travels in whole milliseconds, rounded down, so
// a wait under one millisecond is refused rather than sent as the zero the chip rejects.
func (s SignRequest) Marshal() ([]byte, error) {
	if s.Wait < time.Millisecond || s.Wait > MaxSignWait {
		return nil, errors.Join(ErrMessage, errors.New("chip: sign wait must be within [1ms, 2m]"))
	}
	return binary.BigEndian.AppendUint32(append([]byte(nil), s.Hash[:]...), uint32(s.Wait/time.Millisecond)), nil
}

// ParseSignRequest reads a TypeSign payload.
func ParseSignRequest(p []byte) (SignRequest, error) {
	r := reader{b: p}
	var s SignRequest
	copy(s.Hash[:], r.bytes(32))
	ms := r.u32()
	if err := r.done(); err != nil {
		return SignRequest{}, err
	}
	s.Wait = time.Duration(ms) * time.Millisecond
	if s.Wait < time.Millisecond || s.Wait > MaxSignWait {
		return SignRequest{}, errors.Join(ErrMessage, errors.New("chip: sign wait must be within [1ms, 2m]"))
	}
	return s, nil
}

// ParseSignature reads a TypeSignature payload: u8 len, ASN.1 ECDSA signature.
func ParseSignature(p []byte) ([]byte, error) {
	r := reader{b: p}
	sig := r.bytes(int(r.u8()))
	if err := r.done(); err != nil {
		return nil, err
	}
	if len(sig) == 0 || len(sig) > MaxSignature {
		return nil, errors.Join(ErrMessage, errors.New("chip: signature length out of range"))
	}
	return sig, nil
}

// MarshalSignature is the inverse of ParseSignature.
func MarshalSignature(sig []byte) ([]byte, error) {
	if len(sig) == 0 || len(sig) > MaxSignature {
		return nil, errors.Join(ErrMessage, errors.New("chip: signature length out of range"))
	}
	return append([]byte{byte(len(sig))}, sig...), nil
}

// ErrorCode is the reason a chip gives in a TypeError frame.
type ErrorCode uint8

const (
	CodeBadFrame   ErrorCode = 1 // the request did not decode
	CodeVersion    ErrorCode = 2 // the request's frame version is not spoken here
	CodeBusy       ErrorCode = 3 // another request is pending
	CodeBadRequest ErrorCode = 4 // the frame decoded but is not a request the chip serves
)

// Error is a chip's TypeError answer, returned as a Go error by sessions.
type Error struct{ Code ErrorCode }

func (e *Error) Error() string {
	switch e.Code {
	case CodeBadFrame:
		return "chip: reported a bad frame"
	case CodeVersion:
		return "chip: reported an unsupported version"
	case CodeBusy:
		return "chip: busy"
	case CodeBadRequest:
		return "chip: reported a bad request"
	}
	return "chip: error " + strconv.Itoa(int(e.Code))
}

// ParseError reads a TypeError payload: one code byte.
func ParseError(p []byte) (*Error, error) {
	if len(p) != 1 || p[0] == 0 {
		return nil, ErrMessage
	}
	return &Error{Code: ErrorCode(p[0])}, nil
}

// reader walks a payload; the first short read sticks and is reported by done.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) done() error {
	if r.bad {
		return errors.Join(ErrMessage, ErrTruncated)
	}
	if len(r.b) != 0 {
		return errors.Join(ErrMessage, ErrTrailing)
	}
	return nil
}

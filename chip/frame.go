// Package chip is what a MitID chip speaks: versioned binary frames, the messages they
// carry, chunking for Bluetooth, the NDEF mapping for NFC, and the Link that moves frames.
package chip

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
)

// Version is the only frame version this package reads and writes.
const Version = 1

// Frame layout, all integers big-endian:
//
//	0      version (1)
//	1      message type
//	2..3   request id
//	4..5   payload length n
//	6..    payload (n bytes)
//	6+n..  CRC-32 (IEEE) of bytes 0..6+n
const (
	headerSize = 6
	crcSize    = 4
	// MaxPayload bounds what a chip or a page ever has to buffer. A hello with a
	// P-256 attestation certificate is well under 1 KiB.
	MaxPayload = 2048
	// MaxFrame is the largest encoded frame.
	MaxFrame = headerSize + MaxPayload + crcSize
)

// Type is a message type. Responses have the high bit set.
type Type uint8

const (
	TypeHello      Type = 0x01 // request: who are you?
	TypeSign       Type = 0x02 // request: sign this hash once the button is pressed
	TypeHelloReply Type = 0x81 // response to TypeHello
	TypeSignature  Type = 0x82 // response to TypeSign: the signature
	TypeNotPressed Type = 0x83 // response to TypeSign: nobody pressed the button in time
	TypeError      Type = 0xFF // response to anything: the chip could not serve it
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeSign:
		return "sign"
	case TypeHelloReply:
		return "hello-reply"
	case TypeSignature:
		return "signature"
	case TypeNotPressed:
		return "not-pressed"
	case TypeError:
		return "error"
	}
	return "type(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

func (t Type) known() bool {
	switch t {
	case TypeHello, TypeSign, TypeHelloReply, TypeSignature, TypeNotPressed, TypeError:
		return true
	}
	return false
}

// Frame is one decoded frame. Payload is interpreted according to Type by the
// message functions in message.go.
type Frame struct {
	Type      Type
	RequestID uint16
	Payload   []byte
}

// Errors returned by Decode. They are distinct so a link can say what went wrong.
var (
	ErrTruncated   = errors.New("chip: frame truncated")
	ErrOversized   = errors.New("chip: frame too large")
	ErrVersion     = errors.New("chip: unsupported frame version")
	ErrChecksum    = errors.New("chip: frame checksum mismatch")
	ErrTrailing    = errors.New("chip: bytes after frame")
	ErrUnknownType = errors.New("chip: unknown message type")
)

// Encode returns the wire form of f.
func (f Frame) Encode() ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return nil, ErrOversized
	}
	if !f.Type.known() {
		return nil, ErrUnknownType
	}
	b := make([]byte, headerSize, headerSize+len(f.Payload)+crcSize)
	b[0] = Version
	b[1] = byte(f.Type)
	binary.BigEndian.PutUint16(b[2:], f.RequestID)
	binary.BigEndian.PutUint16(b[4:], uint16(len(f.Payload)))
	b = append(b, f.Payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// Decode parses exactly one frame. The version is checked before the checksum so
// that a chip speaking a newer protocol is reported as such, not as noise.
func Decode(b []byte) (Frame, error) {
	if len(b) > MaxFrame {
		return Frame{}, ErrOversized
	}
	if len(b) < 1 {
		return Frame{}, ErrTruncated
	}
	if b[0] != Version {
		return Frame{}, ErrVersion
	}
	if len(b) < headerSize+crcSize {
		return Frame{}, ErrTruncated
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n > MaxPayload {
		return Frame{}, ErrOversized
	}
	end := headerSize + n + crcSize
	if len(b) < end {
		return Frame{}, ErrTruncated
	}
	if len(b) > end {
		return Frame{}, ErrTrailing
	}
	if crc32.ChecksumIEEE(b[:end-crcSize]) != binary.BigEndian.Uint32(b[end-crcSize:]) {
		return Frame{}, ErrChecksum
	}
	t := Type(b[1])
	if !t.known() {
		return Frame{}, ErrUnknownType
	}
	return Frame{
		Type:      t,
		RequestID: binary.BigEndian.Uint16(b[2:]),
		Payload:   append([]byte(nil), b[headerSize:end-crcSize]...),
	}, nil
}

// PeekRequestID returns the request id of a frame that may not decode, so a chip can
// address its error reply. ok is false when b is too short to hold one.
func PeekRequestID(b []byte) (id uint16, ok bool) {
	if len(b) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[2:]), true
}

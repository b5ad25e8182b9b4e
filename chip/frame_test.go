package chip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"
)

// testHello is a hello whose fields are at sane sizes; the certificate is opaque bytes
// because the frame layer never parses it.
func testHello() Hello {
	key := make([]byte, PublicKeySize)
	key[0] = 0x04
	for i := 1; i < len(key); i++ {
		key[i] = byte(i)
	}
	return Hello{
		Serial:      "MC-000001",
		Firmware:    "1.4.2",
		PublicKey:   key,
		Certificate: bytes.Repeat([]byte{0x30}, 400),
	}
}

// rawFrame builds a frame byte by byte, so tests can make frames Encode refuses.
func rawFrame(version byte, t Type, id uint16, payload []byte) []byte {
	b := []byte{version, byte(t), byte(id >> 8), byte(id), byte(len(payload) >> 8), byte(len(payload))}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// mustMarshal(t)(m.Marshal()) returns the payload or stops the test.
func mustMarshal(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		return b
	}
}

// TestMessageRoundTrip sends each message through Marshal, Frame.Encode, Decode and
// its parser, and checks that what comes out is what went in.
func TestMessageRoundTrip(t *testing.T) {
	hello := testHello()
	sign := SignRequest{Hash: [32]byte{1, 2, 3, 31: 0xff}, Wait: 45 * time.Second}
	sig := bytes.Repeat([]byte{0x30}, 71)

	tests := []struct {
		name  string
		typ   Type
		id    uint16
		build func(t *testing.T) []byte
		check func(t *testing.T, payload []byte)
	}{
		{"hello request", TypeHello, 0, func(*testing.T) []byte { return nil }, func(t *testing.T, p []byte) {
			if len(p) != 0 {
				t.Errorf("payload: expected empty, got %x", p)
			}
		}},
		{"hello reply", TypeHelloReply, 1, func(t *testing.T) []byte { return mustMarshal(t)(hello.Marshal()) }, func(t *testing.T, p []byte) {
			got, err := ParseHello(p)
			if err != nil {
				t.Fatalf("ParseHello: %v", err)
			}
			if got.Serial != hello.Serial || got.Firmware != hello.Firmware ||
				!bytes.Equal(got.PublicKey, hello.PublicKey) || !bytes.Equal(got.Certificate, hello.Certificate) {
				t.Errorf("ParseHello: expected %+v, got %+v", hello, got)
			}
		}},
		{"sign request", TypeSign, 0xfffe, func(t *testing.T) []byte { return mustMarshal(t)(sign.Marshal()) }, func(t *testing.T, p []byte) {
			got, err := ParseSignRequest(p)
			if err != nil {
				t.Fatalf("ParseSignRequest: %v", err)
			}
			if got != sign {
				t.Errorf("ParseSignRequest: expected %+v, got %+v", sign, got)
			}
		}},
		{"signature", TypeSignature, 0xffff, func(t *testing.T) []byte { return mustMarshal(t)(MarshalSignature(sig)) }, func(t *testing.T, p []byte) {
			got, err := ParseSignature(p)
			if err != nil {
				t.Fatalf("ParseSignature: %v", err)
			}
			if !bytes.Equal(got, sig) {
				t.Errorf("ParseSignature: expected %x, got %x", sig, got)
			}
		}},
		{"not pressed", TypeNotPressed, 7, func(*testing.T) []byte { return nil }, func(t *testing.T, p []byte) {
			if len(p) != 0 {
				t.Errorf("payload: expected empty, got %x", p)
			}
		}},
		{"error", TypeError, 8, func(*testing.T) []byte { return []byte{byte(CodeBusy)} }, func(t *testing.T, p []byte) {
			got, err := ParseError(p)
			if err != nil {
				t.Fatalf("ParseError: %v", err)
			}
			if got.Code != CodeBusy {
				t.Errorf("ParseError: expected code %d, got %d", CodeBusy, got.Code)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := tt.build(t)
			wire, err := Frame{Type: tt.typ, RequestID: tt.id, Payload: payload}.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if want := headerSize + len(payload) + crcSize; len(wire) != want {
				t.Errorf("encoded length: expected %d, got %d", want, len(wire))
			}
			f, err := Decode(wire)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if f.Type != tt.typ || f.RequestID != tt.id || !bytes.Equal(f.Payload, payload) {
				t.Fatalf("Decode: expected %v id %d payload %x, got %v id %d payload %x",
					tt.typ, tt.id, payload, f.Type, f.RequestID, f.Payload)
			}
			tt.check(t, f.Payload)
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want error
	}{
		{"payload too large", Frame{Type: TypeHello, Payload: make([]byte, MaxPayload+1)}, ErrOversized},
		{"unknown type", Frame{Type: 0x42}, ErrUnknownType},
		{"zero type", Frame{}, ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.f.Encode()
			if !errors.Is(err, tt.want) {
				t.Errorf("Encode: expected %v, got %v (%x)", tt.want, err, b)
			}
		})
	}
	if _, err := (Frame{Type: TypeHelloReply, Payload: make([]byte, MaxPayload)}).Encode(); err != nil {
		t.Errorf("Encode of a MaxPayload frame: expected success, got %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := rawFrame(Version, TypeSign, 0x1234, bytes.Repeat([]byte{0xab}, 36))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	lengthSays := func(n uint16) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint16(b[4:], n)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"empty", []byte{}, ErrTruncated},
		{"version byte only", []byte{Version}, ErrTruncated},
		{"header only", good[:headerSize], ErrTruncated},
		{"shorter than header and checksum", good[:headerSize+crcSize-1], ErrTruncated},
		{"last byte missing", good[:len(good)-1], ErrTruncated},
		{"length claims more than sent", lengthSays(37), ErrTruncated},
		{"length over MaxPayload", lengthSays(MaxPayload + 1), ErrOversized},
		{"longer than MaxFrame", append(rawFrame(Version, TypeHelloReply, 1, make([]byte, MaxPayload)), 0), ErrOversized},
		{"version 0", rawFrame(0, TypeHello, 1, nil), ErrVersion},
		{"version 2", rawFrame(2, TypeHello, 1, nil), ErrVersion},
		{"version 2, one byte", []byte{2}, ErrVersion},
		{"payload bit flipped", flip(headerSize + 3), ErrChecksum},
		{"type bit flipped", flip(1), ErrChecksum},
		{"request id bit flipped", flip(2), ErrChecksum},
		{"checksum bit flipped", flip(len(good) - 1), ErrChecksum},
		{"trailing byte", append(bytes.Clone(good), 0), ErrTrailing},
		{"length claims less than sent", lengthSays(35), ErrTrailing},
		{"two frames back to back", append(bytes.Clone(good), good...), ErrTrailing},
		{"unknown type", rawFrame(Version, 0x42, 1, nil), ErrUnknownType},
		{"type zero", rawFrame(Version, 0, 1, nil), ErrUnknownType},
		{"response bit on unknown", rawFrame(Version, 0x84, 1, nil), ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode: expected %v, got %v (frame %+v)", tt.want, err, f)
			}
		})
	}
}

func TestDecodeCopiesPayload(t *testing.T) {
	wire := rawFrame(Version, TypeSign, 1, []byte{1, 2, 3})
	f, err := Decode(wire)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	wire[headerSize] = 0xee
	if f.Payload[0] != 1 {
		t.Errorf("payload aliases the input: expected first byte 1, got %#x", f.Payload[0])
	}
}

func TestPeekRequestID(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		wantID uint16
		wantOK bool
	}{
		{"whole frame", rawFrame(Version, TypeHello, 0xbeef, nil), 0xbeef, true},
		{"wrong version still has an id", rawFrame(9, TypeHello, 0x0102, nil), 0x0102, true},
		{"four bytes", []byte{1, 1, 0, 5}, 5, true},
		{"three bytes", []byte{1, 1, 0}, 0, false},
		{"empty", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := PeekRequestID(tt.in)
			if id != tt.wantID || ok != tt.wantOK {
				t.Errorf("PeekRequestID: expected (%#x, %v), got (%#x, %v)", tt.wantID, tt.wantOK, id, ok)
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	tests := map[Type]string{
		TypeHello: "hello", TypeSign: "sign", TypeHelloReply: "hello-reply", TypeSignature: "signature",
		TypeNotPressed: "not-pressed", TypeError: "error", 0x42: "type(0x42)",
	}
	for typ, want := range tests {
		if got := typ.String(); got != want {
			t.Errorf("Type(%#x).String(): expected %q, got %q", uint8(typ), want, got)
		}
	}
}

// FuzzDecode: the decoder never panics, and whatever it accepts re-encodes to the
// very bytes it came from, so there is exactly one wire form per frame.
func FuzzDecode(f *testing.F) {
	hello := mustMarshal(f)(testHello().Marshal())
	sign := mustMarshal(f)(SignRequest{Wait: time.Minute}.Marshal())
	for _, fr := range []Frame{
		{Type: TypeHello, RequestID: 1},
		{Type: TypeHelloReply, RequestID: 1, Payload: hello},
		{Type: TypeSign, RequestID: 2, Payload: sign},
		{Type: TypeSignature, RequestID: 2, Payload: []byte{2, 0x30, 0}},
		{Type: TypeNotPressed, RequestID: 3},
		{Type: TypeError, RequestID: 4, Payload: []byte{byte(CodeBusy)}},
	} {
		b, err := fr.Encode()
		if err != nil {
			f.Fatalf("seed %v: %v", fr.Type, err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{2, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		again, err := fr.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded frame: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding: expected %x, got %x", b, again)
		}
	})
}

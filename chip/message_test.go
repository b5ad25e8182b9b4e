package chip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// helloPayload lays out a hello payload by hand, so tests can make ones Marshal refuses.
func helloPayload(serial, firmware string, key, cert []byte) []byte {
	b := append([]byte{byte(len(serial))}, serial...)
	b = append(append(b, byte(len(firmware))), firmware...)
	b = append(append(b, byte(len(key))), key...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cert)))
	return append(b, cert...)
}

func TestHelloRejects(t *testing.T) {
	good := testHello()
	good.Certificate = []byte{0x30, 0x00}
	goodPayload := helloPayload(good.Serial, good.Firmware, good.PublicKey, good.Certificate)
	edit := func(change func(h *Hello)) Hello {
		h := good
		h.PublicKey = bytes.Clone(good.PublicKey)
		change(&h)
		return h
	}
	tests := []struct {
		name string
		h    Hello
	}{
		{"empty serial", edit(func(h *Hello) { h.Serial = "" })},
		{"lower-case serial", edit(func(h *Hello) { h.Serial = "mc-000001" })},
		{"serial with space", edit(func(h *Hello) { h.Serial = "MC 000001" })},
		{"serial with underscore", edit(func(h *Hello) { h.Serial = "MC_000001" })},
		{"serial with non-ASCII", edit(func(h *Hello) { h.Serial = "MC-ÆØÅ" })},
		{"serial with NUL", edit(func(h *Hello) { h.Serial = "MC\x00" })},
		{"serial too long", edit(func(h *Hello) { h.Serial = strings.Repeat("A", MaxSerial+1) })},
		{"empty firmware", edit(func(h *Hello) { h.Firmware = "" })},
		{"firmware too long", edit(func(h *Hello) { h.Firmware = strings.Repeat("1", MaxFirmware+1) })},
		{"firmware with newline", edit(func(h *Hello) { h.Firmware = "1.0\n" })},
		{"firmware with DEL", edit(func(h *Hello) { h.Firmware = "1.0\x7f" })},
		{"no key", edit(func(h *Hello) { h.PublicKey = nil })},
		{"short key", edit(func(h *Hello) { h.PublicKey = h.PublicKey[:PublicKeySize-1] })},
		{"long key", edit(func(h *Hello) { h.PublicKey = append(h.PublicKey, 0) })},
		{"key without 0x04", edit(func(h *Hello) { h.PublicKey[0] = 0x02 })},
		{"no certificate", edit(func(h *Hello) { h.Certificate = nil })},
		{"certificate too long", edit(func(h *Hello) { h.Certificate = make([]byte, MaxCertificate+1) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.h.Marshal(); !errors.Is(err, ErrMessage) {
				t.Errorf("Marshal: expected ErrMessage, got %v (%x)", err, b)
			}
			p := helloPayload(tt.h.Serial, tt.h.Firmware, tt.h.PublicKey, tt.h.Certificate)
			if h, err := ParseHello(p); !errors.Is(err, ErrMessage) {
				t.Errorf("ParseHello: expected ErrMessage, got %v (%+v)", err, h)
			}
		})
	}

	layout := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"serial length past the end", []byte{40, 'A'}},
		{"cut in the certificate", goodPayload[:len(goodPayload)-1]},
		{"cut in the certificate length", goodPayload[:len(goodPayload)-3]},
		{"trailing byte", append(bytes.Clone(goodPayload), 0)},
	}
	for _, tt := range layout {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := ParseHello(tt.p); !errors.Is(err, ErrMessage) {
				t.Errorf("ParseHello: expected ErrMessage, got %v (%+v)", err, h)
			}
		})
	}
	if _, err := ParseHello(goodPayload); err != nil {
		t.Errorf("ParseHello of the unedited payload: expected success, got %v", err)
	}
}

func TestHelloLimits(t *testing.T) {
	h := testHello()
	h.Serial = strings.Repeat("Z", MaxSerial)
	h.Firmware = strings.Repeat("~", MaxFirmware)
	h.Certificate = make([]byte, MaxCertificate)
	p, err := h.Marshal()
	if err != nil {
		t.Fatalf("Marshal at every limit: %v", err)
	}
	// The largest hello must fit in one frame, or a chip could not send it.
	if _, err := (Frame{Type: TypeHelloReply, Payload: p}).Encode(); err != nil {
		t.Fatalf("Encode of the largest hello (%d bytes): %v", len(p), err)
	}
	got, err := ParseHello(p)
	if err != nil {
		t.Fatalf("ParseHello at every limit: %v", err)
	}
	if got.Serial != h.Serial || got.Firmware != h.Firmware || len(got.Certificate) != MaxCertificate {
		t.Errorf("ParseHello: expected %q %q %d-byte cert, got %q %q %d-byte cert",
			h.Serial, h.Firmware, MaxCertificate, got.Serial, got.Firmware, len(got.Certificate))
	}
}

func signPayload(ms uint32) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 32), ms)
}

func TestSignRequestRejects(t *testing.T) {
	marshal := []struct {
		name string
		wait time.Duration
	}{
		{"wait zero", 0},
		{"wait negative", -time.Second},
		{"wait under a millisecond", 999 * time.Microsecond},
		{"wait too long", MaxSignWait + time.Millisecond},
	}
	for _, tt := range marshal {
		t.Run("marshal "+tt.name, func(t *testing.T) {
			if b, err := (SignRequest{Wait: tt.wait}).Marshal(); !errors.Is(err, ErrMessage) {
				t.Errorf("Marshal: expected ErrMessage, got %v (%x)", err, b)
			}
		})
	}
	parse := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"hash only", make([]byte, 32)},
		{"short wait", signPayload(1000)[:35]},
		{"trailing byte", append(signPayload(1000), 0)},
		{"wait zero", signPayload(0)},
		{"wait too long", signPayload(uint32(MaxSignWait/time.Millisecond) + 1)},
		{"wait u32 max", signPayload(^uint32(0))},
	}
	for _, tt := range parse {
		t.Run("parse "+tt.name, func(t *testing.T) {
			if s, err := ParseSignRequest(tt.p); !errors.Is(err, ErrMessage) {
				t.Errorf("ParseSignRequest: expected ErrMessage, got %v (%+v)", err, s)
			}
		})
	}
}

func TestSignRequestWaitLimits(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		want time.Duration // after the trip in whole milliseconds
	}{
		{"one millisecond", time.Millisecond, time.Millisecond},
		{"two minutes", MaxSignWait, MaxSignWait},
		{"rounded down to the millisecond", 1500 * time.Microsecond, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := SignRequest{Wait: tt.wait}.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			s, err := ParseSignRequest(p)
			if err != nil {
				t.Fatalf("ParseSignRequest: %v", err)
			}
			if s.Wait != tt.want {
				t.Errorf("wait: expected %v, got %v", tt.want, s.Wait)
			}
		})
	}
}

func TestSignatureRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  []byte
	}{{"empty", nil}, {"too long", make([]byte, MaxSignature+1)}} {
		t.Run("marshal "+tt.name, func(t *testing.T) {
			if b, err := MarshalSignature(tt.sig); !errors.Is(err, ErrMessage) {
				t.Errorf("MarshalSignature: expected ErrMessage, got %v (%x)", err, b)
			}
		})
	}
	for _, tt := range []struct {
		name string
		p    []byte
	}{
		{"empty payload", nil},
		{"zero length", []byte{0}},
		{"length past the end", []byte{3, 1, 2}},
		{"trailing byte", []byte{1, 0x30, 0}},
		{"too long", append([]byte{MaxSignature + 1}, make([]byte, MaxSignature+1)...)},
	} {
		t.Run("parse "+tt.name, func(t *testing.T) {
			if s, err := ParseSignature(tt.p); !errors.Is(err, ErrMessage) {
				t.Errorf("ParseSignature: expected ErrMessage, got %v (%x)", err, s)
			}
		})
	}
	p, err := MarshalSignature(make([]byte, MaxSignature))
	if err != nil {
		t.Fatalf("MarshalSignature of %d bytes: %v", MaxSignature, err)
	}
	if s, err := ParseSignature(p); err != nil || len(s) != MaxSignature {
		t.Errorf("ParseSignature of %d bytes: expected success, got %d bytes, %v", MaxSignature, len(s), err)
	}
}

func TestErrorPayload(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    []byte
	}{{"empty", nil}, {"code zero", []byte{0}}, {"two bytes", []byte{1, 0}}} {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			if e, err := ParseError(tt.p); !errors.Is(err, ErrMessage) || e != nil {
				t.Errorf("ParseError: expected nil, ErrMessage; got %v, %v", e, err)
			}
		})
	}
	// Codes this version does not know still parse: a newer chip may have more reasons.
	for _, tt := range []struct {
		code ErrorCode
		want string
	}{
		{CodeBadFrame, "chip: reported a bad frame"},
		{CodeVersion, "chip: reported an unsupported version"},
		{CodeBusy, "chip: busy"},
		{CodeBadRequest, "chip: reported a bad request"},
		{200, "chip: error 200"},
	} {
		e, err := ParseError([]byte{byte(tt.code)})
		if err != nil {
			t.Fatalf("ParseError(%d): %v", tt.code, err)
		}
		if e.Code != tt.code || e.Error() != tt.want {
			t.Errorf("ParseError(%d): expected code %d %q, got %d %q", tt.code, tt.code, tt.want, e.Code, e.Error())
		}
	}
}

func TestValidSerial(t *testing.T) {
	for s, want := range map[string]bool{
		"A": true, "MC-000001": true, strings.Repeat("9", MaxSerial): true, "---": true,
		"": false, "a": false, "MC 1": false, strings.Repeat("9", MaxSerial+1): false, "MC/1": false,
	} {
		if got := ValidSerial(s); got != want {
			t.Errorf("ValidSerial(%q): expected %v, got %v", s, want, got)
		}
	}
}

// FuzzParseHello: a hello from a chip is outside input. Never panic; anything accepted
// must pass Hello's own rules and marshal back to the same bytes.
func FuzzParseHello(f *testing.F) {
	f.Add(mustMarshal(f)(testHello().Marshal()))
	f.Add(helloPayload("A", "1", append([]byte{4}, make([]byte, 64)...), []byte{1}))
	f.Add([]byte{})
	f.Add([]byte{1, 'A', 1, '1', 65})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ParseHello(p)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("ParseHello error does not wrap ErrMessage: %v", err)
			}
			return
		}
		again, err := h.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed hello: %v", err)
		}
		if !bytes.Equal(again, p) {
			t.Fatalf("re-marshal: expected %x, got %x", p, again)
		}
	})
}

// FuzzParseSignRequest: a sign request is outside input to the chip.
func FuzzParseSignRequest(f *testing.F) {
	f.Add(signPayload(1000))
	f.Add(signPayload(0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		s, err := ParseSignRequest(p)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("ParseSignRequest error does not wrap ErrMessage: %v", err)
			}
			return
		}
		again, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed sign request: %v", err)
		}
		if !bytes.Equal(again, p) {
			t.Fatalf("re-marshal: expected %x, got %x", p, again)
		}
	})
}

// FuzzParseSignature: a signature payload is outside input to the page.
func FuzzParseSignature(f *testing.F) {
	f.Add(mustMarshal(f)(MarshalSignature(make([]byte, 71))))
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		sig, err := ParseSignature(p)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("ParseSignature error does not wrap ErrMessage: %v", err)
			}
			return
		}
		again, err := MarshalSignature(sig)
		if err != nil {
			t.Fatalf("MarshalSignature of a parsed signature: %v", err)
		}
		if !bytes.Equal(again, p) {
			t.Fatalf("re-marshal: expected %x, got %x", p, again)
		}
	})
}

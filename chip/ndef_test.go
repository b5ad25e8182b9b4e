package chip

import (
	"bytes"
	"errors"
	"testing"
)

func TestNDEFRoundTrip(t *testing.T) {
	frame, err := Frame{Type: TypeHello, RequestID: 9}.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	rec := ToNDEF(frame)
	if rec.Type != "mitid.dk:chipframe" {
		t.Errorf("record type: expected %q, got %q", "mitid.dk:chipframe", rec.Type)
	}
	frame[0] = 0xee // the record must not share the caller's buffer
	if rec.Data[0] != Version {
		t.Errorf("record data aliases the frame: expected first byte %d, got %#x", Version, rec.Data[0])
	}
	frame[0] = Version

	url := NDEFRecord{Type: "url", Data: []byte("https://mitid.dk")}
	other := NDEFRecord{Type: "example.com:thing", Data: []byte{1, 2, 3}}
	tests := []struct {
		name    string
		records []NDEFRecord
	}{
		{"alone", []NDEFRecord{rec}},
		{"after a URL record", []NDEFRecord{url, rec}},
		{"between foreign records", []NDEFRecord{other, rec, url}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromNDEF(tt.records)
			if err != nil {
				t.Fatalf("FromNDEF: %v", err)
			}
			if !bytes.Equal(got, frame) {
				t.Fatalf("FromNDEF: expected %x, got %x", frame, got)
			}
			if _, err := Decode(got); err != nil {
				t.Fatalf("Decode of the NDEF frame: %v", err)
			}
		})
	}
}

func TestNDEFRejects(t *testing.T) {
	rec := ToNDEF([]byte{1, 2, 3})
	tests := []struct {
		name    string
		records []NDEFRecord
		want    error
	}{
		{"no records", nil, ErrNDEFNoFrame},
		{"only foreign records", []NDEFRecord{{Type: "url", Data: []byte("x")}}, ErrNDEFNoFrame},
		{"type differs in case", []NDEFRecord{{Type: "MITID.DK:chipframe", Data: []byte{1}}}, ErrNDEFNoFrame},
		{"two frame records", []NDEFRecord{rec, rec}, ErrNDEFManyFrame},
		{"two frame records apart", []NDEFRecord{rec, {Type: "url"}, rec}, ErrNDEFManyFrame},
		{"frame too large", []NDEFRecord{ToNDEF(make([]byte, MaxFrame+1))}, ErrOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromNDEF(tt.records)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("FromNDEF: expected %v and no frame, got %v and %x", tt.want, err, got)
			}
		})
	}
}

package chip

import "errors"

// NDEFRecordType is the NFC Forum external type that carries one frame. External
// types are "domain:type"; the domain is the service's own so no other tag's records
// are mistaken for ours.
const NDEFRecordType = "mitid.dk:chipframe"

// NDEFRecord is the part of an NDEF record the mapping needs: its external type and
// its payload. Web NFC exposes records in this shape (recordType, data).
type NDEFRecord struct {
	Type string
	Data []byte
}

// NDEF mapping errors.
var (
	ErrNDEFNoFrame   = errors.New("chip: no chip frame record in NDEF message")
	ErrNDEFManyFrame = errors.New("chip: more than one chip frame record in NDEF message")
)

// ToNDEF wraps an encoded frame in one record.
func ToNDEF(frame []byte) NDEFRecord {
	return NDEFRecord{Type: NDEFRecordType, Data: append([]byte(nil), frame...)}
}

// FromNDEF finds the one frame record in a message read from a tag. Records of other
// types are ignored (a tag may carry a URL record too); the frame itself is checked
// by Decode.
func FromNDEF(records []NDEFRecord) ([]byte, error) {
	var frame []byte
	found := false
	for _, r := range records {
		if r.Type != NDEFRecordType {
			continue
		}
		if found {
			return nil, ErrNDEFManyFrame
		}
		found, frame = true, r.Data
	}
	if !found {
		return nil, ErrNDEFNoFrame
	}
	if len(frame) > MaxFrame {
		return nil, ErrOversized
	}
	return append([]byte(nil), frame...), nil
}

package transcript_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"mitidchip/credential/transcript"
)

// FuzzLogonEncode: Encode never panics, and what it encodes reads back field by
// field into exactly its input (so two different logons never share a transcript),
// behind the logon label, which no binding transcript starts with.
func FuzzLogonEncode(f *testing.F) {
	key := append([]byte{4}, bytes.Repeat([]byte{7}, 64)...)
	f.Add("id", bytes.Repeat([]byte{1}, 32), "anna", "MC-1", key, "https://mitid.test", "mitid.dk", bytes.Repeat([]byte{2}, 32))
	f.Add("", []byte{}, "", "", []byte{}, "", "", []byte{})
	f.Fuzz(func(t *testing.T, id string, challenge []byte, uid, serial string, pub []byte, origin, purpose string, nonce []byte) {
		l := transcript.Logon{ChallengeID: id, Challenge: challenge, UserID: uid, ChipSerial: serial, ChipPublicKey: pub,
			Origin: origin, Purpose: purpose, Nonce: nonce}
		enc, err := l.Encode()
		if err != nil {
			return
		}
		head := append([]byte(transcript.LogonLabel), transcript.LogonVersion)
		if !bytes.HasPrefix(enc, head) || bytes.HasPrefix(enc, []byte(transcript.Label)) {
			t.Fatalf("transcript starts %q", enc[:min(len(enc), 24)])
		}
		rest := enc[len(head):]
		var fields [][]byte
		for len(rest) > 0 {
			if len(rest) < 2 {
				t.Fatalf("trailing byte")
			}
			n := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+n {
				t.Fatalf("field overruns the transcript")
			}
			fields, rest = append(fields, rest[2:2+n]), rest[2+n:]
		}
		want := [][]byte{[]byte(id), challenge, []byte(uid), []byte(serial), pub, []byte(origin), []byte(purpose), nonce}
		if len(fields) != len(want) {
			t.Fatalf("%d fields, want %d", len(fields), len(want))
		}
		for i := range want {
			if !bytes.Equal(fields[i], want[i]) {
				t.Fatalf("field %d reads back %x, want %x", i, fields[i], want[i])
			}
		}
	})
}

package transcript

import (
	"bytes"
	"testing"
)

// FuzzEncode: Encode never panics, is deterministic, and whatever it accepts
// decodes back to exactly the fields it was given.
func FuzzEncode(f *testing.F) {
	e := example()
	f.Add(e.ActivationID, e.UserID, e.ChipSerial, e.ChipPublicKey, e.PasswordVerifier, e.Nonce)
	f.Add("", "", "", []byte{}, []byte{}, []byte{})
	f.Add("a", "b", "c", []byte{0x04}, make([]byte, 32), make([]byte, 15))

	f.Fuzz(func(t *testing.T, activationID, userID, chipSerial string, pub, verifier, nonce []byte) {
		b := Binding{activationID, userID, chipSerial, pub, verifier, nonce}
		enc, err := b.Encode()
		enc2, err2 := b.Encode()
		if !bytes.Equal(enc, enc2) || (err == nil) != (err2 == nil) {
			t.Fatalf("non-deterministic: %x, %v then %x, %v", enc, err, enc2, err2)
		}
		if err != nil {
			if enc != nil {
				t.Fatalf("error %v came with %d bytes of encoding", err, len(enc))
			}
			return
		}
		fields, derr := decode(enc)
		if derr != nil {
			t.Fatalf("accepted encoding does not decode: %v", derr)
		}
		want := [][]byte{[]byte(activationID), []byte(userID), []byte(chipSerial), pub, verifier, nonce}
		for i := range want {
			if !bytes.Equal(fields[i], want[i]) {
				t.Fatalf("field %d: expected %x, got %x", i, want[i], fields[i])
			}
		}
	})
}

package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseKey(t *testing.T) {
	k := testKey(t, 1)
	b64 := EncodeKey(k)
	hx := hex.EncodeToString(k[:])
	tests := []struct {
		name    string
		in      string
		wantErr string // empty: parses to k
	}{
		{name: "base64 from EncodeKey", in: b64},
		{name: "hex lower case", in: hx},
		{name: "hex upper case", in: strings.ToUpper(hx)},
		{name: "surrounding white space", in: "  " + b64 + "\n"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "white space only", in: " \n", wantErr: "empty"},
		{name: "64 characters not hex", in: "g" + hx[1:], wantErr: "not hex"},
		{name: "hex too short", in: hx[:62], wantErr: "neither"},
		{name: "base64 of 31 bytes", in: base64.StdEncoding.EncodeToString(k[:31]), wantErr: "31 bytes, want 32"},
		{name: "base64 of 33 bytes", in: base64.StdEncoding.EncodeToString(append(k[:], 1)), wantErr: "33 bytes, want 32"},
		{name: "base64 without padding", in: strings.TrimRight(b64, "="), wantErr: "neither"},
		{name: "URL base64", in: base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), wantErr: "neither"},
		{name: "all zeros", in: base64.StdEncoding.EncodeToString(make([]byte, 32)), wantErr: "all zeros"},
		{name: "garbage", in: "correct horse battery staple", wantErr: "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: got error %v, want success", err)
				}
				if got != k {
					t.Fatal("ParseKey: got a different key than was encoded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseKey: got error %v, want one containing %q", err, tc.wantErr)
			}
			if got != (Key{}) {
				t.Fatal("ParseKey returned a key with an error, want the zero Key")
			}
			if len(tc.in) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.in)[:8]) {
				t.Fatalf("ParseKey error %q echoes the input", err)
			}
		})
	}
}

func TestKeyNeverPrints(t *testing.T) {
	k := testKey(t, 1)
	secrets := []string{EncodeKey(k), hex.EncodeToString(k[:]), fmt.Sprint(k[:]), fmt.Sprintf("%d", k[0])}

	var logJSON, logText bytes.Buffer
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("config", "key", k)
	slog.New(slog.NewTextHandler(&logText, nil)).Info("config", "key", k)
	asJSON, err := json.Marshal(struct{ Key Key }{k})
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	outputs := map[string]string{
		"String":      k.String(),
		"%v":          fmt.Sprintf("%v", k),
		"%+v":         fmt.Sprintf("%+v", k),
		"%#v":         fmt.Sprintf("%#v", k),
		"%s":          fmt.Sprintf("%s", k),
		"%x":          fmt.Sprintf("%x", k),
		"%X":          fmt.Sprintf("%X", k),
		"%d":          fmt.Sprintf("%d", k),
		"%q":          fmt.Sprintf("%q", k),
		"in a struct": fmt.Sprintf("%+v", struct{ K Key }{k}),
		"pointer":     fmt.Sprintf("%v", &k),
		"error":       fmt.Errorf("open with %v: %w", k, errors.New("x")).Error(),
		"slog JSON":   logJSON.String(),
		"slog text":   logText.String(),
		"json":        string(asJSON),
	}
	for name, out := range outputs {
		if !strings.Contains(out, redacted) {
			t.Errorf("%s: got %q, want it to say %q", name, out, redacted)
		}
		for _, s := range secrets {
			if len(s) > 3 && strings.Contains(out, s) {
				t.Errorf("%s: output %q contains the key", name, out)
			}
		}
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 1)
	if a != b {
		t.Fatal("GenerateKey with the same random source gave different keys, want the same")
	}
	if c := testKey(t, 2); c == a {
		t.Fatal("GenerateKey with different random sources gave the same key")
	}
	if _, err := GenerateKey(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("GenerateKey with a failing random source: got nil error, want an error")
	}
	if k, err := GenerateKey(nil); err != nil || k == (Key{}) {
		t.Fatalf("GenerateKey(nil): got zero key %v or error %v, want a random key", k == (Key{}), err)
	}
}

// FuzzParseKey checks that ParseKey never panics and that any key it accepts survives
// EncodeKey and ParseKey unchanged.
func FuzzParseKey(f *testing.F) {
	k := testKey(f, 1)
	f.Add(EncodeKey(k))
	f.Add(hex.EncodeToString(k[:]))
	f.Add(" " + EncodeKey(k) + "\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if k != (Key{}) {
				t.Fatal("ParseKey returned a key with an error")
			}
			return
		}
		again, err := ParseKey(EncodeKey(k))
		if err != nil || again != k {
			t.Fatalf("EncodeKey/ParseKey round trip: error %v, same key %v", err, again == k)
		}
	})
}

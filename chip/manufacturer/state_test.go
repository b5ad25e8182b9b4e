package manufacturer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestCAPEMRoundTrip(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	b, err := ca.EncodePEM()
	if err != nil {
		t.Fatalf("EncodePEM: %v", err)
	}
	got, err := ParseCA(b)
	if err != nil {
		t.Fatalf("ParseCA: %v", err)
	}
	if !got.Cert.Equal(ca.Cert) || !got.Key.Equal(ca.Key) {
		t.Fatal("ParseCA: expected the same certificate and key back")
	}
	// The parsed CA must still mint chips that chain to the original.
	c, err := got.Mint("MC-000009", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("Mint with the parsed CA: %v", err)
	}
	cert, err := x509.ParseCertificate(c.Certificate)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("chip minted by the parsed CA: %v", err)
	}
}

func TestParseCARejects(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	other := newTestCA(t, "Other Factory")
	chip := newTestBatch(t, ca, "MC", 1)[0]
	block := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	pkcs8 := func(key any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("MarshalPKCS8PrivateKey: %v", err)
		}
		return b
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519: %v", err)
	}
	cert := block("CERTIFICATE", ca.Cert.Raw)
	key := block("PRIVATE KEY", pkcs8(ca.Key))
	tests := []struct {
		name string
		pem  string
		want string
	}{
		{"empty", "", "needs a CERTIFICATE"},
		{"certificate only", cert, "needs a CERTIFICATE"},
		{"key only", key, "needs a CERTIFICATE"},
		{"certificate not DER", block("CERTIFICATE", []byte{0x30, 0}) + key, "CA certificate"},
		{"key not PKCS#8", cert + block("PRIVATE KEY", []byte{0x30, 0}), "CA key"},
		{"Ed25519 key", cert + block("PRIVATE KEY", pkcs8(edKey)), "not ECDSA"},
		{"key of another CA", cert + block("PRIVATE KEY", pkcs8(other.Key)), "does not match"},
		{"two certificates", cert + block("CERTIFICATE", other.Cert.Raw) + key, "more than one CERTIFICATE"},
		{"two keys", cert + key + block("PRIVATE KEY", pkcs8(other.Key)), "more than one PRIVATE KEY"},
		{"a chip, not a CA", block("CERTIFICATE", chip.Certificate) + block("PRIVATE KEY", pkcs8(chip.Key)), "not a CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCA([]byte(tt.pem))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCA: expected an error containing %q, got %v", tt.want, err)
			}
			if got != nil {
				t.Errorf("ParseCA: expected no CA on error, got %+v", got)
			}
		})
	}
}

func TestChipsRoundTrip(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	chips := newTestBatch(t, ca, "MC", 2)
	var buf bytes.Buffer
	if err := WriteChips(&buf, chips); err != nil {
		t.Fatalf("WriteChips: %v", err)
	}
	got, err := ReadChips(&buf)
	if err != nil {
		t.Fatalf("ReadChips: %v", err)
	}
	if len(got) != len(chips) {
		t.Fatalf("ReadChips: expected %d chips, got %d", len(chips), len(got))
	}
	for i, c := range got {
		w := chips[i]
		if c.Serial != w.Serial || !bytes.Equal(c.Seed, w.Seed) || !bytes.Equal(c.Certificate, w.Certificate) || !c.Key.Equal(w.Key) {
			t.Errorf("chip %d: expected %s with its seed, certificate and key, got %s", i, w.Serial, c.Serial)
		}
	}
}

func TestReadChipsRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not JSON", "chips"},
		{"object, not list", `{"serial":"MC-1"}`},
		{"unknown field", `[{"serial":"MC-1","pin":"1"}]`},
		{"seed not base32", `[{"serial":"MC-1","seed":"!!","certificate":"","key":""}]`},
		{"certificate not base64", `[{"serial":"MC-1","seed":"","certificate":"*","key":""}]`},
		{"key not PKCS#8", `[{"serial":"MC-1","seed":"","certificate":"","key":"MAA="}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if chips, err := ReadChips(strings.NewReader(tt.in)); err == nil {
				t.Errorf("ReadChips: expected an error, got %d chips", len(chips))
			}
		})
	}
}

package manufacturer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func newTestBatch(t testing.TB, ca *CA, prefix string, n int) []Chip {
	t.Helper()
	chips, err := ca.Batch(prefix, n, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	return chips
}

func TestBatch(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "Test Chip Factory" {
		t.Fatalf("CA certificate: expected a CA named %q, got IsCA=%v CN=%q", "Test Chip Factory", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
	}
	chips := newTestBatch(t, ca, "MC", 3)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	seeds := map[string]bool{}
	for i, c := range chips {
		if want := []string{"MC-000001", "MC-000002", "MC-000003"}[i]; c.Serial != want {
			t.Errorf("chip %d serial: expected %s, got %s", i, want, c.Serial)
		}
		if len(c.Seed) != SeedSize {
			t.Errorf("chip %s seed: expected %d bytes, got %d", c.Serial, SeedSize, len(c.Seed))
		}
		if seeds[string(c.Seed)] {
			t.Errorf("chip %s: seed repeats an earlier chip's", c.Serial)
		}
		seeds[string(c.Seed)] = true
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			t.Fatalf("chip %s certificate: %v", c.Serial, err)
		}
		if cert.Subject.CommonName != c.Serial || cert.Subject.SerialNumber != c.Serial {
			t.Errorf("chip %s certificate subject: expected CN and serialNumber %s, got %q, %q", c.Serial, c.Serial, cert.Subject.CommonName, cert.Subject.SerialNumber)
		}
		if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&c.Key.PublicKey) {
			t.Errorf("chip %s certificate: does not carry the chip's key", c.Serial)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("chip %s certificate does not chain to the CA: %v", c.Serial, err)
		}
		if cfg := c.Config(nil); cfg.Serial != c.Serial || cfg.Key != c.Key || !bytes.Equal(cfg.Seed, c.Seed) || !bytes.Equal(cfg.Certificate, c.Certificate) {
			t.Errorf("chip %s Config: expected the chip's parts, got %+v", c.Serial, cfg)
		}
	}
}

func TestBatchRejects(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	tests := []struct {
		name   string
		prefix string
		n      int
	}{
		{"zero chips", "MC", 0},
		{"too many chips", "MC", 100001},
		{"lower-case prefix", "mc", 1},
		{"prefix too long for a serial", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if chips, err := ca.Batch(tt.prefix, tt.n, rand.Reader, testNow); err == nil {
				t.Errorf("Batch: expected an error, got %d chips", len(chips))
			}
		})
	}
	if c, err := ca.Mint("", rand.Reader, testNow); err == nil {
		t.Errorf("Mint with an empty serial: expected an error, got chip %+v", c.Serial)
	}
}

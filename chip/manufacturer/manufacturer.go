// Package manufacturer plays the chip factory for dev and tests: it mints an attestation CA
// and batches of virtual chips. The production server never links it (see chip/delivery).
package manufacturer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/delivery"
	"mitidchip/chip/virtual"
)

// SeedSize is the TOTP seed length: 20 bytes, the SHA-1 block-friendly size RFC 4226
// recommends.
const SeedSize = 20

// CA is a manufacturer's attestation authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA mints a self-signed P-256 CA valid for 20 years from now.
func NewCA(name string, rand io.Reader, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("manufacturer: CA key: %w", err)
	}
	serial, err := randSerial(rand)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("manufacturer: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("manufacturer: CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Chip is everything the factory knows about one chip. The device key never leaves
// a real chip; a virtual chip keeps it in its state file.
type Chip struct {
	Serial      string
	Key         *ecdsa.PrivateKey
	Certificate []byte // DER, attests Key and Serial
	Seed        []byte
}

// Config returns the virtual chip configuration for c.
func (c Chip) Config(now func() time.Time) virtual.Config {
	return virtual.Config{Serial: c.Serial, Key: c.Key, Certificate: c.Certificate, Seed: c.Seed, Now: now}
}

// Mint makes one chip: a device key, a seed, and a certificate binding the key to
// the serial (subject CN and serialNumber).
func (ca *CA) Mint(serial string, rand io.Reader, now time.Time) (Chip, error) {
	if !chip.ValidSerial(serial) {
		return Chip{}, fmt.Errorf("manufacturer: invalid serial %q", serial)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return Chip{}, fmt.Errorf("manufacturer: chip %s key: %w", serial, err)
	}
	seed := make([]byte, SeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return Chip{}, fmt.Errorf("manufacturer: chip %s seed: %w", serial, err)
	}
	certSerial, err := randSerial(rand)
	if err != nil {
		return Chip{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: certSerial,
		Subject:      pkix.Name{CommonName: serial, SerialNumber: serial, Organization: ca.Cert.Subject.Organization},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return Chip{}, fmt.Errorf("manufacturer: chip %s certificate: %w", serial, err)
	}
	return Chip{Serial: serial, Key: key, Certificate: der, Seed: seed}, nil
}

// Batch mints n chips with serials prefix-000001, prefix-000002, ...
func (ca *CA) Batch(prefix string, n int, rand io.Reader, now time.Time) ([]Chip, error) {
	if n < 1 || n > 100000 {
		return nil, errors.New("manufacturer: batch size must be 1 to 100000")
	}
	chips := make([]Chip, 0, n)
	for i := 1; i <= n; i++ {
		c, err := ca.Mint(fmt.Sprintf("%s-%06d", prefix, i), rand, now)
		if err != nil {
			return nil, err
		}
		chips = append(chips, c)
	}
	return chips, nil
}

func randSerial(rand io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("manufacturer: certificate serial: %w", err)
	}
	b[0] &= 0x7f // positive, as RFC 5280 requires
	b[0] |= 0x01 // and non-zero
	return new(big.Int).SetBytes(b), nil
}

// Records is what a delivery file says of chips: serial, seed and certificate, never
// the device key.
func Records(chips []Chip) []delivery.Record {
	out := make([]delivery.Record, len(chips))
	for i, c := range chips {
		out[i] = delivery.Record{Serial: c.Serial, Seed: c.Seed, Certificate: c.Certificate}
	}
	return out
}

// WriteDelivery writes the delivery file for chips.
func WriteDelivery(w io.Writer, name string, chips []Chip) error {
	return delivery.Write(w, name, Records(chips))
}

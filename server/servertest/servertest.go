// Package servertest sets up, for tests, a data folder as an operator sets one up for
// production: the app backend's public key, a seal key, a logon key, a manufacturer's root, and
// that manufacturer's chips imported from its delivery file. Nothing of dev mode.
package servertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server"
	"mitidchip/server/handoff"
	"mitidchip/server/seal"
	"mitidchip/server/store"
)

// Manufacturer is the test manufacturer's name; its chips' serials start with
// SerialPrefix.
const (
	Manufacturer = "Test Chip Factory"
	SerialPrefix = "TC"
)

// Production is what ProductionData made. The app backend's private key and the
// chips' keys and seeds stay with the test, out of the data folder, as they do in
// production (with the app's backend, in the chips).
type Production struct {
	HandoffKey ed25519.PrivateKey
	Chips      []manufacturer.Chip
}

// Issuer mints handoff tokens for c as the app's backend does.
func (p Production) Issuer(c server.Config, now func() time.Time) *handoff.Issuer {
	return handoff.NewIssuer(p.HandoffKey, c.HandoffIssuer, c.HandoffAudience, 10*time.Minute, now, rand.Reader)
}

// ProductionData writes the files c names (HANDOFF_PUBLIC_KEY_FILE, SEAL_KEY_FILE, LOGON_KEY_FILE,
// TRUSTED_ROOTS_FILE) and imports a batch of new chips through c.Registry, as
// `mitid-chip chips import` does. The test starts the server afterwards, on the same c.
func ProductionData(t testing.TB, c server.Config, chips int) Production {
	t.Helper()
	now := time.Now()
	ca, err := manufacturer.NewCA(Manufacturer, rand.Reader, now)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	batch, err := ca.Batch(SerialPrefix, chips, rand.Reader, now)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	pub, priv, err := handoff.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	pubPEM, err := handoff.EncodePublicKeyPEM(pub)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	logonKey, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	for path, b := range map[string][]byte{
		c.HandoffPublicKey: pubPEM,
		c.SealKeyFile:      []byte(seal.EncodeKey(key) + "\n"),
		c.LogonKeyFile:     []byte(seal.EncodeKey(logonKey) + "\n"),
		c.RootsFile:        ca.CertPEM(),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatalf("servertest: %v", err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatalf("servertest: %v", err)
		}
	}

	var delivery bytes.Buffer
	if err := manufacturer.WriteDelivery(&delivery, Manufacturer, batch); err != nil {
		t.Fatalf("servertest: delivery file: %v", err)
	}
	st, err := store.Open(filepath.Join(c.DataDir, "activation.db"))
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	defer st.Close()
	reg, err := c.Registry(st)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	if added, _, err := reg.Import(context.Background(), &delivery, now); err != nil || added != chips {
		t.Fatalf("servertest: import the delivery file: %d of %d chips added (%v)", added, chips, err)
	}
	return Production{HandoffKey: priv, Chips: batch}
}

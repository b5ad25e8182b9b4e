package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server/dev"
	"mitidchip/server/handoff"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
)

// devSetup creates, on first start, everything dev mode needs in the data folder:
// the app backend's key pair, a seal key, a manufacturer CA trusted as a root, and a
// batch of demo chips. Later starts reuse them.
func devSetup(c Config, now func() time.Time) ([]manufacturer.Chip, *handoff.Issuer, error) {
	priv, err := dev.EnsureHandoffKey(c.DataDir, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err := handoff.EncodePublicKeyPEM(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, nil, err
	}
	if err := writeIfAbsent(c.HandoffPublicKey, pubPEM); err != nil {
		return nil, nil, err
	}
	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if err := writeIfAbsent(c.SealKeyFile, []byte(seal.EncodeKey(key)+"\n")); err != nil {
		return nil, nil, err
	}
	chips, files, err := dev.EnsureChips(c.DataDir, rand.Reader, now())
	if err != nil {
		return nil, nil, err
	}
	roots, err := os.ReadFile(c.RootsFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	if !bytes.Contains(roots, files.RootsPEM) {
		if err := dev.WriteFile(c.RootsFile, append(roots, files.RootsPEM...)); err != nil {
			return nil, nil, err
		}
	}
	issuer := handoff.NewIssuer(priv, c.HandoffIssuer, c.HandoffAudience, 10*time.Minute, now, rand.Reader)
	return chips, issuer, nil
}

// importFile imports a delivery file into the registry; a re-import adds nothing.
func importFile(ctx context.Context, reg *registry.Registry, path string, now time.Time, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	added, total, err := reg.Import(ctx, f, now)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	log.Info("chips imported", "file", path, "added", added, "in_file", total)
	return nil
}

func writeIfAbsent(path string, b []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return dev.WriteFile(path, b)
}

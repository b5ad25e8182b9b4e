package server

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"mitidchip/server/handoff"
)

// What dev mode (server/dev) leaves in a data folder. Everything in it is public:
// anyone with the code can run dev mode, and the dev CA's key and the demo chips'
// seeds sit in plain files beside the database.
const (
	// DevFolder holds the dev manufacturer CA with its private key, the demo chips
	// with their seeds, and their delivery file.
	DevFolder = "dev"
	// DevHandoffKeyFile is the dev app backend's private key. In production that key
	// lives with the app's backend, never in the server's data folder.
	DevHandoffKeyFile = "keys/handoff-private.pem"
	// DevManufacturer is the dev CA's name, the subject of its certificate.
	DevManufacturer = "Virtual Chip Factory"
)

// refuseDevData stops a production start on a data folder that dev mode set up (or on
// roots that trust the dev CA): it would accept handoff tokens signed with the dev
// key and chips minted by the dev CA. It reads only; nothing is created or opened for
// writing, so a refused start leaves the folder as it was.
func refuseDevData(c Config) error {
	var files, more []string
	entries, err := os.ReadDir(filepath.Join(c.DataDir, DevFolder))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("server: checking DATA_DIR for dev mode's files: %w", err)
	}
	for _, e := range entries {
		files = append(files, DevFolder+"/"+e.Name())
	}
	priv, err := HandoffKey(filepath.Join(c.DataDir, DevHandoffKeyFile))
	if !errors.Is(err, fs.ErrNotExist) {
		files = append(files, DevHandoffKeyFile)
	}
	if err == nil {
		if pubPEM, err := os.ReadFile(c.HandoffPublicKey); err == nil {
			if pub, err := handoff.ParsePublicKeyPEM(pubPEM); err == nil && priv.Public().(ed25519.PublicKey).Equal(pub) {
				more = append(more, fmt.Sprintf("HANDOFF_PUBLIC_KEY_FILE %s is the public half of %s", c.HandoffPublicKey, DevHandoffKeyFile))
			}
		}
	}
	if devRoot(c.RootsFile) {
		more = append(more, fmt.Sprintf("TRUSTED_ROOTS_FILE %s trusts the dev CA %q", c.RootsFile, DevManufacturer))
	}
	if len(files) > 0 {
		more = append([]string{"it holds " + strings.Join(files, ", ")}, more...)
	}
	if len(more) == 0 {
		return nil
	}
	return fmt.Errorf("server: DATA_DIR %s was set up by dev mode (%s): its keys and demo chips are public, "+
		"so a production server does not start on it. Use a fresh DATA_DIR with the app backend's public key, "+
		"a new seal key and your manufacturers' roots, and import real chips with `mitid-chip chips import FILE` "+
		"(docs/operations.md); for a demo, run `mitid-chip-dev serve -dev`",
		c.DataDir, strings.Join(more, "; "))
}

// devRoot reports whether the roots file holds the dev CA's certificate, known by its
// name. A file that cannot be read or parsed is for Config.Registry to report.
func devRoot(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err == nil && (cert.Subject.CommonName == DevManufacturer || slices.Contains(cert.Subject.Organization, DevManufacturer)) {
			return true
		}
	}
	return false
}

// Package registry is the server's knowledge of chips: it imports manufacturers'
// delivery files, decides whether a chip that says hello is genuine, and checks its
// one-time codes.
package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"mitidchip/chip"
	"mitidchip/chip/delivery"
	"mitidchip/server/seal"
	"mitidchip/server/store"
)

// TOTP parameters of every MitID chip (RFC 6238 defaults) and the skew the server
// allows: one step either way, for a chip clock that drifted or a slow typist.
const (
	Period = 30 * time.Second
	Skew   = 1
)

// Reasons a chip is refused. The API maps each to its own error code.
var (
	ErrUnknownChip  = errors.New("registry: chip not in the registry")
	ErrNotAttested  = errors.New("registry: chip attestation does not verify")
	ErrRevoked      = errors.New("registry: chip revoked")
	ErrBlocked      = errors.New("registry: chip blocked by its holder")
	ErrRetired      = errors.New("registry: chip retired")
	ErrUntrustedCA  = errors.New("registry: delivery certificate not issued by a trusted manufacturer")
	ErrWrongCode    = errors.New("registry: one-time code does not match")
	ErrCodeFormat   = errors.New("registry: one-time code must be 6 digits")
	ErrStepReplayed = errors.New("registry: one-time code already used")
)

// Registry checks chips against the store's records and the trusted roots.
type Registry struct {
	store  store.Store
	roots  *x509.CertPool
	sealer *seal.Sealer
}

// New returns a registry trusting roots (the manufacturers' CA certificates).
func New(s store.Store, roots *x509.CertPool, sealer *seal.Sealer) *Registry {
	return &Registry{store: s, roots: roots, sealer: sealer}
}

// Import reads a delivery file and registers its chips, all or none. Every
// certificate must chain to a trusted root; seeds are sealed to their serial.
func (r *Registry) Import(ctx context.Context, file io.Reader, now time.Time) (added, total int, err error) {
	_, records, err := delivery.Parse(file)
	if err != nil {
		return 0, 0, err
	}
	imports := make([]store.ChipImport, 0, len(records))
	for _, rec := range records {
		if _, err := r.verifyCert(rec.Certificate, rec.Serial, now); err != nil {
			return 0, 0, fmt.Errorf("registry: chip %s: %w", rec.Serial, err)
		}
		sealed, err := r.sealer.Seal(rec.Seed, []byte(rec.Serial))
		if err != nil {
			return 0, 0, fmt.Errorf("registry: seal seed of %s: %w", rec.Serial, err)
		}
		imports = append(imports, store.ChipImport{Serial: rec.Serial, SealedSeed: sealed, CertDER: rec.Certificate})
	}
	added, err = r.store.ImportChips(ctx, imports, now)
	if err != nil {
		return 0, 0, err
	}
	return added, len(imports), nil
}

// Attest decides whether the chip that said hello may be bound: it must be in the
// registry with the very certificate it presents, that certificate must chain to a
// trusted root and name the chip's serial and public key, and the chip must be
// neither revoked (ErrRevoked, or ErrBlocked when its holder blocked it) nor retired. Whether it is bound to someone else is for the caller,
// who knows the person. It returns the chip's record.
func (r *Registry) Attest(ctx context.Context, h chip.Hello, now time.Time) (store.Chip, error) {
	c, err := r.store.Chip(ctx, h.Serial)
	if errors.Is(err, store.ErrNotFound) {
		return store.Chip{}, ErrUnknownChip
	}
	if err != nil {
		return store.Chip{}, err
	}
	cert, err := r.verifyCert(h.Certificate, h.Serial, now)
	if err != nil {
		return store.Chip{}, err
	}
	if !bytes.Equal(c.CertDER, h.Certificate) {
		return store.Chip{}, fmt.Errorf("%w: certificate differs from the registered one", ErrNotAttested)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return store.Chip{}, fmt.Errorf("%w: certificate key is not ECDSA", ErrNotAttested)
	}
	if raw, err := pub.Bytes(); err != nil || !bytes.Equal(raw, h.PublicKey) {
		return store.Chip{}, fmt.Errorf("%w: public key differs from the certificate's", ErrNotAttested)
	}
	switch c.Status {
	case store.ChipRevoked:
		// Revoked by an operator, or blocked by its holder: the person is told which,
		// since what they do next differs (order a new chip).
		_, err := r.store.ChipBlock(ctx, c.Serial)
		switch {
		case err == nil:
			return store.Chip{}, ErrBlocked
		case !errors.Is(err, store.ErrNotFound):
			return store.Chip{}, err
		}
		return store.Chip{}, ErrRevoked
	case store.ChipRetired:
		return store.Chip{}, ErrRetired
	}
	return c, nil
}

func (r *Registry) verifyCert(der []byte, serial string, now time.Time) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAttested, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: r.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrustedCA, err)
	}
	if cert.Subject.CommonName != serial {
		return nil, fmt.Errorf("%w: certificate names %q", ErrNotAttested, cert.Subject.CommonName)
	}
	return cert, nil
}

// VerifySignature checks the chip's signature over a transcript hash with the key
// its attested certificate names.
func VerifySignature(publicKey []byte, hash [32]byte, sig []byte) error {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), publicKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAttested, err)
	}
	if !ecdsa.VerifyASN1(pub, hash[:], sig) {
		return errors.New("registry: chip signature does not verify")
	}
	return nil
}

// CheckCode checks a one-time code typed by a person against the chip's seed at
// now, allowing Skew steps either way. It returns the matched time-step, which the
// caller records so the code is never accepted twice. A code matching only steps at
// or before lastStep is ErrStepReplayed, returned with the step it matched: the
// store, not this read, has the last word on it. A lastStep beyond the window was
// recorded under a clock that was ahead and holds nothing back. All candidate steps
// are computed and compared in constant time, so timing tells nothing about which
// step matched. No step beyond MaxStep(now) is ever returned.
func (r *Registry) CheckCode(c store.Chip, code string, now time.Time) (step int64, err error) {
	if len(code) != 6 || !digits(code) {
		return 0, ErrCodeFormat
	}
	seed, err := r.sealer.Open(c.SealedSeed, []byte(c.Serial))
	if err != nil {
		return 0, fmt.Errorf("registry: open seed of %s: %w", c.Serial, err)
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
	current := StepAt(now)
	last := c.LastStep
	if last > current+Skew {
		last = 0
	}
	var fresh, replayed int64 = -1, -1
	for s := current - Skew; s <= current+Skew; s++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, fmt.Errorf("registry: code for %s: %w", c.Serial, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if s > last {
				fresh = max(fresh, s)
			} else {
				replayed = max(replayed, s)
			}
		}
	}
	switch {
	case fresh >= 0:
		return fresh, nil
	case replayed >= 0:
		return replayed, ErrStepReplayed
	}
	return 0, ErrWrongCode
}

// StepAt is the TOTP time-step at t.
func StepAt(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// MaxStep is the newest time-step a code may match at now: the store refuses to
// record any later one, so a wrong clock cannot burn the chip's future codes.
func MaxStep(now time.Time) int64 { return StepAt(now) + Skew }

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

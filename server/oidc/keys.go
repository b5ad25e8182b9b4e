package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mitidchip/server/store"
)

// Alg is the ID tokens' signature algorithm: ECDSA P-256 with SHA-256 (decision 57).
const Alg = jose.ES256

// Sealer seals private keys at rest: the server's seal.Sealer, which seals chip
// seeds too.
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// keyAD binds a sealed key to its kid, so that sealed keys cannot be swapped.
func keyAD(kid string) []byte { return []byte("mitid-chip oidc signing key " + kid) }

// keys reads the signing keys from the store, opening each private key once.
type keys struct {
	st     Store
	sealer Sealer
	mu     sync.Mutex
	opened map[string]*ecdsa.PrivateKey // by kid
}

// ensure makes the first signing key if the store has none: an ECDSA P-256 key, its
// kid the RFC 7638 thumbprint of its public key, its private half sealed. Instances
// starting together each make one; the store keeps the first (AddSigningKey).
func (k *keys) ensure(ctx context.Context, rand io.Reader, now time.Time) error {
	list, err := k.st.SigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, key := range list {
		if key.RetiredAt.IsZero() {
			return nil
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return fmt.Errorf("oidc: signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return err
	}
	kid := b64.EncodeToString(tp)
	sealed, err := k.sealer.Seal(der, keyAD(kid))
	if err != nil {
		return fmt.Errorf("oidc: seal the signing key: %w", err)
	}
	_, err = k.st.AddSigningKey(ctx, store.OIDCKey{KID: kid, Alg: string(Alg), SealedPrivate: sealed, PublicDER: pub, CreatedAt: now})
	return err
}

// signing is the key that signs now: the newest not retired.
func (k *keys) signing(ctx context.Context) (op.SigningKey, error) {
	list, err := k.st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, key := range list {
		if !key.RetiredAt.IsZero() {
			continue
		}
		priv, err := k.open(key)
		if err != nil {
			return nil, err
		}
		return signingKey{kid: key.KID, priv: priv}, nil
	}
	return nil, errors.New("oidc: no signing key in the store")
}

func (k *keys) open(key store.OIDCKey) (*ecdsa.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if priv, ok := k.opened[key.KID]; ok {
		return priv, nil
	}
	if key.Alg != string(Alg) {
		return nil, fmt.Errorf("oidc: signing key %s: algorithm %s, this program signs with %s", key.KID, key.Alg, Alg)
	}
	der, err := k.sealer.Open(key.SealedPrivate, keyAD(key.KID))
	if err != nil {
		return nil, fmt.Errorf("oidc: open signing key %s (is SEAL_KEY_FILE the key it was sealed with?): %w", key.KID, err)
	}
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", key.KID, err)
	}
	priv, ok := p.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("oidc: signing key %s is a %T", key.KID, p)
	}
	if k.opened == nil {
		k.opened = map[string]*ecdsa.PrivateKey{}
	}
	k.opened[key.KID] = priv
	return priv, nil
}

// published is every key in the store, for the JWKS.
func (k *keys) published(ctx context.Context) ([]op.Key, error) {
	list, err := k.st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(list))
	for _, key := range list {
		p, err := x509.ParsePKIXPublicKey(key.PublicDER)
		if err != nil {
			return nil, fmt.Errorf("oidc: public key %s: %w", key.KID, err)
		}
		pub, ok := p.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("oidc: public key %s is a %T", key.KID, p)
		}
		out = append(out, publicKey{kid: key.KID, pub: pub})
	}
	return out, nil
}

type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return Alg }
func (s signingKey) Key() any                                    { return s.priv }
func (s signingKey) ID() string                                  { return s.kid }

type publicKey struct {
	kid string
	pub *ecdsa.PublicKey
}

func (p publicKey) ID() string                         { return p.kid }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return Alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.pub }

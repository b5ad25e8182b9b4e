package handoff

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// PEM block types: PKCS#8 for the private key, PKIX (SubjectPublicKeyInfo) for the
// public key, the forms `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`
// write.
const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// GenerateKey makes a signing key pair from rand (crypto/rand.Reader if nil), for dev
// mode and tests; in production the app's backend holds the private key.
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generate handoff key: %w", err)
	}
	return pub, priv, nil
}

// EncodePrivateKeyPEM writes priv as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodePrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("encode handoff private key: %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode handoff private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// EncodePublicKeyPEM writes pub as a PKIX "PUBLIC KEY" PEM block.
func EncodePublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("encode handoff public key: %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode handoff public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// ParsePrivateKeyPEM reads an Ed25519 key from a single PKCS#8 "PRIVATE KEY" block.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	der, err := onePEMBlock(data, pemPrivate)
	if err != nil {
		return nil, fmt.Errorf("parse handoff private key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse handoff private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse handoff private key: key is %T, want Ed25519", k)
	}
	return priv, nil
}

// ParsePublicKeyPEM reads an Ed25519 key from a single PKIX "PUBLIC KEY" block.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	der, err := onePEMBlock(data, pemPublic)
	if err != nil {
		return nil, fmt.Errorf("parse handoff public key: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse handoff public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse handoff public key: key is %T, want Ed25519", k)
	}
	return pub, nil
}

// onePEMBlock insists on exactly one block of the wanted type, so a file holding two
// keys is an error rather than a silent choice of the first.
func onePEMBlock(data []byte, typ string) ([]byte, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block found")
	}
	if b.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", b.Type, typ)
	}
	if len(b.Headers) != 0 {
		return nil, errors.New("PEM block has headers (an encrypted key?); want a plain block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	return b.Bytes, nil
}

package handoff

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestGenerateKey(t *testing.T) {
	pub1, priv1, err := GenerateKey(seededRand(7))
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	pub2, priv2, err := GenerateKey(seededRand(7))
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if !pub1.Equal(pub2) || !priv1.Equal(priv2) {
		t.Fatal("GenerateKey with the same random source gave different keys, want the same")
	}
	if !priv1.Public().(ed25519.PublicKey).Equal(pub1) {
		t.Fatal("GenerateKey: public key does not match private key")
	}
	if _, _, err := GenerateKey(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("GenerateKey with a failing random source: got nil error, want an error")
	}
}

func TestPEMRoundTrip(t *testing.T) {
	k := testKeys(t)
	privPEM, err := EncodePrivateKeyPEM(k.priv)
	if err != nil {
		t.Fatalf("EncodePrivateKeyPEM: %v", err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("private key PEM starts %q, want a PRIVATE KEY block", privPEM[:28])
	}
	priv, err := ParsePrivateKeyPEM(privPEM)
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM: %v", err)
	}
	if !priv.Equal(k.priv) {
		t.Fatal("private key changed in a PEM round trip")
	}

	pubPEM, err := EncodePublicKeyPEM(k.pub)
	if err != nil {
		t.Fatalf("EncodePublicKeyPEM: %v", err)
	}
	if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("public key PEM starts %q, want a PUBLIC KEY block", pubPEM[:27])
	}
	pub, err := ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	if !pub.Equal(k.pub) {
		t.Fatal("public key changed in a PEM round trip")
	}

	// What `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write for
	// the RFC 8410 example key.
	const opensslPriv = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n"
	const opensslPub = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	priv, err = ParsePrivateKeyPEM([]byte(opensslPriv))
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM(openssl output): %v", err)
	}
	pub, err = ParsePublicKeyPEM([]byte(opensslPub))
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM(openssl output): %v", err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("RFC 8410 example: public key does not match private key")
	}
}

func TestEncodePEMErrors(t *testing.T) {
	k := testKeys(t)
	if _, err := EncodePrivateKeyPEM(k.priv[:10]); err == nil {
		t.Fatal("EncodePrivateKeyPEM(short key): got nil error, want an error")
	}
	if _, err := EncodePublicKeyPEM(k.pub[:10]); err == nil {
		t.Fatal("EncodePublicKeyPEM(short key): got nil error, want an error")
	}
}

func TestParsePEMErrors(t *testing.T) {
	k := testKeys(t)
	privPEM, _ := EncodePrivateKeyPEM(k.priv)
	pubPEM, _ := EncodePublicKeyPEM(k.pub)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), seededRand(9))
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	block := func(typ string, der []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: h})
	}
	privDER, _ := pem.Decode(privPEM)
	pubDER, _ := pem.Decode(pubPEM)

	tests := []struct {
		name    string
		public  bool // parse with ParsePublicKeyPEM, else ParsePrivateKeyPEM
		data    []byte
		wantErr string
	}{
		{name: "private: empty", data: nil, wantErr: "no PEM block"},
		{name: "private: garbage", data: []byte("not a key"), wantErr: "no PEM block"},
		{name: "private: given a public key", data: pubPEM, wantErr: `"PUBLIC KEY", want "PRIVATE KEY"`},
		{name: "private: ECDSA key", data: block("PRIVATE KEY", ecDER, nil), wantErr: "want Ed25519"},
		{name: "private: corrupt DER", data: block("PRIVATE KEY", privDER.Bytes[:20], nil), wantErr: "parse handoff private key"},
		{name: "private: two blocks", data: append(append([]byte{}, privPEM...), privPEM...), wantErr: "data after the PEM block"},
		{name: "private: headers", data: block("PRIVATE KEY", privDER.Bytes, map[string]string{"Proc-Type": "4,ENCRYPTED"}), wantErr: "headers"},
		{name: "public: empty", public: true, data: []byte{}, wantErr: "no PEM block"},
		{name: "public: given a private key", public: true, data: privPEM, wantErr: `"PRIVATE KEY", want "PUBLIC KEY"`},
		{name: "public: ECDSA key", public: true, data: block("PUBLIC KEY", ecPubDER, nil), wantErr: "want Ed25519"},
		{name: "public: corrupt DER", public: true, data: block("PUBLIC KEY", pubDER.Bytes[:20], nil), wantErr: "parse handoff public key"},
		{name: "public: trailing text", public: true, data: append(append([]byte{}, pubPEM...), "extra"...), wantErr: "data after the PEM block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.public {
				_, err = ParsePublicKeyPEM(tc.data)
			} else {
				_, err = ParsePrivateKeyPEM(tc.data)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseKeyPEM feeds both parsers; a key either parser accepts must survive a round
// trip unchanged.
func FuzzParseKeyPEM(f *testing.F) {
	k := testKeys(f)
	privPEM, _ := EncodePrivateKeyPEM(k.priv)
	pubPEM, _ := EncodePublicKeyPEM(k.pub)
	f.Add(privPEM)
	f.Add(pubPEM)
	f.Add(privPEM[:len(privPEM)/2])
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if priv, err := ParsePrivateKeyPEM(data); err == nil {
			again, err := EncodePrivateKeyPEM(priv)
			if err != nil {
				t.Fatalf("EncodePrivateKeyPEM of a parsed key: %v", err)
			}
			if p2, err := ParsePrivateKeyPEM(again); err != nil || !p2.Equal(priv) {
				t.Fatalf("private key round trip: err %v, equal %v", err, err == nil && p2.Equal(priv))
			}
		}
		if pub, err := ParsePublicKeyPEM(data); err == nil {
			again, err := EncodePublicKeyPEM(pub)
			if err != nil {
				t.Fatalf("EncodePublicKeyPEM of a parsed key: %v", err)
			}
			if p2, err := ParsePublicKeyPEM(again); err != nil || !p2.Equal(pub) {
				t.Fatalf("public key round trip: err %v, equal %v", err, err == nil && p2.Equal(pub))
			}
		}
	})
}

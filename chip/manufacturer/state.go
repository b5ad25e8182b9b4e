package manufacturer

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// seedEncoding is how seeds are written in the dev chips file, as in a delivery file.
var seedEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// The factory's own secrets: the CA key and, for virtual chips only, the device keys.
// A real factory keeps these in an HSM; the dev server keeps them in its data folder.

// EncodePEM returns the CA certificate and key as PEM.
func (ca *CA) EncodePEM() ([]byte, error) {
	key, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("manufacturer: CA key: %w", err)
	}
	return append(ca.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), nil
}

// CertPEM returns the CA certificate alone, as PEM: what a server trusts as a root.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// ParseCA reads what EncodePEM wrote.
func ParseCA(b []byte) (*CA, error) {
	ca := &CA{}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			if ca.Cert != nil {
				return nil, errors.New("manufacturer: CA PEM holds more than one CERTIFICATE")
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("manufacturer: CA certificate: %w", err)
			}
			ca.Cert = c
		case "PRIVATE KEY":
			if ca.Key != nil {
				return nil, errors.New("manufacturer: CA PEM holds more than one PRIVATE KEY")
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("manufacturer: CA key: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, errors.New("manufacturer: CA key is not ECDSA")
			}
			ca.Key = ek
		}
	}
	if ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("manufacturer: CA PEM needs a CERTIFICATE and a PRIVATE KEY")
	}
	// A key of another CA would mint chip certificates that never verify; say so here,
	// where the file is named, not at the first Mint.
	if !ca.Key.PublicKey.Equal(ca.Cert.PublicKey) {
		return nil, errors.New("manufacturer: CA PEM key does not match its certificate")
	}
	if !ca.Cert.IsCA {
		return nil, errors.New("manufacturer: CA PEM certificate is not a CA certificate")
	}
	return ca, nil
}

type chipState struct {
	Serial      string `json:"serial"`
	Seed        string `json:"seed"`
	Certificate string `json:"certificate"`
	Key         string `json:"key"` // base64 PKCS#8
}

// WriteChips writes virtual chips, device keys included, for the dev server's demo.
func WriteChips(w io.Writer, chips []Chip) error {
	out := make([]chipState, 0, len(chips))
	for _, c := range chips {
		key, err := x509.MarshalPKCS8PrivateKey(c.Key)
		if err != nil {
			return fmt.Errorf("manufacturer: chip %s key: %w", c.Serial, err)
		}
		out = append(out, chipState{
			Serial: c.Serial, Seed: seedEncoding.EncodeToString(c.Seed),
			Certificate: base64.StdEncoding.EncodeToString(c.Certificate), Key: base64.StdEncoding.EncodeToString(key),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ReadChips reads what WriteChips wrote.
func ReadChips(r io.Reader) ([]Chip, error) {
	var in []chipState
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("manufacturer: chips file: %w", err)
	}
	chips := make([]Chip, 0, len(in))
	for i, s := range in {
		seed, err1 := seedEncoding.DecodeString(s.Seed)
		cert, err2 := base64.StdEncoding.DecodeString(s.Certificate)
		der, err3 := base64.StdEncoding.DecodeString(s.Key)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("manufacturer: chips file entry %d (%s): %w", i, s.Serial, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("manufacturer: chips file entry %d (%s): key: %w", i, s.Serial, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("manufacturer: chips file entry %d (%s): key is not ECDSA", i, s.Serial)
		}
		chips = append(chips, Chip{Serial: s.Serial, Key: ek, Certificate: cert, Seed: seed})
	}
	return chips, nil
}

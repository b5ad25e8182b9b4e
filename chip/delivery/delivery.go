// Package delivery is the format of a manufacturer's delivery file: the list of chips
// (serial, TOTP seed, attestation certificate) the server imports. See docs/delivery.md.
package delivery

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"mitidchip/chip"
)

// The delivery file is JSON Lines (see docs/delivery.md): a header line, then one
// line per chip. Line-based so an importer can say exactly which line is wrong.
const (
	Format     = "mitid-chip-delivery"
	Version    = 1
	MaxLine    = 8 << 10
	maxRecords = 1_000_000
)

// Header is the first line of a delivery file.
type Header struct {
	Format       string `json:"format"`
	Version      int    `json:"version"`
	Manufacturer string `json:"manufacturer"`
}

// Record is one chip in a delivery file: what the server needs to know of it.
type Record struct {
	Serial      string
	Seed        []byte
	Certificate []byte // DER
}

type recordLine struct {
	Serial      string `json:"serial"`
	Seed        string `json:"seed"`        // RFC 4648 base32, no padding
	Certificate string `json:"certificate"` // standard base64 of DER
}

var seedEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Write writes a delivery file with records.
func Write(w io.Writer, manufacturer string, records []Record) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(Header{Format: Format, Version: Version, Manufacturer: manufacturer}); err != nil {
		return fmt.Errorf("delivery: write header: %w", err)
	}
	for _, c := range records {
		line := recordLine{Serial: c.Serial, Seed: seedEncoding.EncodeToString(c.Seed), Certificate: base64.StdEncoding.EncodeToString(c.Certificate)}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("delivery: write record %s: %w", c.Serial, err)
		}
	}
	return nil
}

// LineError names the line of a delivery file that is wrong.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("delivery file line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Parse reads a whole delivery file. It returns every record or, at the first
// wrong line, none and a *LineError. It checks form only: whether a certificate chains
// to a trusted root is the importer's decision.
func Parse(r io.Reader) (Header, []Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	var (
		h       Header
		records []Record
		seen    = map[string]int{}
		n       int
	)
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			if err := strictJSON(line, &h); err != nil {
				return Header{}, nil, &LineError{n, fmt.Errorf("header: %w", err)}
			}
			if h.Format != Format || h.Version != Version {
				return Header{}, nil, &LineError{n, fmt.Errorf("header: want format %q version %d", Format, Version)}
			}
			continue
		}
		if len(line) == 0 {
			continue
		}
		rec, err := parseRecord(line)
		if err != nil {
			return Header{}, nil, &LineError{n, err}
		}
		if first, dup := seen[rec.Serial]; dup {
			return Header{}, nil, &LineError{n, fmt.Errorf("serial %s already on line %d", rec.Serial, first)}
		}
		if len(records) == maxRecords {
			return Header{}, nil, &LineError{n, errors.New("too many records")}
		}
		seen[rec.Serial] = n
		records = append(records, rec)
	}
	if err := sc.Err(); err != nil {
		return Header{}, nil, &LineError{n + 1, err}
	}
	if n == 0 {
		return Header{}, nil, &LineError{1, errors.New("empty file: no header")}
	}
	if len(records) == 0 {
		return Header{}, nil, &LineError{n, errors.New("no chip records")}
	}
	return h, records, nil
}

func parseRecord(line []byte) (Record, error) {
	var l recordLine
	if err := strictJSON(line, &l); err != nil {
		return Record{}, err
	}
	if !chip.ValidSerial(l.Serial) {
		return Record{}, fmt.Errorf("serial %q: must be 1 to 32 of A-Z 0-9 -", l.Serial)
	}
	seed, err := seedEncoding.DecodeString(l.Seed)
	if err != nil || len(seed) < 16 || len(seed) > 64 {
		return Record{}, fmt.Errorf("serial %s: seed must be 16 to 64 bytes of unpadded base32", l.Serial)
	}
	der, err := base64.StdEncoding.DecodeString(l.Certificate)
	if err != nil || len(der) == 0 || len(der) > chip.MaxCertificate {
		return Record{}, fmt.Errorf("serial %s: certificate must be base64 DER of at most %d bytes", l.Serial, chip.MaxCertificate)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Record{}, fmt.Errorf("serial %s: certificate: %w", l.Serial, err)
	}
	if cert.Subject.CommonName != l.Serial {
		return Record{}, fmt.Errorf("serial %s: certificate is issued to %q", l.Serial, cert.Subject.CommonName)
	}
	return Record{Serial: l.Serial, Seed: seed, Certificate: der}, nil
}

// strictJSON decodes exactly one JSON object with no unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// dec.More would miss a stray '}' or ']', so look at the bytes themselves.
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) != 0 {
		return fmt.Errorf("unexpected %q after the JSON object", rest)
	}
	return nil
}

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/chip/delivery"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "factory")
	var stdout bytes.Buffer
	err := run([]string{"-out", dir, "-n", "3", "-prefix", "TC", "-name", "Test Factory"}, &stdout, io.Discard, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(stdout.String(), "TC-000001 to TC-000003") {
		t.Errorf("stdout: expected the serial range, got %q", stdout.String())
	}
	read := func(name string) []byte {
		t.Helper()
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode: expected 0600, got %#o", name, perm)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return b
	}

	ca, err := manufacturer.ParseCA(read(caFile))
	if err != nil {
		t.Fatalf("ParseCA: %v", err)
	}
	if ca.Cert.Subject.CommonName != "Test Factory" {
		t.Errorf("CA name: expected %q, got %q", "Test Factory", ca.Cert.Subject.CommonName)
	}
	h, recs, err := delivery.Parse(bytes.NewReader(read(deliveryFile)))
	if err != nil {
		t.Fatalf("ParseDelivery: %v", err)
	}
	if h.Manufacturer != "Test Factory" || len(recs) != 3 {
		t.Fatalf("delivery: expected 3 chips by %q, got %d by %q", "Test Factory", len(recs), h.Manufacturer)
	}
	chips, err := manufacturer.ReadChips(bytes.NewReader(read(chipsFile)))
	if err != nil {
		t.Fatalf("ReadChips: %v", err)
	}
	if len(chips) != 3 {
		t.Fatalf("chips: expected 3, got %d", len(chips))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for i, c := range chips {
		if want := []string{"TC-000001", "TC-000002", "TC-000003"}[i]; c.Serial != want || recs[i].Serial != want {
			t.Errorf("chip %d: expected serial %s in both files, got %s and %s", i, want, c.Serial, recs[i].Serial)
		}
		if !bytes.Equal(c.Seed, recs[i].Seed) || !bytes.Equal(c.Certificate, recs[i].Certificate) {
			t.Errorf("chip %s: chips file and delivery file disagree", c.Serial)
		}
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			t.Fatalf("chip %s certificate: %v", c.Serial, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("chip %s certificate does not chain to ca.pem: %v", c.Serial, err)
		}
		if _, err := virtual.New(c.Config(nil)); err != nil {
			t.Errorf("chip %s does not make a virtual chip: %v", c.Serial, err)
		}
	}

	// A second run must not replace the batch the server may have imported.
	before := read(caFile)
	err = run([]string{"-out", dir}, io.Discard, io.Discard, rand.Reader, testNow)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second run into %s: expected an already-exists error, got %v", dir, err)
	}
	if !bytes.Equal(read(caFile), before) {
		t.Error("second run changed ca.pem")
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string // "-out DIR" is added unless the case is about -out
		want string
	}{
		{"no -out", []string{"-n", "1"}, "-out is required"},
		{"zero chips", []string{"-n", "0"}, "batch size"},
		{"bad prefix", []string{"-prefix", "mc"}, "invalid serial"},
		{"empty name", []string{"-name", ""}, "-name"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-seed", "1"}, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "factory")
			args := tt.args
			if tt.name != "no -out" {
				args = append([]string{"-out", dir}, args...)
			}
			err := run(args, io.Discard, io.Discard, rand.Reader, testNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run %q: expected an error containing %q, got %v", args, tt.want, err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run %q: expected nothing written, but %s exists (%v)", args, dir, err)
			}
		})
	}
	if err := run([]string{"-h"}, io.Discard, io.Discard, rand.Reader, testNow); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run -h: expected flag.ErrHelp, got %v", err)
	}
}

// Command manufacture plays the chip factory for development and tests: it mints an
// attestation CA and a batch of virtual chips and writes the files the server imports.
//
// Usage:
//
//	go run ./chip/cmd/manufacture -out DIR [-n 5] [-prefix MC] [-name "Virtual Chip Factory"]
//
// It writes, each readable by its owner only:
//
//	ca.pem          the CA certificate and private key (manufacturer.ParseCA)
//	delivery.jsonl  the delivery file for the server's import (docs/delivery.md)
//	chips.json      the virtual chips, device keys included (manufacturer.ReadChips)
package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"mitidchip/chip/manufacturer"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr, rand.Reader, time.Now())
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "manufacture:", err)
		os.Exit(1)
	}
}

// Names of the files run writes into the -out folder.
const (
	caFile       = "ca.pem"
	deliveryFile = "delivery.jsonl"
	chipsFile    = "chips.json"
)

func run(args []string, stdout, stderr io.Writer, random io.Reader, now time.Time) error {
	flags := flag.NewFlagSet("manufacture", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("out", "", "folder to write "+caFile+", "+deliveryFile+" and "+chipsFile+" into (required)")
	n := flags.Int("n", 5, "number of chips to mint")
	prefix := flags.String("prefix", "MC", "serial prefix: chips are PREFIX-000001, PREFIX-000002, ...")
	name := flags.String("name", "Virtual Chip Factory", "manufacturer name, in the CA certificate and the delivery header")
	if err := flags.Parse(args); err != nil {
		return err
	}
	switch {
	case flags.NArg() != 0:
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	case *out == "":
		return errors.New("-out is required")
	case *name == "":
		return errors.New("-name must not be empty")
	}

	ca, err := manufacturer.NewCA(*name, random, now)
	if err != nil {
		return err
	}
	chips, err := ca.Batch(*prefix, *n, random, now)
	if err != nil {
		return err
	}
	caPEM, err := ca.EncodePEM()
	if err != nil {
		return err
	}
	var delivery, state bytes.Buffer
	if err := manufacturer.WriteDelivery(&delivery, *name, chips); err != nil {
		return err
	}
	if err := manufacturer.WriteChips(&state, chips); err != nil {
		return err
	}
	if err := writeAll(*out, map[string][]byte{
		caFile: caPEM, deliveryFile: delivery.Bytes(), chipsFile: state.Bytes(),
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "minted %d chips %s to %s for %q into %s\n", len(chips), chips[0].Serial, chips[len(chips)-1].Serial, *name, *out)
	return nil
}

// writeAll writes every file or none. It never replaces an existing file: a server
// that imported an earlier batch must not find that batch's CA and seeds gone.
// Every file holds a secret (the CA key, the seeds, the device keys), hence 0600.
func writeAll(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for name := range files {
		path := filepath.Join(dir, name)
		switch _, err := os.Lstat(path); {
		case err == nil:
			return fmt.Errorf("%s already exists; remove it or choose another -out", path)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("check %s: %w", path, err)
		}
	}
	var written []string
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := writeNew(path, data); err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			return err
		}
		written = append(written, path)
	}
	return nil
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

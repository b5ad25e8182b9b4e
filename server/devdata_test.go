package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server"
	"mitidchip/server/dev"
	"mitidchip/server/handoff"
	"mitidchip/server/servertest"
)

// snapshot lists every file under dir with its size, time and mode, to show that a
// refused start changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = fmt.Sprint(fi.Mode(), fi.ModTime(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestProductionRefusesDevData: a production start on a data folder that dev mode
// set up, or with anything of dev mode in its configuration, fails with a message
// that names what it found and what to do, and leaves the folder as it was. The same
// folder set up for production starts.
func TestProductionRefusesDevData(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c server.Config)
		want  []string
	}{
		{"a folder dev mode set up", func(t *testing.T, c server.Config) {
			c.Dev = dev.New()
			s, err := server.New(context.Background(), c, discard(), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}, []string{"dev/chips.json", "dev/manufacturer-ca.pem", "keys/handoff-private.pem",
			"HANDOFF_PUBLIC_KEY_FILE", "public half", "TRUSTED_ROOTS_FILE", `"Virtual Chip Factory"`}},
		{"the dev CA among the roots", func(t *testing.T, c server.Config) {
			servertest.ProductionData(t, c, 1)
			ca, err := manufacturer.NewCA(dev.Manufacturer, rand.Reader, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			roots, _ := os.ReadFile(c.RootsFile)
			writeFile(t, c.RootsFile, append(roots, ca.CertPEM()...))
		}, []string{"TRUSTED_ROOTS_FILE", "trusts the dev CA"}},
		{"an app backend key in the folder", func(t *testing.T, c server.Config) {
			servertest.ProductionData(t, c, 1)
			_, priv, _ := handoff.GenerateKey(rand.Reader)
			b, _ := handoff.EncodePrivateKeyPEM(priv)
			writeFile(t, filepath.Join(c.DataDir, "keys", "handoff-private.pem"), b)
		}, []string{"keys/handoff-private.pem"}},
		{"the demo chips left behind", func(t *testing.T, c server.Config) {
			servertest.ProductionData(t, c, 1)
			writeFile(t, filepath.Join(c.DataDir, "dev", "chips.json"), []byte("[]"))
		}, []string{"dev/chips.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, false)
			tc.setup(t, c)
			before := snapshot(t, c.DataDir)
			s, err := server.New(context.Background(), c, discard(), time.Now)
			if err == nil {
				s.Close()
				t.Fatal("expected the production start to be refused, it started")
			}
			msg := err.Error()
			for _, want := range append(tc.want, "set up by dev mode", c.DataDir, "fresh DATA_DIR", "mitid-chip chips import") {
				if !strings.Contains(msg, want) {
					t.Errorf("expected the refusal to say %q, got:\n%s", want, msg)
				}
			}
			after := snapshot(t, c.DataDir)
			for path, was := range before {
				if after[path] != was {
					t.Errorf("expected %s unchanged by the refused start: was %q, is %q", path, was, after[path])
				}
			}
			for path := range after {
				if _, ok := before[path]; !ok {
					t.Errorf("expected nothing created by the refused start, got %s", path)
				}
			}
		})
	}

	t.Run("a folder set up for production", func(t *testing.T) {
		c := testConfig(t, false)
		servertest.ProductionData(t, c, 1)
		newServer(t, c)
	})
}

package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server/handoff"
	"mitidchip/server/seal"
)

// env is a data folder with the files production configuration names: trusted roots,
// a seal key and the app backend's keys.
func env(t *testing.T) (func(string) string, *manufacturer.CA, string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := manufacturer.NewCA("Test Factory", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := ca.CertPEM()
	key, _ := seal.GenerateKey(rand.Reader)
	pub, priv, _ := handoff.GenerateKey(rand.Reader)
	pubPEM, _ := handoff.EncodePublicKeyPEM(pub)
	privPEM, _ := handoff.EncodePrivateKeyPEM(priv)
	for name, b := range map[string][]byte{
		"trusted-roots.pem":        cert,
		"keys/seal.key":            []byte(seal.EncodeKey(key)),
		"keys/handoff-public.pem":  pubPEM,
		"keys/handoff-private.pem": privPEM,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		if k == "DATA_DIR" {
			return dir
		}
		return ""
	}
	return getenv, ca, dir
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"-help"}, &out, os.Getenv, nil); err != nil {
		t.Fatalf("-help: %v", err)
	}
	for _, want := range []string{"serve [-dev]", "chips import FILE", "handoff -person", "DATA_DIR", "SEAL_KEY_FILE", "TRUSTED_PROXIES"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if err := Run([]string{"nonsense"}, &out, os.Getenv, nil); err == nil {
		t.Error("an unknown command did not fail")
	}
}

func TestChipsImport(t *testing.T) {
	getenv, ca, dir := env(t)
	chips, err := ca.Batch("MC", 3, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var delivery bytes.Buffer
	if err := manufacturer.WriteDelivery(&delivery, "Test Factory", chips); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "delivery.jsonl")
	os.WriteFile(good, delivery.Bytes(), 0o600)

	// A file whose third line is broken imports nothing and names the line.
	lines := strings.SplitAfter(delivery.String(), "\n")
	lines[2] = `{"serial":"MC-BAD","seed":"!!","certificate":""}` + "\n"
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600)
	var out bytes.Buffer
	err = Run([]string{"chips", "import", bad}, &out, getenv, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("import of a bad file = %v, want an error naming line 3", err)
	}

	for i, want := range []string{"imported 3 new chips", "imported 0 new chips (3 in file, 3 already known)"} {
		out.Reset()
		if err := Run([]string{"chips", "import", good}, &out, getenv, nil); err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("import %d said %q, want %q", i+1, out.String(), want)
		}
	}
}

func TestHandoffLink(t *testing.T) {
	getenv, _, _ := env(t)
	var out bytes.Buffer
	if err := Run([]string{"handoff", "-person", "p-1", "-user", "some.user"}, &out, getenv, nil); err != nil {
		t.Fatalf("handoff: %v", err)
	}
	if !strings.HasPrefix(out.String(), "Activation link: http://127.0.0.1:8080/#t=ey") {
		t.Errorf("handoff printed %q, want an activation link with a JWT", out.String())
	}
	if err := Run([]string{"handoff"}, &out, getenv, nil); err == nil {
		t.Error("handoff without -person did not fail")
	}
}

package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	serverweb "mitidchip/server/web"
)

// TestProductionBuildHasNoDevPage builds these sources as `make build` does and lists
// the result: the virtual chip page is dev mode's (server/dev/page), so no spelling of
// a path can reach it on a production server.
func TestProductionBuildHasNoDevPage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "assets")
	man, err := serverweb.Build(out, os.DirFS("."), os.DirFS("../server/web/testdata/module"))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for logical := range man {
		if strings.HasPrefix(logical, "dev/") || strings.HasPrefix(logical, "chip.") {
			t.Errorf("manifest: expected no dev file, got %s", logical)
		}
	}
	err = fs.WalkDir(os.DirFS(out), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(name, "dev/") {
			t.Errorf("build output: expected no dev file, got %s", name)
		}
		b, err := os.ReadFile(filepath.Join(out, name))
		if err == nil && strings.Contains(string(b), "Virtual MitID chip") {
			t.Errorf("build output: %s holds the virtual chip page's text", name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

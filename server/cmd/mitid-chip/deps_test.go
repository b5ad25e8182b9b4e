package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDevCode: the production command links no dev mode, no demo site and no OIDC
// client library (those are the demo site's).
func TestNoDevCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "mitidchip/server/dev") || strings.HasPrefix(pkg, "github.com/coreos/go-oidc") {
			t.Errorf("the production command links %s", pkg)
		}
	}
}

// Package e2e_test drives the activation page in Debian's headless Chromium against
// the real server in dev mode, with virtual chips behind emulated Bluetooth and NFC.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mitidchip/e2e/scenario"
)

// TestMain builds the page once for the package when ASSETS_DIR does not name a
// build (make test sets it), so `go test ./e2e/` works on its own.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(scenario.AssetsEnv) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "mitidchip-e2e-assets-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	assets := filepath.Join(dir, "assets")
	if err := scenario.BuildAssets(ctx, assets); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the page:", err)
		return 1
	}
	os.Setenv(scenario.AssetsEnv, assets)
	return m.Run()
}

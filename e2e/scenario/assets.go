// Package scenario is the activation as the browser tests and the benchmark walk it:
// the real server in process, and a person's path through the page as actions and checks.
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"mitidchip/server/web"
)

// WasmBuildFlags are the flags `make build` builds the browser module with; the
// benchmark's minimal module gets the same, so their sizes compare.
var WasmBuildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// ModuleRoot is the folder holding go.mod, found from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("scenario: module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scenario: module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildModule builds the Go package pkg, from the folder dir, for the browser into
// outDir/main.wasm and puts the toolchain's wasm_exec.js beside it: a module folder
// as `make build` makes build/module.
func BuildModule(ctx context.Context, outDir, dir, pkg string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("scenario: build %s: %w", pkg, err)
	}
	args := append([]string{"build"}, WasmBuildFlags...)
	args = append(args, "-o", filepath.Join(outDir, "main.wasm"), pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scenario: go build %s for the browser: %w\n%s", pkg, err, out)
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("scenario: go env GOROOT: %w", err)
	}
	js, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return fmt.Errorf("scenario: wasm_exec.js: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "wasm_exec.js"), js, 0o644); err != nil {
		return fmt.Errorf("scenario: wasm_exec.js: %w", err)
	}
	return nil
}

// Publish builds the page from the module's web/ and the module folder moduleDir into
// outDir, as `make build` makes build/assets.
func Publish(outDir, moduleDir string) (web.Manifest, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	m, err := web.Build(outDir, os.DirFS(filepath.Join(root, "web")), os.DirFS(moduleDir))
	if err != nil {
		return nil, fmt.Errorf("scenario: publish the page: %w", err)
	}
	return m, nil
}

// BuildAssets builds the browser module and the page into outDir, for a run of the
// tests without `make build`.
func BuildAssets(ctx context.Context, outDir string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	module, err := os.MkdirTemp("", "mitidchip-module-")
	if err != nil {
		return fmt.Errorf("scenario: build assets: %w", err)
	}
	defer os.RemoveAll(module)
	if err := BuildModule(ctx, module, root, "./wasm"); err != nil {
		return err
	}
	_, err = Publish(outDir, module)
	return err
}

// Asset reads a published file by its logical name ("main.wasm", "i18n/en.json")
// through the build's manifest.
func Asset(assetsDir, name string) ([]byte, error) {
	path, err := AssetPath(assetsDir, name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// AssetPath is where the published file of a logical name is.
func AssetPath(assetsDir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(assetsDir, web.ManifestFile))
	if err != nil {
		return "", fmt.Errorf("scenario: the build in %s: %w", assetsDir, err)
	}
	var m web.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("scenario: the build's manifest in %s: %w", assetsDir, err)
	}
	file, ok := m[name]
	if !ok {
		return "", fmt.Errorf("scenario: %s is not in the build in %s", name, assetsDir)
	}
	return filepath.Join(assetsDir, filepath.FromSlash(file)), nil
}

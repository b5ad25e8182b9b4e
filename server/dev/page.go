package dev

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"mitidchip/server/web"
)

// The virtual chip page lives here, not in web/, so that the production build of the
// page cannot contain it: only mitid-chip-dev carries it, embedded.
//
//go:embed page
var pageFiles embed.FS

// chipPage publishes the virtual chip page on the built activation page (whose
// manifest is base, for the shared stylesheet and icon) and serves it from memory
// under /dev/.
func chipPage(base web.Manifest) (http.Handler, error) {
	src, err := fs.Sub(pageFiles, "page")
	if err != nil {
		return nil, err
	}
	// The build goes through a folder only for the moment it takes to load it.
	tmp, err := os.MkdirTemp("", "mitid-chip-dev-page-")
	if err != nil {
		return nil, fmt.Errorf("dev: chip page: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "page")
	if _, err := web.BuildOn(base, out, src); err != nil {
		return nil, fmt.Errorf("dev: chip page: %w", err)
	}
	h, err := web.NewHandler(out)
	if err != nil {
		return nil, fmt.Errorf("dev: chip page: %w", err)
	}
	return http.StripPrefix("/dev", h), nil
}

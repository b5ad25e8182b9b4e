// Package web serves the activation page and the browser module: a build step that
// content-hashes and precompresses the assets, the handler for them, and the security headers.
package web

import (
	"path"
	"strings"
)

// ManifestFile is the build output file that maps each asset's logical name
// ("app.js") to its content-hashed name ("app.3fa9c1d2e4b5.js").
const ManifestFile = "manifest.json"

// Manifest maps an asset's logical name, its path under the source folder ("app.js",
// "i18n/da.json", "main.wasm"), to its content-hashed name. The page's JS reads it from
// <meta name="assets"> to find the module, the worker and the message catalogues.
type Manifest map[string]string

const (
	// A hashed name changes whenever its content does, so it can be cached for good.
	cacheImmutable = "public, max-age=31536000, immutable"
	// Pages keep their names across releases: the browser must revalidate each time
	// (cheaply, through the ETag) to learn the new asset names.
	cacheRevalidate = "no-cache"
)

// contentTypes are the file types the build publishes and the handler serves. A file of
// any other type in the sources stops the build (see ignoredExts), so nothing is
// published by accident or served with a guessed type.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".webp":        "image/webp",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
}

// ignoredExts are files that may sit beside the page sources without being published:
// notes for the people working on the page, and Go files (an embed.go, say).
var ignoredExts = map[string]bool{".md": true, ".go": true}

func contentType(name string) (string, bool) {
	ct, ok := contentTypes[strings.ToLower(path.Ext(name))]
	return ct, ok
}

func isHTML(name string) bool { return strings.EqualFold(path.Ext(name), ".html") }

package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
)

// hashLen is how many hex digits of the SHA-256 go into a hashed name: 48 bits, far
// more than a release's handful of assets needs to never collide.
const hashLen = 12

type source struct {
	name string // slash-separated path under its source folder
	data []byte
}

// Build publishes the page sources and the built module into outDir: every file but the
// HTML under a content-hashed name, the HTML under its own name with src/href values
// that name another source rewritten to the hashed names and the manifest added as
// <meta name="assets" content="...">, a .br and a .gz beside each file where they are
// smaller, and manifest.json. The same input gives byte-identical output.
//
// srcs are searched together (the page folder and the module folder, say); a name in
// two of them is an error. Dot files are skipped, and so are .md and .go files.
// outDir is replaced whole, and only when it is absent, empty, or a previous build.
func Build(outDir string, srcs ...fs.FS) (Manifest, error) {
	return BuildOn(nil, outDir, srcs...)
}

// BuildOn is Build for pages that also link to the assets of another build, served
// beside this one: a reference that names no source but is in base is rewritten to
// base's hashed name. base's files are neither copied nor listed in the manifest.
// Dev mode publishes its chip page this way, on the page's stylesheet, so the
// production build need not contain it.
func BuildOn(base Manifest, outDir string, srcs ...fs.FS) (Manifest, error) {
	if outDir == "" {
		return nil, errors.New("web: build: no output folder given")
	}
	pages, assets, err := collect(srcs)
	if err != nil {
		return nil, err
	}
	files, man, err := assemble(pages, assets, base)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, 3*len(files)+1)
	for name, data := range files {
		out[name] = data
		br, gz, err := compress(data)
		if err != nil {
			return nil, fmt.Errorf("web: build: compressing %s: %w", name, err)
		}
		if len(br) < len(data) {
			out[name+".br"] = br
		}
		if len(gz) < len(data) {
			out[name+".gz"] = gz
		}
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("web: build: encoding the manifest: %w", err)
	}
	out[ManifestFile] = append(manJSON, '\n')
	if err := writeTree(outDir, out); err != nil {
		return nil, err
	}
	return man, nil
}

// collect reads every source file, sorted into pages and assets.
func collect(srcs []fs.FS) (pages, assets []source, err error) {
	seen := map[string]bool{}
	for i, fsys := range srcs {
		err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || ignoredExts[strings.ToLower(path.Ext(name))] {
				return nil
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s is not a regular file", name)
			}
			if _, ok := contentType(name); !ok {
				return fmt.Errorf("%s: file type %q is not one the server publishes", name, path.Ext(name))
			}
			if name == ManifestFile {
				return fmt.Errorf("%s: the name is taken by the build's own manifest", name)
			}
			if seen[name] {
				return fmt.Errorf("%s is in more than one source folder", name)
			}
			seen[name] = true
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if isHTML(name) {
				pages = append(pages, source{name, data})
			} else {
				assets = append(assets, source{name, data})
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("web: build: source folder %d: %w", i+1, err)
		}
	}
	return pages, assets, nil
}

// assemble names and rewrites the files: the result maps each output name to its bytes.
func assemble(pages, assets []source, base Manifest) (map[string][]byte, Manifest, error) {
	files := map[string][]byte{}
	man := Manifest{}
	pageNames := map[string]bool{}
	for _, p := range pages {
		pageNames[p.name] = true
	}
	// Stylesheets name images and fonts through url(), so everything else is hashed
	// first and the stylesheet's hash covers its rewritten text.
	var sheets []source
	for _, a := range assets {
		if strings.EqualFold(path.Ext(a.name), ".css") {
			sheets = append(sheets, a)
			continue
		}
		man[a.name] = hashedName(a.name, a.data)
		files[man[a.name]] = a.data
	}
	sheetNames := map[string]bool{}
	for _, s := range sheets {
		sheetNames[s.name] = true
	}
	for _, s := range sheets {
		data, err := rewriteCSS(s.data, linker(s.name, man, base, sheetNames))
		if err != nil {
			return nil, nil, fmt.Errorf("web: build: %s: %w", s.name, err)
		}
		man[s.name] = hashedName(s.name, data)
		files[man[s.name]] = data
	}
	meta, err := metaTag(man)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pages {
		data, err := rewriteHTML(p.data, linker(p.name, man, base, pageNames), meta)
		if err != nil {
			return nil, nil, fmt.Errorf("web: build: %s: %w", p.name, err)
		}
		files[p.name] = data
	}
	return files, man, nil
}

// linker resolves a reference found in the file named from: the value to write instead
// (the hashed name, in the same relative or absolute form), the value itself when it is
// not a reference to a published file (an external URL, a fragment, another page), or
// an error when it looks like one but names no source, since the page would break.
// A name not among the sources is looked up in base, the build this one links to.
func linker(from string, man, base Manifest, keep map[string]bool) func(ref string) (string, error) {
	return func(ref string) (string, error) {
		name, ok := localRef(from, ref)
		if !ok {
			return ref, nil
		}
		hashed, ok := man[name]
		if !ok && !keep[name] {
			hashed, ok = base[name]
		}
		if ok {
			return ref[:strings.LastIndexByte(ref, '/')+1] + path.Base(hashed), nil
		}
		if keep[name] {
			if !isHTML(name) {
				return "", fmt.Errorf("%q names a stylesheet from a stylesheet; link both from the page instead", ref)
			}
			return ref, nil
		}
		if _, published := contentType(name); published {
			return "", fmt.Errorf("%q names %s, which is not among the sources", ref, name)
		}
		return ref, nil
	}
}

// localRef is the source name a same-origin, query-less reference points at, resolved
// against the folder of the file it is in.
func localRef(from, ref string) (string, bool) {
	if ref == "" || strings.ContainsAny(ref, ":?#\\") || strings.HasPrefix(ref, "//") {
		return "", false
	}
	var name string
	if strings.HasPrefix(ref, "/") {
		name = path.Clean(ref[1:])
	} else {
		name = path.Join(path.Dir(from), ref)
	}
	if name == "." || !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}

// hashedName puts the first hashLen hex digits of the content's SHA-256 before the
// extension: "js/app.js" → "js/app.3fa9c1d2e4b5.js".
func hashedName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:hashLen] + ext
}

// metaTag carries the manifest to the page's JS. An attribute, not an inline script:
// the Content-Security-Policy forbids inline script.
func metaTag(man Manifest) ([]byte, error) {
	j, err := json.Marshal(man)
	if err != nil {
		return nil, fmt.Errorf("web: build: encoding the manifest: %w", err)
	}
	return []byte(`<meta name="assets" content="` + html.EscapeString(string(j)) + `">`), nil
}

// compress gives the best-quality brotli and gzip encodings of data. Neither records a
// time or a name, so the output is the same on every build.
func compress(data []byte) (br, gz []byte, err error) {
	var b bytes.Buffer
	bw := brotli.NewWriterLevel(&b, brotli.BestCompression)
	if _, err := bw.Write(data); err != nil {
		return nil, nil, fmt.Errorf("brotli: %w", err)
	}
	if err := bw.Close(); err != nil {
		return nil, nil, fmt.Errorf("brotli: %w", err)
	}
	var g bytes.Buffer
	gw, err := gzip.NewWriterLevel(&g, gzip.BestCompression)
	if err != nil {
		return nil, nil, fmt.Errorf("gzip: %w", err)
	}
	if _, err := gw.Write(data); err != nil {
		return nil, nil, fmt.Errorf("gzip: %w", err)
	}
	if err := gw.Close(); err != nil {
		return nil, nil, fmt.Errorf("gzip: %w", err)
	}
	return b.Bytes(), g.Bytes(), nil
}

// writeTree writes files into a fresh folder beside outDir and then puts it in
// outDir's place, so a failed build leaves the previous one whole.
func writeTree(outDir string, files map[string][]byte) (err error) {
	outDir = filepath.Clean(outDir)
	parent := filepath.Dir(outDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	if err := replaceable(outDir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(outDir)+".build-*")
	if err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("web: build: %w", err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return fmt.Errorf("web: build: %w", err)
		}
	}
	if err := os.RemoveAll(outDir); err != nil {
		return fmt.Errorf("web: build: removing the previous build: %w", err)
	}
	if err := os.Rename(tmp, outDir); err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	return nil
}

// replaceable refuses an outDir that is neither absent, empty, nor a previous build
// (judged by its manifest.json decoding as a Manifest), so a mistyped path cannot
// wipe a source folder.
func replaceable(outDir string) error {
	fi, err := os.Lstat(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("web: build: %s exists and is not a folder", outDir)
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return fmt.Errorf("web: build: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(outDir, ManifestFile))
	var prev Manifest
	if err == nil {
		err = json.Unmarshal(raw, &prev)
	}
	if err != nil {
		return fmt.Errorf("web: build: %s is not empty and not a previous build (%s: %w); refusing to replace it",
			outDir, ManifestFile, err)
	}
	return nil
}

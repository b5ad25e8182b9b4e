package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
)

// Handler serves a folder made by Build from memory: the pages by name ("/" is
// index.html, "/help" is help.html as well as "/help.html") and the assets by their hashed names only. Every other path is a 404:
// there is no file system behind it to walk out of.
type Handler struct {
	files    map[string]*file // by URL path
	manifest Manifest
	notFound http.Handler
	metas    [][2]string // name, content: added to every page's head
}

type file struct {
	contentType  string
	cacheControl string
	identity     representation
	br, gzip     representation // body nil when the build made none
}

type representation struct {
	body []byte
	etag string
}

// Option configures a Handler.
type Option func(*Handler)

// WithNotFound answers the paths the Handler does not serve (http.NotFound by default).
func WithNotFound(h http.Handler) Option {
	return func(hd *Handler) { hd.notFound = h }
}

// WithMeta adds <meta name="name" content="content"> to the head of every page it
// serves. The server tells the page this way what only a running server knows (dev
// mode), so that one build serves both.
func WithMeta(name, content string) Option {
	return func(hd *Handler) { hd.metas = append(hd.metas, [2]string{name, content}) }
}

// NewHandler loads the build in dir into memory.
func NewHandler(dir string, opts ...Option) (*Handler, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("web: loading the build: %w", err)
	}
	return NewHandlerFS(os.DirFS(dir), opts...)
}

// NewHandlerFS loads a build from fsys, for a build embedded in the binary.
func NewHandlerFS(fsys fs.FS, opts ...Option) (*Handler, error) {
	h := &Handler{files: map[string]*file{}, notFound: http.NotFoundHandler()}
	for _, o := range opts {
		o(h)
	}
	raw, err := fs.ReadFile(fsys, ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("web: loading the build: %w", err)
	}
	if err := json.Unmarshal(raw, &h.manifest); err != nil {
		return nil, fmt.Errorf("web: loading the build: %s: %w", ManifestFile, err)
	}
	for logical, hashed := range h.manifest {
		if !fs.ValidPath(hashed) || isHTML(hashed) || hashed == ManifestFile {
			return nil, fmt.Errorf("web: loading the build: %s maps %q to %q, which is not an asset name", ManifestFile, logical, hashed)
		}
		f, err := loadFile(fsys, hashed, cacheImmutable)
		if err != nil {
			return nil, err
		}
		h.files["/"+hashed] = f
	}
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isHTML(name) {
			return err
		}
		f, err := loadFile(fsys, name, cacheRevalidate)
		if err != nil {
			return err
		}
		if len(h.metas) > 0 {
			if f, err = withMetas(f, h.metas); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		h.files["/"+name] = f
		if path.Base(name) == "index.html" {
			h.files[strings.TrimSuffix("/"+name, "index.html")] = f
		} else {
			// A page is also at its clean name: help.html at /help, the address a
			// person can read out and type.
			h.files["/"+strings.TrimSuffix(name, path.Ext(name))] = f
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: loading the build: %w", err)
	}
	return h, nil
}

func loadFile(fsys fs.FS, name, cacheControl string) (*file, error) {
	ct, ok := contentType(name)
	if !ok {
		return nil, fmt.Errorf("web: loading the build: %s: no content type for %q", name, path.Ext(name))
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("web: loading the build: %w", err)
	}
	f := &file{contentType: ct, cacheControl: cacheControl, identity: newRepresentation(body)}
	for _, v := range []struct {
		ext string
		rep *representation
	}{{".br", &f.br}, {".gz", &f.gzip}} {
		body, err := fs.ReadFile(fsys, name+v.ext)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("web: loading the build: %w", err)
		}
		*v.rep = newRepresentation(body)
	}
	return f, nil
}

// withMetas is the page f with the meta tags put at the end of its head, compressed
// again.
func withMetas(f *file, metas [][2]string) (*file, error) {
	body := f.identity.body
	at := indexFold(body, "</head>")
	if at < 0 {
		return nil, errors.New("no </head> to add the meta tags to")
	}
	var tags []byte
	for _, m := range metas {
		tags = append(tags, `<meta name="`+html.EscapeString(m[0])+`" content="`+html.EscapeString(m[1])+`">`+"\n"...)
	}
	out := append(append(append([]byte(nil), body[:at]...), tags...), body[at:]...)
	br, gz, err := compress(out)
	if err != nil {
		return nil, err
	}
	return &file{
		contentType: f.contentType, cacheControl: f.cacheControl, identity: newRepresentation(out),
		br: newRepresentation(br), gzip: newRepresentation(gz),
	}, nil
}

// newRepresentation tags body with a strong ETag from its own bytes, so the identity,
// brotli and gzip forms of a file (which differ byte for byte) never share one.
func newRepresentation(body []byte) representation {
	sum := sha256.Sum256(body)
	return representation{body: body, etag: `"` + hex.EncodeToString(sum[:10]) + `"`}
}

// Manifest returns a copy of the build's manifest: logical name → hashed name.
func (h *Handler) Manifest() Manifest { return maps.Clone(h.manifest) }

// ServeHTTP serves GET and HEAD for the files of the build. It looks a file up by the
// path as sent (escaped), the form http.ServeMux routes on: a request the mux routed
// as one thing must not be served as another ("/dev%2Fchip.html" is one segment to
// the mux, but "/dev/chip.html" once unescaped). The build's names need no escaping,
// so an escaped spelling of one of them is simply not found.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := h.files[r.URL.EscapedPath()]
	if !ok {
		h.notFound.ServeHTTP(w, r)
		return
	}
	hdr := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep, encoding := f.identity, ""
	switch chooseEncoding(strings.Join(r.Header.Values("Accept-Encoding"), ","), f.br.body != nil, f.gzip.body != nil) {
	case "br":
		rep, encoding = f.br, "br"
	case "gzip":
		rep, encoding = f.gzip, "gzip"
	}
	hdr.Set("Cache-Control", f.cacheControl)
	hdr.Set("Vary", "Accept-Encoding")
	hdr.Set("ETag", rep.etag)
	if etagMatches(r.Header.Values("If-None-Match"), rep.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", f.contentType)
	if encoding != "" {
		hdr.Set("Content-Encoding", encoding)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(rep.body)
	}
}

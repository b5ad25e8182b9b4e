package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// newTestHandler serves the shared testdata build.
func newTestHandler(t testing.TB) (*Handler, Manifest, string) {
	t.Helper()
	h, err := NewHandler(built.dir)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return h, built.man, built.dir
}

func serve(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode(t *testing.T, encoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch encoding {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", encoding, err)
	}
	return plain
}

func TestHandlerServes(t *testing.T) {
	h, man, out := newTestHandler(t)
	tests := []struct {
		name     string
		path     string
		accept   string
		file     string // under out, as served before encoding
		ctype    string
		encoding string
		cache    string
	}{
		{"root is index.html", "/", "", "index.html", "text/html; charset=utf-8", "", cacheRevalidate},
		{"index.html by name", "/index.html", "", "index.html", "text/html; charset=utf-8", "", cacheRevalidate},
		{"another page", "/chip.html", "gzip, deflate, br", "chip.html", "text/html; charset=utf-8", "br", cacheRevalidate},
		{"a page at its clean name", "/chip", "", "chip.html", "text/html; charset=utf-8", "", cacheRevalidate},
		{"a folder's index", "/help/", "gzip", "help/index.html", "text/html; charset=utf-8", "gzip", cacheRevalidate},
		{"the module", "/" + man["main.wasm"], "br", man["main.wasm"], "application/wasm", "br", cacheImmutable},
		{"wasm_exec.js", "/" + man["wasm_exec.js"], "gzip;q=1, br;q=0.5", man["wasm_exec.js"], "text/javascript; charset=utf-8", "gzip", cacheImmutable},
		{"script", "/" + man["app.js"], "br;q=0, gzip", man["app.js"], "text/javascript; charset=utf-8", "gzip", cacheImmutable},
		{"stylesheet", "/" + man["app.css"], "*", man["app.css"], "text/css; charset=utf-8", "br", cacheImmutable},
		{"catalogue", "/" + man["i18n/da.json"], "identity", man["i18n/da.json"], "application/json", "", cacheImmutable},
		{"svg", "/" + man["logo.svg"], "br;q=0, gzip;q=0", man["logo.svg"], "image/svg+xml", "", cacheImmutable},
		{"png has no smaller variant", "/" + man["logo.png"], "br, gzip", man["logo.png"], "image/png", "br?", cacheImmutable},
	}
	for _, tc := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				rec := serve(h, method, tc.path, map[string]string{"Accept-Encoding": tc.accept})
				if rec.Code != http.StatusOK {
					t.Fatalf("expected 200, got %d", rec.Code)
				}
				want := mustRead(t, filepath.Join(out, tc.file))
				encoding := tc.encoding
				if encoding == "br?" { // only if the build made one
					encoding = ""
					if _, err := os.Stat(filepath.Join(out, tc.file+".br")); err == nil {
						encoding = "br"
					}
				}
				hdr := rec.Header()
				for k, v := range map[string]string{
					"Content-Type":     tc.ctype,
					"Content-Encoding": encoding,
					"Cache-Control":    tc.cache,
					"Vary":             "Accept-Encoding",
				} {
					if got := hdr.Get(k); got != v {
						t.Errorf("%s: expected %q, got %q", k, v, got)
					}
				}
				if !strings.HasPrefix(hdr.Get("ETag"), `"`) {
					t.Errorf("expected a strong ETag, got %q", hdr.Get("ETag"))
				}
				n, _ := strconv.Atoi(hdr.Get("Content-Length"))
				if method == http.MethodHead {
					if rec.Body.Len() != 0 || n == 0 {
						t.Errorf("HEAD: expected no body and a Content-Length, got %d bytes, length %q", rec.Body.Len(), hdr.Get("Content-Length"))
					}
					return
				}
				if n != rec.Body.Len() {
					t.Errorf("Content-Length: expected %d, got %d", rec.Body.Len(), n)
				}
				if got := decode(t, encoding, rec.Body.Bytes()); !bytes.Equal(got, want) {
					t.Errorf("expected the body of %s, got %d other bytes", tc.file, len(got))
				}
			})
		}
	}
}

func TestHandlerETags(t *testing.T) {
	h, man, _ := newTestHandler(t)
	asset := "/" + man["app.js"]
	etagOf := func(accept string) string {
		return serve(h, http.MethodGet, asset, map[string]string{"Accept-Encoding": accept}).Header().Get("ETag")
	}
	plain, br, gz := etagOf(""), etagOf("br"), etagOf("gzip")
	if plain == br || plain == gz || br == gz {
		t.Fatalf("expected a distinct ETag per encoding, got %s %s %s", plain, br, gz)
	}
	tests := []struct {
		name        string
		path        string
		accept      string
		ifNoneMatch string
		wantCode    int
	}{
		{"same tag", asset, "br", br, http.StatusNotModified},
		{"weak form of the tag", asset, "br", "W/" + br, http.StatusNotModified},
		{"one of a list", asset, "gzip", `"nope", ` + gz, http.StatusNotModified},
		{"star", asset, "", "*", http.StatusNotModified},
		{"another encoding's tag", asset, "br", gz, http.StatusOK},
		{"an old tag", asset, "", `"0000"`, http.StatusOK},
		{"a page", "/", "", etagOfPage(h), http.StatusNotModified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tc.path, map[string]string{"Accept-Encoding": tc.accept, "If-None-Match": tc.ifNoneMatch})
			if rec.Code != tc.wantCode {
				t.Fatalf("expected %d, got %d", tc.wantCode, rec.Code)
			}
			if tc.wantCode == http.StatusNotModified {
				if rec.Body.Len() != 0 || rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") == "" {
					t.Errorf("304: expected no body, with ETag and Cache-Control; got %d bytes, %v", rec.Body.Len(), rec.Header())
				}
			}
		})
	}
}

func etagOfPage(h http.Handler) string {
	return serve(h, http.MethodGet, "/", nil).Header().Get("ETag")
}

func TestHandlerRefuses(t *testing.T) {
	h, man, _ := newTestHandler(t)
	asset := "/" + man["app.js"]
	tests := []struct {
		name     string
		method   string
		target   string
		wantCode int
	}{
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed},
		{"put an asset", http.MethodPut, asset, http.StatusMethodNotAllowed},
		{"delete", http.MethodDelete, "/chip.html", http.StatusMethodNotAllowed},
		{"options", http.MethodOptions, asset, http.StatusMethodNotAllowed},
		{"un-hashed name", http.MethodGet, "/app.js", http.StatusNotFound},
		{"un-hashed module", http.MethodGet, "/main.wasm", http.StatusNotFound},
		{"the manifest file", http.MethodGet, "/manifest.json", http.StatusNotFound},
		{"a precompressed file by name", http.MethodGet, asset + ".br", http.StatusNotFound},
		{"another case", http.MethodGet, strings.ToUpper(asset), http.StatusNotFound},
		{"a page's clean name with a slash", http.MethodGet, "/chip/", http.StatusNotFound},
		{"a folder without its slash", http.MethodGet, "/help", http.StatusNotFound},
		{"a folder", http.MethodGet, "/i18n/", http.StatusNotFound},
		{"traversal", http.MethodGet, "/../../etc/passwd", http.StatusNotFound},
		{"encoded traversal", http.MethodGet, "/%2e%2e/%2e%2e/etc/passwd", http.StatusNotFound},
		{"encoded dot segment to a real file", http.MethodGet, "/help/%2e%2e/" + strings.TrimPrefix(asset, "/"), http.StatusNotFound},
		{"dot segment to a real file", http.MethodGet, "/help/../" + strings.TrimPrefix(asset, "/"), http.StatusNotFound},
		{"backslash", http.MethodGet, `/help\index.html`, http.StatusNotFound},
		// The mux routes on the escaped path, so the handler must look up the same form:
		// one segment "help%2Findex.html" is not the page help/index.html.
		{"encoded slash to a real page", http.MethodGet, "/help%2Findex.html", http.StatusNotFound},
		{"encoded slash, lower case", http.MethodGet, "/help%2findex.html", http.StatusNotFound},
		{"encoded letter in a real page", http.MethodGet, "/help/%69ndex.html", http.StatusNotFound},
		{"encoded letter in a real asset", http.MethodGet, "/%61" + strings.TrimPrefix(asset, "/a"), http.StatusNotFound},
		{"a post to nothing", http.MethodPost, "/nothing", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.method, tc.target, nil)
			if rec.Code != tc.wantCode {
				t.Fatalf("%s %s: expected %d, got %d", tc.method, tc.target, tc.wantCode, rec.Code)
			}
			if tc.wantCode == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("expected Allow: GET, HEAD, got %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestHandlerNotFoundOption(t *testing.T) {
	_, _, out := newTestHandler(t)
	h, err := NewHandler(out, WithNotFound(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})))
	if err != nil {
		t.Fatal(err)
	}
	if rec := serve(h, http.MethodGet, "/nothing", nil); rec.Code != http.StatusTeapot {
		t.Errorf("expected the custom not-found handler's 418, got %d", rec.Code)
	}
}

func TestHandlerManifestIsACopy(t *testing.T) {
	h, man, _ := newTestHandler(t)
	got := h.Manifest()
	if got["main.wasm"] != man["main.wasm"] || len(got) != len(man) {
		t.Fatalf("expected the build's manifest %v, got %v", man, got)
	}
	got["main.wasm"] = "evil.wasm"
	if h.Manifest()["main.wasm"] != man["main.wasm"] {
		t.Error("expected changing the returned manifest to leave the handler's alone")
	}
}

func TestNewHandlerErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no manifest", map[string]string{"index.html": "<p>"}},
		{"manifest not JSON", map[string]string{ManifestFile: "{"}},
		{"manifest names a missing file", map[string]string{ManifestFile: `{"app.js":"app.0123456789ab.js"}`}},
		{"manifest names a path outside", map[string]string{ManifestFile: `{"app.js":"../app.js"}`}},
		{"manifest names a page", map[string]string{ManifestFile: `{"x":"index.html"}`, "index.html": "<p>"}},
		{"manifest names an unknown type", map[string]string{ManifestFile: `{"a":"a.0123456789ab.exe"}`, "a.0123456789ab.exe": "MZ"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := NewHandler(dir); err == nil {
				t.Error("expected an error, got none")
			}
		})
	}
	if _, err := NewHandler(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("expected an error for a missing folder, got none")
	}
}

func FuzzHandler(f *testing.F) {
	h, man, _ := newTestHandler(f)
	f.Add("GET", "/", "br", "")
	f.Add("HEAD", "/"+man["main.wasm"], "gzip;q=0.5, br;q=0", `"x"`)
	f.Add("GET", "/../manifest.json", "*;q=0", "*")
	served := map[string]bool{"/": true, "/index.html": true, "/chip.html": true, "/chip": true, "/help/": true, "/help/index.html": true}
	for _, hashed := range man {
		served["/"+hashed] = true
	}
	f.Fuzz(func(t *testing.T, method, path, accept, inm string) {
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Method, req.URL.Path = method, path
		req.Header.Set("Accept-Encoding", accept)
		req.Header.Set("If-None-Match", inm)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusNotModified, http.StatusMethodNotAllowed:
			if !served[path] {
				t.Fatalf("%s %q: expected 404 for a path not in the build, got %d", method, path, rec.Code)
			}
		case http.StatusNotFound:
			if served[path] {
				t.Fatalf("%s %q: expected the file, got 404", method, path)
			}
		default:
			t.Fatalf("%s %q: unexpected status %d", method, path, rec.Code)
		}
	})
}

// WithMeta puts its tag in the head of every page, in every encoding, and nowhere
// without it.
func TestHandlerWithMeta(t *testing.T) {
	const tag = `<meta name="mitid-dev" content="a&amp;b">`
	plain, _, _ := newTestHandler(t)
	if body := serve(plain, "GET", "/", nil).Body.String(); strings.Contains(body, `name="mitid-dev"`) {
		t.Fatalf("page without WithMeta: expected no dev meta, got one")
	}
	h, err := NewHandler(built.dir, WithMeta("mitid-dev", "a&b"))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	for _, enc := range []string{"", "br", "gzip"} {
		rec := serve(h, "GET", "/", map[string]string{"Accept-Encoding": enc})
		if got := rec.Header().Get("Content-Encoding"); got != enc {
			t.Fatalf("page (%q): expected Content-Encoding %q, got %q", enc, enc, got)
		}
		body := string(decode(t, enc, rec.Body.Bytes()))
		at, head := strings.Index(body, tag), strings.Index(strings.ToLower(body), "</head>")
		if at < 0 || head < 0 || at > head {
			t.Fatalf("page (%q): expected %s inside the head, got it at %d with </head> at %d", enc, tag, at, head)
		}
	}
}
